// Optimizers and learning-rate schedules against torch.optim (tests/data/reference/
// optimizers.safetensors, written by tools/make_training_reference.py): one 64-element float32
// parameter, five steps with fixed gradients, the parameter after every step; the learning rate
// after every scheduler.step().

#include <doctest/doctest.h>

#include <algorithm>   // std::max, std::fill
#include <cmath>       // std::abs
#include <cstddef>     // std::size_t
#include <cstdint>     // std::int64_t
#include <span>        // std::span
#include <string>      // std::string
#include <vector>      // std::vector

#include <ctnn/error.hpp>               // ctnn::Error
#include <ctnn/io/safetensors.hpp>      // ctnn::safetensors::Reader
#include <ctnn/optim/adam.hpp>          // ctnn::optim::Adam, AdamW
#include <ctnn/optim/lr_schedule.hpp>   // ctnn::optim::StepLR, CosineAnnealingLR
#include <ctnn/optim/sgd.hpp>           // ctnn::optim::SGD
#include <ctnn/reference_init.hpp>      // ctnn::reference_uniform_fill

#include "support/reference.hpp"   // ctnn::test::read_tensor, data_path

using namespace ctnn;

namespace {

constexpr std::size_t kSize = 64, kSteps = 5;
constexpr std::uint64_t kSeed = 9;

const test::ReferenceFile& reference() { return test::ReferenceFile::open("reference/optimizers.safetensors"); }

std::vector<float> reference_values(const std::string& name) {
  std::vector<float> values(kSize);
  const std::vector<std::int64_t> shape{static_cast<std::int64_t>(kSize)};
  reference_uniform_fill<float>(name, shape, 0, kSeed, values);
  return values;
}

// Runs the optimizer through the reference's five steps; returns the largest error of the
// parameter after any step, relative to the largest |parameter|.
template <class Optimizer>
double run_case(const std::string& name, Optimizer optimizer) {
  std::vector<float> parameter = reference_values("optim.param");
  const std::vector<float> expected = test::read_tensor<float>(reference(), name + ".params");
  REQUIRE(expected.size() == kSteps * kSize);
  double worst = 0;
  for (std::size_t step = 0; step < kSteps; ++step) {
    const std::vector<float> gradient = reference_values("optim.grad" + std::to_string(step));
    optimizer.step(parameter, gradient);
    const std::span<const float> after(expected.data() + step * kSize, kSize);
    worst = test::worse(worst, test::relative_error(std::span<const float>(parameter), after));
  }
  CHECK(optimizer.step_count() == kSteps);
  return worst;
}

}  // namespace

TEST_CASE("SGD, Adam and AdamW follow torch.optim step for step") {
  using optim::Adam;
  using optim::AdamW;
  using optim::SGD;
  // float32 arithmetic on both sides; the order of operations differs in places.
  constexpr double tolerance = 1e-6;
  struct Result {
    std::string name;
    double error;
  };
  const std::vector<Result> results{
      {"sgd", run_case("sgd", SGD<float>(kSize, {.lr = 0.1}))},
      {"sgd_momentum", run_case("sgd_momentum", SGD<float>(kSize, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01}))},
      {"sgd_dampening", run_case("sgd_dampening", SGD<float>(kSize, {.lr = 0.1, .momentum = 0.9, .dampening = 0.5}))},
      {"sgd_nesterov", run_case("sgd_nesterov", SGD<float>(kSize, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01,
                                                                   .nesterov = true}))},
      {"adam", run_case("adam", Adam<float>(kSize, {.lr = 0.01}))},
      {"adam_weight_decay", run_case("adam_weight_decay", Adam<float>(kSize, {.lr = 0.01, .beta1 = 0.8, .beta2 = 0.99,
                                                                              .eps = 1e-6, .weight_decay = 0.1}))},
      {"adam_amsgrad", run_case("adam_amsgrad", Adam<float>(kSize, {.lr = 0.01, .amsgrad = true}))},
      {"adamw", run_case("adamw", AdamW<float>(kSize, {.lr = 0.01, .weight_decay = 0.1}))},
      {"adamw_amsgrad", run_case("adamw_amsgrad", AdamW<float>(kSize, {.lr = 0.01, .weight_decay = 0.1, .amsgrad = true}))},
  };
  for (const Result& r : results) {
    CAPTURE(r.name);
    MESSAGE(r.name << ": max relative error " << r.error);
    CHECK(r.error <= tolerance);
  }
}

TEST_CASE("optimizers leave a frozen prefix alone and start its momentum when it thaws") {
  // Parameters [0, 32) frozen for two steps, then trainable: their momentum buffers start as the
  // gradient, as PyTorch's do for a parameter whose first gradient comes late.
  optim::SGD<double> sgd(4, {.lr = 0.5, .momentum = 0.9, .dampening = 0.5});
  std::vector<double> p{1, 1, 1, 1};
  const std::vector<double> g{1, 1, 1, 1};
  sgd.step(p, g, 2);
  CHECK(p[0] == 1.0);
  CHECK(p[1] == 1.0);
  CHECK(p[2] == 0.5);  // buf = g = 1 on the first step
  sgd.step(p, g, 2);   // buf = 0.9 + 0.5 = 1.4
  CHECK(p[0] == 1.0);
  CHECK(p[3] == doctest::Approx(0.5 - 0.7));
  sgd.step(p, g, 0);  // [0, 2): first step, buf = g; [2, 4): buf = 0.9 * 1.4 + 0.5
  CHECK(p[0] == 0.5);
  CHECK(p[2] == doctest::Approx(0.5 - 0.7 - 0.5 * (0.9 * 1.4 + 0.5)));
  CHECK(sgd.state_tensors().size() == 1);
  CHECK(sgd.state_tensors()[0].name == "momentum_buffer");

  optim::AdamW<float> adamw(4, {});
  std::vector<float> q{1, 2, 3, 4};
  const std::vector<float> h{1, 1, 1, 1};
  adamw.step(q, h, 3);
  CHECK(q[0] == 1.0f);
  CHECK(q[2] == 3.0f);
  CHECK(q[3] != 4.0f);
  CHECK(adamw.state_tensors().size() == 2);
  CHECK(adamw.state_tensors()[0].values[0] == 0.0f);  // exp_avg of a frozen parameter

  std::vector<float> wrong(3);
  CHECK_THROWS_AS(adamw.step(wrong, h), Error);
  CHECK_THROWS_AS(adamw.step(q, h, 5), Error);
}

TEST_CASE("StepLR and CosineAnnealingLR follow torch.optim.lr_scheduler") {
  auto check = [](const std::string& name, auto schedule) {
    const std::vector<double> expected = test::read_tensor<double>(reference(), name + ".lr");
    double worst = 0;
    for (double lr : expected) worst = test::worse(worst, test::scalar_error(schedule.step(), lr, lr));
    CAPTURE(name);
    MESSAGE(name << ": " << expected.size() << " steps, max relative error " << worst);
    CHECK(worst <= 1e-13);
  };
  check("step_lr", optim::StepLR(0.1, 3, 0.5));
  check("cosine", optim::CosineAnnealingLR(0.1, 4, 0.001));
  check("cosine_no_min", optim::CosineAnnealingLR(0.05, 7));

  // The closed forms, and stepping an optimizer's rate.
  optim::CosineAnnealingLR cosine(0.1, 10, 0.0);
  optim::SGD<float> sgd(1, {.lr = 0.1});
  for (int e = 1; e <= 10; ++e) cosine.step(sgd);
  CHECK(sgd.learning_rate() == cosine.lr());
  CHECK(cosine.lr() == doctest::Approx(cosine.closed_form(10)).epsilon(1e-12));
  CHECK(cosine.closed_form(5) == doctest::Approx(0.05));
  CHECK(optim::StepLR(1.0, 2, 0.1).closed_form(5) == doctest::Approx(0.01));
}
