#pragma once
// A compile-time walk over a network's layer tree, for everything that needs each layer by name:
// parameter names for checkpoints, initialisation, the summary table.
//
//   walk<GoogLeNet<2>, Shape<3, 224, 224>>(visitor) calls, children before parents,
//     visitor.template operator()<Conv<3, 64, 7, 2, 3>, Shape<3, 224, 224>>(node{"conv1.conv", ...})
//     visitor.template operator()<ReLU, Shape<64, 112, 112>>(node{"conv1.relu", ...})
//     visitor.template operator()<BasicConv2d<3, 64, 7, 2, 3>, Shape<3, 224, 224>>(node{"conv1", ...})
//     ...
// Paths are PyTorch's module paths: Named children by name, other children by index. Every
// container follows one protocol (ctnn/container.hpp), so a new composite needs no change here.

#include <cstddef>       // std::size_t
#include <string>        // std::string, std::to_string
#include <string_view>   // std::string_view
#include <utility>       // std::index_sequence

#include <ctnn/container.hpp>      // ctnn::Container, ctnn::child_t
#include <ctnn/evaluator.hpp>      // ctnn::unnamed_t
#include <ctnn/layer.hpp>          // ctnn::HasBody
#include <ctnn/layers/named.hpp>   // ctnn::Named, ctnn::is_named_v
#include <ctnn/shape.hpp>          // ctnn::ShapeType

namespace ctnn {

struct LayerNode {
  std::string_view path;            // "inception3a.branch2.1.conv"; "" for the root
  std::size_t depth = 0;            // 0 for the root
  std::size_t parameter_offset = 0; // of the layer's first parameter in the model's parameter buffer
  std::size_t buffer_offset = 0;    // likewise in the buffer of running statistics
  bool is_leaf = false;             // a layer with its own kernels (Conv, ReLU, ...)
  bool in_aux_output = false;       // inside an auxiliary head, which runs in training mode only
  bool inlined = false;             // under its parent's path (Named<"", L>): a walk position, not a name
};

namespace detail {
// The path of a container's child I: its Named name, its parent's path for an empty name or
// where the container shows its children in its own place, else its index (as nn.Sequential).
template <class Container, std::size_t I>
std::string child_path(std::string_view parent) {
  using Child = child_t<Container, I>;
  std::string name;
  if constexpr (is_named_v<Child>)
    name = std::string(Child::name);
  else if constexpr (Container::has_own_node)
    name = std::to_string(I);
  if (name.empty()) return std::string(parent);
  return parent.empty() ? name : std::string(parent) + "." + name;
}

template <class Container, std::size_t I>
constexpr bool child_is_inlined() {
  using Child = child_t<Container, I>;
  if constexpr (is_named_v<Child>)
    return Child::name.empty();
  else
    return false;
}

template <class L, ShapeType In, class Visitor>
void walk_node(Visitor& visitor, std::string_view path, std::size_t depth, std::size_t parameter_offset,
               std::size_t buffer_offset, bool in_aux, bool inlined);

// The children of any container (container.hpp), with the input shape each one receives.
template <Container C, ShapeType In, class Visitor>
void walk_children(Visitor& visitor, std::string_view path, std::size_t depth, std::size_t parameter_offset,
                   std::size_t buffer_offset, bool in_aux) {
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (walk_node<child_t<C, I>, typename C::template child_input_shape<In, I>>(
         visitor, child_path<C, I>(path), C::has_own_node ? depth + 1 : depth, parameter_offset + C::parameter_offsets[I],
         buffer_offset + C::buffer_offsets[I], in_aux || C::children_run_in_training_only, child_is_inlined<C, I>()),
     ...);
  }(std::make_index_sequence<C::child_count>{});
}

template <class L, ShapeType In, class Visitor>
void walk_node(Visitor& visitor, std::string_view path, std::size_t depth, std::size_t parameter_offset,
               std::size_t buffer_offset, bool in_aux, bool inlined) {
  using Layer = unnamed_t<L>;
  if constexpr (HasBody<Layer>) {
    // A named composition stands in its body's place: a container body's children are its own.
    using Body = unnamed_t<typename Layer::body>;
    using BodyIn = typename Layer::template accepted_input<In>;
    if constexpr (Container<Body>)
      walk_children<Body, BodyIn>(visitor, path, depth, parameter_offset, buffer_offset, in_aux);
    else
      walk_node<Body, BodyIn>(visitor, path, depth + 1, parameter_offset, buffer_offset, in_aux, false);
  } else if constexpr (Container<Layer>) {
    walk_children<Layer, In>(visitor, path, depth, parameter_offset, buffer_offset, in_aux);
    if constexpr (!Layer::has_own_node) return;
  }
  const LayerNode node{path, depth, parameter_offset, buffer_offset, Layer::is_leaf, in_aux, inlined};
  visitor.template operator()<Layer, In>(node);
}
}  // namespace detail

// Visits every layer of L (fed In), children before their parent, the root last.
template <class L, ShapeType In, class Visitor>
void walk(Visitor&& visitor) {
  detail::walk_node<L, In>(visitor, "", 0, 0, 0, false, false);
}

}  // namespace ctnn
