#pragma once
// The CPU forward-throughput loop of the benchmarks/<model>_forward.cpp programs: one network
// (evaluation mode, 3x224x224 inputs, random weights) timed at each batch size.
//
//   ctnn-<model>-forward [--batch N]... [--threads T] [--seconds S]
//                        [--backend reference|onednn] [--precision f32|bf16|int8]
//                        [--convolution automatic|direct]
// prints one line per batch size: "ctnn batch=16 threads=2 images_per_second=23.4 ms_per_batch=684"
// (with --backend onednn also "backend=onednn precision=bf16"). reference is the Eigen backend;
// onednn needs ctnn built with oneDNN; int8 calibrates on the benchmark's own synthetic images;
// --convolution direct turns Winograd off (f32 3x3 convolutions, ctnn/onednn/winograd.hpp).
// benchmarks/run_cpu_benchmarks runs it beside PyTorch (and, for GoogLeNet, ONNX Runtime and
// OpenVINO) on the same work and reports the ratios.

#include <chrono>    // std::chrono::steady_clock
#include <cstddef>   // std::size_t
#include <cstdio>    // std::printf, std::fprintf, std::fflush
#include <string>    // std::string
#include <vector>    // std::vector

#include <CLI/CLI.hpp>   // CLI::App: the command line

#include <ctnn/ctnn.hpp>   // ctnn::Model, ctnn::init
#include "../examples/cli_checks.hpp"   // integer_in, finite_above, max_threads: the examples' checks
#if defined(CTNN_WITH_ONEDNN)
#include <ctnn/onednn.hpp>   // ctnn::OneDnn
#endif

namespace benchmark {

using Image = ctnn::Shape<3, 224, 224>;

// The images every pass runs on: a ramp in [-0.5, 0.5).
inline std::vector<float> synthetic_images(std::size_t count) {
  std::vector<float> images(count * Image::size);
  for (std::size_t i = 0; i < images.size(); ++i) images[i] = static_cast<float>(i % 255) / 255.0f - 0.5f;
  return images;
}

// Milliseconds per forward pass over `images`, after a warm-up pass (which plans memory and
// primitives and grows packing buffers): at least 3 passes and `seconds`.
template <class Model>
double milliseconds_per_pass(Model& model, const std::vector<float>& images, double seconds) {
  model.forward(images);
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  std::size_t runs = 0;
  double elapsed = 0;
  do {
    model.forward(images);
    ++runs;
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
  } while (elapsed < seconds || runs < 3);
  return 1000.0 * elapsed / static_cast<double>(runs);
}

template <class Model>
void measure(Model& model, const std::vector<std::size_t>& batches, int threads, double seconds, const char* label) {
  for (std::size_t batch : batches) {
    const double milliseconds = milliseconds_per_pass(model, synthetic_images(batch), seconds);
    std::printf("ctnn batch=%zu threads=%d images_per_second=%.2f ms_per_batch=%.1f%s\n", batch, threads,
                1000.0 * static_cast<double>(batch) / milliseconds, milliseconds, label);
    std::fflush(stdout);
  }
}

template <class Net>
int forward_throughput(int argc, char** argv) {
  const char* program = argc > 0 ? argv[0] : "forward benchmark";
  std::vector<std::size_t> batches{1, 16};
  int threads = 2;
  double seconds = 10;
  std::string backend = "reference", precision = "f32", convolution = "automatic";
  CLI::App app{"Times forward passes (evaluation mode, random weights, 3x224x224 synthetic images) at each batch "
               "size. int8 is calibrated on 16 of the same synthetic images first (no data set: the numbers "
               "measure speed, not accuracy)."};
  app.add_option("--batch", batches, "batch sizes, one per --batch")->check(cli_checks::integer_in(1, 4096))->capture_default_str();
  app.add_option("--threads", threads, "CPU threads")->check(cli_checks::integer_in(1, cli_checks::max_threads()))->capture_default_str();
  app.add_option("--seconds", seconds, "time spent per batch size")->check(cli_checks::finite_above(0))->capture_default_str();
  app.add_option("--backend", backend, "reference (Eigen) or onednn")->check(CLI::IsMember({"reference", "onednn"}))->capture_default_str();
  app.add_option("--precision", precision, "onednn only")->check(CLI::IsMember({"f32", "bf16", "int8"}))->capture_default_str();
  app.add_option("--convolution", convolution, "direct (onednn): no Winograd for f32 3x3 convolutions")
      ->check(CLI::IsMember({"automatic", "direct"}))->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (backend == "reference") {
    if (precision != "f32" || convolution != "automatic") {
      std::fprintf(stderr, "%s: the reference backend computes in f32 with its one convolution (use --backend onednn)\n",
                   program);
      return 2;
    }
    ctnn::Model<Net, Image> model;
    ctnn::init::googlenet_seed(model, 1);
    model.set_threads(threads);
    measure(model, batches, threads, seconds, "");
    return 0;
  }
#if defined(CTNN_WITH_ONEDNN)
  ctnn::Model<Net, Image, float, ctnn::OneDnn> model;
  ctnn::init::googlenet_seed(model, 1);
  model.set_threads(threads);
  if (convolution == "direct") model.set_convolution_algorithm(ctnn::onednn::ConvolutionAlgorithm::direct);
  const ctnn::onednn::Precision wanted = *ctnn::onednn::precision_named(precision);
  if (wanted == ctnn::onednn::Precision::int8) model.calibrate(synthetic_images(16), 16);
  const auto used = model.set_precision(wanted);
  if (!model.precision_note().empty()) std::fprintf(stderr, "%s: %s\n", program, model.precision_note().c_str());
  const std::string label = std::string(" backend=onednn precision=") + ctnn::onednn::precision_name(used) +
                            (convolution == "direct" ? " convolution=direct" : "");
  measure(model, batches, threads, seconds, label.c_str());
  return 0;
#else
  std::fprintf(stderr, "%s: built without oneDNN (run tools/install-deps and configure again)\n", program);
  return 2;
#endif
}

}  // namespace benchmark
