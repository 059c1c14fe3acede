#pragma once
// The CPU forward-throughput loop of the benchmarks/<model>_forward.cpp programs: one network
// (evaluation mode, 3x224x224 inputs, random weights) timed at each batch size.
//
//   ctnn-<model>-forward [--batch N]... [--threads T] [--seconds S]
// prints one line per batch size: "ctnn batch=16 threads=2 images_per_second=23.4 ms_per_batch=684"
// benchmarks/run_cpu_benchmarks runs it beside PyTorch on the same work and reports the ratio.

#include <chrono>    // std::chrono::steady_clock
#include <cstddef>   // std::size_t
#include <cstdio>    // std::printf, std::fflush
#include <cstdlib>   // std::atoi, std::atof
#include <cstring>   // std::strcmp
#include <vector>    // std::vector

#include <ctnn/ctnn.hpp>   // ctnn::Model, ctnn::init

namespace benchmark {

template <class Net>
int forward_throughput(int argc, char** argv) {
  std::vector<std::size_t> batches;
  int threads = 2;
  double seconds = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--batch")) batches.push_back(static_cast<std::size_t>(std::atoi(argv[i + 1])));
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
  }
  if (batches.empty()) batches = {1, 16};

  using Image = ctnn::Shape<3, 224, 224>;
  ctnn::Model<Net, Image> model;
  ctnn::init::googlenet_seed(model, 1);
  model.set_threads(threads);
  for (std::size_t batch : batches) {
    std::vector<float> images(batch * Image::size);
    for (std::size_t i = 0; i < images.size(); ++i) images[i] = static_cast<float>(i % 255) / 255.0f - 0.5f;
    model.forward(images);  // warm-up: plans memory, grows packing buffers
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    std::size_t runs = 0;
    double elapsed = 0;
    do {
      model.forward(images);
      ++runs;
      elapsed = std::chrono::duration<double>(clock::now() - start).count();
    } while (elapsed < seconds || runs < 3);
    std::printf("ctnn batch=%zu threads=%d images_per_second=%.2f ms_per_batch=%.1f\n", batch, threads,
                static_cast<double>(batch * runs) / elapsed, 1000.0 * elapsed / static_cast<double>(runs));
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace benchmark
