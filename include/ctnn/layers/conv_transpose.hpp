#pragma once
// ctnn::ConvTranspose2d<In, Out, K, S, P, OutputPadding, Bias>: 2-D transposed convolution,
// square K x K kernel; PyTorch's nn.ConvTranspose2d(In, Out, K, stride=S, padding=P,
// output_padding=OutputPadding, bias=Bias). The learned upsampling of segmentation heads.
//
//   Shape<In, H, W>  ->  Shape<Out, (H - 1) * S - 2P + K + OutputPadding, (W - 1) * S - 2P + K + OutputPadding>
//   ConvTranspose2d<64, 32, 4, 2, 1> on Shape<64, 14, 14> -> Shape<32, 28, 28>   (13 * 2 - 2 + 4)
//   parameters: weight [In, Out, K, K] (PyTorch's layout), then bias [Out] unless Bias is false
//
// It is the adjoint of the convolution Conv<Out, In, K, S, P, false> (`transposed` below), from
// this layer's output back to its input, whose weight [In, Out, K, K] is this layer's weight as it
// stands. So its evaluator, written once below for every device, runs that convolution's own
// evaluator with the roles of input and output swapped:
//   forward               y = the convolution's input gradient of x (its backward, no weight
//                         gradient), plus the bias
//   backward (input)      dx = the convolution's forward of dy; adding into dx (a later branch of
//                         a Sum or Concat) goes through `scratch`
//   backward (weight)     dW = the convolution's weight gradient with dy as its input and x as its
//                         output gradient; db = the sums of dy per channel
// A device supplies only the bias, found by argument-dependent lookup on its context:
//   add_channel_bias(ctx, bias, y, channels, plane)                 y[c] += bias[c]
//   channel_bias_gradient(ctx, dy, channels, plane, bias_grad)      bias_grad[c] (+)= sums of dy[c]
//   CPU: ctnn/cpu/conv_transpose.hpp    GPU: ctnn/cuda/conv_transpose.hpp (cuDNN)
// OutputPadding adds rows and columns at the bottom and right: a convolution of stride S maps S
// input sizes to H, and OutputPadding picks one of them, as in PyTorch.

#include <array>         // std::array
#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view

#include <ctnn/diagnostics.hpp>   // ConvTranspose2d_receives_channels_but_was_declared_with_In, ...
#include <ctnn/evaluator.hpp>     // ctnn::Evaluator, ctnn::EvaluatorFor, ctnn::ForwardArgs, ctnn::BackwardArgs
#include <ctnn/layer.hpp>         // ctnn::Layer, ctnn::TensorSpec, ctnn::align_elements
#include <ctnn/layers/conv.hpp>   // ctnn::Conv
#include <ctnn/shape.hpp>         // ctnn::Shape, ctnn::ShapeType

namespace ctnn {

// (in - 1) * S + K + OutputPadding - 2P; 1 where the padding removes everything (a failed check,
// which reports itself: no follow-on error from the size arithmetic).
constexpr std::size_t conv_transpose_output_size(std::size_t in, std::size_t kernel, std::size_t stride,
                                                 std::size_t padding, std::size_t output_padding) {
  const std::size_t uncropped = (in - 1) * stride + kernel + output_padding;
  return uncropped > 2 * padding ? uncropped - 2 * padding : 1;
}

template <std::size_t In, std::size_t Out, std::size_t K, std::size_t S = 1, std::size_t P = 0,
          std::size_t OutputPadding = 0, bool Bias = true>
struct ConvTranspose2d : Layer {
  static_assert(In > 0 && Out > 0 && K > 0 && S > 0,
                "ConvTranspose2d<In, Out, K, S, P, OutputPadding>: In, Out, K and S must be positive");
  static_assert(diagnostic::ConvTranspose2d_output_padding_must_be_smaller_than_its_stride<OutputPadding, S>::ok);

  static constexpr std::string_view type_name = "ConvTranspose2d";
  static constexpr std::size_t in_channels = In, out_channels = Out, kernel = K, stride = S, padding = P;
  static constexpr std::size_t output_padding = OutputPadding;
  static constexpr bool has_bias = Bias;
  static constexpr std::size_t weight_count = In * Out * K * K;
  static constexpr std::size_t bias_offset = weight_count;  // when Bias
  static constexpr std::size_t parameter_count = weight_count + (Bias ? Out : 0);
  static constexpr bool backward_reads_input = true;  // the weight gradient
  static constexpr bool backward_reads_output = false;
  static constexpr auto tensors = [] {
    constexpr TensorSpec weight{"weight", {In, Out, K, K}, 4, 0};
    if constexpr (Bias)
      return std::array<TensorSpec, 2>{{weight, {"bias", {Out}, 1, weight_count}}};
    else
      return std::array<TensorSpec, 1>{{weight}};
  }();

  // The checks sit in the requires-clause itself, as Conv's do.
  template <ShapeType Input>
    requires(diagnostic::ConvTranspose2d_receives_channels_but_was_declared_with_In<Input::channels, In>::ok &&
             diagnostic::ConvTranspose2d_padding_crops_away_its_whole_output_of_height_and_width<
                 2 * P, (Input::height - 1) * S + K + OutputPadding, (Input::width - 1) * S + K + OutputPadding>::ok)
  using output_shape = Shape<Out, conv_transpose_output_size(Input::height, K, S, P, OutputPadding),
                             conv_transpose_output_size(Input::width, K, S, P, OutputPadding)>;

  // The convolution this layer transposes: from this layer's output (Out channels, the shape
  // `transposed_input`) to its input (In channels). Its output size (OH + 2P - K) / S + 1 is H again.
  using transposed = Conv<Out, In, K, S, P, false>;
  template <ShapeType Input>
  using transposed_input = output_shape<Input>;

  // Every input element is spread over Out * K * K outputs.
  template <ShapeType Input>
  static constexpr std::size_t macs = Input::size * Out * K * K;

  // The transposed convolution's: its column matrix and private weight gradient.
  template <ShapeType Input>
  static constexpr std::size_t workspace_elements = transposed::template workspace_elements<transposed_input<Input>>;

  // The input gradient before it is added into dx, where dx is added to.
  template <ShapeType Input>
  static constexpr std::size_t scratch_elements = align_elements(Input::size);
};

// Every device's: the transposed convolution's evaluator with input and output swapped (see the
// top of this file), and the device's bias functions. A device without that convolution's
// evaluator has none for this layer either.
template <std::size_t In, std::size_t Out, std::size_t K, std::size_t S, std::size_t P, std::size_t OutputPadding,
          bool Bias, class Device, class T>
  requires EvaluatorFor<Conv<Out, In, K, S, P, false>, Device, T>
struct Evaluator<ConvTranspose2d<In, Out, K, S, P, OutputPadding, Bias>, Device, T> {
  using Layer = ConvTranspose2d<In, Out, K, S, P, OutputPadding, Bias>;
  using Transposed = Evaluator<typename Layer::transposed, Device, T>;

  template <ShapeType I, class Context>
  static void forward(Context& ctx, const ForwardArgs<T>& a) {
    using Output = typename Layer::template transposed_input<I>;
    BackwardArgs<T> transposed{};
    transposed.params.values = a.params.values;  // no gradients: the input gradient alone
    transposed.dy = a.x;
    transposed.dx = a.y;
    Transposed::template backward<Output>(ctx, transposed);
    if constexpr (Bias) add_channel_bias(ctx, a.params.values + Layer::bias_offset, a.y, Out, Output::plane);
  }

  template <ShapeType I, class Context>
  static void backward(Context& ctx, const BackwardArgs<T>& a) {
    using Output = typename Layer::template transposed_input<I>;
    if (T* weight_grad = a.params.gradients) {
      BackwardArgs<T> transposed{};
      transposed.params = {a.params.values, weight_grad, nullptr};
      transposed.x = a.dy;
      transposed.dy = a.x;  // no dx: the weight gradient alone
      Transposed::template backward<Output>(ctx, transposed);
      if constexpr (Bias)
        channel_bias_gradient(ctx, a.dy, Out, Output::plane, weight_grad + Layer::bias_offset);
    }
    if (!a.dx) return;
    ForwardArgs<T> transposed{};
    transposed.params.values = a.params.values;
    transposed.x = a.dy;
    transposed.y = a.accumulate_dx ? Slot<T>{a.scratch, I::size} : a.dx;
    Transposed::template forward<Output>(ctx, transposed);
    if (a.accumulate_dx) copy_images(ctx, ConstSlot<T>(transposed.y), a.dx, I::size, true);
  }
};

}  // namespace ctnn
