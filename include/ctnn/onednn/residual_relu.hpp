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
//
// As post-ops, in evaluation (shortcut_first): the shortcut runs first, and the convolution that
// writes the body's output adds it and clamps at 0 inside its primitive (binary add, ReLU:
// take_residual_addition, operand.hpp), so the body's output never goes to memory before the
// sum. In bf16 on AMX only: there the convolutions wait on memory, and ResNet-50 ran 3-6% faster;
// in f32 it ran 1-3% slower (docs/benchmarks.md). bf16 then rounds the sum once, not twice.
//
// int8 (quantisation.hpp): the output is non-negative, so it is a u8 hand-off, scaled by the
// range calibration saw there, wherever the layers after it read u8: the next block's first
// convolution and its downsampling shortcut read those bytes as their quantised input, and an
// identity shortcut is added from them. So ResNet's residual stream between blocks is one byte a
// value, where in f32 each reader quantised it again (a reorder each). The body's last
// convolution (no ReLU of its own) writes f32; the shortcut is added from f32 or from u8.

#include <algorithm>   // std::min
#include <cmath>       // std::nearbyint
#include <cstddef>     // std::size_t, std::ptrdiff_t
#include <cstdint>     // std::uint8_t
#include <memory>      // std::make_unique
#include <optional>    // std::optional
#include <tuple>       // std::tuple_size_v
#include <type_traits> // std::is_same_v

#include <ctnn/container.hpp>            // ctnn::child_t
#include <ctnn/evaluator.hpp>            // ctnn::Fusion, ForwardArgs, Slot, unnamed_t
#include <ctnn/layers/relu.hpp>          // ctnn::ReLU
#include <ctnn/layers/residual.hpp>      // ctnn::Residual
#include <ctnn/layers/sum.hpp>           // ctnn::Sum, Evaluator<Sum>::forward_adding_last, forward_branch
#include <ctnn/onednn/context.hpp>       // Context, copy_images, add_packed_images
#include <ctnn/onednn/elementwise.hpp>   // Kernel<ReLU>
#include <ctnn/onednn/operand.hpp>       // record_range
#include <ctnn/onednn/quantisation.hpp>  // Quantisation
#include <ctnn/pass_state.hpp>           // ctnn::no_node
#include <ctnn/shape.hpp>                // ctnn::ShapeType, ctnn::output_shape_t

namespace ctnn {
namespace onednn {

// A fused Sum + ReLU's plan: its number (calibration's sum_relu_ranges) and, in int8, how its
// shortcut is read and its output written (f32 where these are empty).
struct SumReluPlan : Plan {
  std::size_t index = 0;
  std::size_t producer = 0;
  std::optional<Quantisation> shortcut;  // the shortcut is a u8 hand-off: value = scale * q
  std::optional<Quantisation> output;    // the output is a u8 hand-off
  bool added_by_body = false;            // the body's last convolution added and clamped (post-ops)
};

// While planning int8: whether the shortcut `src` is read as u8 and the output `dst` written as
// u8 (with the scale a Concat asks of it, or by the range calibration saw there).
template <class T>
void plan_sum_relu_hand_off(Context<T>& ctx, SumReluPlan& p, const void* src, const void* dst, std::size_t elements) {
  if (!ctx.planning_int8()) {
    ctx.reads_floats(src);
    ctx.reads_floats(dst);
    ctx.wrote_floats(dst);
    return;
  }
  p.producer = ctx.hand_offs.new_producer();
  const auto shortcut = ctx.hand_offs.find(src);
  if (shortcut && shortcut->quantisation.type == memory::data_type::u8) p.shortcut = shortcut->quantisation;
  else ctx.reads_floats(src);
  ctx.reads_floats(dst);  // the body's output: f32 from its last layer
  ctx.wrote_floats(dst);
  if (!ctx.hand_offs.may_quantise(p.producer)) return;
  p.output = ctx.hand_offs.output_quantisation(dst, ctx.sum_relu_ranges, p.index, elements);
  if (!p.output) return;
  ctx.wrote_quantised(dst, *p.output, p.producer);
}

namespace detail {
// max(body + shortcut_scale * shortcut, 0) for one value; the shortcut f32 (S = float) or u8.
template <class S>
inline float sum_relu_value(float body, S shortcut, float shortcut_scale) {
  const float v = body + shortcut_scale * static_cast<float>(shortcut);
  return v > 0.f ? v : 0.f;  // NaN to 0: a u8 code has no NaN
}
// A value as u8 code: v / scale rounded to nearest even (oneDNN's), saturated to 0..255.
inline std::uint8_t u8_code(float v, float inverse_scale) {
  return static_cast<std::uint8_t>(std::nearbyint(std::min(v * inverse_scale, 255.f)));
}
#if CTNN_ONEDNN_X86
// out[i] = u8_code(sum_relu_value(body[i], shortcut[i])), 16 values at a time, for i in
// [begin, end) rounded down to 16; returns where it stopped. Each group of 16 is read before it
// is written, so `out` may be `body`'s own bytes (see add_relu_int8).
template <class S>
CTNN_AVX512 inline std::size_t sum_relu_u8_avx512(const float* body, const S* shortcut, float shortcut_scale,
                                                   float inverse_scale, std::uint8_t* out, std::size_t begin,
                                                   std::size_t end) {
  const __m512 scale = _mm512_set1_ps(shortcut_scale), inverse = _mm512_set1_ps(inverse_scale);
  const __m512 zero = _mm512_setzero_ps(), largest = _mm512_set1_ps(255.f);
  std::size_t i = begin;
  for (; i + 16 <= end; i += 16) {
    __m512 s;
    if constexpr (std::is_same_v<S, float>)
      s = _mm512_loadu_ps(shortcut + i);
    else
      s = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(shortcut + i))));
    const __m512 v = _mm512_fmadd_ps(scale, s, _mm512_loadu_ps(body + i));
    // max(v, 0) returns its second operand, 0, where v is NaN.
    const __m512 code = _mm512_min_ps(_mm512_mul_ps(_mm512_max_ps(v, zero), inverse), largest);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(code)));
  }
  return i;
}
#endif
template <class S>
void sum_relu_u8(const float* body, const S* shortcut, float shortcut_scale, float inverse_scale, std::uint8_t* out,
                 std::size_t begin, std::size_t end) {
#if CTNN_ONEDNN_X86
  if (avx512_kernels_supported())
    begin = sum_relu_u8_avx512(body, shortcut, shortcut_scale, inverse_scale, out, begin, end);
#endif
  for (std::size_t i = begin; i < end; ++i)
    out[i] = u8_code(sum_relu_value(body[i], shortcut[i], shortcut_scale), inverse_scale);
}
}  // namespace detail

// int8's dst = max(dst + src, 0) over N images of `elements` values packed back to back, as one
// run of `count` = N * elements values: dst holds the body's f32 output; the shortcut src is f32
// or u8 (p.shortcut); the result is f32 in place, or u8 codes (p.output) in dst's first `count`
// bytes. Writing byte i overwrites part of float i / 4: ranges [0, A) done, the values [A, 4A)
// read floats [A, 4A) (bytes 4A on) and write bytes [A, 4A) (floats [A/4, A), read before), so
// each such range runs on all threads at once, the first 4096 values on one.
template <class T>
void add_relu_int8(const Context<T>& ctx, const SumReluPlan& p, const void* src, T* dst, std::size_t elements) {
  const std::size_t count = ctx.batch * elements;
  const float shortcut_scale = p.shortcut ? p.shortcut->scale : 1.f;
  const auto run = [&](auto* shortcut, std::size_t begin, std::size_t end) {
    if (!p.output) {
      for (std::size_t i = begin; i < end; ++i) dst[i] = detail::sum_relu_value(dst[i], shortcut[i], shortcut_scale);
      return;
    }
    auto* codes = reinterpret_cast<std::uint8_t*>(dst);
    detail::sum_relu_u8(dst, shortcut, shortcut_scale, 1.f / p.output->scale, codes, begin, end);
  };
  const auto over = [&](auto* shortcut) {
    constexpr std::size_t chunk = 1 << 14;
    const auto parallel = [&](std::size_t begin, std::size_t end) {
      const auto chunks = static_cast<std::ptrdiff_t>((end - begin + chunk - 1) / chunk);
#pragma omp parallel for schedule(static) num_threads(ctx.threads) if (chunks > 1)
      for (std::ptrdiff_t c = 0; c < chunks; ++c) {
        const std::size_t first = begin + static_cast<std::size_t>(c) * chunk;
        run(shortcut, first, std::min(end, first + chunk));
      }
    };
    if (!p.output) return parallel(0, count);  // f32 in place: any order
    std::size_t done = std::min<std::size_t>(count, 4096);
    run(shortcut, 0, done);
    for (; done < count; done = std::min(count, 4 * done)) parallel(done, std::min(count, 4 * done));
  };
  if (p.shortcut)
    over(static_cast<const std::uint8_t*>(src));
  else
    over(static_cast<const float*>(src));
}

// dst = max(dst + src, 0) for N images of `elements` values packed in the device layout; where
// planning found that the body's last convolution did so itself (`added_by_body`), nothing more.
template <class T>
void add_images_relu(Context<T>& ctx, ConstSlot<T> src, Slot<T> dst, std::size_t elements, bool added_by_body = false) {
  auto& p = ctx.template plan<SumReluPlan>(Direction::forward, [&] {
    auto plan = std::make_unique<SumReluPlan>();
    plan->index = ctx.sum_relus++;
    plan->added_by_body = added_by_body;
    plan_sum_relu_hand_off(ctx, *plan, src.data, dst.data, elements);
    return plan;
  });
  if (ctx.planning || ctx.batch == 0 || elements == 0) return;
  if (!p.added_by_body) {
    if (ctx.precision == Precision::int8 && (p.shortcut || p.output))
      add_relu_int8(ctx, p, src.data, dst.data, elements);
    else
      add_packed_images<true>(ctx, src.data, dst.data, elements);
  }
  record_range(ctx, ctx.sum_relu_ranges, p.index, elements, dst.data);
}

// The walk position, relative to L's first, of the leaf that writes L's output last: a leaf's
// own, a Sequential's last child's; no_node for other containers (their output is a sum or a
// concatenation of branches).
template <class L>
constexpr std::size_t last_leaf_node() {
  using U = unnamed_t<L>;
  if constexpr (U::is_leaf) {
    return 0;
  } else if constexpr (requires { typename U::body; }) {
    return last_leaf_node<typename U::body>();  // Composed: walked in place of its body
  } else if constexpr (requires { U::eval_places; }) {
    constexpr std::size_t last = std::tuple_size_v<typename U::children> - 1;
    constexpr std::size_t inner = last_leaf_node<child_t<U, last>>();
    return inner == no_node ? no_node : U::node_offsets[last] + inner;
  } else {
    return no_node;
  }
}

// Whether a Sum + ReLU of two branches (body, shortcut) runs its shortcut first and asks its
// body's last convolution to add it and clamp at 0 as post-ops: in evaluation, where no output
// inside it is recorded and neither x nor y is the caller's plain memory. The order is the same
// in every precision, so that Conv and Linear are numbered alike for calibration and int8; int8
// itself adds in its own loop (take_residual_addition declines).
template <class S, class T>
bool shortcut_first(const Context<T>& ctx, const ForwardArgs<T>& a) {
  if constexpr (S::branch_count != 2 || last_leaf_node<child_t<S, 0>>() == no_node) {
    (void)ctx, (void)a;
    return false;
  } else {
    const bool records_inside = ctx.recorded_node >= ctx.node && ctx.recorded_node < ctx.node + S::node_count;
    return ctx.mode == Mode::eval && !records_inside && !ctx.is_plain(a.x.data) && !ctx.is_plain(a.y.data);
  }
}

// The Sum S's forward with the ReLU after it, on the slot y they share (see the file comment).
template <class S, ShapeType In, class T>
void sum_relu_forward(Context<T>& ctx, const ForwardArgs<T>& a) {
  using Out = output_shape_t<S, In>;
  if (shortcut_first<S>(ctx, a)) {
    using E = Evaluator<S, OneDnn, T>;
    const Slot<T> shortcut = E::template forward_branch<1, In>(ctx, a);
    const auto outer = ctx.residual_addition;
    ctx.residual_addition = {.output = a.y.data,
                             .shortcut = shortcut.data,
                             .last_node = ctx.node + S::node_offsets[0] + last_leaf_node<child_t<S, 0>>()};
    E::template forward_branch<0, In>(ctx, a);
    const bool added_by_body = ctx.residual_addition->taken;
    ctx.residual_addition = outer;
    add_images_relu(ctx, ConstSlot<T>(shortcut), a.y, Out::size, added_by_body);
    return;
  }
  Evaluator<S, OneDnn, T>::template forward_adding_last<In>(
      ctx, a, [&](Context<T>& c, ConstSlot<T> src, Slot<T> dst, std::size_t elements) {
        if (c.is_plain(src.data) || c.is_plain(dst.data)) {
          copy_images(c, src, dst, elements, true);
          Kernel<ReLU, T>::template forward<Out>(c, {.params = {}, .x = dst, .y = dst, .saved = nullptr, .scratch = a.scratch});
          return;
        }
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
