#pragma once
// The composite protocol: what a layer made of other layers says about its children, so that
// walk (and with it named tensors, init, the summary, find_layer, freezing, features, weights),
// the model's evaluator check and the memory plan treat every container alike.
//
//   struct Sum<B...> : ContainerLayer<B...> {
//     template <ShapeType In, std::size_t I> using child_input_shape = In;   // what child I is fed
//     ...
//   };
//
// ContainerLayer<C...> provides
//   children                   std::tuple<C...>, in the order of their parameters
//   parameter_offsets[i]       child i's first parameter, relative to the container's
//   buffer_offsets[i]          likewise in the buffers (running statistics)
//   parameter_ends[i]          child i and those before it hold parameters [0, parameter_ends[i])
//   node_offsets[i]            child i's subtree starts node_offsets[i] after the container's
//                              first walk position (walk.hpp: children before parents)
//   parameter_count, buffer_count, node_count (the children's, plus the container's own node)
// all from ChildLayout, the one place these prefix sums are computed.
//
// BranchContainer<Derived, B...> adds what containers of parallel branches share (Concat, Sum).
//
// Optional members a container may override:
//   has_own_node = false                 walk shows the children in the container's place
//                                        (AuxOutput: the head stands where the tap is)
//   children_run_in_training_only        walk marks the subtree (AuxOutput)

#include <algorithm>     // std::max
#include <array>         // std::array
#include <concepts>      // std::convertible_to
#include <cstddef>       // std::size_t
#include <tuple>         // std::tuple, std::tuple_element_t
#include <utility>       // std::index_sequence

#include <ctnn/evaluator.hpp>   // ctnn::BackwardArgs, ctnn::backward_layer
#include <ctnn/layer.hpp>       // ctnn::Layer
#include <ctnn/shape.hpp>       // ctnn::ShapeType

namespace ctnn {

namespace detail {
// {3, 0, 5} -> {0, 3, 3}
template <std::size_t N>
constexpr std::array<std::size_t, N> exclusive_prefix_sums(const std::array<std::size_t, N>& counts) {
  std::array<std::size_t, N> offsets{};
  for (std::size_t i = 1; i < N; ++i) offsets[i] = offsets[i - 1] + counts[i - 1];
  return offsets;
}
template <std::size_t N>
constexpr std::size_t sum_of(const std::array<std::size_t, N>& counts) {
  std::size_t total = 0;
  for (std::size_t c : counts) total += c;
  return total;
}
}  // namespace detail

// Where each child's parameters, buffers and walk positions start inside its container.
template <class... C>
struct ChildLayout {
  static constexpr std::size_t count = sizeof...(C);
  static constexpr std::array<std::size_t, count> parameter_counts{C::parameter_count...};
  static constexpr std::array<std::size_t, count> buffer_counts{C::buffer_count...};
  static constexpr std::array<std::size_t, count> node_counts{C::node_count...};

  static constexpr auto parameter_offsets = detail::exclusive_prefix_sums(parameter_counts);
  static constexpr auto buffer_offsets = detail::exclusive_prefix_sums(buffer_counts);
  static constexpr auto node_offsets = detail::exclusive_prefix_sums(node_counts);
  static constexpr std::array<std::size_t, count> parameter_ends = [] {
    std::array<std::size_t, count> ends{};
    for (std::size_t i = 0; i < count; ++i) ends[i] = parameter_offsets[i] + parameter_counts[i];
    return ends;
  }();
  static constexpr std::size_t parameter_total = detail::sum_of(parameter_counts);
  static constexpr std::size_t buffer_total = detail::sum_of(buffer_counts);
  static constexpr std::size_t node_total = detail::sum_of(node_counts);
};

// The base of Sequential, Concat, Sum and AuxOutput; see the file comment.
template <class... C>
struct ContainerLayer : Layer {
  using children = std::tuple<C...>;
  using child_layout = ChildLayout<C...>;
  static constexpr std::size_t child_count = sizeof...(C);

  static constexpr std::size_t parameter_count = child_layout::parameter_total;
  static constexpr std::size_t buffer_count = child_layout::buffer_total;
  static constexpr auto parameter_offsets = child_layout::parameter_offsets;
  static constexpr auto buffer_offsets = child_layout::buffer_offsets;
  static constexpr auto parameter_ends = child_layout::parameter_ends;
  static constexpr auto node_offsets = child_layout::node_offsets;
  static constexpr std::size_t node_count = 1 + child_layout::node_total;
  static constexpr bool has_own_node = true;
  static constexpr bool children_run_in_training_only = false;
  static constexpr bool is_leaf = false;
};

// A container whose children are branches that all read its input (Concat, Sum): multiply-
// accumulates add up, the work space is the largest branch's, and Derived::plan<In> gives
// saved_total and scratch_total.
template <class Derived, class... B>
struct BranchContainer : ContainerLayer<B...> {
  template <ShapeType In, std::size_t I>
  using child_input_shape = In;

  template <ShapeType In>
  static constexpr std::size_t macs = (std::size_t{0} + ... + B::template macs<In>);
  template <ShapeType In>
  static constexpr std::size_t saved_elements = Derived::template plan<In>::saved_total;
  template <ShapeType In>
  static constexpr std::size_t scratch_elements = Derived::template plan<In>::scratch_total;
  template <ShapeType In>
  static constexpr std::size_t workspace_elements = std::max({std::size_t{0}, B::template workspace_elements<In>...});
};

// A layer made of children that follows the protocol above.
template <class L>
concept Container = requires {
  typename L::children;
  typename L::child_layout;
  { L::has_own_node } -> std::convertible_to<bool>;
  { L::children_run_in_training_only } -> std::convertible_to<bool>;
};

// Child I of container L.
template <class L, std::size_t I>
using child_t = std::tuple_element_t<I, typename L::children>;

// Backward of a container whose children are branches that all read its input (Concat, Sum):
// branch I gets `branch(I)` — a BackwardArgs<T> with its y, dy, saved and scratch — with its
// parameters, x and dx filled in here. The first branch writes (or adds to) dx as the caller
// asked; the others add to it. Frozen prefix (see Sequential): a branch holding only frozen
// parameters computes no parameter gradients, and is skipped when dx is not wanted.
template <class Block, ShapeType In, class Context, class Branch>
void backward_branches(Context& ctx, const BackwardArgs<typename Context::scalar>& a, Branch&& branch) {
  const std::size_t frozen = ctx.frozen_parameter_count(a.params.values);
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (
        [&] {
          const bool frozen_branch = Block::parameter_ends[I] <= frozen;
          if (!a.dx && frozen_branch) return;
          BackwardArgs<typename Context::scalar> args = branch(I);
          args.params = a.params.advance(Block::parameter_offsets[I], Block::buffer_offsets[I]);
          if (frozen_branch) args.params.gradients = nullptr;
          args.x = a.x;
          args.dx = a.dx;
          args.accumulate_dx = I == 0 ? a.accumulate_dx : true;
          backward_layer<child_t<Block, I>, In>(ctx, args);
        }(),
        ...);
  }(std::make_index_sequence<Block::child_count>{});
}

}  // namespace ctnn
