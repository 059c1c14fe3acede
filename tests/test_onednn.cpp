// The oneDNN backend (<ctnn/onednn.hpp>) against PyTorch and the Eigen reference: every layer kind
// on PyTorch's reference data, both GoogLeNets' logits, bf16 against f32, the boundary (recorded
// layers, input gradients), training through the Eigen fallback, and bad input.
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
#include <cmath>       // std::abs

#include <ctnn/ctnn.hpp>             // layers, ctnn::Model
#include <ctnn/io/safetensors.hpp>   // ctnn::safetensors::Reader
#include <ctnn/onednn.hpp>           // ctnn::OneDnn

#include "support/reference.hpp"   // ctnn::test::ReferenceFile, read_tensor, relative_error, load_parameters

using namespace ctnn;
using onednn::Precision;

namespace {

template <class Net, ShapeType In>
using FastModel = Model<Net, In, float, OneDnn>;

const test::ReferenceFile& layers_file() { return test::ReferenceFile::open("reference/layers.safetensors"); }

// The layer case `name` on oneDNN, against PyTorch's output; in training the Eigen fallback
// computes what keeps state for backward.
template <class Net, ShapeType In>
void check_case(const std::string& name, Mode mode = Mode::eval) {
  FastModel<Net, In> model;
  test::load_parameters(model, layers_file(), name + ".");
  model.train(mode == Mode::train);
  const std::vector<float> input = test::read_tensor(layers_file(), name + ".input");
  const std::vector<float> expected = test::read_tensor(layers_file(), name + ".output");
  const std::span<const float> output = model.forward(input);
  CAPTURE(name);
  CAPTURE(mode == Mode::train);
  REQUIRE(output.size() == expected.size());
  CHECK(test::relative_error(output, std::span<const float>(expected)) <= 1e-5);
}
template <class Net, ShapeType In>
void check_both_modes(const std::string& name) {
  check_case<Net, In>(name, Mode::eval);
  check_case<Net, In>(name, Mode::train);
}

std::vector<float> pattern(std::size_t count, float scale = 1.0f) {
  std::vector<float> v(count);
  for (std::size_t i = 0; i < count; ++i) v[i] = scale * (static_cast<float>((i * 7919) % 255) / 255.0f - 0.5f);
  return v;
}

// The same network on Eigen and oneDNN with the same parameters and input.
template <class Net, ShapeType In>
struct Pair {
  Model<Net, In> reference;
  FastModel<Net, In> fast;
  explicit Pair(std::uint64_t seed) {
    init::reference_uniform(reference, seed);
    std::copy(reference.parameters().begin(), reference.parameters().end(), fast.parameters().begin());
    std::copy(reference.buffers().begin(), reference.buffers().end(), fast.buffers().begin());
  }
};

std::size_t argmax(std::span<const float> v) {
  return static_cast<std::size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

}  // namespace

// ---- every layer kind on PyTorch's data (also run with ONEDNN_MAX_CPU_ISA=AVX2) -------------------

TEST_CASE("layers: Conv matches nn.Conv2d on oneDNN") {
  MESSAGE("oneDNN dispatches to " << onednn::isa_name());
  check_both_modes<Conv<4, 6, 3, 1, 1>, Shape<4, 9, 9>>("conv_k3_s1_p1");
  check_both_modes<Conv<3, 5, 7, 2, 3>, Shape<3, 17, 17>>("conv_k7_s2_p3");
  check_both_modes<Conv<8, 4, 1>, Shape<8, 5, 5>>("conv_k1");
  check_both_modes<Conv<3, 4, 5, 3, 2>, Shape<3, 11, 13>>("conv_k5_s3_p2");
}

TEST_CASE("layers: ReLU and Flatten match PyTorch on oneDNN") {
  check_both_modes<ReLU, Shape<3, 5, 5>>("relu");
  check_both_modes<Flatten, Shape<3, 4, 4>>("flatten");
}

TEST_CASE("layers: MaxPool matches nn.MaxPool2d on oneDNN, ceil mode as right padding") {
  check_both_modes<MaxPool<3, 2, 0, Rounding::ceil>, Shape<3, 14, 14>>("maxpool_k3_s2_ceil");
  check_both_modes<MaxPool<3, 2, 0, Rounding::ceil>, Shape<2, 13, 13>>("maxpool_k3_s2_ceil_odd");
  check_both_modes<MaxPool<3, 1, 1>, Shape<3, 7, 7>>("maxpool_k3_s1_p1");
  check_both_modes<MaxPool<3, 2, 1, Rounding::ceil>, Shape<2, 6, 6>>("maxpool_k3_s2_p1_ceil");
  check_both_modes<MaxPool<2, 2, 1, Rounding::ceil>, Shape<2, 5, 5>>("maxpool_k2_s2_p1_ceil_drop");
  check_both_modes<MaxPool<2, 2, 0, Rounding::ceil>, Shape<2, 7, 7>>("maxpool_k2_s2_ceil");
}

TEST_CASE("layers: AvgPool and AdaptiveAvgPool match PyTorch on oneDNN") {
  check_both_modes<AvgPool<5, 3>, Shape<4, 14, 14>>("avgpool_k5_s3");
  check_both_modes<AvgPool<3, 2, 1, Rounding::ceil>, Shape<2, 6, 6>>("avgpool_k3_s2_p1_ceil");
  check_both_modes<AvgPool<2, 2, 1, Rounding::ceil>, Shape<2, 5, 5>>("avgpool_k2_s2_p1_ceil_drop");
  check_both_modes<AdaptiveAvgPool<1>, Shape<5, 7, 7>>("adaptive_avgpool_1x1");
  check_both_modes<AdaptiveAvgPool<4>, Shape<3, 14, 14>>("adaptive_avgpool_4x4");
  check_both_modes<AdaptiveAvgPool<4>, Shape<3, 10, 10>>("adaptive_avgpool_4x4_uneven");
}

TEST_CASE("layers: Linear, BasicConv2d and Inception match PyTorch on oneDNN") {
  check_both_modes<Linear<12, 7>, Features<12>>("linear");
  check_both_modes<BasicConv2d<4, 6, 3, 1, 1>, Shape<4, 8, 8>>("basic_conv");
  check_both_modes<Inception<8, 4, 3, 5, 2, 3, 2>, Shape<8, 9, 9>>("inception");
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
std::vector<float> googlenet_input(std::uint64_t seed) {
  std::vector<float> input(2 * Shape<3, 224, 224>::size);
  const std::int64_t shape[] = {2, 3, 224, 224};
  reference_uniform_fill<float>("input", shape, 0, seed, input);
  return input;
}
}  // namespace

TEST_CASE("GoogLeNet on oneDNN gives PyTorch's logits in f32, and bf16 keeps the top-1") {
  using Image = Shape<3, 224, 224>;
  FastModel<GoogLeNet<1000, false>, Image> model;
  init::reference_uniform(model, 7);
  const auto expected = test::read_tensor(googlenet_file(), "logits_1000_noaux");
  const auto input = googlenet_input(7);
  const std::vector<float> logits(model.forward(input).begin(), model.forward(input).end());
  const double error = test::relative_error(std::span<const float>(logits), std::span<const float>(expected));
  MESSAGE("f32 relative error of the logits against PyTorch: " << error);
  CHECK(error <= 1e-4);

  SUBCASE("one image at a time") {
    const auto first = model.forward(std::span<const float>(input).first(Image::size));
    CHECK(test::relative_error(first, std::span<const float>(expected).first(1000)) <= 1e-4);
  }
  SUBCASE("bf16") {
    if (model.set_precision(Precision::bf16) != Precision::bf16) {
      MESSAGE("bf16 not run: " << model.precision_note());
      return;
    }
    const auto bf16 = model.forward(input);
    const double bf16_error = test::relative_error(bf16, std::span<const float>(expected));
    MESSAGE("bf16 relative error of the logits against PyTorch's f32: " << bf16_error);
    CHECK(bf16_error <= 5e-2);
    for (std::size_t n = 0; n < 2; ++n)
      CHECK(argmax(bf16.subspan(n * 1000, 1000)) == argmax(std::span<const float>(expected).subspan(n * 1000, 1000)));
    SUBCASE("and back to f32") {
      model.set_precision(Precision::f32);
      CHECK(test::relative_error(model.forward(input), std::span<const float>(expected)) <= 1e-4);
    }
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

TEST_CASE("training on oneDNN (Eigen backward) gives the reference's gradients") {
  using Net = Sequential<BasicConv2d<3, 16, 3, 1, 1>, MaxPool<3, 2, 0, Rounding::ceil>,
                         Inception<16, 16, 16, 16, 16, 16, 16>, AdaptiveAvgPool<1>, Flatten, Dropout<40>, Linear<64, 5>>;
  using In = Shape<3, 15, 15>;
  Pair<Net, In> pair(4);
  pair.reference.train();
  pair.fast.train();
  pair.reference.disable_dropout(true);
  pair.fast.disable_dropout(true);
  pair.reference.compute_input_gradient(true);
  pair.fast.compute_input_gradient(true);
  const auto input = pattern(3 * In::size);
  CHECK(test::relative_error(pair.fast.forward(input), pair.reference.forward(input)) <= 1e-5);
  const auto gradient = pattern(3 * 5, 0.1f);
  pair.reference.backward(gradient);
  pair.fast.backward(gradient);
  CHECK(test::relative_error(std::span<const float>(pair.fast.gradients()), std::span<const float>(pair.reference.gradients())) <= 1e-5);
  CHECK(test::relative_error(pair.fast.input_gradient(), pair.reference.input_gradient()) <= 1e-5);
  SUBCASE("weights changed on the host are packed again") {
    for (float& p : pair.reference.parameters()) p *= 0.5f;
    for (float& p : pair.fast.parameters()) p *= 0.5f;
    pair.reference.eval();
    pair.fast.eval();
    CHECK(test::relative_error(pair.fast.forward(input), pair.reference.forward(input)) <= 1e-5);
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
