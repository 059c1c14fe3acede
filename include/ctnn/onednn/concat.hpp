#pragma once
// Concat on the oneDNN device. In NCHW a channel slice of each image is contiguous, and the
// generic Concat hands each branch its slice to write. In the device layout (NHWC) a slice is
// strided, and oneDNN's convolutions write only dense tensors (their implementations for a
// strided destination are the reference ones, measured: docs/benchmarks.md). So each branch
// writes a dense tensor on the context's staging stack, copied into its channels of the output:
// per pixel, one contiguous run of the branch's channels (copy_channels; oneDNN's generic
// strided reorder was measured slower). Backward copies each branch's channels of dy (and of y,
// where the branch reads its output) out into dense staging the same way. In int8 the branches
// may write u8 (quantisation.hpp), and the copies move bytes.
// Where the output is the model's own (plain NCHW), the generic slicing applies unchanged.

#include <algorithm>   // std::max
#include <array>       // std::array
#include <cstddef>     // std::size_t, std::byte, std::ptrdiff_t
#include <cstring>     // std::memcpy
#include <memory>      // std::make_unique
#include <optional>    // std::optional

#include <ctnn/container.hpp>          // ctnn::child_t, ctnn::backward_branches
#include <ctnn/evaluator.hpp>          // ctnn::Evaluator, ctnn::forward_layer
#include <ctnn/layers/concat.hpp>      // ctnn::Concat
#include <ctnn/onednn/context.hpp>     // ctnn::onednn::Context
#include <ctnn/onednn/operand.hpp>     // ctnn::onednn::record_range
#include <ctnn/pass_state.hpp>         // ctnn::record_if

namespace ctnn {

namespace onednn {
// Copies N images of `pixels` pixels, `channels` values each, between a dense tensor and channels
// [offset, offset + channels) of a tensor of `total` channels per pixel (into the slice, or out of
// it), in values of `size` bytes (the precision's; 1 for a u8 hand-off).
template <class T>
void copy_channels(const Context<T>& ctx, const void* from, void* to, std::size_t pixels, std::size_t channels,
                   std::size_t total, std::size_t offset, bool into_slice, std::size_t size) {
  if (ctx.planning) return;
  const auto* src = static_cast<const std::byte*>(from);
  auto* dst = static_cast<std::byte*>(to);
  const auto count = static_cast<std::ptrdiff_t>(ctx.batch * pixels);
#pragma omp parallel for schedule(static) num_threads(ctx.threads) if (count * channels > 32768)
  for (std::ptrdiff_t p = 0; p < count; ++p) {
    const auto i = static_cast<std::size_t>(p);
    const std::size_t dense = i * channels * size, slice = (i * total + offset) * size;
    if (into_slice)
      std::memcpy(dst + slice, src + dense, channels * size);
    else
      std::memcpy(dst + dense, src + slice, channels * size);
  }
}

// Concat's forward: its number among the Concats (calibration's concat_ranges) and, in int8,
// whether its output is a u8 hand-off: every branch writes u8 with the scale calibrated for the
// output (quantisation.hpp).
struct ConcatForwardPlan : Plan {
  std::size_t index = 0;
  std::size_t producer = 0;
  std::optional<Quantisation> hand_off;
};

// While planning int8: the hand-off Concat `p` asks of its branches, given what calibration saw
// at its output of `image_elements` per image.
template <class T>
void plan_concat_hand_off(Context<T>& ctx, ConcatForwardPlan& p, bool plain, std::size_t image_elements) {
  if (!ctx.planning_int8()) return;
  p.producer = ctx.hand_offs.new_producer();
  if (plain || p.index >= ctx.concat_ranges.size() || !ctx.hand_offs.may_quantise(p.producer)) return;
  const ValueRange& range = ctx.concat_ranges[p.index];
  if (range.seen() && range.image_elements == image_elements && range.lo >= 0) p.hand_off = Quantisation::of(range);
}
// While planning int8, around each branch writing `branch_output`: before, the Concat's request;
// after, whether the branch wrote what the Concat copies (u8 at its scale, or f32 where the
// Concat's output is f32). A branch that did not makes the network plan again: the Concat writes
// f32 (quantisation.hpp), or the branch does.
template <class T>
void ask_branch(Context<T>& ctx, const ConcatForwardPlan& p, const void* branch_output) {
  if (ctx.planning_int8() && p.hand_off) ctx.hand_offs.request(branch_output, *p.hand_off);
}
template <class T>
void check_branch(Context<T>& ctx, const ConcatForwardPlan& p, const void* branch_output) {
  if (!ctx.planning_int8()) return;
  if (!p.hand_off) return ctx.reads_floats(branch_output);
  ctx.hand_offs.drop_request(branch_output);
  const auto wrote = ctx.hand_offs.find(branch_output);
  if (!wrote || wrote->quantisation.scale != p.hand_off->scale || wrote->quantisation.type != p.hand_off->type)
    ctx.hand_offs.write_floats_from(p.producer);
}


}  // namespace onednn

template <class... B, class T>
struct Evaluator<Concat<B...>, OneDnn, T> {
  using Block = Concat<B...>;
  static constexpr std::size_t n = sizeof...(B);

  template <ShapeType In>
  static constexpr std::size_t largest_branch = std::max({output_shape_t<B, In>::size...});
  template <ShapeType In>
  static constexpr std::array<std::size_t, n> channel_offsets =
      detail::exclusive_prefix_sums<n>({output_shape_t<B, In>::channels...});

  template <ShapeType In>
  static void forward(onednn::Context<T>& ctx, const ForwardArgs<T>& a) {
    using P = typename Block::template plan<In>;
    using Out = output_shape_t<Block, In>;
    const bool plain = ctx.is_plain(a.y.data);
    auto& fp = ctx.template plan<onednn::ConcatForwardPlan>(onednn::Direction::forward, [&] {
      auto plan = std::make_unique<onednn::ConcatForwardPlan>();
      plan->index = ctx.concats++;
      onednn::plan_concat_hand_off(ctx, *plan, plain, Out::size);
      return plan;
    });
    const std::size_t value_bytes = fp.hand_off ? 1 : ctx.activation_bytes();
    const std::size_t bytes = ctx.batch * largest_branch<In> * sizeof(T);
    T* staging = plain ? nullptr : reinterpret_cast<T*>(ctx.push_concat(bytes));
    const std::size_t first_node = ctx.node;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (
          [&] {
            using Branch = child_t<Block, I>;
            using BranchOut = output_shape_t<Branch, In>;
            const std::size_t node = first_node + Block::node_offsets[I];
            ctx.node = node;
            const Slot<T> out = plain ? a.y.slice(P::slice_offsets[I]) : Slot<T>{staging, BranchOut::size};
            if (!plain) onednn::ask_branch(ctx, fp, staging);
            forward_layer<Branch, In>(ctx, {a.params.advance(Block::parameter_offsets[I], Block::buffer_offsets[I]), a.x,
                                            out, a.saved + ctx.batch * P::saved_offsets[I], a.scratch});
            if constexpr (!Branch::records_own_output) record_if(ctx, node + Branch::node_count - 1, out, BranchOut::size);
            if (!plain) {
              onednn::check_branch(ctx, fp, staging);
              onednn::copy_channels(ctx, staging, a.y.data, Out::height * Out::width, BranchOut::channels, Out::channels,
                                    channel_offsets<In>[I], true, value_bytes);
            }
          }(),
          ...);
    }(std::make_index_sequence<n>{});
    if (!plain) {
      ctx.pop_concat(bytes);
      onednn::record_range(ctx, ctx.concat_ranges, fp.index, Out::size, a.y.data);
    }
    if (ctx.planning_int8()) {
      if (fp.hand_off) ctx.wrote_quantised(a.y.data, *fp.hand_off, fp.producer);
      else ctx.wrote_floats(a.y.data);
    }
  }

  template <ShapeType In>
  static void backward(onednn::Context<T>& ctx, const BackwardArgs<T>& a) {
    using P = typename Block::template plan<In>;
    using Out = output_shape_t<Block, In>;
    const bool plain = ctx.is_plain(a.dy.data);
    const bool y_plain = !a.y || ctx.is_plain(a.y.data);
    const std::size_t bytes = ctx.batch * largest_branch<In> * sizeof(T);
    constexpr std::array<std::size_t, n> branch_channels{output_shape_t<B, In>::channels...};
    constexpr std::array<bool, n> reads_output{B::backward_reads_output...};
    T* staging = reinterpret_cast<T*>(ctx.push_concat(2 * ctx.round_up(bytes)));
    backward_branches<Block, In>(ctx, a, [&](std::size_t i) {
      BackwardArgs<T> args{.y = a.y.slice(P::slice_offsets[i]),
                           .dy = a.dy.slice(P::slice_offsets[i]),
                           .saved = a.saved + ctx.batch * P::saved_offsets[i],
                           .scratch = a.scratch};
      const std::size_t size = [&] {
        std::size_t s = 0;
        [&]<std::size_t... I>(std::index_sequence<I...>) { ((s = I == i ? output_shape_t<B, In>::size : s), ...); }(std::make_index_sequence<n>{});
        return s;
      }();
      // The branch's channels of dy (and of y, where its backward reads it) into dense staging.
      const auto from_slice = [&](const T* whole, T* dense) {
        onednn::copy_channels(ctx, whole, dense, Out::height * Out::width, branch_channels[i], Out::channels,
                              channel_offsets<In>[i], false, ctx.activation_bytes());
      };
      if (!plain) {
        from_slice(a.dy.data, staging);
        args.dy = {staging, size};
      }
      if (!y_plain && reads_output[i]) {
        T* y = reinterpret_cast<T*>(reinterpret_cast<std::byte*>(staging) + ctx.round_up(bytes));
        from_slice(a.y.data, y);
        args.y = {y, size};
      }
      return args;
    });
    ctx.pop_concat(2 * ctx.round_up(bytes));
  }
};

}  // namespace ctnn
