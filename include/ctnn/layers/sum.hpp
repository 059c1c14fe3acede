#pragma once
// ctnn::Sum<B...>: every branch reads the same input; their outputs, all of one shape, are added
// element by element: sum(b(x) for b in branches). Concat's sibling; Residual's body.
//
//   Sum<Sequential<Conv<8, 8, 3, 1, 1>, ReLU>, Identity> on Shape<8, 6, 6> -> Shape<8, 6, 6>
//
// The sum is accumulated in place: the first branch writes the output y, and each later one is
// added to it — a view (Identity) straight from x, another branch from a scratch slot it writes
// first. In training, a branch whose backward reads its own output (it ends in a ReLU, say)
// writes a slot of its own in `saved` instead, which is added to y and kept; the others keep
// nothing. Backward hands every branch the same output gradient and sums their input gradients.
//
//   training `saved`:   [kept output of each branch that needs it][each branch's saved]
//   `scratch`:          [one output slot, for non-view branches after the first][branch scratch]

#include <algorithm>     // std::max
#include <array>         // std::array
#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view
#include <tuple>         // std::tuple_element_t
#include <utility>       // std::index_sequence

#include <ctnn/container.hpp>     // ctnn::BranchContainer, ctnn::child_t, ctnn::backward_branches
#include <ctnn/diagnostics.hpp>   // Sum_branch_produces_a_shape_other_than_the_first_branch, ...
#include <ctnn/evaluator.hpp>     // ctnn::Evaluator, ctnn::forward_layer, ctnn::backward_layer
#include <ctnn/layer.hpp>         // ctnn::Mode, ctnn::align_elements
#include <ctnn/pass_state.hpp>    // ctnn::record_if
#include <ctnn/shape.hpp>         // ctnn::ShapeType, ctnn::output_shape_t

namespace ctnn {

template <class... B>
struct Sum : BranchContainer<Sum<B...>, B...> {
  static_assert(diagnostic::Sum_needs_at_least_one_branch<sizeof...(B)>::ok);
  static constexpr std::string_view type_name = "Sum";
  static constexpr std::size_t branch_count = sizeof...(B);
  // Backward passes x on to the branches; the outputs it needs it keeps itself.
  static constexpr bool backward_reads_input = (false || ... || B::backward_reads_input);
  static constexpr bool backward_reads_output = false;

  // Where branch i's output goes: y itself (the first branch, unless training keeps its output),
  // nowhere (a later view: x is added), its kept slot in `saved`, or the scratch slot.
  enum class Target : unsigned char { output, input_added, kept, scratch };
  static constexpr std::array<bool, branch_count> views{B::is_view...};
  static constexpr std::array<bool, branch_count> reads_output{B::backward_reads_output...};
  static constexpr Target target(std::size_t i, Mode mode) {
    if (mode == Mode::train && reads_output[i]) return Target::kept;
    if (i == 0) return Target::output;
    return views[i] ? Target::input_added : Target::scratch;
  }

  template <ShapeType In>
  struct plan {
    using first = output_shape_t<std::tuple_element_t<0, typename Sum::children>, In>;
    static constexpr std::size_t slot = align_elements(first::size);  // one branch output, per image
    static constexpr std::array<std::size_t, branch_count> kept_offsets = [] {
      std::array<std::size_t, branch_count> offsets{};
      std::size_t at = 0;
      for (std::size_t i = 0; i < branch_count; ++i)
        if (target(i, Mode::train) == Target::kept) offsets[i] = at, at += slot;
      return offsets;
    }();
    static constexpr std::size_t kept_total = [] {
      std::size_t total = 0;
      for (std::size_t i = 0; i < branch_count; ++i) total += target(i, Mode::train) == Target::kept ? slot : 0;
      return total;
    }();
    static constexpr auto saved_offsets = [] {
      auto offsets = detail::exclusive_prefix_sums<branch_count>({B::template saved_elements<In>...});
      for (auto& offset : offsets) offset += kept_total;
      return offsets;
    }();
    static constexpr std::size_t saved_total = kept_total + (std::size_t{0} + ... + B::template saved_elements<In>);
    static constexpr bool needs_scratch_slot = [] {
      bool needed = false;
      for (std::size_t i = 0; i < branch_count; ++i)
        needed = needed || target(i, Mode::eval) == Target::scratch || target(i, Mode::train) == Target::scratch;
      return needed;
    }();
    static constexpr std::size_t branch_scratch_offset = needs_scratch_slot ? slot : 0;
    static constexpr std::size_t scratch_total = branch_scratch_offset + std::max({B::template scratch_elements<In>...});
  };

  // The check sits in the requires-clause itself (see Conv): one error per mistake with clang too.
  template <ShapeType In>
    requires(diagnostic::Sum_branch_produces_a_shape_other_than_the_first_branch<
                 output_shape_t<B, In>::channels, output_shape_t<B, In>::height, output_shape_t<B, In>::width,
                 plan<In>::first::channels, plan<In>::first::height, plan<In>::first::width>::ok &&
             ...)
  using output_shape = typename plan<In>::first;
};

template <class... B, class Device, class T>
struct Evaluator<Sum<B...>, Device, T> {
  using Block = Sum<B...>;
  using Target = typename Block::Target;

  template <ShapeType In, class Context>
  static void forward(Context& ctx, const ForwardArgs<T>& a) {
    forward_adding_last<In>(ctx, a, [](Context& c, ConstSlot<T> src, Slot<T> dst, std::size_t elements) {
      copy_images(c, src, dst, elements, true);
    });
  }

  // forward, with the last branch (of two or more) added to the sum by
  // add_last(ctx, branch output, y, elements) in place of copy_images: a device's Fusion of the
  // sum and the activation after it adds and activates in one pass (oneDNN: Residual + ReLU).
  template <ShapeType In, class Context, class AddLast>
  static void forward_adding_last(Context& ctx, const ForwardArgs<T>& a, const AddLast& add_last) {
    constexpr std::size_t size = Block::template plan<In>::first::size;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (
          [&] {
            const Slot<T> output = forward_branch<I, In>(ctx, a);
            // The first branch's output is the sum so far; the others are added to it.
            if constexpr (I > 0 && I + 1 == Block::branch_count)
              add_last(ctx, ConstSlot<T>(output), a.y, size);
            else if (Block::target(I, ctx.mode) != Target::output)
              copy_images(ctx, ConstSlot<T>(output), a.y, size, I > 0);
          }(),
          ...);
    }(std::make_index_sequence<sizeof...(B)>{});
  }

  // Branch I's forward into its target (see Target); its output slot, which the sum has still to
  // take in where it is not y. ctx.node is the Sum's first walk position, as forward found it.
  template <std::size_t I, ShapeType In, class Context>
  static Slot<T> forward_branch(Context& ctx, const ForwardArgs<T>& a) {
    using P = typename Block::template plan<In>;
    using Branch = child_t<Block, I>;
    const std::size_t batch = ctx.batch;
    const std::size_t first_node = ctx.node;
    const std::size_t node = first_node + Block::node_offsets[I];
    ctx.node = node;
    const Target target = Block::target(I, ctx.mode);
    Slot<T> output = a.y;
    if (target == Target::input_added)
      output = {const_cast<T*>(a.x.data), a.x.image_stride};  // a view's output is its input
    else if (target == Target::kept)
      output = {a.saved + batch * P::kept_offsets[I], P::slot};
    else if (target == Target::scratch)
      output = {a.scratch, P::slot};
    if (target != Target::input_added)
      forward_layer<Branch, In>(ctx, {a.params.advance(Block::parameter_offsets[I], Block::buffer_offsets[I]), a.x,
                                      output, a.saved + batch * P::saved_offsets[I],
                                      a.scratch + batch * P::branch_scratch_offset});
    if constexpr (!Branch::records_own_output) record_if(ctx, node + Branch::node_count - 1, output, P::first::size);
    ctx.node = first_node;
    return output;
  }

  template <ShapeType In, class Context>
  static void backward(Context& ctx, const BackwardArgs<T>& a) {
    using P = typename Block::template plan<In>;
    // Every branch gets the sum's output gradient, and its kept output where it kept one; their
    // input gradients are summed into dx.
    backward_branches<Block, In>(ctx, a, [&](std::size_t i) {
      const bool kept = Block::target(i, Mode::train) == Target::kept;
      return BackwardArgs<T>{.y = kept ? ConstSlot<T>{a.saved + ctx.batch * P::kept_offsets[i], P::slot} : ConstSlot<T>{},
                             .dy = a.dy,
                             .saved = a.saved + ctx.batch * P::saved_offsets[i],
                             .scratch = a.scratch + ctx.batch * P::branch_scratch_offset};
    });
  }
};

}  // namespace ctnn
