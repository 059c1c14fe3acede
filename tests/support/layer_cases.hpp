#pragma once
// Test support: the per-layer PyTorch cases of tests/data/reference/layers.safetensors
// (tools/make_reference_data.py), as (layer type, input shape, case name). The CPU
// (tests/test_layers_forward.cpp), the GPU (tests/cuda/test_layers.cpp) and oneDNN
// (tests/test_onednn.cpp) run each of them.
//
// A group calls check.template operator()<Layer, InputShape>("case name") for each case; the case
// holds "<name>.input", the layer's parameters under "<name>.<PyTorch name>", and "<name>.output",
// computed by PyTorch in evaluation mode. (InceptionAux and BatchNorm, whose cases need special
// loading, are tested on their own.)

#include <ratio>   // std::ratio

#include <ctnn/ctnn.hpp>   // the layers, ctnn::Shape, ctnn::Features

namespace ctnn::test {

template <class Check>
void conv_cases(Check&& check) {
  check.template operator()<Conv<4, 6, 3, 1, 1>, Shape<4, 9, 9>>("conv_k3_s1_p1");
  check.template operator()<Conv<3, 5, 7, 2, 3>, Shape<3, 17, 17>>("conv_k7_s2_p3");
  check.template operator()<Conv<8, 4, 1>, Shape<8, 5, 5>>("conv_k1");
  check.template operator()<Conv<3, 4, 5, 3, 2>, Shape<3, 11, 13>>("conv_k5_s3_p2");
  check.template operator()<Conv<6, 5, 3, 1, 1, false>, Shape<6, 7, 7>>("conv_no_bias");
}

template <class Check>
void elementwise_and_linear_cases(Check&& check) {
  check.template operator()<ReLU, Shape<3, 5, 5>>("relu");
  check.template operator()<Flatten, Shape<3, 4, 4>>("flatten");
  check.template operator()<TransformInput, Shape<3, 8, 8>>("transform_input");
  check.template operator()<Linear<12, 7>, Features<12>>("linear");
}

template <class Check>
void max_pool_cases(Check&& check) {
  check.template operator()<MaxPool<3, 2, 0, Rounding::ceil>, Shape<3, 14, 14>>("maxpool_k3_s2_ceil");
  check.template operator()<MaxPool<3, 2, 0, Rounding::ceil>, Shape<2, 13, 13>>("maxpool_k3_s2_ceil_odd");
  check.template operator()<MaxPool<3, 1, 1>, Shape<3, 7, 7>>("maxpool_k3_s1_p1");
  check.template operator()<MaxPool<3, 2, 1, Rounding::ceil>, Shape<2, 6, 6>>("maxpool_k3_s2_p1_ceil");
  // Ceil mode alone would give 4 outputs; the 4th window would start in the right padding.
  check.template operator()<MaxPool<2, 2, 1, Rounding::ceil>, Shape<2, 5, 5>>("maxpool_k2_s2_p1_ceil_drop");
  check.template operator()<MaxPool<2, 2, 0, Rounding::ceil>, Shape<2, 7, 7>>("maxpool_k2_s2_ceil");
  check.template operator()<MaxPool<3, 1, 1, Rounding::ceil>, Shape<2, 7, 7>>("maxpool_k3_s1_p1_ceil");
}

template <class Check>
void average_pool_cases(Check&& check) {
  check.template operator()<AvgPool<5, 3>, Shape<4, 14, 14>>("avgpool_k5_s3");
  check.template operator()<AvgPool<3, 2, 1, Rounding::ceil>, Shape<2, 6, 6>>("avgpool_k3_s2_p1_ceil");
  check.template operator()<AvgPool<3, 2, 1, Rounding::ceil>, Shape<2, 7, 7>>("avgpool_k3_s2_p1_ceil_7x7");
  check.template operator()<AvgPool<2, 2, 1, Rounding::ceil>, Shape<2, 5, 5>>("avgpool_k2_s2_p1_ceil_drop");
  check.template operator()<AdaptiveAvgPool<1>, Shape<5, 7, 7>>("adaptive_avgpool_1x1");
  check.template operator()<AdaptiveAvgPool<4>, Shape<3, 14, 14>>("adaptive_avgpool_4x4");
  check.template operator()<AdaptiveAvgPool<4>, Shape<3, 10, 10>>("adaptive_avgpool_4x4_uneven");
}

// Each non-square input is chosen so that the two axes follow different rules: a height/width
// swap in a kernel's index arithmetic changes the output.
template <class Check>
void non_square_pool_cases(Check&& check) {
  check.template operator()<MaxPool<3, 2, 0, Rounding::ceil>, Shape<3, 13, 10>>("maxpool_k3_s2_ceil_13x10");
  check.template operator()<MaxPool<2, 2, 1, Rounding::ceil>, Shape<2, 5, 6>>("maxpool_k2_s2_p1_ceil_5x6");
  check.template operator()<MaxPool<3, 1, 1>, Shape<2, 5, 8>>("maxpool_k3_s1_p1_5x8");
  check.template operator()<AvgPool<3, 2, 1, Rounding::ceil>, Shape<2, 7, 10>>("avgpool_k3_s2_p1_ceil_7x10");
  check.template operator()<AvgPool<2, 2, 1, Rounding::ceil>, Shape<2, 5, 6>>("avgpool_k2_s2_p1_ceil_5x6");
  check.template operator()<AvgPool<5, 3>, Shape<4, 14, 11>>("avgpool_k5_s3_14x11");
  check.template operator()<AdaptiveAvgPool<4>, Shape<3, 10, 13>>("adaptive_avgpool_4x4_10x13");
  check.template operator()<AdaptiveAvgPool<3, 2>, Shape<2, 7, 5>>("adaptive_avgpool_3x2_7x5");
}

template <class Check>
void composite_cases(Check&& check) {
  check.template operator()<Sequential<Conv<2, 3, 3>, Dropout<40>>, Shape<2, 6, 6>>("conv_dropout");
  check.template operator()<Sequential<Conv<2, 3, 3, 1, 1>, ReLU, Flatten, Linear<75, 4>>, Shape<2, 5, 5>>(
      "conv_flatten_linear");
  check.template operator()<BasicConv2d<4, 6, 3, 1, 1>, Shape<4, 8, 8>>("basic_conv");
  check.template operator()<Inception<8, 4, 3, 5, 2, 3, 2>, Shape<8, 9, 9>>("inception");
  check.template operator()<Inception<16, 4, 3, 5, 2, 3, 2>, Shape<16, 9, 9>>("inception_16");
}

// Grouped and depthwise convolution, and ReLU6 (MobileNetV2's layers), also in layers.safetensors.
template <class Check>
void grouped_conv_cases(Check&& check) {
  check.template operator()<Conv<4, 6, 3, 1, 1, true, 2>, Shape<4, 9, 9>>("conv_groups2");
  check.template operator()<Conv<6, 9, 1, 1, 0, true, 3>, Shape<6, 5, 5>>("conv_groups3_k1");
  check.template operator()<DepthwiseConv<5, 3, 1, 1>, Shape<5, 8, 8>>("conv_depthwise_k3_s1_p1");
  check.template operator()<DepthwiseConv<4, 3, 2, 1, false>, Shape<4, 9, 9>>("conv_depthwise_k3_s2_p1_no_bias");
  check.template operator()<DepthwiseConv<3, 5, 3, 2>, Shape<3, 11, 13>>("conv_depthwise_k5_s3_p2");
  // A channel multiplier of 2: grouped, but not depthwise (the im2col path).
  check.template operator()<Conv<3, 6, 3, 1, 0, true, 3>, Shape<3, 7, 7>>("conv_depthwise_multiplier2");
  check.template operator()<ReLU6, Shape<3, 5, 5>>("relu6");
}

// The cases of tests/data/reference/activations_upsampling.safetensors (not layers.safetensors):
// the activations, Softmax, Upsample and ConvTranspose2d.
template <class Check>
void activation_upsampling_cases(Check&& check) {
  check.template operator()<Identity, Shape<3, 4, 4>>("identity");
  check.template operator()<Sigmoid, Shape<3, 5, 5>>("sigmoid");
  check.template operator()<Tanh, Shape<3, 5, 5>>("tanh");
  check.template operator()<SiLU, Shape<3, 5, 5>>("silu");
  check.template operator()<Hardswish, Shape<3, 5, 5>>("hardswish");
  check.template operator()<LeakyReLU<>, Shape<3, 5, 5>>("leaky_relu");
  check.template operator()<LeakyReLU<std::ratio<1, 5>>, Shape<3, 5, 5>>("leaky_relu_0_2");
  check.template operator()<LeakyReLU<std::ratio<-1, 2>>, Shape<3, 5, 5>>("leaky_relu_negative");
  check.template operator()<Softmax, Features<10>>("softmax_features");
  check.template operator()<Softmax, Shape<5, 4, 3>>("softmax_pixels");
  check.template operator()<Upsample<2>, Shape<3, 4, 5>>("upsample_nearest_2");
  check.template operator()<Upsample<3>, Shape<2, 3, 4>>("upsample_nearest_3");
  check.template operator()<Upsample<2, UpsampleMode::bilinear>, Shape<3, 4, 5>>("upsample_bilinear_2");
  check.template operator()<Upsample<3, UpsampleMode::bilinear>, Shape<2, 5, 3>>("upsample_bilinear_3");
  check.template operator()<ConvTranspose2d<4, 3, 3, 2, 1, 1>, Shape<4, 5, 5>>("conv_transpose_k3_s2_p1_op1");
  check.template operator()<ConvTranspose2d<3, 5, 4, 2, 1>, Shape<3, 6, 7>>("conv_transpose_k4_s2_p1");
  check.template operator()<ConvTranspose2d<6, 4, 1>, Shape<6, 4, 4>>("conv_transpose_k1");
  check.template operator()<ConvTranspose2d<3, 4, 3, 1, 0, 0, false>, Shape<3, 5, 5>>("conv_transpose_k3_no_bias");
  check.template operator()<ConvTranspose2d<2, 3, 2, 3, 0, 2>, Shape<2, 4, 3>>("conv_transpose_k2_s3_op2");
  check.template operator()<ConvTranspose2d<2, 3, 3, 2, 2>, Shape<2, 5, 5>>("conv_transpose_k3_s2_p2");
}

// Every case of layers.safetensors above except grouped_conv_cases (the GPU test runs those on its own).
template <class Check>
void all_layer_cases(Check&& check) {
  conv_cases(check);
  elementwise_and_linear_cases(check);
  max_pool_cases(check);
  average_pool_cases(check);
  non_square_pool_cases(check);
  composite_cases(check);
}

}  // namespace ctnn::test
