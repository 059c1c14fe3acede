// The device optimizers against the CPU ones (themselves tested against torch.optim): several
// steps over the same parameters and gradients, a frozen prefix, and the state tensors.

#include "support/device.hpp"   // skips without a device

#include <doctest/doctest.h>   // TEST_CASE, CHECK, CAPTURE

#include <cstddef>   // std::size_t
#include <string>    // std::string
#include <vector>    // std::vector

using namespace ctnn;

namespace {

constexpr std::size_t kCount = 10'000;

// `steps` updates of the same parameters by the CPU optimizer and its device twin, the
// gradients new each step; the first `first` parameters are frozen.
template <class Cpu, class Gpu, class Options>
void compare(const std::string& name, Options options, std::size_t first = 0, std::size_t steps = 4) {
  CAPTURE(name);
  Cpu cpu(kCount, options);
  Gpu gpu(kCount, options);
  std::vector<float> cpu_parameters = test::uniform_values(kCount, 1);
  cuda::DeviceBuffer<float> parameters = cuda::to_device(std::span<const float>(cpu_parameters));
  for (std::size_t step = 0; step < steps; ++step) {
    const std::vector<float> gradients = test::uniform_values(kCount, 10 + step);
    const cuda::DeviceBuffer<float> device_gradients = cuda::to_device(std::span<const float>(gradients));
    cpu.step(std::span<float>(cpu_parameters), std::span<const float>(gradients), first);
    gpu.step(parameters.span(), cuda::DeviceSpan<const float>(device_gradients.span()), first);
  }
  const std::vector<float> gpu_parameters = cuda::to_host(parameters.span());
  const double error = test::relative_error(gpu_parameters, cpu_parameters);
  MESSAGE(name << ": rel. max error after " << steps << " steps " << error);
  CHECK(error <= 1e-6);
  for (std::size_t i = 0; i < first; ++i) REQUIRE(gpu_parameters[i] == cpu_parameters[i]);
  auto cpu_state = cpu.state_tensors();
  auto gpu_state = gpu.state_tensors();
  REQUIRE(cpu_state.size() == gpu_state.size());
  for (std::size_t k = 0; k < cpu_state.size(); ++k) {
    CHECK(gpu_state[k].name == cpu_state[k].name);
    CHECK(test::relative_error(std::span<const float>(gpu_state[k].values), std::span<const float>(cpu_state[k].values)) <=
          1e-6);
  }
  CHECK(gpu.step_count() == cpu.step_count());
}

}  // namespace

TEST_CASE("device SGD follows torch.optim.SGD as the CPU's does") {
  using Cpu = optim::SGD<float>;
  using Gpu = cuda::optim::SGD<float>;
  compare<Cpu, Gpu>("sgd", Cpu::Options{.lr = 0.1});
  compare<Cpu, Gpu>("sgd_momentum", Cpu::Options{.lr = 0.1, .momentum = 0.9});
  compare<Cpu, Gpu>("sgd_dampening_decay", Cpu::Options{.lr = 0.1, .momentum = 0.9, .dampening = 0.3, .weight_decay = 1e-2});
  compare<Cpu, Gpu>("sgd_nesterov", Cpu::Options{.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-4, .nesterov = true});
  compare<Cpu, Gpu>("sgd_frozen_prefix", Cpu::Options{.lr = 0.1, .momentum = 0.9}, 1234);
}

TEST_CASE("device Adam and AdamW follow torch.optim as the CPU's do") {
  using CpuAdam = optim::Adam<float>;
  using GpuAdam = cuda::optim::Adam<float>;
  using CpuAdamW = optim::AdamW<float>;
  using GpuAdamW = cuda::optim::AdamW<float>;
  compare<CpuAdam, GpuAdam>("adam", CpuAdam::Options{.lr = 1e-2});
  compare<CpuAdam, GpuAdam>("adam_decay_amsgrad", CpuAdam::Options{.lr = 1e-2, .weight_decay = 1e-2, .amsgrad = true});
  compare<CpuAdamW, GpuAdamW>("adamw", CpuAdamW::Options{.lr = 1e-2});
  compare<CpuAdamW, GpuAdamW>("adamw_amsgrad_frozen", CpuAdamW::Options{.lr = 1e-2, .amsgrad = true}, 777);
}

TEST_CASE("device optimizers refuse what the CPU ones refuse") {
  CHECK_THROWS_WITH_AS(cuda::optim::SGD<float>(10, {.lr = -1}), doctest::Contains("learning rate"), Error);
  CHECK_THROWS_WITH_AS(cuda::optim::SGD<float>(10, {.lr = 0.1, .nesterov = true}), doctest::Contains("Nesterov"), Error);
  CHECK_THROWS_WITH_AS(cuda::optim::Adam<float>(10, {.beta1 = 1.0}), doctest::Contains("betas"), Error);
  cuda::optim::SGD<float> sgd(10, {.lr = 0.1});
  cuda::DeviceBuffer<float> buffer(11, "test");
  CHECK_THROWS_WITH_AS(sgd.step(buffer.span(), cuda::DeviceSpan<const float>(buffer.span())),
                       doctest::Contains("was built for 10 parameters"), Error);
}
