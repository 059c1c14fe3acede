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
#include <cstdlib>   // std::atoi, std::atof
#include <cstring>   // std::strcmp
#include <string>    // std::string
#include <type_traits>  // std::is_same_v
#include <vector>    // std::vector

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
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--net")) net = argv[i + 1];
    else if (!std::strcmp(argv[i], "--batch")) batch = static_cast<std::size_t>(std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--backend")) backend.name = argv[i + 1];
    else if (!std::strcmp(argv[i], "--precision")) backend.precision = argv[i + 1];
    else if (!std::strcmp(argv[i], "--convolution")) backend.convolution = argv[i + 1];
  }
  if (backend.name != "reference" && backend.name != "onednn")
    return std::fprintf(stderr, "ctnn-train-step: --backend is reference or onednn, not '%s'\n", backend.name.c_str()), 2;
  if (backend.precision != "f32" && backend.precision != "bf16")
    return std::fprintf(stderr, "ctnn-train-step: --precision is f32 or bf16, not '%s'\n", backend.precision.c_str()), 2;
  if (backend.convolution != "automatic" && backend.convolution != "direct")
    return std::fprintf(stderr, "ctnn-train-step: --convolution is automatic or direct, not '%s'\n", backend.convolution.c_str()), 2;
  if (net == "googlenet")
    return benchmark_on<ctnn::GoogLeNet<1000, true>, ctnn::Shape<3, 224, 224>>("googlenet", batch, threads, seconds, backend);
  if (net == "fashion")
    return benchmark_on<ctnn::FashionInception, ctnn::FashionInput>("fashion", batch, threads, seconds, backend);
  return std::fprintf(stderr, "unknown --net %s (googlenet or fashion)\n", net.c_str()), 2;
}
