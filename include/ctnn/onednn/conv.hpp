#pragma once
// Convolution on the oneDNN device, and Conv + ReLU fused as a post-op (BasicConv2d's body,
// through Sequential's Fusion trait).
//
//   forward   convolution_forward: src and dst in the device layout (NHWC; in int8 the src
//             quantised to u8 / s8 in staging, weights s8: quantisation.hpp), weights in the
//             layout oneDNN picks (format `any`), packed from OIHW f32, bias f32; padding P on
//             both sides, as nn.Conv2d; grouped and depthwise with the weights seen as
//             [Groups, Out / Groups, In / Groups, K, K] (goihw: the same bytes as OIHW)
//   backward  convolution_backward_weights (dW, db from x and dy; f32 in every precision, so
//             bf16 training keeps f32 gradients for its f32 master weights), then
//             convolution_backward_data (dx from dy and the weights packed for it)

#include <cstddef>   // std::size_t
#include <memory>    // std::make_unique

#include <dnnl.hpp>   // dnnl::convolution_forward, dnnl::convolution_backward_data, ..._weights

#include <ctnn/evaluator.hpp>          // ctnn::Fusion, ctnn::ForwardArgs, ctnn::BackwardArgs
#include <ctnn/layers/conv.hpp>        // ctnn::Conv, ctnn::ConvGeometry
#include <ctnn/layers/conv_transpose.hpp>   // ctnn::ConvTranspose2d
#include <ctnn/layers/relu.hpp>        // ctnn::ReLU
#include <ctnn/onednn/fallback.hpp>    // ctnn::onednn::Kernel
#include <ctnn/onednn/operand.hpp>     // Operand, PackedWeights, WeightedBackwardPlan

namespace ctnn {
namespace onednn {

// What every convolution primitive of one layer is made from.
struct ConvDescription {
  Dims in, out;
  memory::dims strides, padding;
  memory::desc weights_any, weights_plain, bias;

  template <class L, ShapeType In, class T>
  static ConvDescription of(const Context<T>& ctx) {
    constexpr ConvGeometry g = L::template geometry<In>;
    const auto o = static_cast<memory::dim>(g.out_channels), i = static_cast<memory::dim>(g.in_channels),
               k = static_cast<memory::dim>(g.kernel), s = static_cast<memory::dim>(g.stride),
               pad = static_cast<memory::dim>(g.padding), groups = static_cast<memory::dim>(g.groups);
    // [Out, In / G, K, K] as oneDNN's grouped weights [G, Out / G, In / G, K, K], or plain OIHW.
    const memory::dims weights = groups == 1 ? memory::dims{o, i, k, k}
                                             : memory::dims{groups, o / groups, i / groups, k, k};
    const auto plain = groups == 1 ? memory::format_tag::oihw : memory::format_tag::goihw;
    return {{g.in_channels, g.in_height, g.in_width},
            {g.out_channels, g.out_height, g.out_width},
            {s, s},
            {pad, pad},
            memory::desc(weights, ctx.weights_type(), memory::format_tag::any),
            memory::desc(weights, memory::data_type::f32, plain),
            L::has_bias ? memory::desc({o}, memory::data_type::f32, memory::format_tag::a) : memory::desc()};
  }

  template <class T>
  dnnl::convolution_forward::primitive_desc forward(const Context<T>& ctx, const memory::desc& src,
                                                    const memory::desc& dst, const dnnl::primitive_attr& attr) const {
    const auto prop = ctx.mode == Mode::train ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    return checked("convolution", [&] {
      return dnnl::convolution_forward::primitive_desc(ctx.engine, prop, dnnl::algorithm::convolution_direct, src,
                                                       weights_any, bias, dst, strides, padding, padding, attr);
    });
  }
};

// y = conv(x) (+ bias) (then ReLU when `relu`); in int8 from the quantised input and weights.
template <class L, ShapeType In, class T>
void convolution_forward(Context<T>& ctx, const ForwardArgs<T>& a, bool relu) {
  // Grouped weights [G, Out / G, ...]: an output channel is the first two dimensions.
  constexpr int output_dimensions = L::template geometry<In>.groups == 1 ? 1 : 2;
  auto& p = ctx.template plan<WeightedForwardPlan>(Direction::forward, [&] {
    auto plan = std::make_unique<WeightedForwardPlan>();
    const auto c = ConvDescription::of<L, In>(ctx);
    plan->src = weighted_input(ctx, *plan, a.x, c.in);
    plan->dst = output_operand(ctx, a.y, c.out);
    const auto pd = c.forward(ctx, plan->src.md, plan->dst.md, weighted_attributes(ctx, *plan, relu, output_dimensions));
    plan->weights.make(ctx, c.weights_plain, pd.weights_desc(), output_dimensions);
    plan->bias = unbound(c.bias, ctx.engine);
    plan->scratchpad = scratchpad_for(ctx, pd.scratchpad_desc());
    plan->primitive = dnnl::convolution_forward(pd);
    return plan;
  });
  if constexpr (L::has_bias)
    weighted_forward(ctx, p, a, L::bias_offset);
  else
    weighted_forward(ctx, p, a, std::nullopt);
}


// dW, db (into params.gradients unless frozen) and dx (unless empty) from x and dy.
template <class L, ShapeType In, class T>
void convolution_backward(Context<T>& ctx, const BackwardArgs<T>& a) {
  auto& p = ctx.template plan<WeightedBackwardPlan>(Direction::backward, [&] {
    auto plan = std::make_unique<WeightedBackwardPlan>();
    const auto c = ConvDescription::of<L, In>(ctx);
    plan->diff_dst = input_operand(ctx, a.dy, c.out, 2);
    const memory::desc src = ctx.device_md(c.in);
    const auto hint = c.forward(ctx, src, plan->diff_dst.md, user_scratchpad());
    if (a.params.gradients) {
      plan->src = input_operand(ctx, a.x, c.in, 0);
      const memory::desc diff_weights(c.weights_plain.get_dims(), memory::data_type::f32, memory::format_tag::any);
      const auto pd = checked("convolution backward weights", [&] {
        return dnnl::convolution_backward_weights::primitive_desc(
            ctx.engine, dnnl::algorithm::convolution_direct, plan->src.md, diff_weights, c.bias, plan->diff_dst.md,
            c.strides, c.padding, c.padding, hint, user_scratchpad());
      });
      plan->diff_weights.make(ctx, pd.diff_weights_desc(), c.weights_plain, 0);
      if constexpr (L::has_bias)
        plan->diff_bias.make(ctx, pd.diff_bias_desc(), c.bias, ParameterGradient::room(pd.diff_weights_desc()));
      plan->weights_scratchpad = scratchpad_for(ctx, pd.scratchpad_desc());
      plan->weights_gradient = dnnl::convolution_backward_weights(pd);
      plan->has_weights_gradient = true;
    }
    if (a.dx) {
      plan->diff_src = gradient_operand(ctx, a.dx, c.in, a.accumulate_dx);
      const auto pd = checked("convolution backward data", [&] {
        return dnnl::convolution_backward_data::primitive_desc(ctx.engine, dnnl::algorithm::convolution_direct,
                                                               plan->diff_src.md, c.weights_any, plan->diff_dst.md,
                                                               c.strides, c.padding, c.padding, hint, user_scratchpad());
      });
      plan->weights.make(ctx, c.weights_plain, pd.weights_desc());
      plan->data_scratchpad = scratchpad_for(ctx, pd.scratchpad_desc());
      plan->data_gradient = dnnl::convolution_backward_data(pd);
      plan->has_data_gradient = true;
    }
    return plan;
  });
  if constexpr (L::has_bias)
    weighted_backward(ctx, p, a, L::bias_offset);
  else
    weighted_backward(ctx, p, a);
}

template <std::size_t I, std::size_t O, std::size_t K, std::size_t S, std::size_t P, bool B, std::size_t G, class T>
struct Kernel<Conv<I, O, K, S, P, B, G>, T> {
  // Grouped convolution's backward stays on the Eigen evaluator until a test covers oneDNN's.
  static constexpr bool has_backward = G == 1;
  template <ShapeType In>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    convolution_forward<Conv<I, O, K, S, P, B, G>, In>(ctx, a, false);
  }
  template <ShapeType In>
  static void backward(Context<T>& ctx, const BackwardArgs<T>& a) {
    convolution_backward<Conv<I, O, K, S, P, B, G>, In>(ctx, a);
  }
};

}  // namespace onednn

// ConvTranspose2d's every-device evaluator runs the convolution's backward as its forward and
// adds the bias with the CPU's functions, which would read the device layout as NCHW: here the
// whole layer runs on its Eigen evaluator instead (fallback.hpp).
template <std::size_t I, std::size_t O, std::size_t K, std::size_t S, std::size_t P, std::size_t OutputPadding,
          bool B, class T>
struct Evaluator<ConvTranspose2d<I, O, K, S, P, OutputPadding, B>, OneDnn, T>
    : onednn::LeafEvaluator<ConvTranspose2d<I, O, K, S, P, OutputPadding, B>, T> {};

// In training too: ReLU's backward reads the fused output, Conv's its input.
template <std::size_t I, std::size_t O, std::size_t K, std::size_t S, std::size_t P, bool B, std::size_t G, class T>
struct Fusion<Conv<I, O, K, S, P, B, G>, ReLU, OneDnn, T> {
  static constexpr bool available = true;
  static constexpr bool in_training = true;
  template <ShapeType In>
  static void forward(onednn::Context<T>& ctx, const ForwardArgs<T>& a) {
    onednn::convolution_forward<Conv<I, O, K, S, P, B, G>, In>(ctx, a, true);
  }
};

}  // namespace ctnn
