#pragma once
// Compile-time checks whose names read as the sentence the compiler reports.
//
// C++20 static_assert messages cannot contain numbers, so each check is a class template whose
// name is the sentence and whose arguments are the numbers, in the order the sentence names them.
// g++ then reports, for a GoogLeNet whose 4a block was declared for 480 channels but fed 512:
//   In instantiation of 'struct ctnn::diagnostic::Conv_receives_channels_but_was_declared_with_In<512, 480>'
//   error: static assertion failed: Conv<In, Out, K, S, P>: receives a channel count that differs from In
//   note: the comparison reduces to '(512 == 480)'
// Each check is evaluated once per layer and the layer's output shape never depends on a failed
// check, so one mistake produces one error. A check of the template arguments alone sits in the
// layer's body as static_assert(diagnostic::...::ok): the failed assertion is inside the check,
// so the layer itself stays valid and its later uses add no error of their own (clang reports
// each use of a class whose own static_assert failed).

#include <cstddef>   // std::size_t
#include <cstdint>   // std::intmax_t (std::ratio's numerator and denominator)

namespace ctnn::diagnostic {

// ---- checks of the template arguments, in the layer's body ----------------------------------

template <std::size_t In, std::size_t Out, std::size_t K, std::size_t S>
struct Conv_In_Out_K_and_S_must_be_positive {
  static_assert(In > 0 && Out > 0 && K > 0 && S > 0, "Conv<In, Out, K, S, P>: In, Out, K and S must be positive");
  static constexpr bool ok = true;
};

template <std::size_t In, std::size_t Out>
struct Linear_In_and_Out_must_be_positive {
  static_assert(In > 0 && Out > 0, "Linear<In, Out>: In and Out must be positive");
  static constexpr bool ok = true;
};

template <std::size_t K, std::size_t S>
struct Pool_K_and_S_must_be_positive {
  static_assert(K > 0 && S > 0, "MaxPool/AvgPool<K, S, P>: K and S must be positive");
  static constexpr bool ok = true;
};

template <std::size_t OH, std::size_t OW>
struct AdaptiveAvgPool_output_size_must_be_positive {
  static_assert(OH > 0 && OW > 0, "AdaptiveAvgPool<OH, OW>: the output size must be positive");
  static constexpr bool ok = true;
};

template <std::size_t C>
struct BatchNorm_C_must_be_positive {
  static_assert(C > 0, "BatchNorm<C>: C must be positive");
  static constexpr bool ok = true;
};

template <std::intmax_t eps_numerator, std::intmax_t eps_denominator>
struct BatchNorm_Eps_must_be_positive {
  static_assert(eps_numerator > 0, "BatchNorm<C, Eps>: Eps must be positive");
  static constexpr bool ok = true;
};

template <std::intmax_t momentum_numerator, std::intmax_t momentum_denominator>
struct BatchNorm_Momentum_must_lie_in_0_to_1 {
  static_assert(momentum_numerator >= 0 && momentum_numerator <= momentum_denominator,
                "BatchNorm<C, Eps, Momentum>: Momentum must lie in [0, 1]");
  static constexpr bool ok = true;
};

template <std::size_t branch_count>
struct Concat_needs_at_least_one_branch {
  static_assert(branch_count > 0, "Concat<B...>: needs at least one branch");
  static constexpr bool ok = true;
};

template <std::size_t branch_count>
struct Sum_needs_at_least_one_branch {
  static_assert(branch_count > 0, "Sum<B...>: needs at least one branch");
  static constexpr bool ok = true;
};

template <std::size_t layer_count>
struct Sequential_needs_at_least_one_layer {
  static_assert(layer_count > 0, "Sequential<L...>: needs at least one layer");
  static constexpr bool ok = true;
};

// ---- checks of the input shape, in output_shape's requires-clause ---------------------------

template <std::size_t received_channels, std::size_t declared_In>
struct Conv_receives_channels_but_was_declared_with_In {
  static_assert(received_channels == declared_In,
                "Conv<In, Out, K, S, P>: receives a channel count that differs from In "
                "(this check's arguments are <received, declared In>)");
  static constexpr bool ok = true;
};

template <std::size_t kernel, std::size_t padded_input_height, std::size_t padded_input_width>
struct Conv_kernel_is_larger_than_its_padded_input_of_height_and_width {
  static_assert(kernel <= padded_input_height && kernel <= padded_input_width,
                "Conv<In, Out, K, S, P>: the kernel K does not fit the padded input H + 2P x W + 2P "
                "(this check's arguments are <K, H + 2P, W + 2P>)");
  static constexpr bool ok = true;
};

template <std::size_t groups, std::size_t declared_In, std::size_t declared_Out>
struct Conv_groups_must_divide_both_In_and_Out {
  static_assert(groups > 0 && declared_In % groups == 0 && declared_Out % groups == 0,
                "Conv<In, Out, K, S, P, Bias, Groups>: Groups must be positive and divide both In and Out, "
                "as nn.Conv2d requires (this check's arguments are <Groups, In, Out>)");
  static constexpr bool ok = true;
};

template <std::size_t kernel, std::size_t padded_input_height, std::size_t padded_input_width>
struct Pool_window_is_larger_than_its_padded_input_of_height_and_width {
  static_assert(kernel <= padded_input_height && kernel <= padded_input_width,
                "MaxPool/AvgPool<K, S, P>: the window K does not fit the padded input H + 2P x W + 2P "
                "(this check's arguments are <K, H + 2P, W + 2P>)");
  static constexpr bool ok = true;
};

template <std::size_t padding, std::size_t kernel>
struct Pool_padding_exceeds_half_its_window {
  static_assert(2 * padding <= kernel,
                "MaxPool/AvgPool<K, S, P>: padding P must be at most half the window K, as in PyTorch "
                "(this check's arguments are <P, K>)");
  static constexpr bool ok = true;
};

template <std::size_t received_features, std::size_t declared_In>
struct Linear_receives_features_but_was_declared_with_In {
  static_assert(received_features == declared_In,
                "Linear<In, Out>: receives a flattened feature count that differs from In "
                "(this check's arguments are <received C*H*W, declared In>)");
  static constexpr bool ok = true;
};

template <std::size_t received_height, std::size_t received_width>
struct Linear_receives_an_unflattened_input_of_height_and_width {
  static_assert(received_height == 1 && received_width == 1,
                "Linear<In, Out>: receives an image with spatial extent; put Flatten before it "
                "(this check's arguments are <H, W>)");
  static constexpr bool ok = true;
};

template <std::size_t received_channels, std::size_t declared_In>
struct Inception_receives_channels_but_was_declared_with_In {
  static_assert(received_channels == declared_In,
                "Inception<In, ...>: receives a channel count that differs from In "
                "(this check's arguments are <received, declared In>)");
  static constexpr bool ok = true;
};

template <std::size_t received_channels, std::size_t declared_In>
struct InceptionAux_receives_channels_but_was_declared_with_In {
  static_assert(received_channels == declared_In,
                "InceptionAux<In, Classes>: receives a channel count that differs from In "
                "(this check's arguments are <received, declared In>)");
  static constexpr bool ok = true;
};

template <std::size_t received_channels, std::size_t declared_C>
struct BatchNorm_receives_channels_but_was_declared_with_C {
  static_assert(received_channels == declared_C,
                "BatchNorm<C>: receives a channel count that differs from C "
                "(this check's arguments are <received, declared C>)");
  static constexpr bool ok = true;
};

template <std::size_t received_channels>
struct TransformInput_receives_channels_but_needs_3 {
  static_assert(received_channels == 3,
                "TransformInput: re-normalises the 3 channels of an RGB image; it receives another "
                "channel count (this check's argument is <received>)");
  static constexpr bool ok = true;
};

template <std::size_t branch_height, std::size_t branch_width, std::size_t first_branch_height,
          std::size_t first_branch_width>
struct Concat_branch_produces_a_different_spatial_size_than_the_first_branch {
  static_assert(branch_height == first_branch_height && branch_width == first_branch_width,
                "Concat<Branches...>: every branch must produce the same H x W to be concatenated "
                "along channels (this check's arguments are <H, W, first branch H, first branch W>)");
  static constexpr bool ok = true;
};

template <std::size_t factor>
struct Upsample_factor_must_be_positive {
  static_assert(factor > 0, "Upsample<Factor, Mode>: Factor must be positive");
  static constexpr bool ok = true;
};

template <std::size_t percent>
struct Dropout_probability_percent_must_be_below_100 {
  static_assert(percent < 100, "Dropout<Percent>: the drop probability must be below 100 percent");
  static constexpr bool ok = true;
};

template <std::size_t channels, std::size_t height, std::size_t width, std::size_t first_channels,
          std::size_t first_height, std::size_t first_width>
struct Sum_branch_produces_a_shape_other_than_the_first_branch {
  static_assert(channels == first_channels && height == first_height && width == first_width,
                "Sum<B...>: every branch must produce the first branch's shape, to be added element by element "
                "(this check's arguments are <C, H, W of the branch, C, H, W of the first branch>)");
  static constexpr bool ok = true;
};

template <std::size_t body_channels, std::size_t body_height, std::size_t body_width, std::size_t shortcut_channels,
          std::size_t shortcut_height, std::size_t shortcut_width>
struct Residual_body_produces_a_shape_other_than_its_shortcut {
  static_assert(body_channels == shortcut_channels && body_height == shortcut_height && body_width == shortcut_width,
                "Residual<Body, Shortcut>: Body(x) and Shortcut(x) must have one shape to be added; give the "
                "shortcut a strided 1x1 convolution (downsample) where the body changes it "
                "(this check's arguments are <C, H, W of the body, C, H, W of the shortcut>)");
  static constexpr bool ok = true;
};

// A network used on a device where one of its layers has no evaluator (kernel). Named by
// ctnn::Model's check, for the first such layer in the network: <the layer, the device>.
template <class Layer, class Device, bool has_evaluator>
struct Layer_has_no_evaluator_for_the_device {
  static_assert(has_evaluator,
                "Model<Net, In, T, Device>: a layer of the network has no Evaluator<Layer, Device, T> "
                "(this check's arguments are <the layer, the device>); include the device's kernels "
                "(<ctnn/ctnn.hpp>, <ctnn/cuda.hpp>) or write the layer's evaluator for that device");
  static constexpr bool ok = true;
};

// ---- ConvTranspose2d ------------------------------------------------------------------------

template <std::size_t received_channels, std::size_t declared_In>
struct ConvTranspose2d_receives_channels_but_was_declared_with_In {
  static_assert(received_channels == declared_In,
                "ConvTranspose2d<In, Out, K, S, P, OutputPadding>: receives a channel count that differs from In "
                "(this check's arguments are <received, declared In>)");
  static constexpr bool ok = true;
};

// A zero stride is reported by ConvTranspose2d's own check that S is positive, not here too.
template <std::size_t output_padding, std::size_t stride>
struct ConvTranspose2d_output_padding_must_be_smaller_than_its_stride {
  static_assert(output_padding < stride || stride == 0,
                "ConvTranspose2d<In, Out, K, S, P, OutputPadding>: OutputPadding must be smaller than the stride S, "
                "as in PyTorch (this check's arguments are <OutputPadding, S>)");
  static constexpr bool ok = true;
};

// The output before cropping is (H - 1) * S + K + OutputPadding; the padding removes P on each side.
template <std::size_t twice_padding, std::size_t uncropped_height, std::size_t uncropped_width>
struct ConvTranspose2d_padding_crops_away_its_whole_output_of_height_and_width {
  static_assert(twice_padding < uncropped_height && twice_padding < uncropped_width,
                "ConvTranspose2d<In, Out, K, S, P, OutputPadding>: 2P removes the whole output "
                "(H - 1) * S + K + OutputPadding (this check's arguments are <2P, uncropped H, uncropped W>)");
  static constexpr bool ok = true;
};

}  // namespace ctnn::diagnostic
