// Backward of every layer kind against central finite differences, in double precision.
//
// The loss is L = sum(output * W) + sum_k sum(aux_k * W_k) with fixed random weights W, so the
// output gradient handed to backward is W itself. For each case the analytic gradients (of the
// parameters, from model.gradients(), and of the input, from model.input_gradient()) must match
//   dL/dv ~ (L(v + eps) - L(v - eps)) / (2 eps),   eps = 1e-6,
// to 1e-6 relative to the largest analytic gradient. Dropout runs in training mode with its
// generator reseeded before every forward, so every evaluation uses the same mask. Inputs come
// from the reference initialisation: distinct values, so max pooling has no ties.
//
// Each case also checks that a forward/backward at batch 3 followed by one at batch 2 (a re-planned
// arena) gives the gradients a fresh model gives at batch 2, and that training and evaluation
// forwards agree when no dropout is active.

#include <doctest/doctest.h>

#include <cstddef>     // std::size_t
#include <cstdint>     // std::int64_t
#include <ratio>       // std::ratio
#include <span>        // std::span
#include <string>      // std::string
#include <vector>      // std::vector

#include <ctnn/cpu/conv.hpp>          // Evaluator<Conv, Cpu>
#include <ctnn/cpu/conv_transpose.hpp>   // Evaluator<ConvTranspose2d, Cpu>
#include <ctnn/cpu/elementwise.hpp>   // Evaluator<ReLU | Dropout | Flatten | activations, Cpu>
#include <ctnn/cpu/linear.hpp>        // Evaluator<Linear, Cpu>
#include <ctnn/cpu/pooling.hpp>       // Evaluator<MaxPool | AvgPool | AdaptiveAvgPool, Cpu>
#include <ctnn/cpu/softmax.hpp>       // Evaluator<Softmax, Cpu>
#include <ctnn/cpu/upsample.hpp>      // Evaluator<Upsample, Cpu>
#include <ctnn/init.hpp>              // ctnn::init::reference_uniform
#include <ctnn/layers/aux_output.hpp>      // ctnn::AuxOutput
#include <ctnn/layers/basic_conv.hpp>      // ctnn::BasicConv2d
#include <ctnn/layers/concat.hpp>          // ctnn::Concat
#include <ctnn/layers/inception.hpp>       // ctnn::Inception
#include <ctnn/layers/inception_aux.hpp>   // ctnn::InceptionAux
#include <ctnn/layers/residual.hpp>        // ctnn::Residual, ctnn::Sum
#include <ctnn/cpu/batch_norm.hpp>         // Evaluator<BatchNorm, Cpu> (MobileNetV2's block)
#include <ctnn/models/mobilenet_v2.hpp>    // ctnn::torchvision::InvertedResidual
#include <ctnn/model.hpp>             // ctnn::Model
#include <ctnn/parameters.hpp>        // ctnn::named_tensors
#include <ctnn/reference_init.hpp>    // ctnn::reference_uniform_fill

#include "support/compare.hpp"   // ctnn::test::relative_error, scalar_error, worse

using namespace ctnn;

namespace {

constexpr double kEps = 1e-6;
constexpr double kTolerance = 1e-6;
constexpr std::uint64_t kDropoutSeed = 1234;

// A case: the network, its input shape, and a name for the messages.
template <class N, ShapeType I>
struct Case {
  using Net = N;
  using In = I;
};

template <class T>
std::vector<T> reference_values(const std::string& name, std::size_t count, std::uint64_t seed) {
  std::vector<T> values(count);
  const std::vector<std::int64_t> shape{static_cast<std::int64_t>(count)};
  reference_uniform_fill<T>(name, shape, 0, seed, values);
  return values;
}

// Every index when there are few, else `limit` spread evenly (first and last included).
std::vector<std::size_t> sample(std::size_t count, std::size_t limit) {
  std::vector<std::size_t> indices;
  if (count <= limit) {
    for (std::size_t i = 0; i < count; ++i) indices.push_back(i);
  } else {
    for (std::size_t k = 0; k < limit; ++k) indices.push_back(k * (count - 1) / (limit - 1));
  }
  return indices;
}

double dot(std::span<const double> a, std::span<const double> b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
  return sum;
}

template <class Net, ShapeType In>
struct GradientCheck {
  using M = Model<Net, In, double>;
  static constexpr std::size_t batch = 2;

  M model;
  std::vector<double> input = reference_values<double>("input", batch * In::size, 3);
  std::vector<double> output_weights = reference_values<double>("dy", batch * M::output_shape::size, 3);
  std::vector<std::vector<double>> aux_weights;

  GradientCheck() {
    init::reference_uniform(model, 7);
    model.train();
    model.compute_input_gradient(true);
  }

  // L(x) with the dropout generator reseeded, so every call draws the same masks.
  double loss(std::span<const double> x) {
    model.seed(kDropoutSeed);
    const std::span<const double> y = model.forward(x);
    double total = dot(y, output_weights);
    for (std::size_t k = 0; k < model.aux_output_count(); ++k) {
      const std::span<const double> aux = model.aux_output(k);
      if (aux_weights.size() <= k) aux_weights.push_back(reference_values<double>("daux" + std::to_string(k), aux.size(), 3));
      total += dot(aux, aux_weights[k]);
    }
    return total;
  }

  void forward_backward(std::span<const double> x) {
    loss(x);
    std::vector<std::span<const double>> aux(aux_weights.begin(), aux_weights.end());
    aux.resize(model.aux_output_count());
    model.backward(output_weights, aux);
  }
};

struct Errors {
  double parameters = 0, input = 0;
  std::size_t parameters_checked = 0, inputs_checked = 0;
};

template <class Net, ShapeType In>
Errors check_gradients() {
  GradientCheck<Net, In> check;
  auto& model = check.model;

  // Batch 3 first, so the batch-2 pass below runs on a re-planned arena.
  const std::vector<double> input3 = reference_values<double>("input3", 3 * In::size, 5);
  {
    model.seed(kDropoutSeed);
    const std::vector<double> weights3 = reference_values<double>("dy3", 3 * Model<Net, In, double>::output_shape::size, 5);
    model.forward(input3);
    std::vector<std::vector<double>> aux3;
    for (std::size_t k = 0; k < model.aux_output_count(); ++k) aux3.push_back(reference_values<double>("daux3", model.aux_output(k).size(), 5));
    std::vector<std::span<const double>> aux(aux3.begin(), aux3.end());
    model.backward(weights3, aux);
  }

  check.forward_backward(check.input);
  const std::vector<double> gradients(model.gradients().begin(), model.gradients().end());
  const std::vector<double> input_gradient(model.input_gradient().begin(), model.input_gradient().end());

  // A fresh model at batch 2 only: the same gradients.
  {
    GradientCheck<Net, In> fresh;
    fresh.forward_backward(fresh.input);
    CHECK(test::relative_error(std::span<const double>(fresh.model.gradients()), gradients) <= 1e-12);
    CHECK(test::relative_error(fresh.model.input_gradient(), input_gradient) <= 1e-12);
  }

  // Networks with a fully connected head of 2M weights cost milliseconds per forward: fewer samples.
  constexpr bool expensive = Net::parameter_count > 100'000;
  const std::size_t per_tensor = expensive ? 32 : 48, inputs = expensive ? 300 : 400;

  // The many small forwards below run faster on one thread (results differ only in rounding).
  model.set_threads(1);

  Errors errors;
  std::span<double> parameters = model.parameters();
  const double parameter_scale = test::largest_magnitude(std::span<const double>(gradients));
  for (const NamedTensor& t : named_tensors<Net, In>()) {
    if (t.role != TensorRole::parameter) continue;
    for (std::size_t i : sample(t.count, per_tensor)) {
      const std::size_t at = t.offset + i;
      const double value = parameters[at];
      parameters[at] = value + kEps;
      const double plus = check.loss(check.input);
      parameters[at] = value - kEps;
      const double minus = check.loss(check.input);
      parameters[at] = value;
      const double numeric = (plus - minus) / (2 * kEps);
      const double error = test::scalar_error(numeric, gradients[at], parameter_scale);
      if (!(error <= kTolerance)) MESSAGE(t.name << "[" << i << "]: analytic " << gradients[at] << ", numeric " << numeric);
      errors.parameters = test::worse(errors.parameters, error);
      ++errors.parameters_checked;
    }
  }

  std::vector<double> x = check.input;
  const double input_scale = test::largest_magnitude(std::span<const double>(input_gradient));
  for (std::size_t i : sample(x.size(), inputs)) {
    const double value = x[i];
    x[i] = value + kEps;
    const double plus = check.loss(x);
    x[i] = value - kEps;
    const double minus = check.loss(x);
    x[i] = value;
    const double numeric = (plus - minus) / (2 * kEps);
    const double error = test::scalar_error(numeric, input_gradient[i], input_scale);
    if (!(error <= kTolerance)) MESSAGE("input[" << i << "]: analytic " << input_gradient[i] << ", numeric " << numeric);
    errors.input = test::worse(errors.input, error);
    ++errors.inputs_checked;
  }
  return errors;
}

// Training and evaluation forwards agree once dropout is off (the memory plans differ).
template <class Net, ShapeType In>
void check_modes_agree() {
  Model<Net, In, double> model;
  init::reference_uniform(model, 7);
  model.disable_dropout(true);
  const std::vector<double> input = reference_values<double>("input", 2 * In::size, 3);
  const std::span<const double> eval_output = model.forward(input);
  const std::vector<double> evaluated(eval_output.begin(), eval_output.end());
  model.train();
  const std::span<const double> trained = model.forward(input);
  REQUIRE(trained.size() == evaluated.size());
  CHECK(test::max_difference(trained, std::span<const double>(evaluated)) == 0.0);
}

// The gradients against finite differences, and the two modes' forwards against each other where
// they compute the same (batch norm normalises with the batch's statistics in training only).
template <class C>
void check_case() {
  using Net = typename C::Net;
  using In = typename C::In;
  const Errors errors = check_gradients<Net, In>();
  MESSAGE("parameters: " << errors.parameters_checked << " checked, max error " << errors.parameters
                         << "; input: " << errors.inputs_checked << " checked, max error " << errors.input);
  CHECK(errors.parameters <= kTolerance);
  CHECK(errors.input <= kTolerance);
  if constexpr (Net::buffer_count == 0) check_modes_agree<Net, In>();
}

// ---- the cases -------------------------------------------------------------------------------

using ConvK3 = Case<Conv<3, 4, 3>, Shape<3, 6, 6>>;
using ConvK3S2P1 = Case<Conv<3, 4, 3, 2, 1>, Shape<3, 7, 7>>;
using ConvK1 = Case<Conv<4, 5, 1>, Shape<4, 5, 5>>;
using ConvK5S3P2 = Case<Conv<2, 3, 5, 3, 2>, Shape<2, 11, 13>>;
using ConvK7S2P3 = Case<Conv<3, 2, 7, 2, 3>, Shape<3, 9, 9>>;
using Relu = Case<ReLU, Shape<3, 5, 5>>;
using MaxPoolFloor = Case<MaxPool<2>, Shape<2, 7, 7>>;
using MaxPoolCeil = Case<MaxPool<3, 2, 0, Rounding::ceil>, Shape<2, 8, 8>>;
using MaxPoolCeilPadded = Case<MaxPool<3, 2, 1, Rounding::ceil>, Shape<2, 6, 6>>;
using MaxPoolStride1Padded = Case<MaxPool<3, 1, 1>, Shape<2, 5, 5>>;
using AvgPoolK5S3 = Case<AvgPool<5, 3>, Shape<2, 14, 14>>;
using AvgPoolCeilPadded = Case<AvgPool<3, 2, 1, Rounding::ceil>, Shape<2, 6, 6>>;
using AvgPoolCeilPaddedDrop = Case<AvgPool<2, 2, 1, Rounding::ceil>, Shape<2, 5, 5>>;
using AdaptiveAvgPool1 = Case<AdaptiveAvgPool<1>, Shape<3, 5, 5>>;
using AdaptiveAvgPool4Uneven = Case<AdaptiveAvgPool<4>, Shape<2, 10, 10>>;
// Non-square inputs whose two axes follow different rules (ceil windows, clipped divisors, bins):
// a height/width swap in a backward kernel's index arithmetic shows.
using MaxPoolCeilPaddedWide = Case<MaxPool<3, 2, 1, Rounding::ceil>, Shape<2, 5, 8>>;
using AvgPoolCeilPaddedWide = Case<AvgPool<3, 2, 1, Rounding::ceil>, Shape<2, 7, 10>>;
using AdaptiveAvgPool3x2 = Case<AdaptiveAvgPool<3, 2>, Shape<2, 7, 5>>;
using Fc = Case<Linear<12, 7>, Features<12>>;
using Flat = Case<Flatten, Shape<2, 3, 3>>;
using Drop = Case<Dropout<50>, Shape<3, 4, 4>>;
using Chain = Case<Sequential<Conv<3, 4, 3, 1, 1>, ReLU, MaxPool<2>, Flatten, Dropout<30>, Linear<36, 5>>, Shape<3, 6, 6>>;
using Branches = Case<Concat<Conv<3, 2, 1>, Sequential<Conv<3, 2, 3, 1, 1>, ReLU>, MaxPool<3, 1, 1>>, Shape<3, 5, 5>>;
using BasicConv = Case<BasicConv2d<3, 4, 3, 1, 1>, Shape<3, 6, 6>>;
using InceptionBlock = Case<Inception<4, 2, 2, 3, 2, 2, 2>, Shape<4, 6, 6>>;
using AuxClassifier = Case<InceptionAux<4, 3>, Shape<4, 14, 14>>;
using Tapped = Case<Sequential<Conv<3, 4, 3, 1, 1>, ReLU, AuxOutput<Sequential<AdaptiveAvgPool<2>, Flatten, Linear<16, 3>>>,
                               Conv<4, 2, 1>, Flatten, Linear<50, 4>>,
                    Shape<3, 5, 5>>;
// GoogLeNet in miniature: stem, max pool (ceil), Inception, an aux head tapped at 14x14,
// Inception, max pool, global average pool, dropout, classifier.
// Skip connections: an identity shortcut added in place; a body that keeps its output (it ends
// in a ReLU) with a strided shortcut and a ReLU after the sum; a sum of four kinds of branch.
using ResidualIdentity = Case<Residual<Sequential<Conv<3, 3, 3, 1, 1>, ReLU, Conv<3, 3, 3, 1, 1>>>, Shape<3, 5, 5>>;
using ResidualDownsample =
    Case<Sequential<Residual<Sequential<Conv<3, 4, 3, 2, 1>, ReLU, Conv<4, 4, 3, 1, 1>, ReLU>, Conv<3, 4, 1, 2>>, ReLU>,
         Shape<3, 6, 6>>;
using SumOfBranches = Case<Sum<Conv<3, 3, 1>, Sequential<Conv<3, 3, 3, 1, 1>, ReLU>, MaxPool<3, 1, 1>, Identity>,
                           Shape<3, 5, 5>>;
using MiniGoogLeNet =
    Case<Sequential<BasicConv2d<3, 8, 3, 1, 1>, MaxPool<3, 2, 0, Rounding::ceil>, Inception<8, 4, 4, 6, 2, 3, 3>,
                    AuxOutput<InceptionAux<16, 5>>, Inception<16, 4, 4, 4, 2, 2, 2>, MaxPool<3, 2, 0, Rounding::ceil>,
                    AdaptiveAvgPool<1>, Flatten, Dropout<40>, Linear<12, 5>>,
         Shape<3, 29, 29>>;

}  // namespace

TEST_CASE_TEMPLATE("backward matches central finite differences in double precision", C, ConvK3, ConvK3S2P1, ConvK1,
                   ConvK5S3P2, ConvK7S2P3, Relu, MaxPoolFloor, MaxPoolCeil, MaxPoolCeilPadded, MaxPoolStride1Padded,
                   AvgPoolK5S3, AvgPoolCeilPadded, AvgPoolCeilPaddedDrop, AdaptiveAvgPool1, AdaptiveAvgPool4Uneven,
                   MaxPoolCeilPaddedWide, AvgPoolCeilPaddedWide, AdaptiveAvgPool3x2, Fc,
                   Flat, Drop, Chain, Branches, BasicConv, InceptionBlock, AuxClassifier, Tapped, MiniGoogLeNet,
                   ResidualIdentity, ResidualDownsample, SumOfBranches) {
  check_case<C>();
}

// ---- grouped and depthwise convolution, ReLU6, MobileNetV2's block ----------------------------

namespace {
using GroupedConv = Case<Conv<4, 6, 3, 1, 1, true, 2>, Shape<4, 6, 6>>;
using GroupedPointwise = Case<Conv<6, 9, 1, 1, 0, true, 3>, Shape<6, 4, 4>>;
using GroupedStridedNoBias = Case<Conv<4, 4, 3, 2, 1, false, 2>, Shape<4, 7, 7>>;
using ChannelMultiplier = Case<Conv<2, 4, 3, 1, 0, true, 2>, Shape<2, 6, 6>>;
using Depthwise = Case<DepthwiseConv<3, 3, 1, 1>, Shape<3, 6, 6>>;
using DepthwiseStridedNoBias = Case<DepthwiseConv<4, 3, 2, 1, false>, Shape<4, 7, 7>>;
using DepthwiseK5S3P2 = Case<DepthwiseConv<2, 5, 3, 2>, Shape<2, 11, 13>>;
using Relu6 = Case<ReLU6, Shape<3, 5, 5>>;
// Expand 1x1, depthwise 3x3, project 1x1, batch norms (batch statistics), the identity added.
using InvertedResidualBlock = Case<torchvision::InvertedResidual<4, 4, 1, 2>, Shape<4, 6, 6>>;
using InvertedResidualStrided = Case<torchvision::InvertedResidual<3, 4, 2, 2>, Shape<3, 7, 7>>;
}  // namespace

TEST_CASE_TEMPLATE("grouped and depthwise convolution and ReLU6: backward matches central finite differences", C,
                   GroupedConv, GroupedPointwise, GroupedStridedNoBias, ChannelMultiplier, Depthwise,
                   DepthwiseStridedNoBias, DepthwiseK5S3P2, Relu6, InvertedResidualBlock, InvertedResidualStrided) {
  check_case<C>();
}

TEST_CASE("ReLU6 passes the gradient only strictly between 0 and 6, as finite differences say") {
  using In = Shape<1, 4, 4>;
  Model<ReLU6, In, double> model;
  model.train();
  model.compute_input_gradient(true);
  std::vector<double> x(In::size);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = -2.5 + 0.73 * static_cast<double>(i);  // -2.5 ... 8.45
  const auto sum = [&](const std::vector<double>& input) {
    double total = 0;
    for (double y : model.forward(input)) total += y;
    return total;
  };
  model.forward(x);
  model.backward(std::vector<double>(In::size, 1.0));
  const std::vector<double> analytic(model.input_gradient().begin(), model.input_gradient().end());
  for (std::size_t i = 0; i < x.size(); ++i) {
    CAPTURE(x[i]);
    std::vector<double> shifted = x;
    shifted[i] = x[i] + kEps;
    const double plus = sum(shifted);
    shifted[i] = x[i] - kEps;
    const double numeric = (plus - sum(shifted)) / (2 * kEps);
    CHECK(analytic[i] == (x[i] > 0 && x[i] < 6 ? 1.0 : 0.0));
    CHECK(std::abs(numeric - analytic[i]) <= 1e-6);
  }
}

// ---- Activations, softmax, upsampling and transposed convolution ------------------------------
// Inputs lie in [-1, 1); a sum of four identities takes them to [-4, 4), past Hardswish's -3 and 3.
// Chains run the in-place activations on their predecessor's slot in training (Sigmoid, Tanh,
// LeakyReLU keep their output) and in evaluation; a Sum's later branches add into dx
// (ConvTranspose2d through its scratch).

namespace {

using Bilinear2 = Upsample<2, UpsampleMode::bilinear>;
using Times4 = Sum<Identity, Identity, Identity, Identity>;

using IdentityAlone = Case<Identity, Shape<2, 3, 3>>;
using SigmoidCase = Case<Sigmoid, Shape<3, 4, 4>>;
using TanhCase = Case<Tanh, Shape<3, 4, 4>>;
using SiLUCase = Case<SiLU, Shape<3, 4, 4>>;
using HardswishCase = Case<Sequential<Times4, Hardswish>, Shape<3, 4, 4>>;
using LeakyReLUDefault = Case<LeakyReLU<>, Shape<3, 4, 4>>;
using LeakyReLUNegativeSlope = Case<LeakyReLU<std::ratio<-1, 2>>, Shape<3, 4, 4>>;
using ActivationChain = Case<Sequential<Conv<3, 4, 3, 1, 1>, Sigmoid, Conv<4, 4, 1>, Tanh, LeakyReLU<std::ratio<1, 5>>,
                                        Conv<4, 3, 1>, SiLU, Hardswish>,
                             Shape<3, 5, 5>>;
using SoftmaxFeatures = Case<Softmax, Features<7>>;
using SoftmaxPixels = Case<Sequential<Conv<3, 4, 1>, Softmax>, Shape<3, 3, 3>>;
using UpsampleNearest2 = Case<Upsample<2>, Shape<2, 3, 4>>;
using UpsampleBilinear2 = Case<Bilinear2, Shape<2, 4, 3>>;
using UpsampleBilinear3 = Case<Upsample<3, UpsampleMode::bilinear>, Shape<2, 3, 4>>;
using ConvTransposeK3S2P1Op1 = Case<ConvTranspose2d<3, 2, 3, 2, 1, 1>, Shape<3, 4, 4>>;
using ConvTransposeK4S2P1NoBias = Case<ConvTranspose2d<2, 3, 4, 2, 1, 0, false>, Shape<2, 3, 3>>;
using ConvTransposeK1 = Case<ConvTranspose2d<4, 3, 1>, Shape<4, 3, 3>>;
using ConvTransposeK2S3Op2 = Case<ConvTranspose2d<2, 2, 2, 3, 0, 2>, Shape<2, 3, 2>>;
// A segmentation head: downsample, learn to upsample, upsample again, classify every pixel.
using SegmentationHead = Case<Sequential<Conv<3, 4, 3, 2, 1>, ReLU, ConvTranspose2d<4, 4, 4, 2, 1>, Bilinear2,
                                         Conv<4, 3, 1>, Softmax>,
                              Shape<3, 6, 6>>;
using SumOfNewLayers = Case<Sum<SiLU, ConvTranspose2d<3, 3, 3, 1, 1>, Sequential<Upsample<2>, Conv<3, 3, 2, 2>>,
                                Sequential<Bilinear2, Conv<3, 3, 2, 2>>, Softmax, LeakyReLU<std::ratio<-1, 2>>, Tanh>,
                            Shape<3, 4, 4>>;

}  // namespace

TEST_CASE_TEMPLATE("backward of the activations, softmax, upsampling and transposed convolution matches central finite "
                   "differences in double precision",
                   C, IdentityAlone, SigmoidCase, TanhCase, SiLUCase, HardswishCase, LeakyReLUDefault,
                   LeakyReLUNegativeSlope, ActivationChain, SoftmaxFeatures, SoftmaxPixels, UpsampleNearest2,
                   UpsampleBilinear2, UpsampleBilinear3, ConvTransposeK3S2P1Op1, ConvTransposeK4S2P1NoBias,
                   ConvTransposeK1, ConvTransposeK2S3Op2, SegmentationHead, SumOfNewLayers) {
  check_case<C>();
}
