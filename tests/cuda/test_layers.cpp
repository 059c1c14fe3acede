// Every layer's forward on the GPU against PyTorch's (the reference cases of
// tests/test_layers_forward.cpp), and its forward and backward against the CPU backend, with the
// same parameters and inputs: evaluation and training forwards (their memory
// plans differ), a replayed CUDA graph on a new input, and in training the parameter gradients,
// the input gradient and the running statistics. TF32 is off, so float results differ from the
// CPU's only by the order of additions.

#include "support/device.hpp"   // skips without a device; ctnn::test::BothBackends

#include "../support/layer_cases.hpp"   // ctnn::test::all_layer_cases

#include <doctest/doctest.h>   // TEST_CASE, CHECK, CAPTURE

#include <cstddef>   // std::size_t
#include <ratio>     // std::ratio
#include <string>    // std::string
#include <vector>    // std::vector

#include <ctnn/models/mobilenet_v2.hpp>   // ctnn::torchvision::InvertedResidual

using namespace ctnn;

namespace {

template <class T>
std::vector<T> copy(std::span<const T> values) {
  return std::vector<T>(values.begin(), values.end());
}

struct Tolerance {
  double forward = 1e-5;
  double backward = 1e-4;
};

// Each parameter tensor's gradient, GPU against CPU, relative to its own scale (a bias gradient
// is often far smaller than its weight's: in one vector a wrong bias would hide). Returns the
// worst error.
template <class Net, ShapeType In, class T>
double check_parameter_gradients(const test::BothBackends<Net, In, T>& both, double tolerance) {
  double worst = 0;
  for (const NamedTensor& t : named_tensors<Net, In>()) {
    if (t.role != TensorRole::parameter) continue;
    CAPTURE(t.name);
    const double e = test::relative_error(both.gpu.gradients().subspan(t.offset, t.count),
                                          both.cpu.gradients().subspan(t.offset, t.count));
    CHECK(e <= tolerance);
    worst = test::worse(worst, e);
  }
  return worst;
}

// Net fed `batch` images of In on both backends; see the file comment for what is compared.
template <class Net, ShapeType In, class T = float>
void check_layer(const std::string& name, std::size_t batch, Tolerance tolerance = {}) {
  CAPTURE(name);
  using Out = output_shape_t<Net, In>;
  test::BothBackends<Net, In, T> both(11);
  const std::vector<T> x = test::uniform_values<T>(batch * In::size, 1);
  const std::vector<T> x2 = test::uniform_values<T>(batch * In::size, 2);

  // Evaluation: the first forward runs directly, the second is captured, the third replays.
  both.train(false);
  const std::vector<T> eval_cpu = copy(both.cpu.forward(x));
  const std::vector<T> eval_gpu = copy(both.gpu.forward(x));
  CHECK(test::relative_error(eval_gpu, eval_cpu) <= tolerance.forward);
  both.gpu.forward(x);
  const std::vector<T> replay_gpu = copy(both.gpu.forward(x2));
  CHECK(both.gpu.replayed_graph());
  CHECK(both.gpu.graph_error() == "");
  CHECK(test::relative_error(replay_gpu, copy(both.cpu.forward(x2))) <= tolerance.forward);

  // Training: forward, then backward of a fixed output gradient.
  both.cpu.compute_input_gradient(true);
  both.gpu.compute_input_gradient(true);
  both.cpu.disable_dropout(true);
  both.gpu.disable_dropout(true);
  both.train(true);
  const std::vector<T> train_cpu = copy(both.cpu.forward(x));
  const std::vector<T> train_gpu = copy(both.gpu.forward(x));
  CHECK(test::relative_error(train_gpu, train_cpu) <= tolerance.forward);
  const std::vector<T> dy = test::uniform_values<T>(batch * Out::size, 3);
  both.cpu.backward(dy);
  both.gpu.backward(dy);
  CHECK(test::relative_error(copy(both.gpu.input_gradient()), copy(both.cpu.input_gradient())) <= tolerance.backward);
  if constexpr (Net::parameter_count > 0)
    MESSAGE(name << ": parameter gradients, worst tensor's rel. max error "
                 << check_parameter_gradients(both, tolerance.backward));
  if constexpr (Net::buffer_count > 0)
    CHECK(test::relative_error(copy(std::as_const(both.gpu).buffers()), copy(std::as_const(both.cpu).buffers())) <=
          tolerance.forward);
}

constexpr Tolerance exact{1e-7, 1e-7};      // no products: the same additions in the same order
constexpr Tolerance in_double{1e-12, 1e-11};

const test::ReferenceFile& layers_file() { return test::ReferenceFile::open("reference/layers.safetensors"); }

// The layer on the GPU, given PyTorch's parameters and input of the case `name` in
// tests/data/reference/layers.safetensors (tools/make_reference_data.py), gives PyTorch's output
// in evaluation and in training (dropout off). The CPU passes the same comparison
// (tests/test_layers_forward.cpp), so a geometry bug the two backends share shows here too.
template <class Net, ShapeType In>
void check_against_pytorch(const std::string& name) {
  CAPTURE(name);
  Model<Net, In, float, Cuda> model;
  model.allow_tf32(false);
  model.disable_dropout(true);
  test::load_parameters(model, layers_file(), name + ".");
  const std::vector<float> input = test::read_tensor(layers_file(), name + ".input");
  const std::vector<float> expected = test::read_tensor(layers_file(), name + ".output");
  for (const bool training : {false, true}) {
    CAPTURE(training);
    model.train(training);
    // This file's forward bound against the CPU: cuDNN may sum in another order or by another
    // algorithm than the CPU, which is within 2e-6 of PyTorch (tests/test_layers_forward.cpp).
    CHECK(test::relative_error(copy(model.forward(input)), expected) <= Tolerance{}.forward);
  }
}

}  // namespace

TEST_CASE("every PyTorch layer case gives PyTorch's output on the GPU too") {
  // tests/support/layer_cases.hpp: each configuration this file runs, in its shapes, and the
  // non-square pooling cases. BatchNorm's case is evaluation mode only (running statistics);
  // cuda.test_googlenet compares torchvision's network, batch norms included, with PyTorch.
  test::all_layer_cases([]<class Net, ShapeType In>(const std::string& name) { check_against_pytorch<Net, In>(name); });
}

TEST_CASE("Conv forward, backward-data and backward-filter through cuDNN match the CPU") {
  check_layer<Conv<4, 6, 3, 1, 1>, Shape<4, 9, 9>>("conv_k3_s1_p1", 3);
  check_layer<Conv<3, 5, 7, 2, 3>, Shape<3, 17, 17>>("conv_k7_s2_p3", 2);
  check_layer<Conv<8, 4, 1>, Shape<8, 5, 5>>("conv_k1", 4);
  check_layer<Conv<3, 4, 5, 3, 2>, Shape<3, 11, 13>>("conv_k5_s3_p2", 2);
  check_layer<Conv<6, 5, 3, 1, 1, false>, Shape<6, 7, 7>>("conv_no_bias", 3);
  check_layer<Conv<4, 6, 3, 1, 1>, Shape<4, 9, 9>, double>("conv_k3_double", 3, in_double);
}

TEST_CASE("ReLU, Flatten, Dropout (switched off) and TransformInput match the CPU") {
  check_layer<ReLU, Shape<3, 5, 5>>("relu", 3, exact);
  check_layer<Flatten, Shape<3, 4, 4>>("flatten", 2, exact);
  check_layer<Sequential<Conv<2, 3, 3>, Dropout<40>>, Shape<2, 6, 6>>("dropout_disabled", 2);
  check_layer<TransformInput, Shape<3, 8, 8>>("transform_input", 2, exact);
}

TEST_CASE("MaxPool matches the CPU, ceil mode included (ctnn's kernels, not cuDNN)") {
  check_layer<MaxPool<3, 2, 0, Rounding::ceil>, Shape<3, 14, 14>>("maxpool_k3_s2_ceil", 2, exact);
  check_layer<MaxPool<3, 2, 0, Rounding::ceil>, Shape<2, 13, 13>>("maxpool_k3_s2_ceil_odd", 2, exact);
  check_layer<MaxPool<3, 1, 1>, Shape<3, 7, 7>>("maxpool_k3_s1_p1", 2, exact);
  check_layer<MaxPool<3, 2, 1, Rounding::ceil>, Shape<2, 6, 6>>("maxpool_k3_s2_p1_ceil", 2, exact);
  check_layer<MaxPool<2, 2, 1, Rounding::ceil>, Shape<2, 5, 5>>("maxpool_k2_s2_p1_ceil_drop", 2, exact);
  check_layer<MaxPool<3, 1, 1, Rounding::ceil>, Shape<2, 7, 7>>("maxpool_torchvision_branch", 2, exact);
}

TEST_CASE("AvgPool and AdaptiveAvgPool match the CPU") {
  check_layer<AvgPool<5, 3>, Shape<4, 14, 14>>("avgpool_aux", 2, exact);
  check_layer<AvgPool<3, 2, 1, Rounding::ceil>, Shape<2, 7, 7>>("avgpool_k3_s2_p1_ceil", 2, exact);
  check_layer<AvgPool<2, 2, 1, Rounding::ceil>, Shape<2, 5, 5>>("avgpool_k2_s2_p1_ceil", 2, exact);
  check_layer<AdaptiveAvgPool<1>, Shape<8, 7, 7>>("adaptive_1", 3, exact);
  check_layer<AdaptiveAvgPool<4, 4>, Shape<3, 14, 14>>("adaptive_4_from_14", 2, exact);
  check_layer<AdaptiveAvgPool<3, 2>, Shape<2, 7, 5>>("adaptive_3x2", 2, exact);
}

TEST_CASE("Linear through cuBLAS matches the CPU, also behind strided scratch slots") {
  check_layer<Linear<12, 7>, Features<12>>("linear", 5);
  check_layer<Sequential<Conv<2, 3, 3, 1, 1>, ReLU, Flatten, Linear<75, 4>>, Shape<2, 5, 5>>("conv_flatten_linear", 3);
  check_layer<Linear<12, 7>, Features<12>, double>("linear_double", 5, in_double);
}

TEST_CASE("BasicConv2d (fused convolution + bias + ReLU in evaluation) and Inception (channel slices) match the CPU") {
  check_layer<BasicConv2d<4, 6, 3, 1, 1>, Shape<4, 9, 9>>("basic_conv", 3);
  check_layer<Inception<16, 4, 3, 5, 2, 3, 2>, Shape<16, 9, 9>>("inception", 2);
  check_layer<Inception<16, 4, 3, 5, 2, 3, 2>, Shape<16, 9, 9>, double>("inception_double", 2, in_double);
}

TEST_CASE("Sum and Residual (the generic composites, with cuDNN layers inside) match the CPU") {
  using Body = Sequential<Conv<4, 4, 3, 1, 1>, ReLU, Conv<4, 4, 3, 1, 1>>;
  check_layer<Residual<Body>, Shape<4, 7, 7>>("residual_identity", 3);
  check_layer<Sequential<Residual<Sequential<Conv<4, 6, 3, 2, 1>, ReLU>, Conv<4, 6, 1, 2>>, ReLU>, Shape<4, 8, 8>>(
      "residual_downsample", 2);
  check_layer<Sum<Conv<4, 4, 1>, Sequential<Conv<4, 4, 3, 1, 1>, ReLU>, MaxPool<3, 1, 1>, Identity>, Shape<4, 6, 6>>(
      "sum_of_branches", 2);
  check_layer<Residual<Body>, Shape<4, 7, 7>, double>("residual_double", 2, in_double);
}

TEST_CASE("BatchNorm through cuDNN, and torchvision's Inception with it, match the CPU") {
  check_layer<BatchNorm<6, std::ratio<1, 1000>>, Shape<6, 5, 5>>("batchnorm", 4, {1e-5, 1e-4});
  check_layer<torchvision::Inception<8, 4, 3, 5, 2, 3, 2>, Shape<8, 9, 9>>("torchvision_inception", 3, {1e-5, 2e-4});
}

TEST_CASE("parameter gradients accumulate across backward passes when asked, as on the CPU") {
  using Net = Inception<16, 4, 3, 5, 2, 3, 2>;
  using In = Shape<16, 9, 9>;
  test::BothBackends<Net, In> both(5);
  both.train(true);
  both.cpu.accumulate_gradients(true);
  both.gpu.accumulate_gradients(true);
  const auto x = test::uniform_values(2 * In::size, 1);
  const auto dy = test::uniform_values(2 * output_shape_t<Net, In>::size, 2);
  for (int pass = 0; pass < 2; ++pass) {
    both.cpu.forward(x);
    both.gpu.forward(x);
    both.cpu.backward(dy);
    both.gpu.backward(dy);
  }
  check_parameter_gradients(both, 1e-4);
}

TEST_CASE("a frozen prefix gets no gradients on the GPU either") {
  using Net = Sequential<Named<"a", BasicConv2d<3, 4, 3, 1, 1>>, Named<"b", BasicConv2d<4, 5, 3, 1, 1>>>;
  using In = Shape<3, 8, 8>;
  test::BothBackends<Net, In> both(6);
  const std::size_t frozen = freeze_up_to(both.cpu, "a");
  CHECK(freeze_up_to(both.gpu, "a") == frozen);
  both.train(true);
  const auto x = test::uniform_values(2 * In::size, 1);
  const auto dy = test::uniform_values(2 * output_shape_t<Net, In>::size, 2);
  both.cpu.forward(x);
  both.gpu.forward(x);
  both.cpu.backward(dy);
  both.gpu.backward(dy);
  const auto gpu = copy(std::as_const(both.gpu).gradients());
  for (std::size_t i = 0; i < frozen; ++i) REQUIRE(gpu[i] == 0.0f);
  check_parameter_gradients(both, 1e-4);
}

TEST_CASE("a recorded layer's output matches the CPU's, also from a replayed graph") {
  using Net = Inception<16, 4, 3, 5, 2, 3, 2>;
  using In = Shape<16, 9, 9>;
  test::BothBackends<Net, In> both(7);
  both.cpu.record_output_of("branch2");
  both.gpu.record_output_of("branch2");
  const auto x = test::uniform_values(2 * In::size, 1);
  both.cpu.forward(x);
  const auto expected = copy(both.cpu.recorded_output());
  for (int pass = 0; pass < 3; ++pass) {
    both.gpu.forward(x);
    CAPTURE(pass);
    CHECK(test::relative_error(copy(both.gpu.recorded_output()), expected) <= 1e-5);
  }
  CHECK(both.gpu.replayed_graph());
}

TEST_CASE("Dropout in training drops about p of the elements, scales the rest, and backward uses the same mask") {
  using Net = Dropout<40>;
  using In = Shape<4, 32, 32>;
  Model<Net, In, float, Cuda> model;
  model.train();
  model.compute_input_gradient(true);
  model.seed(123);
  const std::vector<float> x(8 * In::size, 1.0f);
  const std::vector<float> y = copy(model.forward(x));
  std::size_t dropped = 0;
  for (float v : y) {
    if (v == 0.0f)
      ++dropped;
    else
      REQUIRE(v == doctest::Approx(1.0 / 0.6).epsilon(1e-6));
  }
  const double fraction = static_cast<double>(dropped) / static_cast<double>(y.size());
  MESSAGE("dropped fraction " << fraction);
  CHECK(fraction == doctest::Approx(0.4).epsilon(0.05));
  // dL/dx = dL/dy * mask: with dy = 1 the input gradient is the output itself, also when dropout
  // is switched off between the forward and the backward (backward follows the forward).
  model.disable_dropout(true);
  model.backward(std::vector<float>(y.size(), 1.0f));
  CHECK(test::relative_error(copy(model.input_gradient()), y) <= 1e-7);
  model.disable_dropout(false);
  // Evaluation never drops.
  model.eval();
  CHECK(test::relative_error(copy(model.forward(x)), x) == 0.0);
}

// ---- grouped and depthwise convolution, ReLU6 (MobileNetV2's layers) -------------------------

TEST_CASE("grouped and depthwise Conv through cuDNN (cudnnSetConvolutionGroupCount) match the CPU") {
  check_layer<Conv<4, 6, 3, 1, 1, true, 2>, Shape<4, 9, 9>>("conv_groups2", 3);
  check_layer<Conv<6, 9, 1, 1, 0, false, 3>, Shape<6, 5, 5>>("conv_groups3_k1", 2);
  check_layer<DepthwiseConv<8, 3, 1, 1>, Shape<8, 9, 9>>("conv_depthwise", 3);
  check_layer<DepthwiseConv<8, 3, 2, 1, false>, Shape<8, 10, 10>>("conv_depthwise_s2", 2);
  check_layer<Conv<3, 6, 3, 1, 0, true, 3>, Shape<3, 7, 7>>("conv_depthwise_multiplier2", 2);
  check_layer<DepthwiseConv<4, 3, 1, 1>, Shape<4, 7, 7>, double>("conv_depthwise_double", 2, in_double);
  // Fused with a ReLU in evaluation, as BasicConv2d's body is.
  check_layer<Sequential<Conv<4, 6, 3, 1, 1, true, 2>, ReLU>, Shape<4, 8, 8>>("conv_groups2_relu", 2);
  // MobileNetV2's block: expand, depthwise, project, batch norms, the identity added.
  check_layer<torchvision::InvertedResidual<8, 8, 1, 6>, Shape<8, 7, 7>>("inverted_residual", 3, {1e-5, 2e-4});
}

TEST_CASE("ReLU6 through cuDNN's clipped ReLU matches the CPU on both sides of 0 and 6") {
  check_layer<ReLU6, Shape<3, 5, 5>>("relu6", 3, exact);
  using In = Shape<3, 6, 6>;
  test::BothBackends<ReLU6, In> both(1);
  both.cpu.compute_input_gradient(true);
  both.gpu.compute_input_gradient(true);
  both.train(true);
  const std::vector<float> x = test::uniform_values<float>(2 * In::size, 4, -3.0, 9.0);
  CHECK(test::relative_error(copy(both.gpu.forward(x)), copy(both.cpu.forward(x))) == 0.0);
  const std::vector<float> dy = test::uniform_values<float>(2 * In::size, 5);
  both.cpu.backward(dy);
  both.gpu.backward(dy);
  CHECK(test::relative_error(copy(both.gpu.input_gradient()), copy(both.cpu.input_gradient())) == 0.0);
}

// ---- Activations, softmax, upsampling and transposed convolution ------------------------------

namespace {
// The element-wise activations and Upsample run the CPU's own source text (ctnn/rules/): the
// results differ only where one compiler contracts a product and a sum and the other does not,
// or where the device's exp and tanh round differently from the host's.
constexpr Tolerance same_text{1e-6, 1e-6};
using Bilinear2 = Upsample<2, UpsampleMode::bilinear>;
}  // namespace

TEST_CASE("Identity, Sigmoid, Tanh, SiLU, Hardswish and LeakyReLU match the CPU, alone and in place in a chain") {
  check_layer<Identity, Shape<3, 5, 5>>("identity", 2, exact);
  check_layer<Sigmoid, Shape<3, 5, 5>>("sigmoid", 3, same_text);
  check_layer<Tanh, Shape<3, 5, 5>>("tanh", 3, same_text);
  check_layer<SiLU, Shape<3, 5, 5>>("silu", 3, same_text);
  // The sum of four identities takes the inputs to [-4, 4), past Hardswish's -3 and 3.
  check_layer<Sequential<Sum<Identity, Identity, Identity, Identity>, Hardswish>, Shape<3, 5, 5>>("hardswish", 3,
                                                                                                 same_text);
  check_layer<LeakyReLU<>, Shape<3, 5, 5>>("leaky_relu", 3, exact);
  check_layer<LeakyReLU<std::ratio<-1, 2>>, Shape<3, 5, 5>>("leaky_relu_negative", 3, exact);
  using Chain = Sequential<Conv<3, 4, 3, 1, 1>, Sigmoid, Conv<4, 4, 1>, Tanh, LeakyReLU<std::ratio<1, 5>>,
                           Conv<4, 6, 1>, SiLU, Conv<6, 6, 1>, Hardswish>;
  check_layer<Chain, Shape<3, 7, 7>>("activation_chain", 2);
  check_layer<Chain, Shape<3, 7, 7>, double>("activation_chain_double", 2, in_double);
}

TEST_CASE("Softmax through cuDNN matches the CPU on feature vectors and per pixel") {
  check_layer<Softmax, Features<10>>("softmax_features", 4);
  check_layer<Sequential<Conv<3, 5, 1>, Softmax>, Shape<3, 6, 4>>("softmax_pixels", 2);
  check_layer<Softmax, Shape<5, 4, 3>, double>("softmax_double", 2, in_double);
}

TEST_CASE("Upsample, nearest and bilinear, matches the CPU (the same gather in both)") {
  check_layer<Upsample<2>, Shape<3, 4, 5>>("upsample_nearest_2", 2, exact);
  check_layer<Upsample<3>, Shape<2, 3, 4>>("upsample_nearest_3", 2, exact);
  check_layer<Bilinear2, Shape<3, 4, 5>>("upsample_bilinear_2", 2, same_text);
  check_layer<Upsample<3, UpsampleMode::bilinear>, Shape<2, 5, 3>>("upsample_bilinear_3", 2, same_text);
  check_layer<Bilinear2, Shape<2, 4, 3>, double>("upsample_bilinear_double", 2, in_double);
}

TEST_CASE("ConvTranspose2d through cuDNN's backward-data, backward-filter and forward matches the CPU") {
  check_layer<ConvTranspose2d<4, 3, 3, 2, 1, 1>, Shape<4, 5, 5>>("conv_transpose_k3_s2_p1_op1", 3);
  check_layer<ConvTranspose2d<3, 5, 4, 2, 1>, Shape<3, 6, 7>>("conv_transpose_k4_s2_p1", 2);
  check_layer<ConvTranspose2d<6, 4, 1>, Shape<6, 4, 4>>("conv_transpose_k1", 2);
  check_layer<ConvTranspose2d<3, 4, 3, 1, 0, 0, false>, Shape<3, 5, 5>>("conv_transpose_no_bias", 2);
  check_layer<ConvTranspose2d<2, 3, 2, 3, 0, 2>, Shape<2, 4, 3>>("conv_transpose_k2_s3_op2", 2);
  check_layer<ConvTranspose2d<4, 3, 3, 2, 1, 1>, Shape<4, 5, 5>, double>("conv_transpose_double", 2, in_double);
}

TEST_CASE("a segmentation head and a Sum of the new layers (later branches add into dx) match the CPU") {
  using Head = Sequential<Conv<3, 8, 3, 2, 1>, ReLU, ConvTranspose2d<8, 4, 4, 2, 1>, Bilinear2, Conv<4, 3, 1>, Softmax>;
  check_layer<Head, Shape<3, 8, 8>>("segmentation_head", 2);
  using Branches = Sum<SiLU, ConvTranspose2d<3, 3, 3, 1, 1>, Sequential<Upsample<2>, Conv<3, 3, 2, 2>>,
                       Sequential<Bilinear2, Conv<3, 3, 2, 2>>, Softmax, LeakyReLU<std::ratio<-1, 2>>, Tanh>;
  check_layer<Branches, Shape<3, 4, 4>>("sum_of_new_layers", 2);
  check_layer<Branches, Shape<3, 4, 4>, double>("sum_of_new_layers_double", 2, in_double);
}
