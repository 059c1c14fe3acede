// The oneDNN backend (<ctnn/onednn.hpp>) against PyTorch and the Eigen reference: every layer kind
// on PyTorch's reference data (tests/support/layer_cases.hpp), both GoogLeNets' and the model
// zoo's logits, bf16 against f32, the boundary (recorded layers, input gradients), training
// (oneDNN's backward primitives against Eigen's gradients, bf16 training against f32), int8
// inference (layers against f32; FashionInception's accuracy on the Fashion-MNIST test set), and
// bad input.
//
// Without oneDNN (not found at configure time) the test says so and exits 77: ctest shows it as
// skipped. CI installs oneDNN (tools/install-deps), so there it runs. ctest onednn_avx2 runs the
// layer cases again with oneDNN held to AVX2 (ONEDNN_MAX_CPU_ISA=AVX2).

#include <doctest/doctest.h>

#include <cstdio>    // std::fprintf
#include <cstdlib>   // std::exit, std::getenv

#if !defined(CTNN_WITH_ONEDNN)
TEST_CASE("oneDNN backend: SKIPPED, oneDNN was not found at configure time (run tools/install-deps)") {
  std::fprintf(stderr, "test_onednn: SKIPPED: ctnn was configured without oneDNN (tools/install-deps installs it)\n");
  std::exit(77);
}
#else

#include <algorithm>   // std::max_element, std::copy
#include <cmath>       // std::abs, std::isnan
#include <limits>      // std::numeric_limits
#include <random>      // std::mt19937, std::uniform_real_distribution
#include <cstdint>     // std::int32_t, std::int64_t
#include <sstream>     // std::ostringstream

#include <ctnn/ctnn.hpp>                       // layers, ctnn::Model, ClassificationObjective, SGD
#include <ctnn/data/batcher.hpp>               // ctnn::data::BatchLoader
#include <ctnn/data/fashion_mnist.hpp>         // ctnn::data::load_fashion_mnist
#include <ctnn/io/weights.hpp>                 // ctnn::load_weights
#include <ctnn/io/safetensors.hpp>             // ctnn::safetensors::Reader
#include <ctnn/models/fashion_inception.hpp>   // ctnn::FashionInception
#include <ctnn/models/mobilenet_v2.hpp>        // ctnn::MobileNetV2
#include <ctnn/models/resnet18.hpp>            // ctnn::ResNet18
#include <ctnn/models/resnet50.hpp>            // ctnn::ResNet50
#include <ctnn/onednn.hpp>                     // ctnn::OneDnn

#include "support/layer_cases.hpp"   // ctnn::test::all_layer_cases, grouped_conv_cases, ...
#include "support/onednn_pair.hpp"   // ctnn::test::Pair, FastModel, pattern, runs_bf16
#include "support/reference.hpp"     // ctnn::test::ReferenceFile, read_tensor, relative_error, load_parameters
#include "support/skip.hpp"          // ctnn::test::dataset_available

using namespace ctnn;
using onednn::Precision;
using test::FastModel;
using test::Pair;
using test::pattern;
using test::runs_bf16;

namespace {

const test::ReferenceFile& layers_file() { return test::ReferenceFile::open("reference/layers.safetensors"); }

// The layer case `name` on oneDNN, against PyTorch's output; in training the Eigen fallback
// computes what keeps state for backward.
template <class Net, ShapeType In>
void check_case(const std::string& name, Mode mode, const test::ReferenceFile& file) {
  FastModel<Net, In> model;
  test::load_parameters(model, file, name + ".");
  model.train(mode == Mode::train);
  model.disable_dropout(true);  // PyTorch ran in evaluation mode
  const std::vector<float> input = test::read_tensor(file, name + ".input");
  const std::vector<float> expected = test::read_tensor(file, name + ".output");
  const std::span<const float> output = model.forward(input);
  CAPTURE(name);
  CAPTURE(mode == Mode::train);
  REQUIRE(output.size() == expected.size());
  CHECK(test::relative_error(output, std::span<const float>(expected)) <= 1e-5);
}
// A layer case of `file` in evaluation and in training mode (the memory plans differ).
struct BothModes {
  const test::ReferenceFile& file = layers_file();
  template <class Net, ShapeType In>
  void operator()(const std::string& name) const {
    check_case<Net, In>(name, Mode::eval, file);
    check_case<Net, In>(name, Mode::train, file);
  }
};

std::size_t argmax(std::span<const float> v) {
  return static_cast<std::size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

}  // namespace

// ---- every layer kind on PyTorch's data (also run with ONEDNN_MAX_CPU_ISA=AVX2) -------------------

TEST_CASE("layers: Conv, pooling, Linear, BasicConv2d and Inception match PyTorch on oneDNN") {
  MESSAGE("oneDNN dispatches to " << onednn::isa_name());
  test::all_layer_cases(BothModes{});
}

TEST_CASE("layers: grouped and depthwise Conv and ReLU6 match PyTorch on oneDNN") {
  test::grouped_conv_cases(BothModes{});
}

TEST_CASE("layers: the activations, Softmax, Upsample and ConvTranspose2d match PyTorch on oneDNN") {
  test::activation_upsampling_cases(BothModes{test::ReferenceFile::open("reference/activations_upsampling.safetensors")});
}

TEST_CASE("layers: a Flatten of 4x4 images feeds Linear in PyTorch's order, and BatchNorm + ReLU fuse") {
  using Net = Sequential<Conv<3, 16, 3, 1, 1, false>, BatchNorm<16>, ReLU, AdaptiveAvgPool<4>, Flatten, Linear<256, 10>, ReLU,
                         Linear<10, 5>>;
  using In = Shape<3, 12, 12>;
  Pair<Net, In> pair(3);
  // Running statistics away from 0 and 1, so that evaluation differs from training.
  for (std::size_t c = 0; c < 16; ++c) {
    pair.reference.buffers()[c] = pair.fast.buffers()[c] = 0.05f * static_cast<float>(c);
    pair.reference.buffers()[16 + c] = pair.fast.buffers()[16 + c] = 1.0f + 0.1f * static_cast<float>(c);
  }
  const auto input = pattern(3 * In::size);
  CHECK(test::relative_error(pair.fast.forward(input), pair.reference.forward(input)) <= 1e-5);
}

// ---- the whole networks ---------------------------------------------------------------------

namespace {
const test::ReferenceFile& googlenet_file() { return test::ReferenceFile::open("reference/googlenet.safetensors"); }
// Two 224x224 images drawn as tools/make_reference_data.py and make_zoo_reference.py draw them.
std::vector<float> googlenet_input(std::uint64_t seed) {
  std::vector<float> input(2 * Shape<3, 224, 224>::size);
  const std::int64_t shape[] = {2, 3, 224, 224};
  reference_uniform_fill<float>("input", shape, 0, seed, input);
  return input;
}
}  // namespace

TEST_CASE("GoogLeNet on oneDNN gives PyTorch's logits in f32, and bf16 and int8 keep the top-1") {
  using Image = Shape<3, 224, 224>;
  FastModel<GoogLeNet<1000, false>, Image> model;
  init::reference_uniform(model, 7);
  const auto expected = test::read_tensor(googlenet_file(), "logits_1000_noaux");
  const auto input = googlenet_input(7);
  const std::vector<float> logits(model.forward(input).begin(), model.forward(input).end());
  const double error = test::relative_error(std::span<const float>(logits), std::span<const float>(expected));
  MESSAGE("f32 relative error of the logits against PyTorch: " << error << " (" << model.winograd_convolutions()
                                                                     << " convolutions as Winograd)");
  CHECK(error <= 1e-4);
  // conv2 (56x56), inception 3a to 4e (28x28, 14x14); 5a and 5b (7x7) have too few tiles.
  if (onednn::winograd_supported()) CHECK(model.winograd_convolutions() >= 8);
  // Logits computed in a lower precision: within 5% of PyTorch's f32, each image's top-1 kept.
  const auto check_lower_precision = [&](std::span<const float> lower, const char* precision) {
    const double lower_error = test::relative_error(lower, std::span<const float>(expected));
    MESSAGE(std::string(precision) << " relative error of the logits against PyTorch's f32: " << lower_error);
    CHECK(lower_error <= 5e-2);
    for (std::size_t n = 0; n < 2; ++n)
      CHECK(argmax(lower.subspan(n * 1000, 1000)) == argmax(std::span<const float>(expected).subspan(n * 1000, 1000)));
  };

  SUBCASE("one image at a time") {
    const auto first = model.forward(std::span<const float>(input).first(Image::size));
    CHECK(test::relative_error(first, std::span<const float>(expected).first(1000)) <= 1e-4);
  }
  SUBCASE("bf16") {
    // No return here: the subcases after this one would not run.
    if (model.set_precision(Precision::bf16) != Precision::bf16) {
      MESSAGE("bf16 not run: " << model.precision_note());
    } else {
      check_lower_precision(model.forward(input), "bf16");
      SUBCASE("and back to f32") {
        model.set_precision(Precision::f32);
        CHECK(test::relative_error(model.forward(input), std::span<const float>(expected)) <= 1e-4);
      }
    }
  }
  SUBCASE("int8, calibrated on the two images, keeps the top-1") {
    model.calibrate(input);
    REQUIRE(model.set_precision(Precision::int8) == Precision::int8);
    check_lower_precision(model.forward(input), "int8");
    // Every Conv + ReLU, max pooling and Concat hands u8 on, but those the global average
    // pooling reads (inception5b's Concat and the four convs that end its branches).
    MESSAGE("int8 layers writing u8 for the next: " << model.quantised_hand_offs());
    CHECK(model.quantised_hand_offs() > 50);
  }
}

TEST_CASE("torchvision's GoogLeNet (batch norm, transform_input) on oneDNN equals the Eigen reference") {
  using Image = Shape<3, 64, 64>;
  using Net = TorchvisionGoogLeNet<10, false, true>;
  Pair<Net, Image> pair(5);
  for (std::size_t i = 0; i < pair.fast.buffers().size(); ++i) pair.fast.buffers()[i] = pair.reference.buffers()[i];
  const auto input = pattern(2 * Image::size, 2.0f);
  const double error = test::relative_error(pair.fast.forward(input), pair.reference.forward(input));
  MESSAGE("relative error against Eigen: " << error);
  CHECK(error <= 1e-4);
  // Every BasicConv2d (3 in the stem, 6 in each of the 9 Inception blocks) is one convolution.
  CHECK(pair.fast.folded_batch_norms() == 57);
}

// ---- the model zoo: grouped and depthwise Conv on oneDNN, residual sums and ReLU6 on Eigen ----
// (tests/data/reference/zoo.safetensors: torchvision's logits for two images, the reference
// initialisation with seed 7; tests/test_zoo.cpp holds the Eigen reference to the same logits)

namespace {
const test::ReferenceFile& zoo_file() { return test::ReferenceFile::open("reference/zoo.safetensors"); }

template <class Net>
void check_zoo_logits(const std::string& model, Mode mode = Mode::eval) {
  FastModel<Net, Shape<3, 224, 224>> net;
  init::reference_uniform(net, 7);
  net.train(mode == Mode::train);
  net.disable_dropout(true);
  const std::string name = model + (mode == Mode::train ? ".train_logits" : ".logits");
  const double error = test::relative_error(net.forward(googlenet_input(7)),
                                            std::span<const float>(test::read_tensor(zoo_file(), name)));
  MESSAGE(name << " on oneDNN: relative error against PyTorch's float32 " << error);
  CHECK(error <= 1e-4);
  // In evaluation every batch norm follows a Conv and folds into it, with its activation (ReLU,
  // ReLU6) or without (before a residual sum, after a projection); training folds none.
  std::size_t batch_norms = 0;
  for (const NamedTensor& t : named_tensors<Net, Shape<3, 224, 224>>()) batch_norms += t.name.ends_with("running_mean");
  CHECK(net.folded_batch_norms() == (mode == Mode::eval ? batch_norms : 0));
}
}  // namespace

TEST_CASE("ResNet18, ResNet50 and MobileNetV2 on oneDNN give torchvision's logits in f32") {
  check_zoo_logits<ResNet18<>>("resnet18");
  check_zoo_logits<ResNet50<>>("resnet50");
  check_zoo_logits<MobileNetV2<>>("mobilenet_v2");
  check_zoo_logits<MobileNetV2<>>("mobilenet_v2", Mode::train);
}

// ---- the boundary: what the caller reads is plain NCHW f32 ------------------------------------

TEST_CASE("a recorded layer, the input gradient and the aux outputs read as on Eigen") {
  using Image = Shape<3, 96, 96>;
  using Net = GoogLeNet<4, false>;
  Pair<Net, Image> pair(9);
  const auto input = pattern(2 * Image::size);
  for (const char* path : {"inception3a", "inception4b.branch2", "maxpool2", "avgpool"}) {
    CAPTURE(path);
    const std::vector<float> expected(features_of(pair.reference, path, input).begin(),
                                      features_of(pair.reference, path, input).end());
    CHECK(test::relative_error(features_of(pair.fast, path, input), std::span<const float>(expected)) <= 1e-5);
  }
}

namespace {
// One training step of a Pair on `input`, dropout off: logits, parameter gradients and input
// gradient of oneDNN against Eigen's, within `tolerance` (looser for bf16).
template <class Net, ShapeType In>
void check_training_step(Pair<Net, In>& pair, const std::vector<float>& input, double tolerance = 1e-5) {
  pair.reference.train();
  pair.fast.train();
  pair.reference.disable_dropout(true);
  pair.fast.disable_dropout(true);
  pair.reference.compute_input_gradient(true);
  pair.fast.compute_input_gradient(true);
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

TEST_CASE("FashionInception training on oneDNN (batch norm's batch statistics) equals the Eigen reference") {
  Pair<FashionInception, FashionInput> pair(11);
  for (std::size_t i = 0; i < pair.fast.buffers().size(); ++i) pair.fast.buffers()[i] = pair.reference.buffers()[i];
  pair.reference.train();
  pair.fast.train();
  pair.reference.disable_dropout(true);
  pair.fast.disable_dropout(true);
  pair.reference.compute_input_gradient(true);
  pair.fast.compute_input_gradient(true);
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

// ---- int8 inference ------------------------------------------------------------------------------

namespace {
// Conv + ReLU (u8 input after it), a depthwise Conv with bias, a grouped Conv (s8 inputs: no
// ReLU before them), Flatten, Linear.
using QuantisedNet = Sequential<Conv<3, 8, 3, 1, 1>, ReLU, Conv<8, 8, 3, 1, 1, true, 8>, Conv<8, 8, 1, 1, 0, true, 2>,
                                Flatten, Linear<8 * 8 * 8, 5>>;
using QuantisedIn = Shape<3, 8, 8>;
std::vector<float> random_images(std::size_t count, std::uint64_t seed) {
  std::vector<float> images(count * QuantisedIn::size);
  const std::int64_t shape[] = {static_cast<std::int64_t>(count), 3, 8, 8};
  reference_uniform_fill<float>("input", shape, 0, seed, images);
  return images;
}
// The reference's f32 output on `images`; then the fast model calibrated on them (`batch` at a
// time), set to int8 and checked against it: within 4% normwise, and not equal (it did quantise).
template <class Net>
std::vector<float> int8_follows_f32(Pair<Net, QuantisedIn>& pair, const std::vector<float>& images, const char* what,
                                    std::size_t batch = 64) {
  const auto out = pair.reference.forward(images);
  std::vector<float> expected(out.begin(), out.end());
  pair.fast.calibrate(images, batch);
  CHECK(pair.fast.precision() == Precision::f32);
  REQUIRE(pair.fast.set_precision(Precision::int8) == Precision::int8);
  const std::span<const float> output = pair.fast.forward(images);
  const double error = test::normwise_error(output, std::span<const float>(expected));
  MESSAGE(std::string(what) << " against f32: normwise error " << error << ", largest difference "
               << test::relative_error(output, std::span<const float>(expected)) << " of the largest");
  CHECK(error <= 4e-2);
  CHECK(error > 0);
  return expected;
}
}  // namespace

TEST_CASE("int8: Conv (fused ReLU, depthwise, grouped) and Linear calibrated on random images follow f32") {
  Pair<QuantisedNet, QuantisedIn> pair(5);
  const std::vector<float> images = random_images(32, 5);
  // Each quantised layer adds about 0.5% of noise (a step of max / 127 or / 255 on its input and
  // of max |w| / 127 on each weight), about 1% without int8 dot products (7-bit weights); four of
  // them here: 2% and 3% measured.
  const std::vector<float> expected = int8_follows_f32(pair, images, "int8", 12);  // batches of 12, 12 and 8
  CHECK(std::string(onednn::precision_name(pair.fast.precision())) == "int8");

  SUBCASE("weights changed after calibration are quantised again") {
    // The Linear's weights, scaled per output: its input's range is unchanged.
    constexpr std::size_t linear = QuantisedNet::parameter_count - (8 * 8 * 8 + 1) * 5;
    for (std::size_t i = linear; i < linear + 8 * 8 * 8 * 5; ++i) {
      const float factor = i < linear + 8 * 8 * 8 ? -3.0f : 0.5f;
      pair.reference.parameters()[i] *= factor;
      pair.fast.parameters()[i] *= factor;
    }
    CHECK(test::normwise_error(pair.fast.forward(images), pair.reference.forward(images)) <= 4e-2);
  }
  SUBCASE("and back to f32") {
    pair.fast.set_precision(Precision::f32);
    CHECK(test::relative_error(pair.fast.forward(images), std::span<const float>(expected)) <= 1e-5);
  }
}

TEST_CASE("int8: ConvTranspose2d (deconvolution, u8 input after a ReLU, s8 without) calibrated on random images follows f32") {
  // 8x8 -> 16x16 -> 31x31; three quantised layers.
  using Net = Sequential<Conv<3, 8, 3, 1, 1>, ReLU, ConvTranspose2d<8, 4, 4, 2, 1>, ConvTranspose2d<4, 3, 3, 2, 1, 0, false>>;
  Pair<Net, QuantisedIn> pair(6);
  const std::vector<float> images = random_images(16, 6);
  int8_follows_f32(pair, images, "int8 ConvTranspose2d");
}

TEST_CASE("int8: u8 hand-offs from Conv + ReLU through max pooling and Inception's Concat follow f32") {
  // 8x8 -> conv 16 -> pool 4x4 -> Inception (40) -> pool 2x2 -> Inception (40) -> average -> Linear.
  using Net = Sequential<BasicConv2d<3, 16, 3, 1, 1>, MaxPool<2, 2>, Inception<16, 8, 8, 16, 4, 8, 8>, MaxPool<2, 2>,
                         Inception<40, 8, 8, 16, 4, 8, 8>, AdaptiveAvgPool<1>, Flatten, Linear<40, 5>>;
  Pair<Net, QuantisedIn> pair(7);
  const std::vector<float> images = random_images(32, 7);
  const std::vector<float> expected = int8_follows_f32(pair, images, "int8 with u8 hand-offs");
  // u8 out: the first conv and pool; the first Inception's six convs, its branch pool and its
  // Concat; the pool after it; the second Inception's two reducing convs and its branch pool. The
  // average pooling reads f32, so the second Concat writes f32, and so do the four convs that end
  // its branches.
  CHECK(pair.fast.quantised_hand_offs() == 14);

  SUBCASE("a recorded layer's output is written in f32") {
    pair.reference.record_output_of("2.branch2");
    pair.fast.record_output_of("2.branch2");
    pair.reference.forward(images);
    CHECK(test::normwise_error(pair.fast.forward(images), std::span<const float>(expected)) <= 4e-2);
    // The recorded branch writes f32, so its Concat does and then every branch of that Inception;
    // the pool after it reads f32. u8 out: conv, pool, the first Inception's two reducing convs
    // and branch pool, the second's two reducing convs.
    CHECK(pair.fast.quantised_hand_offs() == 7);
    CHECK(test::normwise_error(pair.fast.recorded_output(), pair.reference.recorded_output()) <= 4e-2);
  }
  SUBCASE("one image at a time, and back to f32") {
    CHECK(test::normwise_error(pair.fast.forward(std::span<const float>(images).first(QuantisedIn::size)),
                               std::span<const float>(expected).first(5)) <= 4e-2);
    pair.fast.set_precision(Precision::f32);
    CHECK(test::relative_error(pair.fast.forward(images), std::span<const float>(expected)) <= 1e-5);
    CHECK(pair.fast.quantised_hand_offs() == 0);
  }
}

TEST_CASE("int8: a Conv + ReLU read by layers that take f32 (batch norm, Flatten of an image) writes f32") {
  using Net = Sequential<BasicConv2d<3, 8, 3, 1, 1>, BatchNorm<8>, ReLU, BasicConv2d<8, 8, 3, 1, 1>, Flatten,
                         Linear<8 * 8 * 8, 5>>;
  Pair<Net, QuantisedIn> pair(8);
  const std::vector<float> images = random_images(16, 8);
  int8_follows_f32(pair, images, "int8");
  CHECK(pair.fast.quantised_hand_offs() == 0);
}

TEST_CASE("Conv + BatchNorm + ReLU (torchvision's BasicConv2d) fold into one convolution in evaluation, and in int8 hand u8 on") {
  // 8x8 -> BasicConv2d 16 -> pool 4x4 -> Inception (40) -> average -> Linear: seven triples.
  using Net = Sequential<torchvision::BasicConv2d<3, 16, 3, 1, 1>, MaxPool<2, 2>, torchvision::Inception<16, 8, 8, 16, 4, 8, 8>,
                         AdaptiveAvgPool<1>, Flatten, Linear<40, 5>>;
  Pair<Net, QuantisedIn> pair(9);
  // Running statistics and affine parameters far from the identity, alike in both models.
  std::mt19937 generator(9);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  for (const NamedTensor& t : named_tensors<Net, QuantisedIn>()) {
    const bool mean = t.name.ends_with("running_mean"), var = t.name.ends_with("running_var");
    const bool gamma = t.name.ends_with("bn.weight"), beta = t.name.ends_with("bn.bias");
    if (!mean && !var && !gamma && !beta) continue;
    std::span<float> fast = t.role == TensorRole::buffer ? pair.fast.buffers() : pair.fast.parameters();
    std::span<float> reference = t.role == TensorRole::buffer ? pair.reference.buffers() : pair.reference.parameters();
    for (std::size_t i = t.offset; i < t.offset + t.count; ++i)
      reference[i] = fast[i] = var ? 0.2f + 2.0f * uniform(generator) : gamma ? 0.5f + uniform(generator) : uniform(generator) - 0.5f;
  }
  const std::vector<float> images = random_images(16, 9);
  const auto f32_error = [&] {
    return test::relative_error(pair.fast.forward(images), pair.reference.forward(images));
  };
  CHECK(f32_error() <= 1e-5);
  CHECK(pair.fast.folded_batch_norms() == 7);

  SUBCASE("running statistics written on the host are folded again") {
    for (const NamedTensor& t : named_tensors<Net, QuantisedIn>())
      if (t.name.ends_with("running_var"))
        for (std::size_t i = t.offset; i < t.offset + t.count; ++i) {
          pair.reference.buffers()[i] *= 3.0f;
          pair.fast.buffers()[i] *= 3.0f;
        }
    CHECK(f32_error() <= 1e-5);
  }
  SUBCASE("a recorded Conv output keeps its triple apart") {
    pair.reference.record_output_of("2.branch2.1.conv");
    pair.fast.record_output_of("2.branch2.1.conv");
    CHECK(f32_error() <= 1e-5);
    CHECK(pair.fast.folded_batch_norms() == 6);
    CHECK(test::relative_error(pair.fast.recorded_output(), pair.reference.recorded_output()) <= 1e-5);
  }
  SUBCASE("a recorded batch norm output: its Conv + BatchNorm still fold (that is its output), the ReLU apart") {
    pair.reference.record_output_of("2.branch2.1.bn");
    pair.fast.record_output_of("2.branch2.1.bn");
    CHECK(f32_error() <= 1e-5);
    CHECK(pair.fast.folded_batch_norms() == 7);
    CHECK(test::relative_error(pair.fast.recorded_output(), pair.reference.recorded_output()) <= 1e-5);
  }
  SUBCASE("training normalises with the batch's statistics: nothing folds") {
    pair.reference.train();
    pair.fast.train();
    CHECK(f32_error() <= 1e-5);
    CHECK(pair.fast.folded_batch_norms() == 0);
  }
  SUBCASE("int8: each folded convolution writes u8 for the max pooling, Concat or Conv after it") {
    int8_follows_f32(pair, images, "int8 with folded batch norms");
    // u8 out: the stem and its pool; the Inception's six convs, its branch pool and its Concat
    // would, but the average pooling reads f32: its Concat and the four convs ending its branches
    // write f32. Left: the stem, the pool, the two reducing convs and the branch pool.
    CHECK(pair.fast.quantised_hand_offs() == 5);
  }
}

TEST_CASE("int8: without calibration, and in training, a clear error and nothing changes") {
  FastModel<QuantisedNet, QuantisedIn> model;
  init::reference_uniform(model, 3);
  const std::vector<float> images = random_images(4, 3);
  CHECK_THROWS_WITH_AS(model.set_precision(Precision::int8), doctest::Contains("calibrate first"), Error);
  CHECK(model.precision() == Precision::f32);
  CHECK(!model.calibrated());
  std::vector<float> wrong(QuantisedIn::size + 1);
  CHECK_THROWS_AS(model.calibrate(wrong), Error);
  CHECK(!model.calibrated());

  model.calibrate(images);
  CHECK(model.calibrated());
  REQUIRE(model.set_precision(Precision::int8) == Precision::int8);
  const std::vector<float> logits = [&] {
    const auto out = model.forward(images);
    return std::vector<float>(out.begin(), out.end());
  }();
  model.train();
  CHECK_THROWS_WITH_AS(model.forward(images), doctest::Contains("int8 is for inference only"), Error);
  model.eval();
  CHECK(test::relative_error(model.forward(images), std::span<const float>(logits)) == 0);

  // A training forward in f32, then int8: its backward is refused too.
  model.set_precision(Precision::f32);
  model.train();
  model.forward(images);
  model.set_precision(Precision::int8);
  const std::vector<float> gradient(4 * 5, 0.1f);
  CHECK_THROWS_WITH_AS(model.backward(gradient), doctest::Contains("int8 is for inference only"), Error);
  CHECK(model.precision() == Precision::int8);
}

TEST_CASE("int8: FashionInception's shipped weights keep their Fashion-MNIST test accuracy within 0.5 point" *
          doctest::test_suite("dataset")) {
  const std::filesystem::path directory = data::default_fashion_mnist_directory();
  if (!test::dataset_available(directory, "dataset-fashion-mnist")) return;
  FastModel<FashionInception, FashionInput> model;
  load_weights(model, std::filesystem::path(CTNN_SOURCE_DIR) / "examples/data/fashion_inception.safetensors");
  model.eval();
  const data::Dataset test_set = data::load_fashion_mnist(directory, data::Split::test);
  const auto accuracy = [&] {
    data::BatchLoader loader(test_set, 500, /*shuffle=*/false, 0);
    std::size_t correct = 0;
    while (auto batch = loader.next()) correct += count_correct(model.forward(batch->images), batch->labels, 10);
    return 100.0 * static_cast<double>(correct) / static_cast<double>(test_set.count);
  };
  const double f32 = accuracy();
  // Calibrated on 512 training images, in the order of the file.
  const data::Dataset train_set = data::load_fashion_mnist(directory, data::Split::train);
  data::BatchLoader calibration(train_set, 512, /*shuffle=*/false, 0);
  model.calibrate(calibration.next()->images);
  REQUIRE(model.set_precision(Precision::int8) == Precision::int8);
  const double int8 = accuracy();
  MESSAGE("Fashion-MNIST test accuracy: f32 " << f32 << "%, int8 " << int8 << "% (" << onednn::isa_name() << ")");
  CHECK(f32 > 91.0);
  CHECK(std::abs(int8 - f32) <= 0.5);
}

TEST_CASE("a wrong input is refused on oneDNN with the front end's error, and nothing changes") {
  FastModel<Sequential<Conv<3, 4, 3>, ReLU>, Shape<3, 8, 8>> model;
  std::vector<float> wrong(3 * 8 * 8 + 1);
  CHECK_THROWS_AS(model.forward(wrong), Error);
  std::vector<float> right(3 * 8 * 8, 1.0f);
  CHECK(model.forward(right).size() == 4 * 6 * 6);
}

#endif
