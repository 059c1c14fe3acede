// The oneDNN backend (<ctnn/onednn.hpp>) against PyTorch and the Eigen reference: every layer kind
// on PyTorch's reference data (tests/support/layer_cases.hpp), both GoogLeNets' and the model
// zoo's logits, bf16 and int8 against f32 on GoogLeNet, the boundary (recorded layers, input
// gradients), and bad input. Training is in test_onednn_training.cpp, int8 in
// test_onednn_int8.cpp, the 1x1 + depthwise fusion in test_onednn_pointwise_depthwise.cpp: apart,
// so that the two cores compile them side by side.
//
// Without oneDNN (not found at configure time) the test says so and exits 77, before doctest
// starts (support/onednn_skip.hpp).
// ctest onednn_avx2 runs the layer cases again with oneDNN held to AVX2 (ONEDNN_MAX_CPU_ISA=AVX2).

#include <doctest/doctest.h>

#include "support/onednn_skip.hpp"   // exits 77 (skipped) without oneDNN
#if defined(CTNN_WITH_ONEDNN)

#include <cstddef>     // std::size_t, std::ptrdiff_t
#include <cstdint>     // std::int64_t, std::uint64_t, std::uint16_t
#include <random>      // std::mt19937
#include <string>      // std::string
#include <vector>      // std::vector

#include <ctnn/ctnn.hpp>                  // layers, ctnn::Model, features_of, named_tensors, predicted_classes
#include <ctnn/models/mobilenet_v2.hpp>   // ctnn::MobileNetV2
#include <ctnn/models/resnet.hpp>         // ctnn::torchvision::BasicBlock
#include <ctnn/models/resnet18.hpp>       // ctnn::ResNet18
#include <ctnn/models/resnet50.hpp>       // ctnn::ResNet50
#include <ctnn/onednn.hpp>                // ctnn::OneDnn

#include "support/layer_cases.hpp"   // ctnn::test::all_layer_cases, grouped_conv_cases, ...
#include "support/onednn_pair.hpp"   // ctnn::test::Pair, FastModel, pattern
#include "support/reference.hpp"     // ctnn::test::ReferenceFile, read_tensor, relative_error, load_parameters

using namespace ctnn;
using onednn::Precision;
using test::FastModel;
using test::Pair;
using test::pattern;

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

TEST_CASE("layers: a Sum in bf16 rounds each f32 sum once, on AVX-512 as in the scalar loop, and with the ReLU") {
  // Random bf16 pairs (their f32 sums land on rounding ties often) and the special values:
  // zeros, subnormals, the largest finite (whose sum overflows), infinities, quiet and signalling
  // NaNs; lengths around the AVX-512 kernel's blocks of 16. With the ReLU (a residual block's
  // end, residual_relu.hpp) the rounded max(sum, 0) is also the ReLU of the rounded sum, as the
  // two layers apart compute it (but for the sign of a zero).
  const std::uint16_t specials[] = {0x0000, 0x8000, 0x0001, 0x8001, 0x0080, 0x3f80, 0x3f81, 0xbf80,
                                    0x7f7f, 0xff7f, 0x7f80, 0xff80, 0x7fc0, 0xffc1, 0x7f81, 0x3380};
  std::mt19937 generator(7);
  std::vector<std::uint16_t> d(1000), s(1000);
  for (std::size_t i = 0; i < d.size(); ++i) {
    d[i] = i < std::size(specials) ? specials[i] : static_cast<std::uint16_t>(generator());
    s[i] = i >= 20 && i < 20 + std::size(specials) ? specials[i - 20] : static_cast<std::uint16_t>(generator());
  }
  // Bit for bit, but for the sum of two NaNs: which one's payload it carries is the compiler's
  // choice (it may swap the operands of a float addition).
  const auto nan = [](std::uint16_t v) { return (v & 0x7fffu) > 0x7f80u; };
  const auto relu = [](float v) { return v < 0.f ? 0.f : v; };
  for (const std::size_t count : {0, 1, 15, 16, 17, 40, 1000}) {
    std::vector<std::uint16_t> fast(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(count));
    std::vector<std::uint16_t> fast_relu = fast;
    onednn::detail::add_bf16(s.data(), fast.data(), count);
    onednn::detail::add_bf16<true>(s.data(), fast_relu.data(), count);
    std::size_t differ = 0, differ_relu = 0, differ_apart = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const float sum = onednn::from_bf16(d[i]) + onednn::from_bf16(s[i]);
      const std::uint16_t scalar = onednn::to_bf16(sum), scalar_relu = onednn::to_bf16(relu(sum));
      if (fast[i] != scalar && !(nan(fast[i]) && nan(scalar))) ++differ;
      if (fast_relu[i] != scalar_relu && !(nan(fast_relu[i]) && nan(scalar_relu))) ++differ_relu;
      const std::uint16_t apart = onednn::to_bf16(relu(onednn::from_bf16(scalar)));
      if ((fast_relu[i] & 0x7fffu) != (apart & 0x7fffu) && !(nan(fast_relu[i]) && nan(apart))) ++differ_apart;
    }
    CAPTURE(count);
    CHECK(differ == 0);
    CHECK(differ_relu == 0);
    CHECK(differ_apart == 0);
  }
}

// The sum and the ReLU that end a ResNet block in one pass (residual_relu.hpp): the first two
// blocks' (an identity shortcut, then a downsampling one); the third block's output is the
// model's (plain NCHW at the boundary), where the sum is added as before and the ReLU runs apart.
// In bf16 on AMX the body's last convolution adds the shortcut and clamps, as post-ops; not
// where a layer inside the block is recorded. Running variances away from 1 (folded batch norms).
TEST_CASE("layers: a Residual and the ReLU after it (ResNet's blocks) run as one pass and equal the reference") {
  using Net = Sequential<torchvision::BasicBlock<8, 8, 1>, torchvision::BasicBlock<8, 16, 2>,
                         torchvision::BasicBlock<16, 16, 1>>;
  using In = Shape<8, 10, 10>;
  Pair<Net, In> pair(5);
  test::scale_running_variances(pair, 1.7f);
  const auto input = pattern(3 * In::size, 4.0f);
  const auto reference = pair.reference.forward(input);
  const std::vector<float> expected(reference.begin(), reference.end());
  CHECK(test::relative_error(pair.fast.forward(input), std::span<const float>(expected)) <= 1e-5);
  CHECK(pair.fast.fused_sum_relus() == 2);
  CHECK(pair.fast.residual_post_ops() == 0);
  const std::vector<float> expected_conv2(features_of(pair.reference, "1.conv2", input).begin(),
                                          features_of(pair.reference, "1.conv2", input).end());
  if (test::runs_bf16(pair)) {
    const std::size_t post_ops = onednn::adds_residuals_as_post_ops(Precision::bf16) ? 2 : 0;
    MESSAGE("bf16: " << post_ops << " blocks add their shortcut as post-ops (" << onednn::isa_name() << ")");
    CHECK(test::relative_error(pair.fast.forward(input), std::span<const float>(expected)) <= 2e-2);
    CHECK(pair.fast.fused_sum_relus() == 2);
    CHECK(pair.fast.residual_post_ops() == post_ops);
    // The second block's conv2 recorded: its output is its own, so that block adds apart.
    CHECK(test::relative_error(features_of(pair.fast, "1.conv2", input), std::span<const float>(expected_conv2)) <=
          2e-2);
    CHECK(pair.fast.residual_post_ops() == post_ops / 2);
    CHECK(test::relative_error(pair.fast.output(), std::span<const float>(expected)) <= 2e-2);
    pair.fast.record_output_of("");
    CHECK(test::relative_error(pair.fast.forward(input), std::span<const float>(expected)) <= 2e-2);
    CHECK(pair.fast.residual_post_ops() == post_ops);
  }
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
    CHECK(predicted_classes(lower, 1000) == predicted_classes(std::span<const float>(expected), 1000));
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

// In evaluation also bf16 (below), and int8, calibrated on the two images: no further from PyTorch's f32 logits
// than PyTorch's own post-training quantisation of the same weights calibrated on the same images
// (`<model>.int8_logits`: s8 weights per channel, u8 activations per tensor from min-max ranges;
// tools/make_zoo_reference.py), with `int8_hand_offs` layers writing u8, and with `int8_top1`
// each image's top-1 kept (ResNet-50's top two logits are 2% of the logits' norm apart;
// ResNet-18's 0.01% and 0.06%, MobileNetV2's 0.8% and 0.6%, within int8's error). Without int8 dot products oneDNN's weights
// keep to 7 bits, so there the bound is twice PyTorch's error.
template <class Net>
void check_zoo_logits(const std::string& model, Mode mode = Mode::eval, std::size_t int8_hand_offs = 0,
                      bool int8_top1 = false) {
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
  if (mode == Mode::train) return;
  const auto input = googlenet_input(7);
  const auto expected = test::read_tensor(zoo_file(), name);
  // bf16: within 6% of PyTorch's f32 (ResNets 0.5%, MobileNetV2 4.3% with the random reference
  // weights); on AMX every block's last convolution adds its shortcut.
  if (net.set_precision(Precision::bf16) == Precision::bf16) {
    const double bf16_error = test::normwise_error(net.forward(input), std::span<const float>(expected));
    MESSAGE(name << " in bf16: normwise error against PyTorch's float32 " << bf16_error << ", "
                 << net.residual_post_ops() << " of " << net.fused_sum_relus() << " sums + ReLU as post-ops");
    CHECK(bf16_error <= 6e-2);
    CHECK(net.residual_post_ops() ==
          (onednn::adds_residuals_as_post_ops(Precision::bf16) ? net.fused_sum_relus() : 0));
    net.set_precision(Precision::f32);
  }
  const double pytorch_int8_error = test::normwise_error(
      std::span<const float>(test::read_tensor(zoo_file(), model + ".int8_logits")), std::span<const float>(expected));
  net.calibrate(input);
  REQUIRE(net.set_precision(Precision::int8) == Precision::int8);
  const auto logits = net.forward(input);
  const double int8_error = test::normwise_error(logits, std::span<const float>(expected));
  MESSAGE(name << " in int8: normwise error against PyTorch's float32 " << int8_error << " (PyTorch's own int8 "
               << pytorch_int8_error << "), " << net.quantised_hand_offs() << " layers writing u8");
  CHECK(int8_error <= (onednn::has_int8_dot_product() ? 1.0 : 2.0) * pytorch_int8_error);
  if (int8_top1) CHECK(predicted_classes(logits, 1000) == predicted_classes(std::span<const float>(expected), 1000));
  CHECK(net.quantised_hand_offs() == int8_hand_offs);
}
}  // namespace

// In int8 ResNet hands u8 on from the stem's convolution, the max pooling, every convolution with
// a ReLU (each block's first; and a Bottleneck's second) and every block's sum + ReLU but the
// last's, which the average pooling reads in f32: 2 + 8 + 7 in ResNet-18, 2 + 32 + 15 in ResNet-50.
// MobileNetV2 from the stem's convolution and every convolution with a ReLU6 but the last (1x1 to
// 1280 channels, read by the average pooling): 1 + 1 + 2 x 16 = 34. Its projections have no
// activation and its residual sums none either: signed, they write f32.
TEST_CASE("ResNet18, ResNet50 and MobileNetV2 on oneDNN give torchvision's logits in f32, follow in bf16, and in int8 stay as near as PyTorch's int8") {
  check_zoo_logits<ResNet18<>>("resnet18", Mode::eval, 17);
  check_zoo_logits<ResNet50<>>("resnet50", Mode::eval, 49, true);
  check_zoo_logits<MobileNetV2<>>("mobilenet_v2", Mode::eval, 34);
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

TEST_CASE("a wrong input is refused on oneDNN with the front end's error, and nothing changes") {
  FastModel<Sequential<Conv<3, 4, 3>, ReLU>, Shape<3, 8, 8>> model;
  std::vector<float> wrong(3 * 8 * 8 + 1);
  CHECK_THROWS_AS(model.forward(wrong), Error);
  std::vector<float> right(3 * 8 * 8, 1.0f);
  CHECK(model.forward(right).size() == 4 * 6 * 6);
}

#endif
