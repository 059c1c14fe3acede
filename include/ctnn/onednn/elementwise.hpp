#pragma once
// Element-wise layers and views on the oneDNN device.
//
//   ReLU        eltwise_forward (in place where the plan says); backward: the Eigen evaluator's
//   BatchNorm   evaluation: batch_normalization_forward with the running statistics, in place,
//               with a following ReLU fused; training: the Eigen evaluator's (batch statistics)
//   Flatten     a view in NCHW; in the device layout an image of more than one pixel is
//               reordered into NCHW order first, so features follow PyTorch's flatten

#include <cstddef>   // std::size_t
#include <memory>    // std::make_unique

#include <dnnl.hpp>   // dnnl::eltwise_forward, dnnl::batch_normalization_forward

#include <ctnn/evaluator.hpp>            // ctnn::Evaluator, ctnn::Fusion, ctnn::ViewEvaluator
#include <ctnn/layers/batch_norm.hpp>    // ctnn::BatchNorm
#include <ctnn/layers/flatten.hpp>       // ctnn::Flatten
#include <ctnn/layers/relu.hpp>          // ctnn::ReLU
#include <ctnn/onednn/fallback.hpp>      // ctnn::onednn::Kernel
#include <ctnn/onednn/operand.hpp>       // Operand

namespace ctnn {
namespace onednn {

struct EltwiseForwardPlan : Plan {
  Operand src, dst;
  memory scratchpad;
  dnnl::eltwise_forward primitive;
};

template <class T>
struct Kernel<ReLU, T> {
  static constexpr bool has_backward = false;
  template <ShapeType In>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    auto& p = ctx.template plan<EltwiseForwardPlan>(Direction::forward, [&] {
      auto plan = std::make_unique<EltwiseForwardPlan>();
      plan->src = input_operand(ctx, a.x, dims_of<In>);
      plan->dst = output_operand(ctx, a.y, dims_of<In>);
      const auto pd = checked("eltwise", [&] {
        return dnnl::eltwise_forward::primitive_desc(ctx.engine, dnnl::prop_kind::forward_inference,
                                                     dnnl::algorithm::eltwise_relu, plan->src.md, plan->dst.md, 0.f, 0.f,
                                                     user_scratchpad());
      });
      plan->scratchpad = scratchpad_for(ctx, pd.scratchpad_desc());
      plan->primitive = dnnl::eltwise_forward(pd);
      return plan;
    });
    if (ctx.planning) return;
    p.src.load(ctx, a.x.data);
    p.dst.bind_output(ctx, a.y.data);
    bind(p.scratchpad, ctx.scratchpad());
    ctx.run(p.primitive, {{DNNL_ARG_SRC, &p.src.mem}, {DNNL_ARG_DST, &p.dst.mem}, {DNNL_ARG_SCRATCHPAD, &p.scratchpad}});
    p.dst.store(ctx, a.y.data);
  }
};

struct BatchNormForwardPlan : Plan {
  Operand src, dst;
  memory mean, variance, scale, shift, scratchpad;
  dnnl::batch_normalization_forward primitive;
};

template <class L, ShapeType In, class T>
void batch_norm_inference(Context<T>& ctx, const ForwardArgs<T>& a, bool relu) {
  auto& p = ctx.template plan<BatchNormForwardPlan>(Direction::forward, [&] {
    auto plan = std::make_unique<BatchNormForwardPlan>();
    plan->src = input_operand(ctx, a.x, dims_of<In>);
    plan->dst = output_operand(ctx, a.y, dims_of<In>);
    auto flags = dnnl::normalization_flags::use_global_stats | dnnl::normalization_flags::use_scale |
                 dnnl::normalization_flags::use_shift;
    if (relu) flags = flags | dnnl::normalization_flags::fuse_norm_relu;
    const auto pd = checked("batch normalization", [&] {
      return dnnl::batch_normalization_forward::primitive_desc(ctx.engine, dnnl::prop_kind::forward_inference,
                                                               plan->src.md, plan->dst.md, static_cast<float>(L::epsilon),
                                                               flags, user_scratchpad());
    });
    const memory::desc channels({static_cast<memory::dim>(L::channels)}, memory::data_type::f32, memory::format_tag::a);
    plan->mean = unbound(channels, ctx.engine);
    plan->variance = unbound(channels, ctx.engine);
    plan->scale = unbound(channels, ctx.engine);
    plan->shift = unbound(channels, ctx.engine);
    plan->scratchpad = scratchpad_for(ctx, pd.scratchpad_desc());
    plan->primitive = dnnl::batch_normalization_forward(pd);
    return plan;
  });
  if (ctx.planning) return;
  const auto bn = L::pointers(a.params);
  p.src.load(ctx, a.x.data);
  p.dst.bind_output(ctx, a.y.data);
  bind(p.mean, bn.running_mean);
  bind(p.variance, bn.running_var);
  bind(p.scale, bn.weight);
  bind(p.shift, bn.bias);
  bind(p.scratchpad, ctx.scratchpad());
  ctx.run(p.primitive, {{DNNL_ARG_SRC, &p.src.mem},
                        {DNNL_ARG_DST, &p.dst.mem},
                        {DNNL_ARG_MEAN, &p.mean},
                        {DNNL_ARG_VARIANCE, &p.variance},
                        {DNNL_ARG_SCALE, &p.scale},
                        {DNNL_ARG_SHIFT, &p.shift},
                        {DNNL_ARG_SCRATCHPAD, &p.scratchpad}});
  p.dst.store(ctx, a.y.data);
}

template <std::size_t C, Ratio Eps, Ratio Momentum, class T>
struct Kernel<BatchNorm<C, Eps, Momentum>, T> {
  static constexpr bool has_backward = false;
  template <ShapeType In>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    batch_norm_inference<BatchNorm<C, Eps, Momentum>, In>(ctx, a, false);
  }
};

}  // namespace onednn

template <std::size_t C, Ratio Eps, Ratio Momentum, class T>
struct Fusion<BatchNorm<C, Eps, Momentum>, ReLU, OneDnn, T> {
  static constexpr bool available = true;
  template <ShapeType In>
  static void forward(onednn::Context<T>& ctx, const ForwardArgs<T>& a) {
    onednn::batch_norm_inference<BatchNorm<C, Eps, Momentum>, In>(ctx, a, true);
  }
};

// Flatten: features in PyTorch's order (channel, row, column).
template <class T>
struct Evaluator<Flatten, OneDnn, T> {
  template <ShapeType In>
  static void forward(onednn::Context<T>& ctx, const ForwardArgs<T>& a) {
    if constexpr (In::height * In::width == 1) {
      ViewEvaluator<T>::template forward<In>(ctx, a);
    } else {
      if (ctx.planning) return ctx.need_staging(ctx.batch * In::size * sizeof(T));
      // The device layout's NHWC image, into NCHW order in the same type: through staging, as x
      // and y may be one buffer.
      const bool x_plain = ctx.is_plain(a.x.data), y_plain = ctx.is_plain(a.y.data);
      const Slot<T> staged{static_cast<T*>(ctx.staging(0)), In::size};
      onednn::convert_images(ctx, a.x, x_plain, staged, true, onednn::dims_of<In>, false);
      if (y_plain || ctx.precision == onednn::Precision::f32) {
        const Slot<T> y = y_plain ? a.y : Slot<T>{a.y.data, In::size};  // device images are packed
        cpu::copy_images(static_cast<const cpu::Context<T>&>(ctx), ConstSlot<T>(staged), y, In::size, false);
      } else {
        onednn::convert_images(ctx, ConstSlot<T>(staged), true, a.y, false, onednn::Dims{In::size, 1, 1}, false);
      }
    }
  }
  template <ShapeType In>
  static void backward(onednn::Context<T>& ctx, const BackwardArgs<T>& a) {
    if constexpr (In::height * In::width == 1) {
      ViewEvaluator<T>::template backward<In>(ctx, a);
    } else {
      if (ctx.planning) return ctx.need_staging(ctx.batch * In::size * sizeof(T));
      if (!a.dx) return;
      // dy in NCHW order (features) -> dx in the device layout.
      const Slot<T> staged{static_cast<T*>(ctx.staging(0)), In::size};
      const bool dy_floats = ctx.is_plain(a.dy.data) || ctx.precision == onednn::Precision::f32;
      onednn::convert_images(ctx, a.dy, dy_floats, staged, true, onednn::Dims{In::size, 1, 1}, false);
      onednn::convert_images(ctx, ConstSlot<T>(staged), true, a.dx, ctx.is_plain(a.dx.data), onednn::dims_of<In>,
                             a.accumulate_dx);
    }
  }
};

}  // namespace ctnn
