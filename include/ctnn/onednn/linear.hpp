#pragma once
// Linear on the oneDNN device: inner_product_forward over features (a 1x1 image is the same in
// the device layout and in NCHW), weights [out, in] packed in the layout oneDNN picks, bias f32;
// Linear + ReLU fused as a post-op (InceptionAux's fc1). At the model's output in bf16 the
// primitive writes the f32 logits itself; in int8 it reads its input quantised (quantisation.hpp).
// Backward: inner_product_backward_weights (f32 dW, db)
// and inner_product_backward_data.

#include <cstddef>   // std::size_t
#include <memory>    // std::make_unique

#include <dnnl.hpp>   // dnnl::inner_product_forward

#include <ctnn/evaluator.hpp>          // ctnn::Fusion
#include <ctnn/layers/linear.hpp>      // ctnn::Linear
#include <ctnn/layers/relu.hpp>        // ctnn::ReLU
#include <ctnn/onednn/fallback.hpp>    // ctnn::onednn::Kernel
#include <ctnn/onednn/operand.hpp>     // Operand, PackedWeights, WeightedBackwardPlan

namespace ctnn {
namespace onednn {

template <std::size_t In, std::size_t Out, class T>
void inner_product_forward(Context<T>& ctx, const ForwardArgs<T>& a, bool relu) {
  auto& p = ctx.template plan<WeightedForwardPlan>(Direction::forward, [&] {
    auto plan = std::make_unique<WeightedForwardPlan>();
    plan->src = weighted_input(ctx, *plan, a.x, {In, 1, 1});
    const auto o = static_cast<memory::dim>(Out), i = static_cast<memory::dim>(In);
    const memory::desc weights({o, i}, ctx.weights_type(), memory::format_tag::any);
    const memory::desc bias({o}, memory::data_type::f32, memory::format_tag::a);
    const dnnl::primitive_attr attr = weighted_attributes(ctx, *plan, relu ? relu_function : EltwiseFunction{});
    auto make = [&](const memory::desc& dst) {
      return dnnl::inner_product_forward::primitive_desc(ctx.engine, forward_kind(ctx), plan->src.md, weights, bias, dst,
                                                         attr, true);
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
    hand_off_output(ctx, *plan, a.y.data, {Out, 1, 1}, EltwiseFunction{});  // f32 out: the logits, aux's fc1
    if (!pd) throw Error("oneDNN inner product", "no implementation for Linear<" + std::to_string(In) + ", " + std::to_string(Out) + ">");
    plan->weights.make(ctx, memory::desc({o, i}, memory::data_type::f32, memory::format_tag::ab), pd.weights_desc());
    plan->bias = unbound(bias, ctx.engine);
    plan->scratchpad = scratchpad_for(ctx, pd.scratchpad_desc());
    plan->primitive = dnnl::inner_product_forward(pd);
    return plan;
  });
  weighted_forward(ctx, p, a, Linear<In, Out>::bias_offset);
}


// dW, db (f32, unless frozen) and dx (unless empty) from x and dy.
template <std::size_t In, std::size_t Out, class T>
void inner_product_backward(Context<T>& ctx, const BackwardArgs<T>& a) {
  auto& p = ctx.template plan<WeightedBackwardPlan>(Direction::backward, [&] {
    auto plan = std::make_unique<WeightedBackwardPlan>();
    const auto o = static_cast<memory::dim>(Out), i = static_cast<memory::dim>(In);
    plan->diff_dst = input_operand(ctx, a.dy, {Out, 1, 1}, 2);
    const memory::desc src = ctx.device_md({In, 1, 1});
    const memory::desc weights({o, i}, ctx.activation_type(), memory::format_tag::any);
    const memory::desc weights_plain({o, i}, memory::data_type::f32, memory::format_tag::ab);
    const memory::desc bias({o}, memory::data_type::f32, memory::format_tag::a);
    const auto hint = checked("inner product", [&] {
      return dnnl::inner_product_forward::primitive_desc(ctx.engine, dnnl::prop_kind::forward_training, src, weights,
                                                         bias, plan->diff_dst.md, user_scratchpad());
    });
    if (a.params.gradients) {
      plan->src = input_operand(ctx, a.x, {In, 1, 1}, 0);
      const memory::desc diff_weights({o, i}, memory::data_type::f32, memory::format_tag::any);
      const auto pd = checked("inner product backward weights", [&] {
        return dnnl::inner_product_backward_weights::primitive_desc(ctx.engine, plan->src.md, diff_weights, bias,
                                                                    plan->diff_dst.md, hint, user_scratchpad());
      });
      plan->diff_weights.make(ctx, pd.diff_weights_desc(), weights_plain, 0);
      plan->diff_bias.make(ctx, pd.diff_bias_desc(), bias, ParameterGradient::room(pd.diff_weights_desc()));
      plan->weights_scratchpad = scratchpad_for(ctx, pd.scratchpad_desc());
      plan->weights_gradient = dnnl::inner_product_backward_weights(pd);
      plan->has_weights_gradient = true;
    }
    if (a.dx) {
      plan->diff_src = gradient_operand(ctx, a.dx, {In, 1, 1}, a.accumulate_dx);
      const auto pd = checked("inner product backward data", [&] {
        return dnnl::inner_product_backward_data::primitive_desc(ctx.engine, plan->diff_src.md, weights,
                                                                 plan->diff_dst.md, hint, user_scratchpad());
      });
      plan->weights.make(ctx, weights_plain, pd.weights_desc());
      plan->data_scratchpad = scratchpad_for(ctx, pd.scratchpad_desc());
      plan->data_gradient = dnnl::inner_product_backward_data(pd);
      plan->has_data_gradient = true;
    }
    return plan;
  });
  weighted_backward(ctx, p, a, Linear<In, Out>::bias_offset);
}

template <std::size_t In, std::size_t Out, class T>
struct Kernel<Linear<In, Out>, T> {
  static constexpr bool has_backward = true;
  template <ShapeType Input>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    inner_product_forward<In, Out>(ctx, a, false);
  }
  template <ShapeType Input>
  static void backward(Context<T>& ctx, const BackwardArgs<T>& a) {
    inner_product_backward<In, Out>(ctx, a);
  }
};

}  // namespace onednn

template <std::size_t In, std::size_t Out, class T>
struct Fusion<Linear<In, Out>, ReLU, OneDnn, T> {
  static constexpr bool available = true;
  static constexpr bool in_training = true;
  template <ShapeType Input>
  static void forward(onednn::Context<T>& ctx, const ForwardArgs<T>& a) {
    onednn::inner_product_forward<In, Out>(ctx, a, true);
  }
};

}  // namespace ctnn
