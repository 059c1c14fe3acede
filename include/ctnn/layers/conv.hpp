#pragma once
// ctnn::Conv<In, Out, K, S, P, Bias, Groups>: 2-D convolution, square K x K kernel, stride S, zero
// padding P; PyTorch's nn.Conv2d(In, Out, K, stride=S, padding=P, bias=Bias, groups=Groups).
//
//   Shape<In, H, W>  ->  Shape<Out, (H + 2P - K) / S + 1, (W + 2P - K) / S + 1>
//   parameters: weight [Out, In / Groups, K, K] (OIHW), then bias [Out] unless Bias is false
//   Conv<64, 192, 3, 1, 1, false> is a bias-free convolution, as before a batch norm.
//   Groups splits the channels into Groups independent convolutions of In / Groups -> Out / Groups
//   channels: group g reads input channels [g In/G, (g+1) In/G) and writes output channels
//   [g Out/G, (g+1) Out/G). DepthwiseConv<C, K, S, P, Bias> is Conv<C, C, K, S, P, Bias, C>, one
//   K x K filter per channel (MobileNet's 3x3 depthwise convolution).
//   CPU kernel: ctnn/cpu/conv.hpp    GPU kernel: ctnn/cuda/conv.hpp

#include <array>         // std::array
#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view

#include <ctnn/diagnostics.hpp>   // Conv_receives_channels_but_was_declared_with_In, ...
#include <ctnn/layer.hpp>         // ctnn::Layer, ctnn::TensorSpec
#include <ctnn/shape.hpp>         // ctnn::Shape, ctnn::conv_output_size

namespace ctnn {

// What every backend's convolution kernel needs: the description's numbers and the input's.
//   out_height = (in_height + 2 * padding - kernel) / stride + 1, the same for the width
struct ConvGeometry {
  std::size_t in_channels, out_channels, kernel, stride, padding;
  std::size_t in_height, in_width, out_height, out_width;
  std::size_t groups = 1;

  constexpr std::size_t in_plane() const { return in_height * in_width; }
  constexpr std::size_t out_plane() const { return out_height * out_width; }
  constexpr std::size_t in_size() const { return in_channels * in_plane(); }
  constexpr std::size_t out_size() const { return out_channels * out_plane(); }
  // Rows of the im2col matrix: one per input channel and kernel position. Group g's rows are
  // [g * group_col_rows(), (g + 1) * group_col_rows()): its own input channels.
  constexpr std::size_t col_rows() const { return in_channels * kernel * kernel; }
  constexpr std::size_t group_in_channels() const { return in_channels / groups; }
  constexpr std::size_t group_out_channels() const { return out_channels / groups; }
  constexpr std::size_t group_col_rows() const { return group_in_channels() * kernel * kernel; }
  // The weights [Out, In / groups, K, K]: Out rows of group_col_rows().
  constexpr std::size_t weight_size() const { return out_channels * group_col_rows(); }
  // One K x K filter per channel: a direct kernel beats im2col and a GEMM of one row.
  constexpr bool is_depthwise() const { return groups > 1 && in_channels == groups && out_channels == groups; }
  // A 1x1, stride-1, unpadded convolution: the input is its own im2col matrix.
  constexpr bool is_pointwise() const { return kernel == 1 && stride == 1 && padding == 0; }
};

template <std::size_t In, std::size_t Out, std::size_t K, std::size_t S = 1, std::size_t P = 0, bool Bias = true,
          std::size_t Groups = 1>
struct Conv : Layer {
  static_assert(diagnostic::Conv_In_Out_K_and_S_must_be_positive<In, Out, K, S>::ok);
  static_assert(diagnostic::Conv_groups_must_divide_both_In_and_Out<Groups, In, Out>::ok);

  static constexpr std::string_view type_name = "Conv2d";
  static constexpr std::size_t in_channels = In, out_channels = Out, kernel = K, stride = S, padding = P;
  static constexpr std::size_t groups = Groups;
  static constexpr bool has_bias = Bias;
  static constexpr std::size_t group_in_channels = In / (Groups > 0 ? Groups : 1);  // no second error at 0
  static constexpr std::size_t weight_count = Out * group_in_channels * K * K;
  static constexpr std::size_t bias_offset = weight_count;  // when Bias
  static constexpr std::size_t parameter_count = weight_count + (Bias ? Out : 0);
  static constexpr bool backward_reads_input = true;
  static constexpr bool backward_reads_output = false;
  static constexpr auto tensors = [] {
    constexpr TensorSpec weight{"weight", {Out, group_in_channels, K, K}, 4, 0};
    if constexpr (Bias)
      return std::array<TensorSpec, 2>{{weight, {"bias", {Out}, 1, weight_count}}};
    else
      return std::array<TensorSpec, 1>{{weight}};
  }();

  // The checks sit in the requires-clause itself: clang marks a check whose static_assert failed
  // invalid, and an invalid class read there is a quiet substitution failure, not a second error.
  template <ShapeType Input>
    requires(diagnostic::Conv_receives_channels_but_was_declared_with_In<Input::channels, In>::ok &&
             diagnostic::Conv_kernel_is_larger_than_its_padded_input_of_height_and_width<
                 K, Input::height + 2 * P, Input::width + 2 * P>::ok)
  using output_shape = Shape<Out, conv_output_size(Input::height, K, S, P), conv_output_size(Input::width, K, S, P)>;

  template <ShapeType Input>
  static constexpr ConvGeometry geometry{In, Out, K, S, P, Input::height, Input::width, output_shape<Input>::height,
                                         output_shape<Input>::width, Groups};

  template <ShapeType Input>
  static constexpr std::size_t macs = output_shape<Input>::size * group_in_channels * K * K;

  // Per thread: the im2col matrix of one image [In*K*K, Hout*Wout] and its gradient (none for a
  // 1x1, stride-1, unpadded conv), and a private weight and bias gradient for backward. A
  // depthwise convolution's direct kernel needs none of them.
  template <ShapeType Input>
  static constexpr std::size_t workspace_elements =
      geometry<Input>.is_depthwise()
          ? 0
          : 2 * ((K == 1 && S == 1 && P == 0) ? 0 : In * K * K * output_shape<Input>::plane) + weight_count + Out;
};

// One K x K filter per channel: nn.Conv2d(C, C, K, stride=S, padding=P, groups=C, bias=Bias).
template <std::size_t C, std::size_t K, std::size_t S = 1, std::size_t P = 0, bool Bias = true>
using DepthwiseConv = Conv<C, C, K, S, P, Bias, C>;

}  // namespace ctnn
