// The oneDNN backend's FusionAcross (include/ctnn/onednn/pointwise_depthwise.hpp): MobileNetV2's
// 1x1 expansion and the depthwise convolution after it as one convolution in evaluation, against
// the Eigen reference, with recorded layers, parameters written on the host, bf16 and int8.
// (tests/test_onednn.cpp holds MobileNetV2's logits on oneDNN against torchvision's.)
//
// Without oneDNN (not found at configure time) the test says so and exits 77, before doctest
// starts (support/onednn_skip.hpp).

#include <doctest/doctest.h>

#include "support/onednn_skip.hpp"   // exits 77 (skipped) without oneDNN
#if defined(CTNN_WITH_ONEDNN)

#include <random>   // std::mt19937, std::uniform_real_distribution
#include <span>     // std::span
#include <vector>   // std::vector

#include <ctnn/ctnn.hpp>                  // layers, ctnn::Model, named_tensors
#include <ctnn/models/mobilenet_v2.hpp>   // ctnn::torchvision::InvertedResidual
#include <ctnn/onednn.hpp>                // ctnn::OneDnn

#include "support/compare.hpp"       // ctnn::test::relative_error, normwise_error
#include "support/onednn_pair.hpp"   // ctnn::test::Pair, pattern, runs_bf16

using namespace ctnn;
using onednn::Precision;
using test::Pair;
using test::pattern;
using test::runs_bf16;

TEST_CASE("MobileNetV2's 1x1 expansion and the depthwise convolution after it run as one convolution in evaluation") {
  // Two inverted residual blocks (stride 1 with its sum, then stride 2) at 28x28, batch 16:
  // MobileNetV2's features.6 and features.7, whose pairs oneDNN runs with a jitted kernel in f32
  // on the AVX-512 CPUs seen (Sapphire Rapids, Zen 4). Which sizes get one depends on the CPU:
  // for 16 -> 96 channels at 28x28 Sapphire Rapids has only the reference fusion, Zen 4
  // a jitted one. Where only the reference fusion exists ctnn keeps the pair apart.
  using Net = Sequential<torchvision::InvertedResidual<32, 32, 1, 6>, torchvision::InvertedResidual<32, 64, 2, 6>>;
  using In = Shape<32, 28, 28>;
  Pair<Net, In> pair(41);
  // Running statistics and affine parameters far from the identity, alike in both models.
  std::mt19937 generator(41);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  for (const NamedTensor& t : named_tensors<Net, In>()) {
    if (t.shape.size() != 1) continue;  // the batch norms' tensors (no Conv here has a bias)
    const bool var = t.name.ends_with("running_var"), gamma = t.name.ends_with(".weight");
    std::span<float> fast = t.role == TensorRole::buffer ? pair.fast.buffers() : pair.fast.parameters();
    std::span<float> reference = t.role == TensorRole::buffer ? pair.reference.buffers() : pair.reference.parameters();
    for (std::size_t i = t.offset; i < t.offset + t.count; ++i)
      reference[i] = fast[i] = var ? 0.2f + 2.0f * uniform(generator) : gamma ? 0.5f + uniform(generator) : uniform(generator) - 0.5f;
  }
  const std::vector<float> input = pattern(16 * In::size, 4.0f);
  const auto f32_error = [&] { return test::relative_error(pair.fast.forward(input), pair.reference.forward(input)); };
  // The pairs oneDNN fuses here: both blocks' on AVX-512; elsewhere whatever it offers.
  const bool avx512 = onednn::isa_name().starts_with("AVX-512");
  const auto fused = [&](std::size_t expected_on_avx512) {
    MESSAGE("fused 1x1 + depthwise pairs: " << pair.fast.fused_depthwise_convolutions() << " (" << onednn::isa_name() << ")");
    if (avx512) CHECK(pair.fast.fused_depthwise_convolutions() == expected_on_avx512);
  };
  CHECK(f32_error() <= 1e-5);
  fused(2);
  CHECK(pair.fast.folded_batch_norms() == 6);  // every batch norm, fused pairs or not

  SUBCASE("running statistics written on the host are folded again") {
    test::scale_running_variances(pair, 3.0f);
    CHECK(f32_error() <= 1e-5);
    fused(2);
  }
  SUBCASE("a recorded expansion output keeps its pair apart") {
    pair.reference.record_output_of("0.conv.0");
    pair.fast.record_output_of("0.conv.0");
    CHECK(f32_error() <= 1e-5);
    fused(1);
    CHECK(test::relative_error(pair.fast.recorded_output(), pair.reference.recorded_output()) <= 1e-5);
  }
  SUBCASE("a recorded depthwise convolution inside the pair keeps it apart; the pair's own output does not") {
    pair.reference.record_output_of("1.conv.1.0");
    pair.fast.record_output_of("1.conv.1.0");
    CHECK(f32_error() <= 1e-5);
    fused(1);
    CHECK(test::relative_error(pair.fast.recorded_output(), pair.reference.recorded_output()) <= 1e-5);
    pair.reference.record_output_of("1.conv.1");
    pair.fast.record_output_of("1.conv.1");
    CHECK(f32_error() <= 1e-5);
    fused(2);
    CHECK(test::relative_error(pair.fast.recorded_output(), pair.reference.recorded_output()) <= 1e-5);
  }
  SUBCASE("bf16 follows f32") {
    if (runs_bf16(pair)) CHECK(f32_error() <= 5e-2);
  }
  SUBCASE("int8 is calibrated on, and runs, the pairs apart; f32 fuses them again after") {
    pair.fast.calibrate(input, 8);
    REQUIRE(pair.fast.set_precision(Precision::int8) == Precision::int8);
    const auto expected = pair.reference.forward(input);
    const double error = test::normwise_error(pair.fast.forward(input), expected);
    MESSAGE("int8 against f32: normwise error " << error << " (" << onednn::isa_name() << ")");
    // Without int8 dot products the weights keep to 7 bits (quantisation.hpp), which doubles
    // their rounding: 0.023 with VNNI or AMX, 0.040 held to AVX-512 or AVX2 (Sapphire Rapids).
    CHECK(error <= (onednn::has_int8_dot_product() ? 4e-2 : 6e-2));
    CHECK(pair.fast.fused_depthwise_convolutions() == 0);
    pair.fast.set_precision(Precision::f32);
    CHECK(f32_error() <= 1e-5);
    fused(2);
  }
}

#endif  // CTNN_WITH_ONEDNN
