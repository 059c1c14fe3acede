#pragma once
// Support for the GPU tests: skipping without a device, and running one network on both
// backends with the same parameters.
//
// A GPU test includes this header first. Before doctest's main() runs, the test checks for a
// device; without one it prints why and exits with 77, which ctest reports as skipped:
//   SKIPPED: no CUDA device (cudaGetDeviceCount: cudaErrorNoDevice: no CUDA-capable device is detected)

#include <algorithm>   // std::copy
#include <cstdint>     // std::uint64_t
#include <cstdio>      // std::printf, std::fflush
#include <cstdlib>     // std::exit
#include <random>      // std::mt19937_64, std::uniform_real_distribution
#include <span>        // std::span
#include <utility>     // std::as_const
#include <vector>      // std::vector

#include <ctnn/ctnn.hpp>   // ctnn::Model (CPU), ctnn::init
#include <ctnn/cuda.hpp>   // ctnn::Model<..., Cuda>, ctnn::cuda::device_status

#include "../../support/reference.hpp"   // ctnn::test::relative_error, read_tensor, data_path
#include "../../support/skip.hpp"        // ctnn::test::skipped_exit_code

namespace ctnn::test {

// Runs during static initialisation of the test executable, before any test case.
inline const bool cuda_device_present = [] {
  const cuda::DeviceStatus status = cuda::device_status();
  if (!status.available) {
    std::printf("SKIPPED: no CUDA device (%s)\n", status.reason.c_str());
    std::fflush(stdout);
    std::exit(skipped_exit_code);
  }
  std::printf("CUDA device: %s, compute capability %d.%d (%d visible)\n", status.name.c_str(), status.major,
              status.minor, status.count);
  std::fflush(stdout);
  return true;
}();

// n values uniform in [-1, 1), reproducible from the seed.
template <class T = float>
std::vector<T> uniform_values(std::size_t n, std::uint64_t seed, double low = -1.0, double high = 1.0) {
  std::mt19937_64 generator(seed);
  std::uniform_real_distribution<double> uniform(low, high);
  std::vector<T> values(n);
  for (T& v : values) v = static_cast<T>(uniform(generator));
  return values;
}

// The same network on the CPU and on the GPU, with the same parameters and buffers (the
// reference initialisation, seed `seed`). TF32 is off, so the GPU computes in full float32, and
// cuDNN's FFT and Winograd algorithms are left out: their float results differ from a direct
// convolution's by more than the order of additions (up to about 1e-4 relative), which the
// tests' 1e-5 bounds would not tell from a bug.
template <class Net, ShapeType In, class T = float>
struct BothBackends {
  Model<Net, In, T, Cpu> cpu;
  Model<Net, In, T, Cuda> gpu;

  explicit BothBackends(std::uint64_t seed) {
    init::reference_uniform(cpu, seed);
    copy_state_to_gpu();
    gpu.allow_tf32(false);
    gpu.exclude_transform_algorithms(true);
  }
  void copy_state_to_gpu() {
    const auto parameters = std::as_const(cpu).parameters();
    const auto buffers = std::as_const(cpu).buffers();
    std::copy(parameters.begin(), parameters.end(), gpu.parameters().begin());
    std::copy(buffers.begin(), buffers.end(), gpu.buffers().begin());
  }
  void train(bool on) {
    cpu.train(on);
    gpu.train(on);
  }
};

}  // namespace ctnn::test
