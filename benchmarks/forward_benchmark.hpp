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
#include <cstdlib>   // std::atoi, std::atof
#include <cstring>   // std::strcmp
#include <string>    // std::string
#include <vector>    // std::vector

#include <ctnn/ctnn.hpp>   // ctnn::Model, ctnn::init
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

inline void print_usage(const char* program) {
  std::printf("usage: %s [--batch N]... [--threads T] [--seconds S] [--backend reference|onednn]\n"
              "       [--precision f32|bf16|int8] [--convolution automatic|direct]\n"
              "Times forward passes (evaluation mode, random weights, 3x224x224 synthetic images) at each batch\n"
              "size (default 1 and 16). --precision needs --backend onednn; int8 is calibrated on 16 of the\n"
              "same synthetic images first (no data set: the numbers measure speed, not accuracy).\n"
              "--convolution direct (onednn): no Winograd for f32 3x3 convolutions.\n",
              program);
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
  std::vector<std::size_t> batches;
  int threads = 2;
  double seconds = 10;
  std::string backend = "reference", precision = "f32", convolution = "automatic";
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      print_usage(program);
      return 0;
    }
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--batch")) batches.push_back(static_cast<std::size_t>(std::atoi(argv[i + 1])));
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--backend")) backend = argv[i + 1];
    else if (!std::strcmp(argv[i], "--precision")) precision = argv[i + 1];
    else if (!std::strcmp(argv[i], "--convolution")) convolution = argv[i + 1];
  }
  if (batches.empty()) batches = {1, 16};
  if (backend != "reference" && backend != "onednn") {
    std::fprintf(stderr, "%s: --backend is reference or onednn, not '%s'\n", program, backend.c_str());
    return 2;
  }
  if (precision != "f32" && precision != "bf16" && precision != "int8") {
    std::fprintf(stderr, "%s: --precision is f32, bf16 or int8, not '%s'\n", program, precision.c_str());
    return 2;
  }
  if (convolution != "automatic" && convolution != "direct") {
    std::fprintf(stderr, "%s: --convolution is automatic or direct, not '%s'\n", program, convolution.c_str());
    return 2;
  }
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
