#pragma once
// Linear on the oneDNN device: inner_product_forward over features (a 1x1 image is the same in
// the device layout and in NCHW), weights [out, in] packed in the layout oneDNN picks, bias f32;
// Linear + ReLU fused as a post-op (InceptionAux's fc1). At the model's output in bf16 the
// primitive writes the f32 logits itself. Backward: the Eigen evaluator's.

#include <cstddef>   // std::size_t
#include <memory>    // std::make_unique

#include <dnnl.hpp>   // dnnl::inner_product_forward

#include <ctnn/evaluator.hpp>          // ctnn::Fusion
#include <ctnn/layers/linear.hpp>      // ctnn::Linear
#include <ctnn/layers/relu.hpp>        // ctnn::ReLU
#include <ctnn/onednn/fallback.hpp>    // ctnn::onednn::Kernel
#include <ctnn/onednn/operand.hpp>     // Operand, PackedWeights

namespace ctnn {
namespace onednn {

struct LinearForwardPlan : Plan {
  Operand src, dst;
  PackedWeights weights;
  memory bias, scratchpad;
  dnnl::inner_product_forward primitive;
};

template <std::size_t In, std::size_t Out, class T>
void inner_product_forward(Context<T>& ctx, const ForwardArgs<T>& a, bool relu) {
  auto& p = ctx.template plan<LinearForwardPlan>(Direction::forward, [&] {
    auto plan = std::make_unique<LinearForwardPlan>();
    plan->src = input_operand(ctx, a.x, {In, 1, 1});
    const auto o = static_cast<memory::dim>(Out), i = static_cast<memory::dim>(In);
    const memory::desc weights({o, i}, ctx.activation_type(), memory::format_tag::any);
    const memory::desc bias({o}, memory::data_type::f32, memory::format_tag::a);
    const dnnl::primitive_attr attr = user_scratchpad(relu);
    auto make = [&](const memory::desc& dst) {
      return dnnl::inner_product_forward::primitive_desc(ctx.engine, dnnl::prop_kind::forward_inference, plan->src.md,
                                                         weights, bias, dst, attr, true);
    };
    // The output written as the caller reads it (f32 logits from bf16 products), where oneDNN
    // can; otherwise in the device layout, reordered.
    const Tensor y = ctx.tensor(a.y, {Out, 1, 1});
    dnnl::inner_product_forward::primitive_desc pd = make(y.md);
    if (y.plain && pd) {
      plan->dst.md = y.md;
      plan->dst.mem = unbound(y.md, ctx.engine);
    } else {
      plan->dst = output_operand(ctx, a.y, {Out, 1, 1});
      pd = make(plan->dst.md);
    }
    if (!pd) throw Error("oneDNN inner product", "no implementation for Linear<" + std::to_string(In) + ", " + std::to_string(Out) + ">");
    plan->weights.make(ctx, memory::desc({o, i}, memory::data_type::f32, memory::format_tag::ab), pd.weights_desc());
    plan->bias = unbound(bias, ctx.engine);
    plan->scratchpad = scratchpad_for(ctx, pd.scratchpad_desc());
    plan->primitive = dnnl::inner_product_forward(pd);
    return plan;
  });
  if (ctx.planning) return;
  p.src.load(ctx, a.x.data);
  p.dst.bind_output(ctx, a.y.data);
  p.weights.refresh(ctx, a.params.values);
  bind(p.bias, a.params.values + Linear<In, Out>::bias_offset);
  bind(p.scratchpad, ctx.scratchpad());
  ctx.run(p.primitive, {{DNNL_ARG_SRC, &p.src.mem},
                        {DNNL_ARG_WEIGHTS, &p.weights.packed},
                        {DNNL_ARG_BIAS, &p.bias},
                        {DNNL_ARG_DST, &p.dst.mem},
                        {DNNL_ARG_SCRATCHPAD, &p.scratchpad}});
  p.dst.store(ctx, a.y.data);
}

template <std::size_t In, std::size_t Out, class T>
struct Kernel<Linear<In, Out>, T> {
  static constexpr bool has_backward = false;
  template <ShapeType Input>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    inner_product_forward<In, Out>(ctx, a, false);
  }
};

}  // namespace onednn

template <std::size_t In, std::size_t Out, class T>
struct Fusion<Linear<In, Out>, ReLU, OneDnn, T> {
  static constexpr bool available = true;
  template <ShapeType Input>
  static void forward(onednn::Context<T>& ctx, const ForwardArgs<T>& a) {
    onednn::inner_product_forward<In, Out>(ctx, a, true);
  }
};

}  // namespace ctnn
