// Training on the oneDNN backend against the Eigen reference: oneDNN's backward primitives and
// ctnn's own kernels (BatchNorm + ReLU, Winograd) give Eigen's gradients, layer by layer and for
// FashionInception, and bf16 training with f32 master weights lowers the loss as f32 does.
// (test_onednn.cpp: inference; test_onednn_int8.cpp: int8.)
//
// Without oneDNN (not found at configure time) the test says so and exits 77, before doctest
// starts (support/onednn_skip.hpp).
// ctest onednn_avx2.training runs its "layers:" cases again with oneDNN held to AVX2.

#include <doctest/doctest.h>

#include "support/onednn_skip.hpp"   // exits 77 (skipped) without oneDNN
#if defined(CTNN_WITH_ONEDNN)

#include <algorithm>   // std::any_of, std::copy
#include <cmath>       // std::isnan
#include <cstdint>     // std::int32_t
#include <limits>      // std::numeric_limits
#include <random>      // std::mt19937, std::uniform_real_distribution
#include <sstream>     // std::ostringstream
#include <vector>      // std::vector

#include <ctnn/ctnn.hpp>                       // layers, ctnn::Model, ClassificationObjective, SGD
#include <ctnn/models/fashion_inception.hpp>   // ctnn::FashionInception
#include <ctnn/models/mobilenet_v2.hpp>        // ctnn::torchvision::InvertedResidual
#include <ctnn/models/resnet.hpp>              // ctnn::torchvision::BasicBlock
#include <ctnn/onednn.hpp>                     // ctnn::OneDnn

#include "support/onednn_pair.hpp"   // ctnn::test::Pair, FastModel, pattern, runs_bf16
#include "support/reference.hpp"     // ctnn::test::relative_error, worse, scalar_error

using namespace ctnn;
using onednn::Precision;
using test::FastModel;
using test::Pair;
using test::pattern;
using test::runs_bf16;

namespace {
// Both models in training mode, dropout off, computing the input gradient.
template <class Net, ShapeType In>
void train_without_dropout(Pair<Net, In>& pair) {
  pair.reference.train();
  pair.fast.train();
  pair.reference.disable_dropout(true);
  pair.fast.disable_dropout(true);
  pair.reference.compute_input_gradient(true);
  pair.fast.compute_input_gradient(true);
}

// One training step of a Pair on `input`, dropout off: logits, parameter gradients and input
// gradient of oneDNN against Eigen's, within `tolerance` (looser for bf16).
template <class Net, ShapeType In>
void check_training_step(Pair<Net, In>& pair, const std::vector<float>& input, double tolerance = 1e-5) {
  train_without_dropout(pair);
  const std::span<const float> expected = pair.reference.forward(input);
  CHECK(test::relative_error(pair.fast.forward(input), expected) <= tolerance);
  const auto gradient = pattern(expected.size(), 0.1f);
  pair.reference.backward(gradient);
  pair.fast.backward(gradient);
  CHECK(test::relative_error(std::span<const float>(pair.fast.gradients()), std::span<const float>(pair.reference.gradients())) <= tolerance);
  CHECK(test::relative_error(pair.fast.input_gradient(), pair.reference.input_gradient()) <= tolerance);
}

// One training step on a pattern of 3 images, then evaluation on it, both within `tolerance`.
template <class Net, ShapeType In>
void step_and_evaluate(Pair<Net, In>& pair, double tolerance = 1e-5) {
  const auto input = pattern(3 * In::size, 4.0f);
  check_training_step(pair, input, tolerance);
  pair.reference.eval();
  pair.fast.eval();
  CHECK(test::relative_error(pair.fast.forward(input), pair.reference.forward(input)) <= tolerance);
}
}  // namespace

TEST_CASE("training on oneDNN (its backward primitives) gives the reference's gradients") {
  using Net = Sequential<BasicConv2d<3, 16, 3, 1, 1>, MaxPool<3, 2, 0, Rounding::ceil>,
                         Inception<16, 16, 16, 16, 16, 16, 16>, AdaptiveAvgPool<1>, Flatten, Dropout<40>, Linear<64, 5>>;
  using In = Shape<3, 15, 15>;
  Pair<Net, In> pair(4);
  const auto input = pattern(3 * In::size);
  check_training_step(pair, input);
  SUBCASE("weights changed on the host are packed again") {
    for (float& p : pair.reference.parameters()) p *= 0.5f;
    for (float& p : pair.fast.parameters()) p *= 0.5f;
    pair.reference.eval();
    pair.fast.eval();
    CHECK(test::relative_error(pair.fast.forward(input), pair.reference.forward(input)) <= 1e-5);
  }
}

// BatchNorm + ReLU in training as ctnn's own AVX-512 kernels (onednn/batch_norm_relu.hpp), one
// call forward and one backward: channel counts with a partial last 16 (3, 20) and a whole one
// (16), the pair first (reading the model's plain input) and last (writing its output), and rows
// that two threads share unevenly (5 images of 7x9). Named "layers:" so that the AVX2 run checks
// oneDNN's batch norm and ReLU taking over.
TEST_CASE("layers: training BatchNorm + ReLU on oneDNN (ctnn's fused kernels) gives the reference's gradients") {
  using Net = Sequential<BatchNorm<3>, ReLU, Conv<3, 16, 3, 1, 1, false>, BatchNorm<16>, ReLU, Conv<16, 20, 1>,
                         BatchNorm<20>, ReLU>;
  using In = Shape<3, 7, 9>;
  constexpr std::size_t first_pair_parameters = 6, through_second_pair = 6 + 432 + 32;
  Pair<Net, In> pair(36);
  const auto input = pattern(5 * In::size, 4.0f);
  const std::size_t expected_passes = onednn::avx512_kernels_supported() ? 6u : 0u;  // 3 forward, 3 backward
  SUBCASE("one step, then evaluation (oneDNN's batch norm with the running statistics)") {
    check_training_step(pair, input);
    CHECK(pair.fast.fused_batch_norm_relu_passes() == expected_passes);
    CHECK(test::relative_error(std::span<const float>(pair.fast.buffers()), std::span<const float>(pair.reference.buffers())) <= 1e-6);
    pair.reference.eval();
    pair.fast.eval();
    CHECK(test::relative_error(pair.fast.forward(input), pair.reference.forward(input)) <= 1e-5);
  }
  SUBCASE("gradients accumulate as on Eigen") {
    check_training_step(pair, input);
    pair.reference.accumulate_gradients(true);
    pair.fast.accumulate_gradients(true);
    check_training_step(pair, input);
  }
  SUBCASE("frozen: the first BatchNorm computes dx and no parameter gradients") {
    pair.reference.set_trainable_from(first_pair_parameters);
    pair.fast.set_trainable_from(first_pair_parameters);
    check_training_step(pair, input);
    CHECK(pair.fast.gradients()[0] == 0.0f);
    // A frozen BatchNorm without a ReLU: oneDNN's own backward, on 3 channels its generic kernel.
    using Alone = Sequential<BatchNorm<3>, Conv<3, 8, 3, 1, 1>, BatchNorm<8>>;
    Pair<Alone, In> alone(37);
    alone.reference.set_trainable_from(first_pair_parameters);
    alone.fast.set_trainable_from(first_pair_parameters);
    check_training_step(alone, input);
  }
  SUBCASE("without the input gradient: the first pair's parameter gradients alone; frozen pairs skipped") {
    for (std::size_t trainable_from : {std::size_t{0}, through_second_pair}) {
      CAPTURE(trainable_from);
      pair.reference.set_trainable_from(trainable_from);
      pair.fast.set_trainable_from(trainable_from);
      pair.reference.train();
      pair.fast.train();
      pair.reference.compute_input_gradient(false);
      pair.fast.compute_input_gradient(false);
      const auto gradient = pattern(pair.reference.forward(input).size(), 0.1f);
      pair.fast.forward(input);
      pair.reference.backward(gradient);
      pair.fast.backward(gradient);
      CHECK(test::relative_error(std::span<const float>(pair.fast.gradients()),
                                 std::span<const float>(pair.reference.gradients())) <= 1e-5);
    }
  }
  SUBCASE("a recorded BatchNorm output keeps the two layers apart") {
    pair.reference.record_output_of("3");
    pair.fast.record_output_of("3");
    check_training_step(pair, input);
    CHECK(test::relative_error(pair.fast.recorded_output(), pair.reference.recorded_output()) <= 1e-5);
    CHECK(pair.fast.fused_batch_norm_relu_passes() == 0u);
  }
  SUBCASE("a NaN in the input reaches the output, as in PyTorch") {
    // (oneDNN's batch norm with the ReLU fused, which runs without AVX-512, makes it 0.)
    if (!onednn::avx512_kernels_supported()) return;
    auto poisoned = input;
    poisoned[0] = std::numeric_limits<float>::quiet_NaN();
    pair.fast.train();
    const std::span<const float> output = pair.fast.forward(poisoned);
    CHECK(std::any_of(output.begin(), output.end(), [](float v) { return std::isnan(v); }));
  }
}

// Winograd F(4x4, 3x3) (onednn/winograd.hpp): channels that are not a multiple of 16, images that
// are not a whole number of 4x4 tiles, the first layer reading the model's plain input and the
// last writing its output, a Conv without bias, and every activation the output transform
// applies (ReLU, ReLU6, LeakyReLU with a positive and a negative slope); the 5x5 and the 3x3 from
// 8 channels stay direct. Named "layers:" so that the AVX2 run (ctest onednn_avx2) checks that
// the direct convolutions take over there.
TEST_CASE("layers: 3x3 stride-1 convolutions run as Winograd in f32 and equal the direct convolution and Eigen") {
  using Net = Sequential<Conv<33, 40, 3, 1, 1>, ReLU, Conv<40, 36, 3, 1, 1, false>, ReLU6, Conv<36, 35, 3, 1, 1>,
                         LeakyReLU<>, Conv<35, 32, 3, 1, 1>, LeakyReLU<std::ratio<-1, 2>>, Conv<32, 8, 5, 1, 2>,
                         Conv<8, 32, 3, 1, 1>, Conv<32, 33, 3, 1, 1>>;
  using In = Shape<33, 13, 9>;  // 4 x 3 tiles per image, the last row and column of tiles partly outside
  Pair<Net, In> pair(31);
  FastModel<Net, In> direct;
  std::copy(pair.reference.parameters().begin(), pair.reference.parameters().end(), direct.parameters().begin());
  direct.set_convolution_algorithm(onednn::ConvolutionAlgorithm::direct);
  const auto input = pattern(5 * In::size, 4.0f);
  pair.reference.eval();
  pair.fast.eval();
  const std::span<const float> expected = pair.reference.forward(input);
  CHECK(test::relative_error(pair.fast.forward(input), expected) <= 1e-5);
  CHECK(test::relative_error(direct.forward(input), expected) <= 1e-5);
  CHECK(direct.winograd_convolutions() == 0);
  CHECK(pair.fast.winograd_convolutions() == (onednn::winograd_supported() ? 5u : 0u));
  // Random values for training: pattern()'s periodic ones put one of the last convolution's
  // outputs within 1e-4 of LeakyReLU's kink, where Winograd's rounding flips the slope its
  // gradient takes.
  const auto random_images = [](std::size_t images, unsigned seed) {
    std::vector<float> random(images * In::size);
    std::mt19937 generator(seed);
    std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
    for (float& v : random) v = uniform(generator);
    return random;
  };

  SUBCASE("trained: the forward and dx through Winograd, dW through oneDNN's primitive") {
    check_training_step(pair, random_images(3, 5));
    CHECK(pair.fast.winograd_convolutions() == (onednn::winograd_supported() ? 10u : 0u));  // 5 forward, 5 dx
    CHECK(pair.fast.winograd_weight_gradients() == 0);  // 36 tiles: too few
    pair.fast.eval();
    CHECK(test::relative_error(pair.fast.forward(input), pair.reference.forward(input)) <= 1e-5);
  }
  SUBCASE("trained with tiles enough (22 images, 264 tiles): dW and db through Winograd too, and they accumulate") {
    const auto random = random_images(22, 6);
    check_training_step(pair, random);
    CHECK(pair.fast.winograd_weight_gradients() == (onednn::winograd_supported() ? 5u : 0u));
    pair.reference.accumulate_gradients(true);
    pair.fast.accumulate_gradients(true);
    check_training_step(pair, random);
    pair.reference.set_trainable_from(Net::parameter_offsets[2]);  // the first two layers frozen
    pair.fast.set_trainable_from(Net::parameter_offsets[2]);
    pair.reference.accumulate_gradients(false);
    pair.fast.accumulate_gradients(false);
    check_training_step(pair, random);
    CHECK(pair.fast.winograd_weight_gradients() == (onednn::winograd_supported() ? 4u : 0u));
  }
  SUBCASE("weights changed on the host are transformed again") {
    for (float& p : pair.reference.parameters()) p *= -0.5f;
    for (float& p : pair.fast.parameters()) p *= -0.5f;
    CHECK(test::relative_error(pair.fast.forward(input), pair.reference.forward(input)) <= 1e-5);
  }
  SUBCASE("a NaN in the input reaches the output through Winograd's fused activations") {
    if (pair.fast.winograd_convolutions() == 0) return;  // oneDNN's AVX2 ReLU post-op turns NaN into 0
    auto poisoned = input;
    poisoned[In::size + 40] = std::numeric_limits<float>::quiet_NaN();
    const std::span<const float> output = pair.fast.forward(poisoned);
    CHECK(std::any_of(output.begin(), output.end(), [](float v) { return std::isnan(v); }));
  }
  SUBCASE("too few tiles per thread (one 7x7 image): direct") {
    FastModel<Sequential<Conv<32, 32, 3, 1, 1>>, Shape<32, 7, 7>> small;
    small.forward(pattern(Shape<32, 7, 7>::size));
    CHECK(small.winograd_convolutions() == 0);
  }
  SUBCASE("in an Inception block: the 3x3 branch's dx adds to the other branches'") {
    using Block = Sequential<Conv<3, 32, 3, 1, 1>, ReLU, Inception<32, 32, 32, 32, 32, 32, 32>>;
    Pair<Block, Shape<3, 12, 12>> block(32);
    check_training_step(block, pattern(3 * Shape<3, 12, 12>::size, 4.0f));
    CHECK(block.fast.winograd_convolutions() == (onednn::winograd_supported() ? 2u : 0u));  // branch2's 3x3, forward and dx
  }
}

// Each network of one kind of layer, in the device layout between convolutions and at the
// model's boundary (first and last layer): one training step, then evaluation. Named "layers:"
// so that the AVX2 run (ctest onednn_avx2) trains them too.
TEST_CASE("layers: training the activations, Softmax, Upsample and ConvTranspose2d on oneDNN gives the reference's gradients") {
  SUBCASE("Sigmoid, Tanh, SiLU, Hardswish, LeakyReLU (y or, with a negative slope, x kept)") {
    using Net = Sequential<Sigmoid, Conv<3, 8, 3, 1, 1>, Tanh, Conv<8, 8, 1>, SiLU, Conv<8, 8, 1>, Hardswish, Conv<8, 8, 1>,
                           LeakyReLU<>, Conv<8, 8, 1>, LeakyReLU<std::ratio<-1, 2>>, Conv<8, 4, 1>, SiLU>;
    Pair<Net, Shape<3, 6, 6>> pair(21);
    step_and_evaluate(pair);
  }
  SUBCASE("ReLU6: alone, fused with Conv (a post-op), after BatchNorm") {
    using Net = Sequential<ReLU6, Conv<3, 8, 3, 1, 1>, ReLU6, Conv<8, 8, 1>, BatchNorm<8>, ReLU6, Conv<8, 4, 1>, ReLU6>;
    Pair<Net, Shape<3, 6, 6>> pair(22);
    step_and_evaluate(pair);
  }
  SUBCASE("Softmax over the channels of images and of features") {
    using Net = Sequential<Softmax, Conv<3, 5, 3, 1, 1>, Softmax, Conv<5, 4, 1>, AdaptiveAvgPool<1>, Flatten, Linear<4, 6>,
                           Softmax>;
    Pair<Net, Shape<3, 5, 4>> pair(23);
    step_and_evaluate(pair);
  }
  SUBCASE("Upsample, nearest and bilinear, factors 2 and 3") {
    using Net = Sequential<Upsample<3>, Conv<3, 4, 3, 1, 1>, Upsample<2, UpsampleMode::bilinear>, Conv<4, 4, 3, 1, 1>,
                           Upsample<2>, Conv<4, 3, 1>, Upsample<3, UpsampleMode::bilinear>>;
    Pair<Net, Shape<3, 3, 4>> pair(24);
    step_and_evaluate(pair);
  }
  SUBCASE("ConvTranspose2d: output padding within and beyond the padding, with and without bias") {
    using Net = Sequential<ConvTranspose2d<3, 4, 3, 2, 1, 1>, ReLU, ConvTranspose2d<4, 5, 4, 2, 1>,
                           ConvTranspose2d<5, 3, 2, 3, 0, 2, false>>;
    Pair<Net, Shape<3, 4, 3>> pair(25);
    step_and_evaluate(pair);
  }
  SUBCASE("each as the first layer of a Sum's branch: the branches' input gradients add up") {
    using Net = Sequential<Conv<3, 4, 3, 1, 1>,
                           Sum<Sequential<SiLU, Conv<4, 4, 1>>, Sequential<Tanh, Conv<4, 4, 1>>,
                               Sequential<Softmax, Conv<4, 4, 1>>, Sequential<Upsample<2, UpsampleMode::bilinear>, AvgPool<2, 2>>,
                               Sequential<ConvTranspose2d<4, 4, 4, 2, 1>, Conv<4, 4, 3, 2, 1>>>,
                           Conv<4, 3, 1>>;
    Pair<Net, Shape<3, 6, 6>> pair(26);
    step_and_evaluate(pair);
  }
}

// Grouped and depthwise Conv backward: convolution_backward_data and _weights on the grouped
// weights [G, Out / G, In / G, K, K], dW and db back in PyTorch's [Out, In / G, K, K] and [Out].
TEST_CASE("layers: training grouped and depthwise Conv on oneDNN gives the reference's gradients") {
  SUBCASE("groups 2 and 3, with and without bias, stride and padding") {
    using Net = Sequential<Conv<4, 6, 3, 1, 1, true, 2>, Conv<6, 9, 3, 2, 1, true, 3>, ReLU, Conv<9, 6, 1, 1, 0, false, 3>>;
    using In = Shape<4, 9, 9>;
    Pair<Net, In> pair(31);
    check_training_step(pair, pattern(3 * In::size, 4.0f));
  }
  SUBCASE("depthwise: stride 1 and 2, kernel 3 and 5, a channel multiplier of 2, ReLU6 fused") {
    using Net = Sequential<DepthwiseConv<5, 3, 1, 1>, ReLU6, DepthwiseConv<5, 3, 2, 1, false>, Conv<5, 8, 1>,
                           DepthwiseConv<8, 5, 3, 2>, Conv<8, 16, 3, 1, 1, true, 8>>;
    using In = Shape<5, 13, 11>;
    Pair<Net, In> pair(32);
    check_training_step(pair, pattern(3 * In::size, 4.0f));
  }
  SUBCASE("MobileNetV2's inverted residual blocks: expansion, depthwise, projection, BatchNorm, ReLU6, the sum") {
    using Net = Sequential<torchvision::InvertedResidual<4, 4, 1, 6>, torchvision::InvertedResidual<4, 8, 2, 6>,
                           torchvision::InvertedResidual<8, 8, 1, 1>>;
    using In = Shape<4, 10, 10>;
    Pair<Net, In> pair(33);
    check_training_step(pair, pattern(3 * In::size, 4.0f));
  }
  SUBCASE("bf16: the backward primitives read bf16 and write f32 gradients near the reference's") {
    using Net = Sequential<Conv<4, 8, 3, 1, 1, true, 2>, ReLU6, DepthwiseConv<8, 3, 2, 1>, Conv<8, 4, 1, 1, 0, false, 4>>;
    using In = Shape<4, 9, 9>;
    Pair<Net, In> pair(34);
    if (!runs_bf16(pair)) return;
    check_training_step(pair, pattern(3 * In::size, 4.0f), 5e-2);
  }
  SUBCASE("bf16: BatchNorm on channel counts oneDNN has a bf16 kernel for (16) and not (4, 24: computed in f32)") {
    // Short: bf16 errors grow through each batch norm's backward (its mean subtraction), whichever
    // kernel computes it.
    using Net = Sequential<BatchNorm<4>, Conv<4, 24, 3, 1, 1>, BatchNorm<24>, ReLU, Conv<24, 16, 1>, BatchNorm<16>>;
    using In = Shape<4, 7, 7>;
    Pair<Net, In> pair(35);
    if (runs_bf16(pair)) step_and_evaluate(pair, 5e-2);
  }
}

// A 1x1 image is a 2-D tensor in the device layout; convolutions take it as 4-D (GoogLeNet's
// last Inception at 48x48 input runs on 1x1 maps).
TEST_CASE("layers: training Conv and ConvTranspose2d on 1x1 images on oneDNN gives the reference's gradients") {
  using Net = Sequential<AdaptiveAvgPool<1>, Conv<8, 6, 1>, ReLU, Conv<6, 6, 3, 1, 1>, ConvTranspose2d<6, 4, 1>,
                         MaxPool<3, 1, 1>, Conv<4, 3, 1>>;
  using In = Shape<8, 5, 5>;
  Pair<Net, In> pair(36);
  step_and_evaluate(pair);
}

// Flatten of images larger than 1x1 reorders them in the buffer it shares with its input; the
// layer before reads that buffer in backward (ReLU its output), so Flatten's backward puts it back.
TEST_CASE("training through a Flatten of 4x4 images on oneDNN gives the reference's gradients") {
  SUBCASE("Conv, ReLU, Flatten: ReLU's backward reads the flattened buffer") {
    using In = Shape<16, 4, 4>;
    Pair<Sequential<Conv<16, 8, 1>, ReLU, Flatten, Linear<128, 5>>, In> pair(5);
    check_training_step(pair, pattern(3 * In::size));
  }
  SUBCASE("AvgPool, Conv, Flatten") {
    using In = Shape<16, 8, 8>;
    Pair<Sequential<AvgPool<2, 2>, Conv<16, 8, 1>, Flatten, Linear<128, 5>>, In> pair(6);
    check_training_step(pair, pattern(3 * In::size));
  }
  SUBCASE("GoogLeNet's auxiliary head (AvgPool, BasicConv2d, Flatten, Dropout, Linear, ReLU, Linear)") {
    using In = Shape<8, 14, 14>;
    Pair<InceptionAux<8, 5>, In> pair(7);
    check_training_step(pair, pattern(3 * In::size));
  }
}

namespace {
// A ResNet block (Sequential<Residual, ReLU>) with an Identity between its sum and its ReLU, which
// keeps them apart on oneDNN: the same parameters, names and values.
template <class Block>
struct kept_apart;
template <class Sum, class Activation>
struct kept_apart<Sequential<Sum, Activation>> {
  using type = Sequential<Sum, Identity, Activation>;
};
template <class Block>
using KeptApart = typename kept_apart<typename Block::body>::type;
}  // namespace

// ResNet's blocks end in a Residual and a ReLU, whose forward runs as one pass in training too
// (residual_relu.hpp); the ReLU's backward reads the output it wrote. The first block's, that is:
// the second writes the model's output, where the two run apart. A downsampling shortcut
// (conv 1x1 /2, batch norm) in the second. In bf16 (whose gradients are too far from f32's here
// for the check above: batch norm's backward over 3 images) against the same blocks kept apart,
// value for value (in evaluation on AMX, where the sum is a post-op, within bf16's rounding).
TEST_CASE("layers: training ResNet's blocks (a Residual and its ReLU in one pass) on oneDNN gives the reference's gradients") {
  using First = torchvision::BasicBlock<8, 8, 1>;
  using Second = torchvision::BasicBlock<8, 16, 2>;
  using In = Shape<8, 10, 10>;
  Pair<Sequential<First, Second>, In> pair(5);
  step_and_evaluate(pair);
  pair.fast.train();
  const auto input = pattern(3 * In::size, 4.0f);
  pair.fast.forward(input);
  CHECK(pair.fast.fused_sum_relus() == 1);

  FastModel<Sequential<KeptApart<First>, KeptApart<Second>>, In> apart;
  REQUIRE(apart.parameters().size() == pair.fast.parameters().size());
  Pair<Sequential<First, Second>, In> fused(5);
  std::copy(fused.fast.parameters().begin(), fused.fast.parameters().end(), apart.parameters().begin());
  std::copy(fused.fast.buffers().begin(), fused.fast.buffers().end(), apart.buffers().begin());
  if (!runs_bf16(fused)) return;
  apart.set_precision(Precision::bf16);
  for (const bool training : {true, false}) {
    CAPTURE(training);
    fused.fast.train(training);
    apart.train(training);
    fused.fast.compute_input_gradient(training);
    apart.compute_input_gradient(training);
    const auto output = fused.fast.forward(input);
    CHECK(fused.fast.fused_sum_relus() == 1);
    CHECK(apart.fused_sum_relus() == 0);
    if (!training && onednn::adds_residuals_as_post_ops(Precision::bf16)) {
      // In evaluation on AMX the first block's conv2 adds the shortcut inside its primitive: the
      // sum is rounded to bf16 once, not twice (test_onednn holds it to the f32 reference).
      CHECK(fused.fast.residual_post_ops() == 1);
      CHECK(test::relative_error(output, apart.forward(input)) <= 2e-2);
      continue;
    }
    CHECK(test::relative_error(output, apart.forward(input)) == 0);
    if (!training) continue;
    const auto gradient = pattern(output.size(), 0.1f);
    fused.fast.backward(gradient);
    apart.backward(gradient);
    CHECK(test::relative_error(std::span<const float>(fused.fast.gradients()), std::span<const float>(apart.gradients())) == 0);
    CHECK(test::relative_error(fused.fast.input_gradient(), apart.input_gradient()) == 0);
  }
}

TEST_CASE("FashionInception training on oneDNN (batch norm's batch statistics) equals the Eigen reference") {
  Pair<FashionInception, FashionInput> pair(11);
  train_without_dropout(pair);
  // Random images: pattern()'s values repeat every 255 elements, and on them the gradients differ
  // from Eigen's by 3e-3 (exact ties, as a perturbation of 1e-3 of the images removes it).
  std::vector<float> input(6 * FashionInput::size);
  const std::int64_t shape[] = {6, 1, 28, 28};
  reference_uniform_fill<float>("input", shape, 0, 11, input);
  const double forward_error = test::relative_error(pair.fast.forward(input), pair.reference.forward(input));
  const auto gradient = pattern(6 * 10, 0.1f);
  pair.reference.backward(gradient);
  pair.fast.backward(gradient);
  const double gradient_error = test::relative_error(std::span<const float>(pair.fast.gradients()),
                                                     std::span<const float>(pair.reference.gradients()));
  const double input_gradient_error = test::relative_error(pair.fast.input_gradient(), pair.reference.input_gradient());
  const double statistics_error = test::relative_error(std::span<const float>(pair.fast.buffers()),
                                                       std::span<const float>(pair.reference.buffers()));
  MESSAGE("relative errors against Eigen: logits " << forward_error << ", parameter gradients " << gradient_error
                                                    << ", input gradient " << input_gradient_error
                                                    << ", running statistics " << statistics_error);
  CHECK(forward_error <= 1e-5);
  CHECK(gradient_error <= 1e-4);
  CHECK(input_gradient_error <= 1e-4);
  CHECK(statistics_error <= 1e-6);
  SUBCASE("gradients accumulate as on Eigen") {
    pair.reference.accumulate_gradients(true);
    pair.fast.accumulate_gradients(true);
    pair.reference.forward(input);
    pair.fast.forward(input);
    pair.reference.backward(gradient);
    pair.fast.backward(gradient);
    CHECK(test::relative_error(std::span<const float>(pair.fast.gradients()),
                               std::span<const float>(pair.reference.gradients())) <= 1e-4);
  }
}

namespace {
// Images a small network can learn: class k lights a 7x7 square at one of ten places.
struct LearnableBatch {
  std::vector<float> images;
  std::vector<std::int32_t> labels;
  explicit LearnableBatch(std::size_t count) : images(pattern(count * FashionInput::size, 0.5f)), labels(count) {
    for (std::size_t n = 0; n < count; ++n) {
      const auto k = static_cast<std::int32_t>(n % 10);
      labels[n] = k;
      const std::size_t top = 3 + 7 * static_cast<std::size_t>(k / 5) * 2, left = 1 + 5 * static_cast<std::size_t>(k % 5);
      for (std::size_t r = top; r < top + 7; ++r)
        for (std::size_t c = left; c < left + 7 && c < 28; ++c) images[n * FashionInput::size + r * 28 + c] += 2.0f;
    }
  }
};

// The objective before each of `steps` SGD steps from the same start, and after the last.
std::vector<double> training_losses(Precision precision, const std::vector<float>& initial, std::size_t steps) {
  FastModel<FashionInception, FashionInput> model;
  std::copy(initial.begin(), initial.end(), model.parameters().begin());
  REQUIRE(model.set_precision(precision) == precision);
  model.train();
  model.disable_dropout(true);
  const LearnableBatch batch(40);
  ClassificationObjective<float> objective;
  optim::SGD<float> sgd(FastModel<FashionInception, FashionInput>::parameter_count, {.lr = 0.05, .momentum = 0.9});
  std::vector<double> losses;
  for (std::size_t step = 0; step <= steps; ++step) {
    model.forward(batch.images);
    if (step == steps) {
      losses.push_back(objective.evaluate(model, batch.labels).total);
      break;
    }
    losses.push_back(objective.backward(model, batch.labels).total);
    // The optimizer's step is f32, on the f32 master weights and f32 gradients.
    sgd.step(model);
  }
  return losses;
}
}  // namespace

TEST_CASE("bf16 training of FashionInception (f32 master weights) lowers the loss as f32 training does") {
  if (!onednn::has_bf16()) {
    FastModel<FashionInception, FashionInput> model;
    CHECK(model.set_precision(Precision::bf16) == Precision::f32);
    MESSAGE("bf16 not run: " << model.precision_note());
    CHECK(!model.precision_note().empty());
    return;
  }
  Model<FashionInception, FashionInput> start;
  init::pytorch_default(start, 21);
  const std::vector<float> initial(start.parameters().begin(), start.parameters().end());
  constexpr std::size_t steps = 8;
  const std::vector<double> f32 = training_losses(Precision::f32, initial, steps);
  const std::vector<double> bf16 = training_losses(Precision::bf16, initial, steps);
  std::ostringstream text;
  double worst = 0;
  for (std::size_t step = 0; step <= steps; ++step) {
    text << " " << f32[step] << "/" << bf16[step];
    worst = test::worse(worst, test::scalar_error(bf16[step], f32[step], f32[0] - f32[steps]));
  }
  MESSAGE("losses f32/bf16 at each step:" << text.str() << "; worst difference " << worst
                                          << " of the f32 run's decrease");
  // f32 learns the batch: the loss falls by more than a third.
  CHECK(f32[steps] < 0.6 * f32[0]);
  // bf16 follows: at every step within a tenth of what f32 training gained over the run.
  CHECK(worst <= 0.1);
}

#endif
