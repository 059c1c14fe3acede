#pragma once
// A Sum (a Residual) and the ReLU after it on the oneDNN device, as torchvision's ResNet blocks end:
//
//   Sequential<Inline<Residual<Body, Shortcut>>, ReLU>      y = max(Body(x) + Shortcut(x), 0)
//
// The body writes y, and the last branch (the shortcut) is added and clamped at 0 in one loop,
// in place of the sum's pass (reads y and the shortcut, writes y) and the ReLU's eltwise pass
// (reads and writes y again). ResNet-50's sums and ReLUs move 88 M values a pass at batch 16,
// and on AMX that memory traffic was a sixth of a bf16 pass (docs/benchmarks.md).
//
// In evaluation and in training: ReLU's backward reads its output, which is the same either
// way, and the sum's backward reads nothing of its forward. The values are the unfused ones bit
// for bit: f32 clamps the same sum; bf16 rounds max(sum, 0) once, which equals the ReLU of the
// rounded sum (rounding keeps the sign and 0 stays 0), up to the sign of a zero. Where the output
// is the model's (plain NCHW f32 at the boundary) the sum is added as before and the ReLU runs as
// its own primitive.

#include <cstddef>   // std::size_t

#include <ctnn/evaluator.hpp>            // ctnn::Fusion, ForwardArgs, Slot
#include <ctnn/layers/relu.hpp>          // ctnn::ReLU
#include <ctnn/layers/residual.hpp>      // ctnn::Residual
#include <ctnn/layers/sum.hpp>           // ctnn::Sum, Evaluator<Sum>::forward_adding_last
#include <ctnn/onednn/context.hpp>       // Context, copy_images, add_packed_images
#include <ctnn/onednn/elementwise.hpp>   // Kernel<ReLU>
#include <ctnn/shape.hpp>                // ctnn::ShapeType, ctnn::output_shape_t

namespace ctnn {
namespace onednn {

// dst = max(dst + src, 0) for N images of `elements` values packed in the device layout.
template <class T>
void add_images_relu(const Context<T>& ctx, ConstSlot<T> src, Slot<T> dst, std::size_t elements) {
  ctx.reads_floats(src.data);
  ctx.reads_floats(dst.data);
  ctx.wrote_floats(dst.data);
  add_packed_images<true>(ctx, src.data, dst.data, elements);
}

// The Sum S's forward with the ReLU after it, on the slot y they share (see the file comment).
template <class S, ShapeType In, class T>
void sum_relu_forward(Context<T>& ctx, const ForwardArgs<T>& a) {
  using Out = output_shape_t<S, In>;
  Evaluator<S, OneDnn, T>::template forward_adding_last<In>(
      ctx, a, [&](Context<T>& c, ConstSlot<T> src, Slot<T> dst, std::size_t elements) {
        if (c.is_plain(src.data) || c.is_plain(dst.data)) {
          copy_images(c, src, dst, elements, true);
          Kernel<ReLU, T>::template forward<Out>(c, {.params = {}, .x = dst, .y = dst, .saved = nullptr, .scratch = a.scratch});
          return;
        }
        if (c.planning) ++c.fused_sum_relus;
        add_images_relu(c, src, dst, elements);
      });
}

}  // namespace onednn

// Sum of two or more branches, then ReLU in place.
template <class... B, class T>
  requires(sizeof...(B) >= 2)
struct Fusion<Sum<B...>, ReLU, OneDnn, T> {
  static constexpr bool available = true;
  static constexpr bool in_training = true;
  template <ShapeType In>
  static void forward(onednn::Context<T>& ctx, const ForwardArgs<T>& a) {
    onednn::sum_relu_forward<Sum<B...>, In>(ctx, a);
  }
};

// Residual (a named Sum of the body and the shortcut), then ReLU in place: ResNet's blocks.
template <class Body, class Shortcut, class T>
struct Fusion<Residual<Body, Shortcut>, ReLU, OneDnn, T> {
  using L = Residual<Body, Shortcut>;
  static constexpr bool available = true;
  static constexpr bool in_training = true;
  template <ShapeType In>
  static void forward(onednn::Context<T>& ctx, const ForwardArgs<T>& a) {
    onednn::sum_relu_forward<typename L::body, typename L::template accepted_input<In>>(ctx, a);
  }
};

}  // namespace ctnn
