#pragma once
// Element-wise layers and views on the oneDNN device.
//
//   ReLU, ReLU6, Sigmoid, Tanh, SiLU, Hardswish, LeakyReLU
//               one eltwise primitive each (in place where the plan says), forward and backward
//   BatchNorm   batch_normalization_forward (evaluation: the running statistics, in place;
//               training: the batch's) and backward, with a following ReLU fused (in training
//               ctnn's own kernels may take the pair: batch_norm_relu.hpp); not ReLU6:
//               oneDNN's batch normalization takes no post-ops. Among bf16 activations it
//               computes in f32 where oneDNN has no bf16 kernel for its channel count; with
//               the batch-statistics hook (SyncBatchNorm) the Eigen evaluator's, in training
//   Flatten     a view in NCHW; in the device layout an image of more than one pixel is
//               reordered into NCHW order first, so features follow PyTorch's flatten, and
//               back in backward for the layer before

#include <cstddef>   // std::size_t
#include <memory>    // std::make_unique

#include <dnnl.hpp>   // dnnl::eltwise_forward, dnnl::batch_normalization_forward

#include <ctnn/cpu/batch_norm.hpp>       // Evaluator<BatchNorm, Cpu>: SyncBatchNorm's statistics
#include <ctnn/evaluator.hpp>            // ctnn::Evaluator, ctnn::Fusion, ctnn::ViewEvaluator
#include <ctnn/layers/batch_norm.hpp>    // ctnn::BatchNorm, require_batch_statistics
#include <ctnn/layers/flatten.hpp>       // ctnn::Flatten
#include <ctnn/layers/activations.hpp>   // ctnn::Sigmoid, Tanh, SiLU, Hardswish, LeakyReLU
#include <ctnn/layers/relu.hpp>          // ctnn::ReLU
#include <ctnn/layers/relu6.hpp>         // ctnn::ReLU6
#include <ctnn/onednn/fallback.hpp>      // ctnn::onednn::Kernel
#include <ctnn/onednn/operand.hpp>       // Operand

namespace ctnn {
namespace onednn {

// The oneDNN eltwise function that computes activation L as PyTorch does (see
// ctnn/rules/activations.hpp); its backward reads what L's does: y with the use_dst_for_bwd
// algorithms, else x.
template <class L>
struct Eltwise {
  static constexpr bool missing = true;
};
template <class L>
concept HasEltwise = !requires { Eltwise<L>::missing; };

template <>
struct Eltwise<ReLU> {
  static constexpr EltwiseFunction function = relu_function;
};
// min(max(x, 0), 6); dx = dy where 0 < y < 6, as PyTorch's hardtanh_backward.
template <>
struct Eltwise<ReLU6> {
  static constexpr EltwiseFunction function{dnnl::algorithm::eltwise_clip_v2_use_dst_for_bwd, 0.f,
                                            static_cast<float>(ReLU6::ceiling)};
};
template <>
struct Eltwise<Sigmoid> {
  static constexpr EltwiseFunction function{dnnl::algorithm::eltwise_logistic_use_dst_for_bwd};
};
template <>
struct Eltwise<Tanh> {
  static constexpr EltwiseFunction function{dnnl::algorithm::eltwise_tanh_use_dst_for_bwd};
};
// swish: x * sigmoid(alpha x), alpha = 1.
template <>
struct Eltwise<SiLU> {
  static constexpr EltwiseFunction function{dnnl::algorithm::eltwise_swish, 1.f};
};
// x * min(max(alpha x + beta, 0), 1) = x * relu6(x + 3) / 6. Its backward differs from PyTorch's
// only at x = -3 and 3 exactly (there PyTorch takes the middle piece, oneDNN the outer ones).
template <>
struct Eltwise<Hardswish> {
  static constexpr EltwiseFunction function{dnnl::algorithm::eltwise_hardswish, 1.f / 6.f, 0.5f};
};
// relu with alpha = the slope: x > 0 ? x : alpha x. A slope not below 0 keeps y's sign, so
// backward reads y, as ctnn's LeakyReLU.
template <Ratio NegativeSlope>
struct Eltwise<LeakyReLU<NegativeSlope>> {
  static constexpr EltwiseFunction function{NegativeSlope::num >= 0 ? dnnl::algorithm::eltwise_relu_use_dst_for_bwd
                                                                    : dnnl::algorithm::eltwise_relu,
                                            static_cast<float>(LeakyReLU<NegativeSlope>::negative_slope)};
};

template <class T>
dnnl::eltwise_forward::primitive_desc eltwise_forward(const Context<T>& ctx, EltwiseFunction f, const memory::desc& src,
                                                      const memory::desc& dst) {
  return checked("eltwise", [&] {
    return dnnl::eltwise_forward::primitive_desc(ctx.engine, forward_kind(ctx), f.algorithm, src, dst, f.alpha, f.beta,
                                                 user_scratchpad());
  });
}

// An activation as one eltwise primitive (in place where the plan says), forward and backward.
template <class L, class T>
  requires HasEltwise<L>
struct Kernel<L, T> {
  static constexpr EltwiseFunction function = Eltwise<L>::function;
  static constexpr bool has_backward = true;
  template <ShapeType In>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    unary_forward<dnnl::eltwise_forward>(ctx, a, dims_of<In>, dims_of<In>, Rank::as_laid_out,
                                         [&](const memory::desc& src, const memory::desc& dst) {
                                           return eltwise_forward(ctx, function, src, dst);
                                         });
  }
  template <ShapeType In>
  static void backward(Context<T>& ctx, const BackwardArgs<T>& a) {
    static_assert(L::backward_reads_output != L::backward_reads_input);
    constexpr Kept kept = L::backward_reads_output ? Kept::output : Kept::input;
    unary_backward<dnnl::eltwise_backward>(
        ctx, a, dims_of<In>, dims_of<In>, Rank::as_laid_out, kept,
        [&](const memory::desc& diff_src, const memory::desc& diff_dst, const memory::desc& data) {
          const auto hint = eltwise_forward(ctx, function, data, data);
          return checked("eltwise backward", [&] {
            return dnnl::eltwise_backward::primitive_desc(ctx.engine, function.algorithm, diff_src, diff_dst, data,
                                                          function.alpha, function.beta, hint, user_scratchpad());
          });
        });
  }
};

// After a training forward: the running statistics move towards the batch's (mean, biased
// variance over `count` values per channel), with the unbiased variance, as nn.BatchNorm2d.
template <class L, class Pointers>
void update_running_statistics(const Pointers& bn, const float* mean, const float* variance, std::size_t count) {
  const double m = static_cast<double>(count), momentum = L::momentum;
  for (std::size_t c = 0; c < L::channels; ++c) {
    bn.running_mean[c] = static_cast<float>((1 - momentum) * bn.running_mean[c] + momentum * mean[c]);
    bn.running_var[c] = static_cast<float>((1 - momentum) * bn.running_var[c] + momentum * (variance[c] * m / (m - 1)));
  }
  *bn.num_batches_tracked += 1.f;
}

struct BatchNormForwardPlan : Plan {
  Operand src, dst;
  memory mean, variance, scale, shift, workspace, scratchpad;
  dnnl::batch_normalization_forward primitive;
};

// Evaluation normalises with the running statistics; training with the batch's, which it keeps
// in `saved` (mean [C], biased variance [C]) for backward, and moves the running ones as PyTorch
// does. With `relu` a ReLU follows in the same primitive (its mask, which only oneDNN's own
// fused backward would read, goes to parameter staging).
//
// oneDNN 3.2 jits bf16 batch normalization only where the channels are a multiple of 16; for
// others (FashionInception's 24) its generic code took 60% of a bf16 training step, so such a
// batch norm computes in f32 (in_a_jitted_type; forward and backward alike).

template <class L, ShapeType In, class T>
void batch_norm_forward(Context<T>& ctx, const ForwardArgs<T>& a, bool relu) {
  constexpr std::size_t C = L::channels;
  const bool training = ctx.mode == Mode::train;
  auto& p = ctx.template plan<BatchNormForwardPlan>(Direction::forward, [&] {
    auto plan = std::make_unique<BatchNormForwardPlan>();
    auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    if (!training) flags = flags | dnnl::normalization_flags::use_global_stats;
    if (relu) flags = flags | dnnl::normalization_flags::fuse_norm_relu;
    const auto make = [&](memory::data_type type) {
      plan->src = input_operand(ctx, a.x, dims_of<In>, 0, type);
      plan->dst = output_operand(ctx, a.y, dims_of<In>, 1, type);
      return checked("batch normalization", [&] {
        return dnnl::batch_normalization_forward::primitive_desc(ctx.engine, forward_kind(ctx), plan->src.md,
                                                                 plan->dst.md, static_cast<float>(L::epsilon), flags,
                                                                 user_scratchpad());
      });
    };
    const auto pd = in_a_jitted_type(ctx, make);
    const memory::desc channels({static_cast<memory::dim>(C)}, memory::data_type::f32, memory::format_tag::a);
    plan->mean = unbound(channels, ctx.engine);
    plan->variance = unbound(channels, ctx.engine);
    plan->scale = unbound(channels, ctx.engine);
    plan->shift = unbound(channels, ctx.engine);
    if (training && relu) {
      plan->workspace = unbound(pd.workspace_desc(), ctx.engine);
      ctx.need_parameter_staging(pd.workspace_desc().get_size());
    }
    plan->scratchpad = scratchpad_for(ctx, pd.scratchpad_desc());
    plan->primitive = dnnl::batch_normalization_forward(pd);
    return plan;
  });
  if (ctx.planning) return;
  const auto bn = L::pointers(a.params);
  const std::size_t count = ctx.batch * In::height * In::width;  // M
  if (training) require_batch_statistics(count);
  float* mean = training ? a.saved : bn.running_mean;
  float* variance = training ? a.saved + C : bn.running_var;
  p.src.load(ctx, a.x.data);
  p.dst.bind_output(ctx, a.y.data);
  bind(p.mean, mean);
  bind(p.variance, variance);
  bind(p.scale, bn.weight);
  bind(p.shift, bn.bias);
  // Qualified: with a std::byte* argument, ADL would find std::bind.
  onednn::bind(p.workspace, ctx.parameter_staging());
  bind(p.scratchpad, ctx.scratchpad());
  ctx.run(p.primitive, {{DNNL_ARG_SRC, &p.src.mem},
                        {DNNL_ARG_DST, &p.dst.mem},
                        {DNNL_ARG_MEAN, &p.mean},
                        {DNNL_ARG_VARIANCE, &p.variance},
                        {DNNL_ARG_SCALE, &p.scale},
                        {DNNL_ARG_SHIFT, &p.shift},
                        {DNNL_ARG_WORKSPACE, &p.workspace},
                        {DNNL_ARG_SCRATCHPAD, &p.scratchpad}});
  p.dst.store(ctx, a.y.data);
  if (training) update_running_statistics<L>(bn, mean, variance, count);
}

struct BatchNormBackwardPlan : Plan {
  Operand src, diff_dst, diff_src;
  memory mean, variance, scale, scratchpad;
  ParameterGradient diff_scale, diff_shift;
  dnnl::batch_normalization_backward primitive;
};

// Training's backward with the batch's statistics from `saved`: dx, dgamma, dbeta (the last two
// unless frozen).
template <class L, ShapeType In, class T>
void batch_norm_backward(Context<T>& ctx, const BackwardArgs<T>& a) {
  constexpr std::size_t C = L::channels;
  const auto bn = L::pointers(a.params);
  auto& p = ctx.template plan<BatchNormBackwardPlan>(Direction::backward, [&] {
    auto plan = std::make_unique<BatchNormBackwardPlan>();
    const auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    // dgamma and dbeta even where frozen (into parameter staging, unread): oneDNN 3.2's generic
    // kernel, for channel counts its jitted ones do not take, fails to run backward_data
    // ("bad number of outputs").
    const auto prop = dnnl::prop_kind::backward;
    const auto make = [&](memory::data_type type) {
      plan->src = input_operand(ctx, a.x, dims_of<In>, 0, type);
      plan->diff_dst = input_operand(ctx, a.dy, dims_of<In>, 2, type);
      // Without dx (the network's first layer) oneDNN still writes one: to staging.
      plan->diff_src = a.dx ? gradient_operand(ctx, a.dx, dims_of<In>, a.accumulate_dx, 3, type)
                            : gradient_operand(ctx, Slot<T>{}, dims_of<In>, true, 3, type);
      const auto hint = checked("batch normalization", [&] {
        return dnnl::batch_normalization_forward::primitive_desc(ctx.engine, dnnl::prop_kind::forward_training,
                                                                 plan->src.md, plan->src.md,
                                                                 static_cast<float>(L::epsilon), flags, user_scratchpad());
      });
      return checked("batch normalization backward", [&] {
        return dnnl::batch_normalization_backward::primitive_desc(ctx.engine, prop, plan->diff_src.md,
                                                                  plan->diff_dst.md, plan->src.md,
                                                                  static_cast<float>(L::epsilon), flags, hint,
                                                                  user_scratchpad());
      });
    };
    const auto pd = in_a_jitted_type(ctx, make);
    const memory::desc channels({static_cast<memory::dim>(C)}, memory::data_type::f32, memory::format_tag::a);
    plan->mean = unbound(channels, ctx.engine);
    plan->variance = unbound(channels, ctx.engine);
    plan->scale = unbound(channels, ctx.engine);
    plan->diff_scale.make(ctx, channels, channels, 0);
    plan->diff_shift.make(ctx, channels, channels, ParameterGradient::room(channels));
    plan->scratchpad = scratchpad_for(ctx, pd.scratchpad_desc());
    plan->primitive = dnnl::batch_normalization_backward(pd);
    return plan;
  });
  if (ctx.planning) return;
  p.src.load(ctx, a.x.data);
  p.diff_dst.load(ctx, a.dy.data);
  p.diff_src.bind_output(ctx, a.dx.data);
  bind(p.mean, a.saved);
  bind(p.variance, a.saved + C);
  bind(p.scale, bn.weight);
  const bool parameters = bn.weight_grad != nullptr;  // as when planned: frozen layers stay frozen
  if (parameters) {
    p.diff_scale.bind(ctx, bn.weight_grad);
    p.diff_shift.bind(ctx, bn.bias_grad);
  } else {
    onednn::bind(p.diff_scale.mem, ctx.parameter_staging() + p.diff_scale.offset);
    onednn::bind(p.diff_shift.mem, ctx.parameter_staging() + p.diff_shift.offset);
  }
  bind(p.scratchpad, ctx.scratchpad());
  ctx.run(p.primitive, {{DNNL_ARG_SRC, &p.src.mem},
                        {DNNL_ARG_MEAN, &p.mean},
                        {DNNL_ARG_VARIANCE, &p.variance},
                        {DNNL_ARG_DIFF_DST, &p.diff_dst.mem},
                        {DNNL_ARG_SCALE, &p.scale},
                        {DNNL_ARG_DIFF_SRC, &p.diff_src.mem},
                        {DNNL_ARG_DIFF_SCALE, &p.diff_scale.mem},
                        {DNNL_ARG_DIFF_SHIFT, &p.diff_shift.mem},
                        {DNNL_ARG_SCRATCHPAD, &p.scratchpad}});
  if (a.dx) p.diff_src.store(ctx, a.dx.data);
  if (parameters) {
    p.diff_scale.store(ctx, bn.weight_grad);
    p.diff_shift.store(ctx, bn.bias_grad);
  }
}

// SyncBatchNorm: in training with the batch-statistics hook (ctnn/pass_state.hpp) the batch
// norm is the Eigen evaluator's, which sums its statistics over the processes between its
// passes; oneDNN's primitive computes them inside one call. Forward and backward of one step
// take the same path (the front end plans again when the hook comes or goes), so each reads the
// statistics its own forward saved.
template <class T>
bool sums_statistics_over_processes(const Context<T>& ctx) {
  return ctx.mode == Mode::train && ctx.batch_statistics_sum.sum != nullptr;
}

template <std::size_t C, Ratio Eps, Ratio Momentum, class T>
struct Kernel<BatchNorm<C, Eps, Momentum>, T> {
  using L = BatchNorm<C, Eps, Momentum>;
  static constexpr bool has_backward = true;
  template <ShapeType In>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    if (sums_statistics_over_processes(ctx)) return eigen_forward<L, In>(ctx, a);
    batch_norm_forward<L, In>(ctx, a, false);
  }
  template <ShapeType In>
  static void backward(Context<T>& ctx, const BackwardArgs<T>& a) {
    if (sums_statistics_over_processes(ctx)) return eigen_backward<L, In>(ctx, a);
    batch_norm_backward<L, In>(ctx, a);
  }
};

}  // namespace onednn

// Flatten: features in PyTorch's order (channel, row, column). The plan makes Flatten a view, so
// in the device layout the reorder of an image of more than one pixel happens in the buffer of
// its input, which the layer before may read in its backward (ReLU its output): backward first
// reorders the features back into that image, exactly (a permutation in the same type).
template <class T>
struct Evaluator<Flatten, OneDnn, T> {
  static constexpr bool restores_input = true;
  template <ShapeType In>
  static void forward(onednn::Context<T>& ctx, const ForwardArgs<T>& a) {
    if constexpr (In::height * In::width == 1) {
      ViewEvaluator<T>::template forward<In>(ctx, a);
    } else {
      if (ctx.planning) {
        ctx.reads_floats(a.x.data);
        ctx.wrote_floats(a.y.data);
        return ctx.need_staging(ctx.batch * In::size * sizeof(T));
      }
      // The device layout's NHWC image, into NCHW order in the same type: through staging, as x
      // and y may be one buffer.
      const bool x_plain = ctx.is_plain(a.x.data), y_plain = ctx.is_plain(a.y.data);
      const Slot<T> staged{static_cast<T*>(ctx.staging(0)), In::size};
      onednn::convert_images(ctx, a.x, x_plain, staged, true, onednn::dims_of<In>, false);
      if (y_plain || ctx.float_activations()) {
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
      // A plain x (the caller's NCHW images) was not reordered.
      if (a.x.data == a.y.data && !ctx.is_plain(a.x.data))
        features_to_image<In>(ctx, a.y, Slot<T>{const_cast<T*>(a.x.data), a.x.image_stride}, false);
      if (a.dx) features_to_image<In>(ctx, a.dy, a.dx, a.accumulate_dx);
    }
  }

 private:
  // Features in NCHW order -> an image in dst's layout, through staging (src and dst may be one
  // buffer).
  template <ShapeType In>
  static void features_to_image(onednn::Context<T>& ctx, ConstSlot<T> features, Slot<T> image, bool accumulate) {
    const Slot<T> staged{static_cast<T*>(ctx.staging(0)), In::size};
    const bool features_plain = ctx.is_plain(features.data);
    const bool features_floats = features_plain || ctx.float_activations();
    if (!features_plain) features = ConstSlot<T>{features.data, In::size};  // device images are packed
    onednn::convert_images(ctx, features, features_floats, staged, true, onednn::Dims{In::size, 1, 1}, false);
    onednn::convert_images(ctx, ConstSlot<T>(staged), true, image, ctx.is_plain(image.data), onednn::dims_of<In>,
                           accumulate);
  }
};

}  // namespace ctnn
