#pragma once
// MobileNetV2's expansion and depthwise convolution as one oneDNN convolution, in evaluation
// (FusionAcross, ctnn/evaluator.hpp):
//
//   first:  a 1x1 Conv (stride 1, no padding or groups) + BatchNorm + activation,  <In, H, W> -> <Hidden, H, W>
//   second: a depthwise 3x3 Conv (padding 1, stride S) + BatchNorm + activation,   -> <Hidden, H / S, W / S>
//
// each a composition whose body is Sequential<Conv, BatchNorm, activation> (torchvision's
// Conv2dNormActivation). The 1x1 convolution's primitive computes the depthwise one as a post-op
// (post_ops::append_dw): rows of the expanded tensor (Hidden = 6 In in MobileNetV2) stay in cache
// instead of going to memory and back. Both batch norms are folded into their convolution's
// weights and bias (FoldedBatchNorm, conv.hpp); both activations are post-ops.
//
// Fused where oneDNN has a jitted kernel for the pair (its reference fusion runs the two one
// after the other), in f32, and in bf16 without AMX (the fused kernel does not use AMX's tiles;
// the separate 1x1 convolution does). Not in int8 or while calibrating: int8 quantises each
// convolution's input on that input's own range. Elsewhere the two compositions run as before,
// through the slot between them. MobileNetV2 at batch 16 on AMD Zen 4: 13 of its 16 pairs fuse in
// f32 (the pass 1.13-1.21x as fast), 6 in bf16 (1.14-1.24x); docs/benchmarks.md.

#include <cstddef>       // std::size_t
#include <memory>        // std::make_unique
#include <string_view>   // std::string_view
#include <type_traits>   // std::type_identity

#include <dnnl.hpp>   // dnnl::convolution_forward, dnnl::post_ops

#include <ctnn/evaluator.hpp>           // ctnn::FusionAcross, ctnn::forward_layer
#include <ctnn/layer.hpp>               // ctnn::HasBody
#include <ctnn/layers/batch_norm.hpp>   // ctnn::BatchNorm
#include <ctnn/layers/conv.hpp>         // ctnn::Conv
#include <ctnn/layers/sequential.hpp>   // ctnn::Sequential
#include <ctnn/onednn/conv.hpp>         // ConvDescription, FoldedBatchNorm
#include <ctnn/onednn/elementwise.hpp>  // Eltwise, HasEltwise
#include <ctnn/onednn/operand.hpp>      // Operand, PackedWeights

namespace ctnn {
namespace onednn {

// The parts of a composition whose body is Sequential<Conv, BatchNorm, an activation oneDNN
// computes>; `matches` is false for anything else.
template <class Body>
struct ConvNormActivationBody {
  static constexpr bool matches = false;
};
template <std::size_t I, std::size_t O, std::size_t K, std::size_t S, std::size_t P, bool B, std::size_t G, class Eps,
          class Momentum, class Activation>
  requires HasEltwise<Activation>
struct ConvNormActivationBody<Sequential<Conv<I, O, K, S, P, B, G>, BatchNorm<O, Eps, Momentum>, Activation>> {
  static constexpr bool matches = true;
  using conv = Conv<I, O, K, S, P, B, G>;
  using norm = BatchNorm<O, Eps, Momentum>;
  static constexpr EltwiseFunction activation = Eltwise<Activation>::function;
};

template <class L>
using conv_norm_activation = ConvNormActivationBody<typename L::body>;

// Whether the Conv of composition First is a 1x1 (stride 1, no padding or groups) and that of
// Second the depthwise 3x3 (padding 1, stride 1 or 2) over its output's channels.
template <class First, class Second>
constexpr bool expands_then_depthwise() {
  using A = typename conv_norm_activation<First>::conv;
  using D = typename conv_norm_activation<Second>::conv;
  return pointwise<A>() && D::kernel == 3 && D::padding == 1 && (D::stride == 1 || D::stride == 2) &&
         D::in_channels == A::out_channels && D::out_channels == A::out_channels && D::groups == A::out_channels;
}

// First and Second are a 1x1 expansion and the depthwise 3x3 after it, as the file comment says.
template <class First, class Second>
concept PointwiseThenDepthwise = HasBody<First> && HasBody<Second> && conv_norm_activation<First>::matches &&
                                 conv_norm_activation<Second>::matches && expands_then_depthwise<First, Second>();

// The pair's plan: whether it runs fused, and if so the one primitive, its operands and the two
// folded, packed sets of weights.
template <class First, class Second>
struct PointwiseDepthwisePlan : Plan {
  using Expansion = conv_norm_activation<First>;
  using Depthwise = conv_norm_activation<Second>;
  using ExpansionFold = FoldedBatchNorm<typename Expansion::conv, typename Expansion::norm>;
  using DepthwiseFold = FoldedBatchNorm<typename Depthwise::conv, typename Depthwise::norm>;
  bool fused = false;
  ExpansionFold expansion_fold;
  DepthwiseFold depthwise_fold;
  Operand src, dst;
  PackedWeights expansion_weights, depthwise_weights;
  memory expansion_bias, depthwise_bias, scratchpad;
  dnnl::primitive primitive;
};

}  // namespace onednn

template <class First, class Second, class T>
  requires onednn::PointwiseThenDepthwise<First, Second>
struct FusionAcross<First, Second, OneDnn, T> {
  static constexpr bool available = true;

  template <ShapeType In>
  static void forward(onednn::Context<T>& ctx, const ForwardArgs<T>& first, const ForwardArgs<T>& second) {
    using namespace onednn;
    using Plan = PointwiseDepthwisePlan<First, Second>;
    using Mid = output_shape_t<First, In>;
    using ExpansionFolded = typename Plan::ExpansionFold::Folded;
    using DepthwiseFolded = typename Plan::DepthwiseFold::Folded;
    auto& p = ctx.template plan<Plan>(Direction::forward, [&] {
      auto plan = std::make_unique<Plan>();
      // int8 and calibration see each convolution's input; the fused call must not overwrite
      // its own input (the two slots of a ping-pong). bf16 with AMX: oneDNN's fused kernel does
      // not use the tiles, its separate 1x1 convolution does.
      if (ctx.precision == Precision::int8 || ctx.calibrating || first.x.data == second.y.data ||
          (ctx.precision == Precision::bf16 && has_amx()))
        return plan;
      const auto expansion = ConvDescription<ExpansionFolded>::template of<In>(ctx);
      const auto depthwise = ConvDescription<DepthwiseFolded>::template of<Mid>(ctx);
      plan->src = input_operand(ctx, first.x, expansion.in);
      plan->dst = output_operand(ctx, second.y, depthwise.out);
      // The expansion's activation, then the depthwise convolution and its activation.
      dnnl::primitive_attr attr = user_scratchpad(Plan::Expansion::activation);
      dnnl::post_ops ops = attr.get_post_ops();
      ops.append_dw(ctx.weights_type(), memory::data_type::f32, ctx.activation_type(), 3, Plan::Depthwise::conv::stride,
                    1);
      const EltwiseFunction then = Plan::Depthwise::activation;
      ops.append_eltwise(then.algorithm, then.alpha, then.beta);
      attr.set_post_ops(ops);
      // The primitive's destination is declared as the expansion's output; the post-op makes
      // it the depthwise convolution's (pd.dst_desc()).
      const memory::desc expanded = four_d(ctx, ctx.device_md(expansion.out), expansion.out);
      dnnl::convolution_forward::primitive_desc pd;
      try {
        pd = dnnl::convolution_forward::primitive_desc(ctx.engine, dnnl::prop_kind::forward_inference,
                                                       dnnl::algorithm::convolution_direct,
                                                       four_d(ctx, plan->src.md, expansion.in), expansion.weights_any,
                                                       expansion.bias, expanded, expansion.strides,
                                                       expansion.padding_left, expansion.padding_right, attr);
      } catch (const dnnl::error&) {
        return plan;  // no implementation of the fusion on this CPU
      }
      const memory::desc depthwise_weights =
          pd.query_md(dnnl::query::exec_arg_md, DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS);
      if (std::string_view(pd.impl_info_str()).starts_with("ref") ||
          pd.dst_desc() != four_d(ctx, plan->dst.md, depthwise.out) ||
          depthwise_weights.get_dims() != depthwise.weights_plain.get_dims())
        return plan;
      plan->fused = true;
      plan->expansion_weights.make(ctx, expansion.weights_plain, pd.weights_desc());
      plan->depthwise_weights.make(ctx, depthwise.weights_plain, depthwise_weights, 2);
      plan->expansion_bias = unbound(expansion.bias, ctx.engine);
      plan->depthwise_bias = unbound(depthwise.bias, ctx.engine);
      plan->scratchpad = scratchpad_for(ctx, pd.scratchpad_desc());
      plan->primitive = dnnl::convolution_forward(pd);
      ctx.folded_batch_norms += 2;
      ++ctx.fused_depthwise_convolutions;
      return plan;
    });
    if (!p.fused) {
      const std::size_t node = ctx.node;  // the first's; the second's subtree follows its
      forward_layer<First, In>(ctx, first);
      ctx.node = node + First::node_count;
      forward_layer<Second, Mid>(ctx, second);
      return;
    }
    if (ctx.planning) return;
    // Each composition's parameters: its Conv's, then its BatchNorm's (the body's second child).
    const auto norm_of = [](const ParamSpan<T>& params, auto body) {
      using Body = typename decltype(body)::type;
      return params.advance(Body::parameter_offsets[1], Body::buffer_offsets[1]);
    };
    p.expansion_fold.refresh(ctx, first.params, norm_of(first.params, std::type_identity<typename First::body>{}));
    p.depthwise_fold.refresh(ctx, second.params, norm_of(second.params, std::type_identity<typename Second::body>{}));
    p.src.load(ctx, first.x.data);
    p.dst.bind_output(ctx, second.y.data);
    p.expansion_weights.refresh(ctx, p.expansion_fold.values.data());
    p.depthwise_weights.refresh(ctx, p.depthwise_fold.values.data());
    bind(p.expansion_bias, p.expansion_fold.values.data() + ExpansionFolded::bias_offset);
    bind(p.depthwise_bias, p.depthwise_fold.values.data() + DepthwiseFolded::bias_offset);
    bind(p.scratchpad, ctx.scratchpad());
    ctx.run(p.primitive, {{DNNL_ARG_SRC, &p.src.mem},
                          {DNNL_ARG_WEIGHTS, &p.expansion_weights.packed},
                          {DNNL_ARG_BIAS, &p.expansion_bias},
                          {DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS, &p.depthwise_weights.packed},
                          {DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS, &p.depthwise_bias},
                          {DNNL_ARG_DST, &p.dst.mem},
                          {DNNL_ARG_SCRATCHPAD, &p.scratchpad}});
    p.dst.store(ctx, second.y.data);
  }
};

}  // namespace ctnn
