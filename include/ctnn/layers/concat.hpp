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
#include <tuple>         // std::tuple_element_t
#include <utility>       // std::index_sequence

#include <ctnn/container.hpp>     // ctnn::BranchContainer, ctnn::child_t, ctnn::backward_branches
#include <ctnn/diagnostics.hpp>   // Concat_branch_produces_a_different_spatial_size_than_the_first_branch, ...
#include <ctnn/evaluator.hpp>     // ctnn::Evaluator, ctnn::forward_layer, ctnn::backward_layer
#include <ctnn/pass_state.hpp>    // ctnn::record_if
#include <ctnn/shape.hpp>         // ctnn::Shape, ctnn::output_shape_t

namespace ctnn {

template <class... B>
struct Concat : BranchContainer<Concat<B...>, B...> {
  static_assert(diagnostic::Concat_needs_at_least_one_branch<sizeof...(B)>::ok);
  static constexpr std::string_view type_name = "Concat";
  static constexpr std::size_t branch_count = sizeof...(B);
  using branches = std::tuple<B...>;
  // Backward hands each branch its slice of y.
  static constexpr bool backward_reads_output = (false || ... || B::backward_reads_output);

  template <ShapeType In>
  struct plan {
    using first = output_shape_t<std::tuple_element_t<0, branches>, In>;
    static constexpr std::size_t channels = (std::size_t{0} + ... + output_shape_t<B, In>::channels);
    // Element offset of each branch's channel slice within one output image.
    static constexpr auto slice_offsets = detail::exclusive_prefix_sums<branch_count>({output_shape_t<B, In>::size...});
    static constexpr auto saved_offsets = detail::exclusive_prefix_sums<branch_count>({B::template saved_elements<In>...});
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
};

template <class... B, class Device, class T>
struct Evaluator<Concat<B...>, Device, T> {
  using Block = Concat<B...>;

  template <ShapeType In, class Context>
  static void forward(Context& ctx, const ForwardArgs<T>& a) {
    using P = typename Block::template plan<In>;
    const std::size_t first_node = ctx.node;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (
          [&] {
            using Branch = child_t<Block, I>;
            const std::size_t node = first_node + Block::node_offsets[I];
            ctx.node = node;
            const Slot<T> slice = a.y.slice(P::slice_offsets[I]);
            forward_layer<Branch, In>(ctx, {a.params.advance(Block::parameter_offsets[I], Block::buffer_offsets[I]), a.x,
                                            slice, a.saved + ctx.batch * P::saved_offsets[I], a.scratch});
            if constexpr (!Branch::records_own_output)
              record_if(ctx, node + Branch::node_count - 1, slice, output_shape_t<Branch, In>::size);
          }(),
          ...);
    }(std::make_index_sequence<sizeof...(B)>{});
  }

  template <ShapeType In, class Context>
  static void backward(Context& ctx, const BackwardArgs<T>& a) {
    using P = typename Block::template plan<In>;
    // Each branch reads its slice of y and dy; their input gradients are summed into dx.
    backward_branches<Block, In>(ctx, a, [&](std::size_t i) {
      return BackwardArgs<T>{.y = a.y.slice(P::slice_offsets[i]),
                             .dy = a.dy.slice(P::slice_offsets[i]),
                             .saved = a.saved + ctx.batch * P::saved_offsets[i],
                             .scratch = a.scratch};
    });
  }
};

}  // namespace ctnn
