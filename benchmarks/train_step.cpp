// Training throughput on the CPU: one step = forward in training mode, the loss (with GoogLeNet's
// 0.3-weighted aux heads), backward, and an SGD-momentum update.
//
//   ctnn-train-step --net googlenet|fashion [--batch N] [--threads T] [--seconds S]
//                   [--backend reference|onednn] [--precision f32|bf16]
//                   [--convolution automatic|direct]
// prints "ctnn-train net=googlenet batch=16 threads=2 images_per_second=5.1 ms_per_batch=3137"
// (with --backend onednn also "backend=onednn precision=bf16", and "convolution=direct" when
// asked). reference is the Eigen backend; onednn the oneDNN one (built where ctnn::onednn is),
// bf16 with f32 master weights; --convolution direct turns f32 Winograd off (onednn/winograd.hpp).
// benchmarks/run_training_benchmarks runs it beside PyTorch on the same work.

#include <chrono>    // std::chrono::steady_clock
#include <cstdio>    // std::printf
#include <string>    // std::string
#include <type_traits>  // std::is_same_v
#include <vector>    // std::vector

#include <CLI/CLI.hpp>   // CLI::App: the command line

#include "../examples/cli_checks.hpp"        // integer_in, finite_above, max_threads: the examples' checks
#include <ctnn/ctnn.hpp>                     // ctnn::Model, ctnn::GoogLeNet, ctnn::ClassificationObjective
#include <ctnn/models/fashion_inception.hpp> // ctnn::FashionInception
#if defined(CTNN_WITH_ONEDNN)
#include <ctnn/onednn.hpp>   // ctnn::OneDnn
#endif

// What the step runs on.
struct Backend {
  std::string name = "reference", precision = "f32", convolution = "automatic";
};

template <class Net, class In, class Device>
void benchmark(const char* name, std::size_t batch, int threads, double seconds, const Backend& backend) {
  ctnn::Model<Net, In, float, Device> model;
  std::string label;
#if defined(CTNN_WITH_ONEDNN)
  if constexpr (std::is_same_v<Device, ctnn::OneDnn>) {
    const auto used = model.set_precision(*ctnn::onednn::precision_named(backend.precision));
    if (!model.precision_note().empty()) std::fprintf(stderr, "ctnn-train-step: %s\n", model.precision_note().c_str());
    label = std::string(" backend=onednn precision=") + ctnn::onednn::precision_name(used);
    if (backend.convolution == "direct") {
      model.set_convolution_algorithm(ctnn::onednn::ConvolutionAlgorithm::direct);
      label += " convolution=direct";
    }
  }
#endif
  (void)backend;
  ctnn::init::googlenet_seed(model, 1);
  model.set_threads(threads);
  model.train();
  ctnn::optim::SGD<float> sgd(model.parameters().size(), {.lr = 0.01, .momentum = 0.9, .weight_decay = 1e-4});
  ctnn::ClassificationObjective<float> objective;
  std::vector<float> images(batch * In::size);
  for (std::size_t i = 0; i < images.size(); ++i) images[i] = static_cast<float>(i % 255) / 255.0f - 0.5f;
  std::vector<std::int32_t> labels(batch);
  for (std::size_t i = 0; i < batch; ++i) labels[i] = static_cast<std::int32_t>(i % 10);
  auto step = [&] {
    model.forward(images);
    objective.backward(model, labels);
    sgd.step(model);
  };
  step();  // warm-up: plans memory, grows packing buffers
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  std::size_t runs = 0;
  double elapsed = 0;
  do {
    step();
    ++runs;
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
  } while (elapsed < seconds || runs < 3);
  std::printf("ctnn-train net=%s batch=%zu threads=%d%s images_per_second=%.2f ms_per_batch=%.1f\n", name, batch,
              threads, label.c_str(), static_cast<double>(batch * runs) / elapsed,
              1000.0 * elapsed / static_cast<double>(runs));
}

template <class Net, class In>
int benchmark_on(const char* name, std::size_t batch, int threads, double seconds, const Backend& backend) {
  if (backend.name == "reference") {
    if (backend.precision != "f32" || backend.convolution != "automatic")
      return std::fprintf(stderr, "ctnn-train-step: the reference backend trains in f32 with its one convolution (use --backend onednn)\n"), 2;
    benchmark<Net, In, ctnn::Cpu>(name, batch, threads, seconds, backend);
    return 0;
  }
#if defined(CTNN_WITH_ONEDNN)
  benchmark<Net, In, ctnn::OneDnn>(name, batch, threads, seconds, backend);
  return 0;
#else
  return std::fprintf(stderr, "ctnn-train-step: built without oneDNN (run tools/install-deps and rebuild)\n"), 2;
#endif
}

int main(int argc, char** argv) {
  std::string net = "googlenet";
  std::size_t batch = 16;
  int threads = 2;
  double seconds = 10;
  Backend backend;
  CLI::App app{"Training throughput on the CPU: forward in training mode, the loss, backward and an SGD-momentum "
               "update per step, on synthetic data."};
  app.add_option("--net", net, "googlenet (with aux heads, 3x224x224) or fashion (FashionInception)")
      ->check(CLI::IsMember({"googlenet", "fashion"}))->capture_default_str();
  app.add_option("--batch", batch, "images per step")->check(cli_checks::integer_in(1, 4096))->capture_default_str();
  app.add_option("--threads", threads, "CPU threads")->check(cli_checks::integer_in(1, cli_checks::max_threads()))->capture_default_str();
  app.add_option("--seconds", seconds, "time spent stepping")->check(cli_checks::finite_above(0))->capture_default_str();
  app.add_option("--backend", backend.name, "reference (Eigen) or onednn")
      ->check(CLI::IsMember({"reference", "onednn"}))->capture_default_str();
  app.add_option("--precision", backend.precision, "onednn only; bf16 keeps f32 master weights")
      ->check(CLI::IsMember({"f32", "bf16"}))->capture_default_str();
  app.add_option("--convolution", backend.convolution, "direct (onednn): no Winograd for f32 3x3 convolutions")
      ->check(CLI::IsMember({"automatic", "direct"}))->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (net == "googlenet")
    return benchmark_on<ctnn::GoogLeNet<1000, true>, ctnn::Shape<3, 224, 224>>("googlenet", batch, threads, seconds, backend);
  return benchmark_on<ctnn::FashionInception, ctnn::FashionInput>("fashion", batch, threads, seconds, backend);
}
