// ctnn-winograd-layers [--seconds S] [--threads T] [--batch N]...
//
// Each 3x3 stride-1 convolution of GoogLeNet (with its ReLU, fused as BasicConv2d fuses it) alone
// on the oneDNN backend in f32: ctnn's Winograd F(4x4, 3x3) (ctnn/onednn/winograd.hpp) against
// oneDNN's direct convolution, on the same weights and input, alternating for two rounds of S
// seconds each (default 1; best round counts), at each batch size (default 1 and 16). Prints per
// layer the milliseconds per pass, the GFLOP/s of direct-convolution work, the speed-up, and the
// largest difference between the two outputs over the largest output. Where the layer has too few
// tiles per thread, "automatic" is the direct convolution too (Winograd: no).

#include <algorithm>   // std::max
#include <cmath>       // std::abs
#include <cstddef>     // std::size_t
#include <cstdio>      // std::printf, std::fprintf
#include <span>        // std::span
#include <vector>      // std::vector

#include <ctnn/ctnn.hpp>   // ctnn::Model, ctnn::Conv, ctnn::ReLU

#include <CLI/CLI.hpp>   // CLI::App: the command line

#include "../examples/cli_checks.hpp"   // integer_in, finite_above, max_threads: the examples' checks
#include "forward_benchmark.hpp"        // benchmark::milliseconds_per_pass
#if defined(CTNN_WITH_ONEDNN)
#include <ctnn/onednn.hpp>   // ctnn::OneDnn

namespace {

struct Settings {
  double seconds = 1;
  int threads = 2;
  std::vector<std::size_t> batches{1, 16};
};

template <std::size_t In, std::size_t Out, std::size_t Size>
void compare(const char* name, const Settings& settings) {
  using Net = ctnn::Sequential<ctnn::Conv<In, Out, 3, 1, 1>, ctnn::ReLU>;
  using Image = ctnn::Shape<In, Size, Size>;
  using Model = ctnn::Model<Net, Image, float, ctnn::OneDnn>;
  for (const std::size_t batch : settings.batches) {
    Model winograd, direct;
    ctnn::init::reference_uniform(winograd, 1);
    ctnn::init::reference_uniform(direct, 1);
    winograd.set_threads(settings.threads);
    direct.set_threads(settings.threads);
    direct.set_convolution_algorithm(ctnn::onednn::ConvolutionAlgorithm::direct);
    std::vector<float> input(batch * Image::size);
    for (std::size_t i = 0; i < input.size(); ++i) input[i] = static_cast<float>((i * 7919) % 255) / 255.0f - 0.5f;
    const std::vector<float> expected(direct.forward(input).begin(), direct.forward(input).end());
    const std::span<const float> output = winograd.forward(input);
    double difference = 0, largest = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      difference = std::max(difference, static_cast<double>(std::abs(output[i] - expected[i])));
      largest = std::max(largest, static_cast<double>(std::abs(expected[i])));
    }
    double best_winograd = 1e30, best_direct = 1e30;
    for (int round = 0; round < 2; ++round) {
      best_direct = std::min(best_direct, benchmark::milliseconds_per_pass(direct, input, settings.seconds));
      best_winograd = std::min(best_winograd, benchmark::milliseconds_per_pass(winograd, input, settings.seconds));
    }
    const double flops = 2.0 * static_cast<double>(batch * Out * Size * Size * In * 9);
    std::printf("%-12s %3zu->%3zu %3zux%-3zu batch %2zu  direct %8.3f ms %6.1f GFLOP/s  automatic %8.3f ms %6.1f GFLOP/s"
                "  x%.2f  Winograd: %-3s  difference %.1e\n",
                name, In, Out, Size, Size, batch, best_direct, flops / best_direct / 1e6, best_winograd,
                flops / best_winograd / 1e6, best_direct / best_winograd, winograd.winograd_convolutions() ? "yes" : "no",
                difference / largest);
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  CLI::App app{"Each 3x3 stride-1 convolution of GoogLeNet with its ReLU, f32 on oneDNN: ctnn's Winograd against "
               "oneDNN's direct convolution."};
  app.add_option("--seconds", settings.seconds, "time per round")->check(cli_checks::finite_above(0))->capture_default_str();
  app.add_option("--threads", settings.threads, "CPU threads")
      ->check(cli_checks::integer_in(1, cli_checks::max_threads()))->capture_default_str();
  app.add_option("--batch", settings.batches, "batch sizes, one per --batch")->check(cli_checks::integer_in(1, 4096))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::printf("f32, %d threads, Winograd F(4x4, 3x3) (automatic) against oneDNN's direct convolution\n", settings.threads);
  compare<64, 192, 56>("conv2", settings);
  compare<96, 128, 28>("inception3a", settings);
  compare<128, 192, 28>("inception3b", settings);
  compare<96, 208, 14>("inception4a", settings);
  compare<112, 224, 14>("inception4b", settings);
  compare<128, 256, 14>("inception4c", settings);
  compare<144, 288, 14>("inception4d", settings);
  compare<160, 320, 14>("inception4e", settings);
  compare<160, 320, 7>("inception5a", settings);
  compare<192, 384, 7>("inception5b", settings);
  return 0;
}
#else
int main(int, char** argv) {
  std::fprintf(stderr, "%s: built without oneDNN (run tools/install-deps and configure again)\n", argv[0]);
  return 2;
}
#endif
