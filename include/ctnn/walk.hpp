#pragma once
// A compile-time walk over a network's layer tree, for everything that needs each layer by name:
// parameter names for checkpoints, initialisation, the summary table.
//
//   walk<GoogLeNet<2>, Shape<3, 224, 224>>(visitor) calls, children before parents,
//     visitor.template operator()<Conv<3, 64, 7, 2, 3>, Shape<3, 224, 224>>(node{"conv1.conv", ...})
//     visitor.template operator()<ReLU, Shape<64, 112, 112>>(node{"conv1.relu", ...})
//     visitor.template operator()<BasicConv2d<3, 64, 7, 2, 3>, Shape<3, 224, 224>>(node{"conv1", ...})
//     ...
// Paths are PyTorch's module paths: Named children by name, other Sequential children by index.

#include <cstddef>       // std::size_t
#include <string>        // std::string, std::to_string
#include <string_view>   // std::string_view
#include <tuple>         // std::tuple_element_t
#include <utility>       // std::index_sequence

#include <ctnn/layer.hpp>               // ctnn::HasBody
#include <ctnn/layers/aux_output.hpp>   // ctnn::AuxOutput
#include <ctnn/layers/concat.hpp>       // ctnn::Concat
#include <ctnn/layers/named.hpp>        // ctnn::Named
#include <ctnn/layers/sequential.hpp>   // ctnn::Sequential
#include <ctnn/shape.hpp>               // ctnn::ShapeType

namespace ctnn {

struct LayerNode {
  std::string_view path;            // "inception3a.branch2.1.conv"; "" for the root
  std::size_t depth = 0;            // 0 for the root
  std::size_t parameter_offset = 0; // of the layer's first parameter in the model's parameter buffer
  std::size_t buffer_offset = 0;    // likewise in the buffer of running statistics
  bool is_leaf = false;             // a layer with its own kernels (Conv, ReLU, ...)
  bool in_aux_output = false;       // inside an auxiliary head, which runs in training mode only
};

namespace detail {
template <class L>
struct is_sequential : std::false_type {};
template <class... L>
struct is_sequential<Sequential<L...>> : std::true_type {};
template <class L>
struct is_concat : std::false_type {};
template <class... B>
struct is_concat<Concat<B...>> : std::true_type {};
template <class L>
struct is_aux_output : std::false_type {};
template <class H>
struct is_aux_output<AuxOutput<H>> : std::true_type {};

template <class Child>
std::string child_path(std::string_view parent, std::size_t index) {
  std::string name;
  if constexpr (is_named_v<Child>)
    name = std::string(Child::name);
  else
    name = std::to_string(index);
  return parent.empty() ? name : std::string(parent) + "." + name;
}

template <class L, ShapeType In, class Visitor>
void walk_node(Visitor& visitor, std::string_view path, std::size_t depth, std::size_t parameter_offset,
               std::size_t buffer_offset, bool in_aux);

// The children of a Sequential or Concat, with the input shape each one receives.
template <class Container, ShapeType In, class Visitor>
void walk_children(Visitor& visitor, std::string_view path, std::size_t depth, std::size_t parameter_offset,
                   std::size_t buffer_offset, bool in_aux) {
  constexpr std::size_t count = std::tuple_size_v<typename Container::template layers_or_branches<>>;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (
        [&] {
          using Child = std::tuple_element_t<I, typename Container::template layers_or_branches<>>;
          using ChildIn = typename Container::template child_input_shape<In, I>;
          walk_node<Child, ChildIn>(visitor, child_path<Child>(path, I), depth + 1,
                                    parameter_offset + Container::parameter_offsets[I],
                                    buffer_offset + Container::buffer_offsets[I], in_aux);
        }(),
        ...);
  }(std::make_index_sequence<count>{});
}

template <class L, ShapeType In, class Visitor>
void walk_node(Visitor& visitor, std::string_view path, std::size_t depth, std::size_t parameter_offset,
               std::size_t buffer_offset, bool in_aux) {
  using Layer = unnamed_t<L>;
  if constexpr (is_aux_output<Layer>::value) {
    walk_node<typename Layer::head, In>(visitor, path, depth, parameter_offset, buffer_offset, true);
    return;
  } else {
    bool leaf = false;
    if constexpr (HasBody<Layer>) {
      using Body = typename Layer::body;
      using BodyIn = typename Layer::template accepted_input<In>;
      if constexpr (is_sequential<Body>::value || is_concat<Body>::value)
        walk_children<Body, BodyIn>(visitor, path, depth, parameter_offset, buffer_offset, in_aux);
      else
        walk_node<Body, BodyIn>(visitor, path, depth + 1, parameter_offset, buffer_offset, in_aux);
    } else if constexpr (is_sequential<Layer>::value || is_concat<Layer>::value) {
      walk_children<Layer, In>(visitor, path, depth, parameter_offset, buffer_offset, in_aux);
    } else {
      leaf = true;
    }
    const LayerNode node{path, depth, parameter_offset, buffer_offset, leaf, in_aux};
    visitor.template operator()<Layer, In>(node);
  }
}
}  // namespace detail

// Visits every layer of L (fed In), children before their parent, the root last.
template <class L, ShapeType In, class Visitor>
void walk(Visitor&& visitor) {
  detail::walk_node<L, In>(visitor, "", 0, 0, 0, false);
}

}  // namespace ctnn
