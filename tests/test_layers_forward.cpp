// Every layer kind's forward pass against PyTorch's on the same input and parameters
// (tests/data/reference/layers.safetensors and activations_upsampling.safetensors, written by
// tools/make_reference_data.py), in both evaluation and training mode (the memory plans differ).

#include <doctest/doctest.h>

#include <random>        // std::mt19937, std::uniform_int_distribution
#include <type_traits>   // std::is_same_v

#include <ctnn/ctnn.hpp>             // layers, ctnn::Model
#include <ctnn/io/safetensors.hpp>   // ctnn::safetensors::Reader

#include "support/layer_cases.hpp"   // ctnn::test::conv_cases, max_pool_cases, ...
#include "support/reference.hpp"     // ctnn::test::read_tensor, relative_error, load_parameters

using namespace ctnn;

namespace {

// Float32 sums in another order than PyTorch's: the worst case measured is 4.1e-7 (conv_k7_s2_p3,
// 147-term dot products); pooling is exact or nearly. The bound leaves a margin of 5.
constexpr double kTolerance = 2e-6;

const test::ReferenceFile& layers_file() { return test::ReferenceFile::open("reference/layers.safetensors"); }

// Runs the case's layer (fed In) on the reference input; the output must match PyTorch's.
template <class Net, ShapeType In>
void check_case(const std::string& name, Mode mode = Mode::eval, const test::ReferenceFile& file = layers_file()) {
  Model<Net, In> model;
  test::load_parameters(model, file, name + ".");
  model.train(mode == Mode::train);
  model.disable_dropout(true);  // PyTorch ran in evaluation mode
  const std::vector<float> input = test::read_tensor(file, name + ".input");
  const std::vector<float> expected = test::read_tensor(file, name + ".output");
  const std::span<const float> output = model.forward(input);
  CAPTURE(name);
  CHECK(output.size() == expected.size());
  CHECK(test::relative_error(output, std::span<const float>(expected)) <= kTolerance);
}

// Runs a case in evaluation and in training mode (the memory plans differ).
struct BothModes {
  template <class Net, ShapeType In>
  void operator()(const std::string& name) const {
    check_case<Net, In>(name, Mode::eval);
    check_case<Net, In>(name, Mode::train);
  }
};

template <class Net, ShapeType In>
void check_both_modes(const std::string& name, const test::ReferenceFile& file = layers_file()) {
  check_case<Net, In>(name, Mode::eval, file);
  check_case<Net, In>(name, Mode::train, file);
}

}  // namespace

TEST_CASE("Conv matches nn.Conv2d, with and without bias") { test::conv_cases(BothModes{}); }

TEST_CASE("ReLU, Flatten, TransformInput and Linear match PyTorch") { test::elementwise_and_linear_cases(BothModes{}); }

TEST_CASE("MaxPool matches nn.MaxPool2d, ceil mode included") { test::max_pool_cases(BothModes{}); }

TEST_CASE("AvgPool and AdaptiveAvgPool match PyTorch") { test::average_pool_cases(BothModes{}); }

TEST_CASE("pooling on non-square inputs matches PyTorch, the two axes under different rules") {
  test::non_square_pool_cases(BothModes{});
}

TEST_CASE("compositions match PyTorch: conv + dropout, conv to linear, BasicConv2d, Inception") {
  test::composite_cases(BothModes{});
}

TEST_CASE("InceptionAux matches the reference module in evaluation mode") {
  using Net = InceptionAux<16, 3>;
  Model<Net, Shape<16, 14, 14>> model;
  // fc1.weight (1024 x 2048) is not stored; it is the reference initialisation with seed 1.
  for (const NamedTensor& t : named_tensors<Net, Shape<16, 14, 14>>()) {
    auto destination = model.parameters().subspan(t.offset, t.count);
    if (t.name == "fc1.weight") {
      const std::int64_t shape[] = {1024, 2048};
      reference_uniform_fill<float>("inception_aux.fc1.weight", shape, 0, 1, destination);
    } else {
      const auto values = test::read_tensor(layers_file(), "inception_aux." + t.name);
      std::copy(values.begin(), values.end(), destination.begin());
    }
  }
  const auto input = test::read_tensor(layers_file(), "inception_aux.input");
  const auto expected = test::read_tensor(layers_file(), "inception_aux.output");
  CHECK(test::relative_error(model.forward(input), std::span<const float>(expected)) <= kTolerance);
}

TEST_CASE("a layer's parameters carry PyTorch's names and shapes") {
  const auto tensors = named_tensors<Inception<8, 4, 3, 5, 2, 3, 2>, Shape<8, 9, 9>>();
  REQUIRE(tensors.size() == 12);
  CHECK(tensors[0].name == "branch1.conv.weight");
  CHECK(tensors[2].name == "branch2.0.conv.weight");
  CHECK(tensors[4].name == "branch2.1.conv.weight");
  CHECK(tensors[4].shape == std::vector<std::size_t>{5, 3, 3, 3});
  CHECK(tensors[10].name == "branch4.1.conv.weight");
  CHECK(tensors[11].offset + tensors[11].count == parameter_count_v<Inception<8, 4, 3, 5, 2, 3, 2>>);
}

TEST_CASE("a wrong input size is refused with a clear error and changes nothing") {
  Model<Conv<3, 4, 3>, Shape<3, 8, 8>> model;
  std::vector<float> too_short(3 * 8 * 8 - 1);
  CHECK_THROWS_WITH_AS(model.forward(too_short), doctest::Contains("not a whole number of 3x8x8 images"), Error);
  std::vector<float> image(3 * 8 * 8);
  const std::size_t wrong_dims[] = {1, 3, 8, 9};
  CHECK_THROWS_WITH_AS(model.forward(image, wrong_dims), doctest::Contains("[1, 3, 8, 9]"), Error);
  const std::size_t right_dims[] = {1, 3, 8, 8};
  CHECK(model.forward(image, right_dims).size() == 4 * 6 * 6);
}

TEST_CASE("MaxPool propagates NaN as PyTorch does, in both modes") {
  for (Mode mode : {Mode::eval, Mode::train}) {
    Model<MaxPool<3, 1, 1>, Shape<1, 4, 4>> model;
    model.train(mode == Mode::train);
    std::vector<float> input(16, 1.0f);
    input[5] = std::numeric_limits<float>::quiet_NaN();  // row 1, column 1
    const auto output = model.forward(input);
    for (std::size_t row = 0; row < 4; ++row)
      for (std::size_t column = 0; column < 4; ++column) {
        CAPTURE(row);
        CAPTURE(column);
        CHECK(std::isnan(output[row * 4 + column]) == (row <= 2 && column <= 2));
      }
  }
}

TEST_CASE("MaxPool in training sends a tied window's gradient to its first maximum, as PyTorch") {
  // A constant 4x4 plane, 3x3 windows, stride 1, padding 1: window (oh, ow) starts at input
  // (max(oh - 1, 0), max(ow - 1, 0)), so that element gets the gradient; per axis the counts
  // are 2, 1, 1, 0.
  Model<MaxPool<3, 1, 1>, Shape<1, 4, 4>> model;
  model.train();
  model.compute_input_gradient(true);
  const std::vector<float> input(16, 0.5f), output_gradient(16, 1.0f);
  model.forward(input);
  model.backward(output_gradient);
  const float per_axis[] = {2, 1, 1, 0};
  const auto input_gradient = model.input_gradient();
  for (std::size_t row = 0; row < 4; ++row)
    for (std::size_t column = 0; column < 4; ++column) {
      CAPTURE(row);
      CAPTURE(column);
      CHECK(input_gradient[row * 4 + column] == per_axis[row] * per_axis[column]);
    }
}

TEST_CASE("MaxPool gives the same maxima in training as in evaluation, with and without ceil mode") {
  std::mt19937 generator(7);
  std::uniform_int_distribution<int> level(-3, 3);  // few distinct values: many ties
  const auto compare = [&]<class Pool, class In>() {
    Model<Pool, In> model;
    std::vector<float> input(2 * In::size);
    for (float& v : input) v = static_cast<float>(level(generator));
    model.eval();
    const auto evaluated_view = model.forward(input);
    const std::vector<float> evaluated(evaluated_view.begin(), evaluated_view.end());
    model.train();
    const auto trained_view = model.forward(input);
    const std::vector<float> trained(trained_view.begin(), trained_view.end());
    CHECK(trained == evaluated);
  };
  compare.template operator()<MaxPool<3, 1, 1>, Shape<3, 7, 7>>();
  compare.template operator()<MaxPool<3, 2, 0, Rounding::ceil>, Shape<3, 14, 14>>();
  compare.template operator()<MaxPool<3, 2, 1, Rounding::ceil>, Shape<2, 9, 11>>();
  compare.template operator()<MaxPool<2, 2>, Shape<4, 14, 14>>();
}

// ---- grouped and depthwise convolution, ReLU6 (MobileNetV2's layers) -------------------------

TEST_CASE("grouped and depthwise Conv, and ReLU6, match nn.Conv2d(groups=G) and nn.ReLU6") {
  test::grouped_conv_cases(BothModes{});
  static_assert(DepthwiseConv<5, 3, 1, 1>::tensors[0].dims[1] == 1);  // weight [5, 1, 3, 3]
  static_assert(Conv<4, 6, 3, 1, 1, true, 2>::parameter_count == 6 * 2 * 3 * 3 + 6);
}

// ---- Activations, softmax, upsampling and transposed convolution ------------------------------
// (activations_upsampling.safetensors)

namespace {

const test::ReferenceFile& activations_upsampling_file() {
  return test::ReferenceFile::open("reference/activations_upsampling.safetensors");
}

// Runs a case of activations_upsampling.safetensors in evaluation and in training mode.
struct BothModesOnActivationsFile {
  template <class Net, ShapeType In>
  void operator()(const std::string& name) const {
    check_both_modes<Net, In>(name, activations_upsampling_file());
  }
};

}  // namespace

TEST_CASE("Identity, the activations, Softmax, Upsample and ConvTranspose2d match PyTorch") {
  test::activation_upsampling_cases(BothModesOnActivationsFile{});
}

TEST_CASE("ConvTranspose2d's weight is [In, Out, K, K] under PyTorch's names, and its output size is PyTorch's") {
  using Up = ConvTranspose2d<64, 32, 4, 2, 1>;
  const auto tensors = named_tensors<Up, Shape<64, 14, 14>>();
  REQUIRE(tensors.size() == 2);
  CHECK(tensors[0].name == "weight");
  CHECK(tensors[0].shape == std::vector<std::size_t>{64, 32, 4, 4});
  CHECK(tensors[1].name == "bias");
  CHECK(tensors[1].shape == std::vector<std::size_t>{32});
  static_assert(std::is_same_v<output_shape_t<Up, Shape<64, 14, 14>>, Shape<32, 28, 28>>);  // 13 * 2 - 2 + 4
  static_assert(std::is_same_v<output_shape_t<ConvTranspose2d<2, 3, 2, 3, 0, 2>, Shape<2, 4, 3>>, Shape<3, 13, 10>>);
}
