#pragma once
// Which code computes a leaf layer on the oneDNN device:
//
//   onednn::Kernel<L, T>   oneDNN primitives (conv.hpp, pooling.hpp, linear.hpp, elementwise.hpp,
//                          softmax.hpp, upsample.hpp; the list in ctnn/onednn.hpp): forward,
//                          and backward where `has_backward` says so (every kernel here); a
//                          kernel without backward computes training's forward only where the
//                          layer keeps nothing for its backward
//   the Eigen evaluator    everything else (Dropout's mask, TransformInput, AvgPool in ceil
//                          mode past the padding, training's BatchNorm with SyncBatchNorm's
//                          statistics hook, a layer added later):
//                          the CPU reference's Evaluator<L, Cpu, T> runs on the context (a
//                          cpu::Context), its operands reordered between the device layout and
//                          plain NCHW f32 in staging buffers
//
// So a new layer runs on this device as soon as it has a CPU evaluator; a oneDNN kernel for it
// only makes it faster. A layer with neither is the model's one "no evaluator" error.

#include <algorithm>     // std::max
#include <cstddef>       // std::size_t

#include <ctnn/cpu/context.hpp>       // ctnn::cpu::Context
#include <ctnn/evaluator.hpp>         // ctnn::Evaluator, ctnn::EvaluatorFor, ctnn::Cpu
#include <ctnn/layers/dropout.hpp>    // ctnn::DropoutKernel
#include <ctnn/onednn/context.hpp>    // ctnn::onednn::Context, convert_images
#include <ctnn/shape.hpp>             // ctnn::output_shape_t

namespace ctnn {
namespace onednn {

// Specialised per layer with oneDNN primitives:
//   template <ShapeType In> static void forward(Context<T>&, const ForwardArgs<T>&);
//   static constexpr bool has_backward;   and, when true, backward<In>
template <class L, class T>
struct Kernel {
  static constexpr bool missing = true;
};
template <class L, class T>
concept HasKernel = !requires { Kernel<L, T>::missing; };

// Layers whose evaluator serves every device (composites, views, Dropout's pass-through) are
// not leaves of this dispatch.
struct AnyDevice {};
template <class L, class T>
concept DeviceGeneric = !requires { Evaluator<L, AnyDevice, T>::missing; };

// Whether the Eigen evaluator computes L: where no kernel is, and in training for a layer that
// keeps state for its backward (pooling indices, statistics, masks) which only its own backward
// reads, or whose kernel has no backward.
template <class L, class T, ShapeType In>
constexpr bool on_cpu(Mode mode) {
  if constexpr (!HasKernel<L, T>) {
    return true;
  } else {
    if (mode == Mode::eval) return false;
    return L::template saved_elements<In> > 0 && !Kernel<L, T>::has_backward;
  }
}

// x and y (or x, y, dy, dx) in plain NCHW f32: the slot itself where it already is, else a
// staging buffer.
template <class T>
bool same_as_plain(const Context<T>& ctx, Dims d) {
  return ctx.float_activations() && (d.plane() == 1 || d.channels == 1);
}

template <class L, ShapeType In, class T, class Run>
void forward_on_cpu(Context<T>& ctx, const ForwardArgs<T>& a, Run&& run) {
  using Out = output_shape_t<L, In>;
  constexpr Dims din = dims_of<In>, dout = dims_of<Out>;
  if (ctx.planning) {
    ctx.need_staging(ctx.batch * std::max(In::size, Out::size) * sizeof(T));
    ctx.reads_floats(a.x.data);
    ctx.wrote_floats(a.y.data);
    return;
  }
  // A device-layout operand is read as plain where the layouts agree (f32 features), its images
  // packed; otherwise it goes through a staging buffer.
  const bool x_boundary = ctx.is_plain(a.x.data), y_boundary = ctx.is_plain(a.y.data);
  const bool x_plain = x_boundary || same_as_plain(ctx, din);
  const bool y_plain = y_boundary || same_as_plain(ctx, dout);
  ConstSlot<T> x = x_boundary ? a.x : ConstSlot<T>{a.x.data, In::size};
  Slot<T> y = y_boundary ? a.y : Slot<T>{a.y.data, Out::size};
  if (!x_plain) {
    x = {static_cast<T*>(ctx.staging(0)), In::size};
    convert_images(ctx, a.x, false, Slot<T>{static_cast<T*>(ctx.staging(0)), In::size}, true, din, false);
  }
  if (!y_plain) y = {static_cast<T*>(ctx.staging(1)), Out::size};
  run(static_cast<cpu::Context<T>&>(ctx), ForwardArgs<T>{a.params, x, y, a.saved, a.scratch});
  if (!y_plain) convert_images(ctx, ConstSlot<T>(y), true, a.y, false, dout, false);
}

template <class L, ShapeType In, class T, class Run>
void backward_on_cpu(Context<T>& ctx, const BackwardArgs<T>& a, Run&& run) {
  using Out = output_shape_t<L, In>;
  constexpr Dims din = dims_of<In>, dout = dims_of<Out>;
  if (ctx.planning) {
    ctx.need_staging(ctx.batch * std::max(In::size, Out::size) * sizeof(T));
    return;
  }
  auto plain = [&](ConstSlot<T> s, Dims d, std::size_t staging, std::size_t size) -> ConstSlot<T> {
    if (!s || ctx.is_plain(s.data)) return s;
    if (same_as_plain(ctx, d)) return {s.data, size};  // packed device images
    const Slot<T> to{static_cast<T*>(ctx.staging(staging)), size};
    convert_images(ctx, s, false, to, true, d, false);
    return to;
  };
  BackwardArgs<T> args = a;
  args.x = plain(a.x, din, 0, In::size);
  args.y = plain(a.y, dout, 1, Out::size);
  args.dy = plain(a.dy, dout, 2, Out::size);
  const bool dx_device = a.dx && !ctx.is_plain(a.dx.data);
  const bool dx_staged = dx_device && !same_as_plain(ctx, din);
  if (dx_device && !dx_staged) args.dx = {a.dx.data, In::size};
  if (dx_staged) {
    args.dx = {static_cast<T*>(ctx.staging(3)), In::size};
    args.accumulate_dx = false;
  }
  run(static_cast<cpu::Context<T>&>(ctx), args);
  if (dx_staged) convert_images(ctx, ConstSlot<T>(args.dx), true, a.dx, false, din, a.accumulate_dx);
}

// L's Eigen evaluator on the device's operands: for a layer without a kernel, and for a kernel
// that leaves some cases to it (AvgPool in ceil mode, SyncBatchNorm's batch norm, ...).
template <class L, ShapeType In, class T>
void eigen_forward(Context<T>& ctx, const ForwardArgs<T>& a) {
  forward_on_cpu<L, In>(ctx, a, [](cpu::Context<T>& c, const ForwardArgs<T>& args) {
    Evaluator<L, Cpu, T>::template forward<In>(c, args);
  });
}
template <class L, ShapeType In, class T>
void eigen_backward(Context<T>& ctx, const BackwardArgs<T>& a) {
  backward_on_cpu<L, In>(ctx, a, [](cpu::Context<T>& c, const BackwardArgs<T>& args) {
    Evaluator<L, Cpu, T>::template backward<In>(c, args);
  });
}

// A leaf layer on the oneDNN device: its kernel, or its Eigen evaluator (see above).
template <class L, class T>
struct LeafEvaluator {
  template <ShapeType In>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    if constexpr (HasKernel<L, T>) {
      if (!on_cpu<L, T, In>(ctx.mode)) return Kernel<L, T>::template forward<In>(ctx, a);
    }
    if constexpr (EvaluatorFor<L, Cpu, T>) eigen_forward<L, In>(ctx, a);
  }
  template <ShapeType In>
  static void backward(Context<T>& ctx, const BackwardArgs<T>& a) {
    if constexpr (HasKernel<L, T>) {
      if constexpr (Kernel<L, T>::has_backward) return Kernel<L, T>::template backward<In>(ctx, a);
    }
    if constexpr (EvaluatorFor<L, Cpu, T>)
      eigen_backward<L, In>(ctx, a);
    else
      throw Error("oneDNN backend", "this layer has no backward on the device");
  }
};
}  // namespace onednn

// Every leaf layer on the oneDNN device.
template <class L, class T>
  requires(!onednn::DeviceGeneric<L, T> && (onednn::HasKernel<L, T> || EvaluatorFor<L, Cpu, T>))
struct Evaluator<L, OneDnn, T> : onednn::LeafEvaluator<L, T> {};

// Dropout's mask in training: the CPU's, on plain copies of its operands.
template <class T>
struct DropoutKernel<OneDnn, T> {
  template <class Layer, ShapeType In>
  static void forward(onednn::Context<T>& ctx, const ForwardArgs<T>& a) {
    onednn::forward_on_cpu<Layer, In>(ctx, a, [](cpu::Context<T>& c, const ForwardArgs<T>& args) {
      DropoutKernel<Cpu, T>::template forward<Layer, In>(c, args);
    });
  }
  template <class Layer, ShapeType In>
  static void backward(onednn::Context<T>& ctx, const BackwardArgs<T>& a) {
    onednn::backward_on_cpu<Layer, In>(ctx, a, [](cpu::Context<T>& c, const BackwardArgs<T>& args) {
      DropoutKernel<Cpu, T>::template backward<Layer, In>(c, args);
    });
  }
};

}  // namespace ctnn
