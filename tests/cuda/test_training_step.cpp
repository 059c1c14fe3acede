// One GoogLeNet training step on the GPU against the CPU backend: the objective (computed on the
// device), every parameter gradient and the SGD update, in double precision (where the two
// backends must agree to rounding) and in float.

#include "support/device.hpp"   // skips without a device; ctnn::test::BothBackends

#include <doctest/doctest.h>   // TEST_CASE, CHECK, MESSAGE

#include <array>     // std::array
#include <cstdint>   // std::int32_t, std::int64_t
#include <string>    // std::string
#include <utility>   // std::as_const, std::pair
#include <vector>    // std::vector

using namespace ctnn;

namespace {

using Image = Shape<3, 224, 224>;

template <class T>
std::vector<T> copy(std::span<const T> values) {
  return std::vector<T>(values.begin(), values.end());
}

template <class T>
std::vector<T> reference_input(std::uint64_t seed, std::size_t batch = 2) {
  std::vector<T> input(batch * Image::size);
  const std::int64_t shape[] = {static_cast<std::int64_t>(batch), 3, 224, 224};
  reference_uniform_fill<T>("input", shape, 0, seed, input);
  return input;
}

}  // namespace

namespace {

// One training step of GoogLeNet<10> (tests/test_training_parity.cpp's setting: reference
// initialisation seed 5, batch 2, labels [1, 0], dropout off, SGD lr 0.01 momentum 0.9
// weight decay 1e-4) on both backends; the GPU computes the objective on the device.
template <class T>
struct TrainingStep {
  using Net = GoogLeNet<10, true>;
  test::BothBackends<Net, Image, T> both{5};
  ClassificationLoss<T> cpu_loss, gpu_loss;
  std::vector<T> cpu_gradients, gpu_gradients, cpu_parameters, gpu_parameters;

  TrainingStep() {
    const std::array<std::int32_t, 2> labels{1, 0};
    const auto input = reference_input<T>(5);
    both.train(true);
    both.cpu.disable_dropout(true);
    both.gpu.disable_dropout(true);

    ClassificationObjective<T> cpu_objective(T(0.3));
    optim::SGD<T> cpu_sgd(Net::parameter_count, {.lr = 0.01, .momentum = 0.9, .weight_decay = 1e-4});
    both.cpu.forward(input);
    cpu_loss = cpu_objective.backward(both.cpu, labels);
    cpu_gradients = copy(std::as_const(both.cpu).gradients());
    cpu_sgd.step(both.cpu);
    cpu_parameters = copy(std::as_const(both.cpu).parameters());

    cuda::ClassificationObjective<T> gpu_objective(T(0.3));
    cuda::optim::SGD<T> gpu_sgd(Net::parameter_count, {.lr = 0.01, .momentum = 0.9, .weight_decay = 1e-4});
    const auto device_input = both.gpu.to_device(input);
    both.gpu.forward(cuda::DeviceSpan<const T>(device_input.span()));
    gpu_objective.backward(both.gpu, std::span<const std::int32_t>(labels));
    gpu_loss = gpu_objective.loss();
    gpu_gradients = copy(std::as_const(both.gpu).gradients());
    gpu_sgd.step(both.gpu);
    gpu_parameters = copy(std::as_const(both.gpu).parameters());
  }

  // The worst relative error of any one parameter tensor's gradient, and its name.
  std::pair<double, std::string> worst_gradient() const {
    std::pair<double, std::string> worst{0.0, ""};
    for (const NamedTensor& t : named_tensors<Net, Image>()) {
      const double e = test::relative_error(std::span<const T>(gpu_gradients).subspan(t.offset, t.count),
                                            std::span<const T>(cpu_gradients).subspan(t.offset, t.count));
      if (e > worst.first) worst = {e, t.name};
    }
    return worst;
  }
};

}  // namespace

TEST_CASE("one GoogLeNet training step on the GPU matches the CPU's, in double precision") {
  TrainingStep<double> step;
  MESSAGE("loss: CPU " << step.cpu_loss.total << ", GPU " << step.gpu_loss.total);
  CHECK(step.gpu_loss.total == doctest::Approx(step.cpu_loss.total).epsilon(1e-10));
  CHECK(step.gpu_loss.aux[0] == doctest::Approx(step.cpu_loss.aux[0]).epsilon(1e-10));
  CHECK(step.gpu_loss.aux[1] == doctest::Approx(step.cpu_loss.aux[1]).epsilon(1e-10));
  const auto [worst, name] = step.worst_gradient();
  MESSAGE("gradients: worst tensor " << name << ", rel. max error " << worst);
  CHECK(worst <= 1e-8);
  CHECK(test::relative_error(step.gpu_parameters, step.cpu_parameters) <= 1e-12);
}

TEST_CASE("one GoogLeNet training step on the GPU matches the CPU's, in float") {
  TrainingStep<float> step;
  MESSAGE("loss: CPU " << step.cpu_loss.total << ", GPU " << step.gpu_loss.total);
  CHECK(step.gpu_loss.total == doctest::Approx(step.cpu_loss.total).epsilon(1e-4));
  const double gradients = test::relative_error(step.gpu_gradients, step.cpu_gradients);
  const auto [worst, name] = step.worst_gradient();
  MESSAGE("gradients: rel. max error " << gradients << " overall; worst tensor " << name << " at " << worst
                                       << " (float32 rounding of small sums of large terms, see "
                                          "tests/test_training_parity.cpp)");
  CHECK(gradients <= 1e-3);
  CHECK(test::relative_error(step.gpu_parameters, step.cpu_parameters) <= 1e-5);
}

