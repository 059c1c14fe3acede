#pragma once
// The CPU forward-throughput loop of the benchmarks/<model>_forward.cpp programs: one network
// (evaluation mode, 3x224x224 inputs, random weights) timed at each batch size.
//
//   ctnn-<model>-forward [--batch N]... [--threads T] [--seconds S]
//                        [--backend reference|onednn] [--precision f32|bf16|int8]
// prints one line per batch size: "ctnn batch=16 threads=2 images_per_second=23.4 ms_per_batch=684"
// (with --backend onednn also "backend=onednn precision=bf16"). reference is the Eigen backend;
// onednn needs ctnn built with oneDNN. benchmarks/run_cpu_benchmarks runs it beside PyTorch (and,
// for GoogLeNet, ONNX Runtime and OpenVINO) on the same work and reports the ratios.

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

template <class Model>
void measure(Model& model, const std::vector<std::size_t>& batches, int threads, double seconds, const char* label) {
  for (std::size_t batch : batches) {
    std::vector<float> images(batch * Image::size);
    for (std::size_t i = 0; i < images.size(); ++i) images[i] = static_cast<float>(i % 255) / 255.0f - 0.5f;
    model.forward(images);  // warm-up: plans memory and primitives, grows packing buffers
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    std::size_t runs = 0;
    double elapsed = 0;
    do {
      model.forward(images);
      ++runs;
      elapsed = std::chrono::duration<double>(clock::now() - start).count();
    } while (elapsed < seconds || runs < 3);
    std::printf("ctnn batch=%zu threads=%d images_per_second=%.2f ms_per_batch=%.1f%s\n", batch, threads,
                static_cast<double>(batch * runs) / elapsed, 1000.0 * elapsed / static_cast<double>(runs), label);
    std::fflush(stdout);
  }
}

template <class Net>
int forward_throughput(int argc, char** argv) {
  const char* program = argc > 0 ? argv[0] : "forward benchmark";
  std::vector<std::size_t> batches;
  int threads = 2;
  double seconds = 10;
  std::string backend = "reference", precision = "f32";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--batch")) batches.push_back(static_cast<std::size_t>(std::atoi(argv[i + 1])));
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--backend")) backend = argv[i + 1];
    else if (!std::strcmp(argv[i], "--precision")) precision = argv[i + 1];
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
  if (backend == "reference") {
    if (precision != "f32") {
      std::fprintf(stderr, "%s: the reference backend computes in f32 only (use --backend onednn)\n", program);
      return 2;
    }
    ctnn::Model<Net, Image> model;
    ctnn::init::googlenet_seed(model, 1);
    model.set_threads(threads);
    measure(model, batches, threads, seconds, "");
    return 0;
  }
#if defined(CTNN_WITH_ONEDNN)
  if (precision == "int8") {
    std::fprintf(stderr, "%s: int8 inference is not implemented yet on the oneDNN backend\n", program);
    return 2;
  }
  ctnn::Model<Net, Image, float, ctnn::OneDnn> model;
  ctnn::init::googlenet_seed(model, 1);
  model.set_threads(threads);
  const auto used = model.set_precision(precision == "bf16" ? ctnn::onednn::Precision::bf16 : ctnn::onednn::Precision::f32);
  if (!model.precision_note().empty()) std::fprintf(stderr, "%s: %s\n", program, model.precision_note().c_str());
  const std::string label = std::string(" backend=onednn precision=") + ctnn::onednn::precision_name(used);
  measure(model, batches, threads, seconds, label.c_str());
  return 0;
#else
  std::fprintf(stderr, "%s: built without oneDNN (run tools/install-deps and configure again)\n", program);
  return 2;
#endif
}

}  // namespace benchmark
