// ctnn/loss.hpp: softmax cross-entropy against PyTorch's F.cross_entropy, top-1 accuracy and the
// predicted classes, and the auxiliary-head objective (its gradient against finite differences on
// a small network).

#include <doctest/doctest.h>

#include <algorithm>   // std::max
#include <array>     // std::array
#include <cmath>     // std::abs, std::isfinite
#include <cstddef>   // std::size_t
#include <cstdint>   // std::int32_t, std::int64_t
#include <span>      // std::span
#include <vector>    // std::vector

#include <ctnn/cpu/conv.hpp>          // Evaluator<Conv, Cpu>
#include <ctnn/cpu/elementwise.hpp>   // Evaluator<ReLU | Flatten, Cpu>
#include <ctnn/cpu/linear.hpp>        // Evaluator<Linear, Cpu>
#include <ctnn/cpu/pooling.hpp>       // Evaluator<AdaptiveAvgPool, Cpu>
#include <ctnn/error.hpp>             // ctnn::Error
#include <ctnn/init.hpp>              // ctnn::init::reference_uniform
#include <ctnn/layers/aux_output.hpp>   // ctnn::AuxOutput
#include <ctnn/layers/sequential.hpp>   // ctnn::Sequential
#include <ctnn/loss.hpp>              // ctnn::cross_entropy, ClassificationObjective, top1_accuracy, predicted_classes
#include <ctnn/model.hpp>             // ctnn::Model
#include <ctnn/reference_init.hpp>    // ctnn::reference_uniform_fill

#include "support/compare.hpp"   // ctnn::test::worse, scalar_error, largest_magnitude

using namespace ctnn;

TEST_CASE("cross_entropy matches F.cross_entropy, large logits included") {
  // torch.nn.functional.cross_entropy in float64 on these logits and labels gives the loss and,
  // by backward, the gradient below.
  const std::vector<double> logits{1, 2, 3, 1000, -1000, 0, 0.5, -0.25, 0.125};
  const std::array<std::int32_t, 3> labels{2, 1, 0};
  const double expected_loss = 667.0591849453971;
  const std::vector<double> expected_gradient{0.030010191056793478, 0.08157615701826587, -0.1115863480750594,
                                              0.3333333333333333,   -0.3333333333333333, 0.0,
                                              -0.1789877526780685,  0.0729076898649377,  0.10608006281313079};
  std::vector<double> gradient(9);
  const double loss = cross_entropy<double>(logits, labels, 3, gradient);
  CHECK(loss == doctest::Approx(expected_loss).epsilon(1e-14));
  for (std::size_t i = 0; i < 9; ++i) CHECK(gradient[i] == doctest::Approx(expected_gradient[i]).epsilon(1e-12));

  // Loss only; a scaled gradient.
  CHECK(cross_entropy<double>(logits, labels, 3) == doctest::Approx(expected_loss).epsilon(1e-14));
  std::vector<double> scaled(9);
  cross_entropy<double>(logits, labels, 3, scaled, 0.3);
  for (std::size_t i = 0; i < 9; ++i) CHECK(scaled[i] == doctest::Approx(0.3 * expected_gradient[i]).epsilon(1e-12));

  // float: logits that overflow exp() stay finite.
  const std::vector<float> huge{3e38f, -3e38f, 0.0f};
  std::vector<float> huge_gradient(3);
  const std::array<std::int32_t, 1> first{0};
  const float huge_loss = cross_entropy<float>(huge, first, 3, huge_gradient);
  CHECK(huge_loss == 0.0f);
  for (float g : huge_gradient) CHECK(std::isfinite(g));
}

TEST_CASE("cross_entropy rejects labels outside the classes and mismatched sizes") {
  const std::vector<float> logits{0, 1, 2, 3};
  const std::array<std::int32_t, 2> bad{0, 2};
  CHECK_THROWS_AS(cross_entropy<float>(logits, bad, 2), Error);
  const std::array<std::int32_t, 2> negative{-1, 0};
  CHECK_THROWS_AS(cross_entropy<float>(logits, negative, 2), Error);
  const std::array<std::int32_t, 3> three{0, 1, 0};
  CHECK_THROWS_AS(cross_entropy<float>(logits, three, 2), Error);
  std::vector<float> short_gradient(3);
  const std::array<std::int32_t, 2> labels{0, 1};
  CHECK_THROWS_AS(cross_entropy<float>(logits, labels, 2, short_gradient), Error);
}

TEST_CASE("top-1 accuracy and the predicted classes take the first largest logit") {
  const std::vector<float> logits{0.1f, 0.9f, 0.0f,   // 1
                                  2.0f, 2.0f, 1.0f,   // tie: 0
                                  -1.0f, -3.0f, -0.5f};  // 2
  const std::array<std::int32_t, 3> labels{1, 1, 2};
  CHECK(count_correct<float>(logits, labels, 3) == 2);
  CHECK(top1_accuracy<float>(logits, labels, 3) == doctest::Approx(2.0 / 3.0));
  CHECK(predicted_classes<float>(logits, 3) == std::vector<std::int32_t>{1, 0, 2});
  CHECK(predicted_classes<float>(std::span<const float>(logits).first(6), 2) == std::vector<std::int32_t>{1, 1, 0});
  CHECK(predicted_classes<float>({}, 3).empty());
  CHECK_THROWS_WITH_AS(predicted_classes<float>(logits, 4), doctest::Contains("9 logits are not a whole number"), Error);
  CHECK_THROWS_AS(predicted_classes<float>(logits, 0), Error);
}

namespace {
// A classifier with one auxiliary head, small enough for finite differences in double.
using Tapped = Sequential<Conv<2, 3, 3, 1, 1>, ReLU, AuxOutput<Sequential<AdaptiveAvgPool<1>, Flatten, Linear<3, 4>>>,
                          Conv<3, 2, 1>, Flatten, Linear<32, 4>>;
using TappedIn = Shape<2, 4, 4>;
}  // namespace

TEST_CASE("ClassificationObjective: main + 0.3 aux, and its gradient matches finite differences") {
  Model<Tapped, TappedIn, double> model;
  init::reference_uniform(model, 3);
  std::vector<double> images(3 * TappedIn::size);
  const std::vector<std::int64_t> shape{3, 2, 4, 4};
  reference_uniform_fill<double>("input", shape, 0, 3, images);
  const std::array<std::int32_t, 3> labels{3, 0, 2};
  model.train();

  ClassificationObjective<double> objective;  // aux weight 0.3
  model.forward(images);
  const ClassificationLoss<double> loss = objective.backward(model, labels);
  REQUIRE(loss.aux_count == 1);
  CHECK(loss.main == doctest::Approx(cross_entropy<double>(model.output(), labels, 4)).epsilon(1e-15));
  CHECK(loss.aux[0] == doctest::Approx(cross_entropy<double>(model.aux_output(0), labels, 4)).epsilon(1e-15));
  CHECK(loss.total == doctest::Approx(loss.main + 0.3 * loss.aux[0]).epsilon(1e-15));
  const std::vector<double> gradients(model.gradients().begin(), model.gradients().end());

  // evaluate() gives the same losses without touching the gradients.
  const ClassificationLoss<double> again = objective.evaluate(model, labels);
  CHECK(again.total == loss.total);

  double worst = 0;
  const double scale = test::largest_magnitude(std::span<const double>(gradients));
  std::span<double> parameters = model.parameters();
  for (std::size_t i = 0; i < parameters.size(); i += 3) {
    const double value = parameters[i];
    parameters[i] = value + 1e-6;
    model.forward(images);
    const double plus = objective.evaluate(model, labels).total;
    parameters[i] = value - 1e-6;
    model.forward(images);
    const double minus = objective.evaluate(model, labels).total;
    parameters[i] = value;
    worst = test::worse(worst, test::scalar_error((plus - minus) / 2e-6, gradients[i], scale));
  }
  MESSAGE("objective gradient vs finite differences: max error " << worst << " relative to max |g|");
  CHECK(worst <= 1e-6);

  // Evaluation mode has no auxiliary outputs: the objective is the plain cross-entropy, and
  // backward needs a training forward.
  model.eval();
  model.forward(images);
  const ClassificationLoss<double> eval_loss = objective.evaluate(model, labels);
  CHECK(eval_loss.aux_count == 0);
  CHECK(eval_loss.total == eval_loss.main);
  CHECK_THROWS_AS(objective.backward(model, labels), Error);
}
