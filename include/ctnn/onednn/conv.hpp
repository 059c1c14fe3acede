#pragma once
// Convolution on the oneDNN device, and Conv + ReLU fused as a post-op (BasicConv2d's body in
// evaluation, through Sequential's Fusion trait).
//
//   forward   convolution_forward: src and dst in the device layout (NHWC), weights in the
//             layout oneDNN picks (format `any`), packed from OIHW f32, bias f32; padding P on
//             both sides, as nn.Conv2d; grouped and depthwise with the weights seen as
//             [Groups, Out / Groups, In / Groups, K, K] (goihw: the same bytes as OIHW)
//   backward  the Eigen evaluator's (fallback.hpp)

#include <cstddef>   // std::size_t
#include <memory>    // std::make_unique

#include <dnnl.hpp>   // dnnl::convolution_forward, dnnl::post_ops

#include <ctnn/evaluator.hpp>          // ctnn::Fusion, ctnn::ForwardArgs
#include <ctnn/layers/conv.hpp>        // ctnn::Conv, ctnn::ConvGeometry
#include <ctnn/layers/conv_transpose.hpp>   // ctnn::ConvTranspose2d
#include <ctnn/layers/relu.hpp>        // ctnn::ReLU
#include <ctnn/onednn/fallback.hpp>    // ctnn::onednn::Kernel
#include <ctnn/onednn/operand.hpp>     // Operand, PackedWeights, Reorder

namespace ctnn {
namespace onednn {

struct ConvForwardPlan : Plan {
  Operand src, dst;
  PackedWeights weights;
  memory bias, scratchpad;
  dnnl::convolution_forward primitive;
};

// y = conv(x) (+ bias) (then ReLU when `relu`).
template <class L, ShapeType In, class T>
void convolution_forward(Context<T>& ctx, const ForwardArgs<T>& a, bool relu) {
  constexpr ConvGeometry g = L::template geometry<In>;
  auto& p = ctx.template plan<ConvForwardPlan>(Direction::forward, [&] {
    auto plan = std::make_unique<ConvForwardPlan>();
    plan->src = input_operand(ctx, a.x, {g.in_channels, g.in_height, g.in_width});
    plan->dst = output_operand(ctx, a.y, {g.out_channels, g.out_height, g.out_width});
    const auto o = static_cast<memory::dim>(g.out_channels), i = static_cast<memory::dim>(g.in_channels),
               k = static_cast<memory::dim>(g.kernel), s = static_cast<memory::dim>(g.stride),
               pad = static_cast<memory::dim>(g.padding);
    // [Out, In / G, K, K] as oneDNN's grouped weights [G, Out / G, In / G, K, K], or plain OIHW.
    const auto groups = static_cast<memory::dim>(g.groups);
    const memory::dims weight_dims = groups == 1 ? memory::dims{o, i, k, k}
                                                 : memory::dims{groups, o / groups, i / groups, k, k};
    const auto user_weights = groups == 1 ? memory::format_tag::oihw : memory::format_tag::goihw;
    const memory::desc weights(weight_dims, ctx.activation_type(), memory::format_tag::any);
    const memory::desc bias = L::has_bias ? memory::desc({o}, memory::data_type::f32, memory::format_tag::a) : memory::desc();
    const dnnl::primitive_attr attr = user_scratchpad(relu);
    const auto pd = checked("convolution", [&] {
      return dnnl::convolution_forward::primitive_desc(ctx.engine, dnnl::prop_kind::forward_inference,
                                                       dnnl::algorithm::convolution_direct, plan->src.md, weights, bias,
                                                       plan->dst.md, {s, s}, {pad, pad}, {pad, pad}, attr);
    });
    plan->weights.make(ctx, memory::desc(weight_dims, memory::data_type::f32, user_weights), pd.weights_desc());
    plan->bias = unbound(bias, ctx.engine);
    plan->scratchpad = scratchpad_for(ctx, pd.scratchpad_desc());
    plan->primitive = dnnl::convolution_forward(pd);
    return plan;
  });
  if (ctx.planning) return;
  p.src.load(ctx, a.x.data);
  p.dst.bind_output(ctx, a.y.data);
  p.weights.refresh(ctx, a.params.values);
  if constexpr (L::has_bias) bind(p.bias, a.params.values + L::bias_offset);
  bind(p.scratchpad, ctx.scratchpad());
  ctx.run(p.primitive, {{DNNL_ARG_SRC, &p.src.mem},
                        {DNNL_ARG_WEIGHTS, &p.weights.packed},
                        {DNNL_ARG_BIAS, &p.bias},
                        {DNNL_ARG_DST, &p.dst.mem},
                        {DNNL_ARG_SCRATCHPAD, &p.scratchpad}});
  p.dst.store(ctx, a.y.data);
}

template <std::size_t I, std::size_t O, std::size_t K, std::size_t S, std::size_t P, bool B, std::size_t G, class T>
struct Kernel<Conv<I, O, K, S, P, B, G>, T> {
  static constexpr bool has_backward = false;
  template <ShapeType In>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    convolution_forward<Conv<I, O, K, S, P, B, G>, In>(ctx, a, false);
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

template <std::size_t I, std::size_t O, std::size_t K, std::size_t S, std::size_t P, bool B, std::size_t G, class T>
struct Fusion<Conv<I, O, K, S, P, B, G>, ReLU, OneDnn, T> {
  static constexpr bool available = true;
  template <ShapeType In>
  static void forward(onednn::Context<T>& ctx, const ForwardArgs<T>& a) {
    onednn::convolution_forward<Conv<I, O, K, S, P, B, G>, In>(ctx, a, true);
  }
};

}  // namespace ctnn
