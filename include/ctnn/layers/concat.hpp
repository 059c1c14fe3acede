#pragma once
// ctnn::Concat<B...>: every branch reads the same input; their outputs are concatenated along
// channels, as torch.cat([b(x) for b in branches], 1).
//
//   Concat<Conv<192, 64, 1>, Conv<192, 128, 3, 1, 1>> on Shape<192, 28, 28> -> Shape<192, 28, 28>
//     branch 0 writes channels [0, 64), branch 1 channels [64, 192)
//
// Concatenation costs nothing: each branch writes straight into its channel slice of the output
// (a Slot whose images keep the full block's stride). Branches run one after another and share
// one scratch area; in training each keeps its own `saved` area. In backward, the gradients the
// branches send to the shared input are summed.

#include <algorithm>     // std::max
#include <array>         // std::array
#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view
#include <tuple>         // std::tuple, std::tuple_element_t
#include <utility>       // std::index_sequence

#include <ctnn/diagnostics.hpp>   // Concat_branch_produces_a_different_spatial_size_than_the_first_branch, ...
#include <ctnn/evaluator.hpp>     // ctnn::Evaluator, ctnn::Slot, ctnn::ParamSpan
#include <ctnn/layer.hpp>         // ctnn::Layer
#include <ctnn/shape.hpp>         // ctnn::Shape, ctnn::output_shape_t

namespace ctnn {

template <class... B>
struct Concat : Layer {
  static_assert(diagnostic::Concat_needs_at_least_one_branch<sizeof...(B)>::ok);
  static constexpr std::string_view type_name = "Concat";
  static constexpr std::size_t branch_count = sizeof...(B);
  using branches = std::tuple<B...>;
  // For walks that treat Sequential and Concat alike: every branch receives the block's input.
  template <class = void>
  using layers_or_branches = branches;
  template <ShapeType In, std::size_t I>
  using child_input_shape = In;

  static constexpr std::size_t parameter_count = (std::size_t{0} + ... + B::parameter_count);
  static constexpr std::size_t buffer_count = (std::size_t{0} + ... + B::buffer_count);
  static constexpr std::array<std::size_t, branch_count> parameter_offsets = [] {
    std::array<std::size_t, branch_count> counts{B::parameter_count...}, offsets{};
    for (std::size_t i = 1; i < branch_count; ++i) offsets[i] = offsets[i - 1] + counts[i - 1];
    return offsets;
  }();
  static constexpr std::array<std::size_t, branch_count> buffer_offsets = [] {
    std::array<std::size_t, branch_count> counts{B::buffer_count...}, offsets{};
    for (std::size_t i = 1; i < branch_count; ++i) offsets[i] = offsets[i - 1] + counts[i - 1];
    return offsets;
  }();
  // End of each branch's parameters: branch i and all before it hold parameters [0, end[i]).
  static constexpr std::array<std::size_t, branch_count> parameter_ends = [] {
    std::array<std::size_t, branch_count> counts{B::parameter_count...}, ends{};
    for (std::size_t i = 0; i < branch_count; ++i) ends[i] = parameter_offsets[i] + counts[i];
    return ends;
  }();
  // Walk positions: branch i's subtree starts node_offsets[i] after this block's first.
  static constexpr std::size_t node_count = (std::size_t{1} + ... + B::node_count);
  static constexpr std::array<std::size_t, branch_count> node_offsets = [] {
    std::array<std::size_t, branch_count> counts{B::node_count...}, offsets{};
    for (std::size_t i = 1; i < branch_count; ++i) offsets[i] = offsets[i - 1] + counts[i - 1];
    return offsets;
  }();

  template <ShapeType In>
  struct plan {
    using first = output_shape_t<std::tuple_element_t<0, branches>, In>;
    static constexpr std::size_t channels = (std::size_t{0} + ... + output_shape_t<B, In>::channels);
    // Element offset of each branch's channel slice within one output image.
    static constexpr std::array<std::size_t, branch_count> slice_offsets = [] {
      std::array<std::size_t, branch_count> sizes{output_shape_t<B, In>::size...}, offsets{};
      for (std::size_t i = 1; i < branch_count; ++i) offsets[i] = offsets[i - 1] + sizes[i - 1];
      return offsets;
    }();
    static constexpr std::array<std::size_t, branch_count> saved_offsets = [] {
      std::array<std::size_t, branch_count> sizes{B::template saved_elements<In>...}, offsets{};
      for (std::size_t i = 1; i < branch_count; ++i) offsets[i] = offsets[i - 1] + sizes[i - 1];
      return offsets;
    }();
    static constexpr std::size_t saved_total = (std::size_t{0} + ... + B::template saved_elements<In>);
    static constexpr std::size_t scratch_total = std::max({B::template scratch_elements<In>...});
  };

  // The check sits in the requires-clause itself (see Conv): one error per mistake with clang too.
  template <ShapeType In>
    requires(diagnostic::Concat_branch_produces_a_different_spatial_size_than_the_first_branch<
                 output_shape_t<B, In>::height, output_shape_t<B, In>::width, plan<In>::first::height,
                 plan<In>::first::width>::ok &&
             ...)
  using output_shape = Shape<plan<In>::channels, plan<In>::first::height, plan<In>::first::width>;

  template <ShapeType In>
  static constexpr std::size_t macs = (std::size_t{0} + ... + B::template macs<In>);
  template <ShapeType In>
  static constexpr std::size_t saved_elements = plan<In>::saved_total;
  template <ShapeType In>
  static constexpr std::size_t scratch_elements = plan<In>::scratch_total;
  template <ShapeType In>
  static constexpr std::size_t workspace_elements = std::max({B::template workspace_elements<In>...});
};

template <class... B, class Device, class T>
struct Evaluator<Concat<B...>, Device, T> {
  using Block = Concat<B...>;

  template <ShapeType In, class Context>
  static void forward(Context& ctx, ParamSpan<T> params, ConstSlot<T> x, Slot<T> y, T* saved, T* scratch) {
    using P = typename Block::template plan<In>;
    const std::size_t first_node = ctx.node;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (
          [&] {
            ctx.node = first_node + Block::node_offsets[I];
            evaluator_t<B, Device, T>::template forward<In>(
                ctx, params.advance(Block::parameter_offsets[I], Block::buffer_offsets[I]), x,
                y.slice(P::slice_offsets[I]), saved + ctx.batch * P::saved_offsets[I], scratch);
            if constexpr (!B::records_own_output)
              ctx.record_if(first_node + Block::node_offsets[I] + B::node_count - 1, y.slice(P::slice_offsets[I]),
                            output_shape_t<B, In>::size);
          }(),
          ...);
    }(std::make_index_sequence<sizeof...(B)>{});
  }

  template <ShapeType In, class Context>
  static void backward(Context& ctx, ParamSpan<T> params, ConstSlot<T> x, ConstSlot<T> y, ConstSlot<T> dy,
                       Slot<T> dx, bool accumulate_dx, T* saved, T* scratch) {
    using P = typename Block::template plan<In>;
    // Frozen prefix (see Sequential): a branch holding only frozen parameters computes no
    // parameter gradients, and is skipped when the block's input gradient is not wanted.
    const std::size_t frozen = ctx.frozen_parameter_count(params.values);
    // The first branch writes (or adds to) dx as the caller asked; the others add to it.
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (
          [&] {
            const bool frozen_branch = Block::parameter_ends[I] <= frozen;
            if (!dx && frozen_branch) return;
            ParamSpan<T> branch_params = params.advance(Block::parameter_offsets[I], Block::buffer_offsets[I]);
            if (frozen_branch) branch_params.gradients = nullptr;
            evaluator_t<B, Device, T>::template backward<In>(
                ctx, branch_params, x, y.slice(P::slice_offsets[I]), dy.slice(P::slice_offsets[I]), dx,
                I == 0 ? accumulate_dx : true, saved + ctx.batch * P::saved_offsets[I], scratch);
          }(),
          ...);
    }(std::make_index_sequence<sizeof...(B)>{});
  }
};

}  // namespace ctnn
