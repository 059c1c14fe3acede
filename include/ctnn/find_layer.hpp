#pragma once
// ctnn::find_layer<Net, In>("inception4e"): a layer of a network looked up by its PyTorch module
// path, with what freezing and feature read-out need: its walk position, its parameter range
// and its output shape.
//
//   find_layer<GoogLeNet<10>, Shape<3, 224, 224>>("avgpool")
//     -> {"avgpool", "AdaptiveAvgPool2d", ordinal 242, parameters [10'323'780, +0), output 1024x1x1}
//   find_layer<...>("no.such.layer") -> std::nullopt

#include <array>         // std::array
#include <cstddef>       // std::size_t
#include <optional>      // std::optional
#include <string>        // std::string
#include <string_view>   // std::string_view
#include <utility>       // std::move
#include <vector>        // std::vector

#include <ctnn/shape.hpp>   // ctnn::ShapeType, ctnn::output_shape_t
#include <ctnn/walk.hpp>    // ctnn::walk, ctnn::LayerNode

namespace ctnn {

struct LayerInfo {
  std::string path;                  // "inception4e"; "" for the whole network
  std::string_view type_name;        // "Inception"
  std::size_t ordinal = 0;           // position in walk order (children before parents)
  std::size_t parameter_offset = 0;  // its parameters: [parameter_offset, +parameter_count)
  std::size_t parameter_count = 0;
  std::array<std::size_t, 3> output_dims{};  // per image: channels, height, width
  std::size_t output_size = 0;               // elements per image
  bool in_aux_output = false;                // only runs in training mode
  bool inlined = false;                      // shown under its parent's path: not found by it
};

// Every layer of Net fed In, in walk order (the index in the vector is the ordinal).
template <class Net, ShapeType In>
std::vector<LayerInfo> layer_infos() {
  std::vector<LayerInfo> layers;
  walk<Net, In>([&]<class L, ShapeType I>(const LayerNode& node) {
    using Out = output_shape_t<L, I>;
    layers.push_back(LayerInfo{std::string(node.path), L::type_name, layers.size(), node.parameter_offset,
                               L::parameter_count, {Out::channels, Out::height, Out::width}, Out::size,
                               node.in_aux_output, node.inlined});
  });
  return layers;
}

template <class Net, ShapeType In>
std::optional<LayerInfo> find_layer(std::string_view path) {
  for (LayerInfo& layer : layer_infos<Net, In>())
    if (layer.path == path && !layer.inlined) return std::move(layer);
  return std::nullopt;
}

// "conv1, maxpool1, ..., fc": the top-level layer names, for error messages.
template <class Net, ShapeType In>
std::string top_level_layer_names() {
  std::string names;
  for (const LayerInfo& layer : layer_infos<Net, In>()) {
    if (layer.path.empty() || layer.inlined || layer.path.find('.') != std::string::npos) continue;
    names += (names.empty() ? "" : ", ") + layer.path;
  }
  return names;
}

}  // namespace ctnn
