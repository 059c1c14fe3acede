#pragma once
// The named tensors of a network, as PyTorch's state_dict names them, with their place in the
// model's flat parameter and buffer arrays.
//
//   named_tensors<GoogLeNet<2>, Shape<3, 224, 224>>()
//     -> {"conv1.conv.weight", [64, 3, 7, 7], parameter offset 0}, {"conv1.conv.bias", [64], 9408}, ...

#include <cstddef>   // std::size_t
#include <string>    // std::string
#include <vector>    // std::vector

#include <ctnn/layer.hpp>   // ctnn::TensorSpec, ctnn::TensorRole
#include <ctnn/shape.hpp>   // ctnn::ShapeType
#include <ctnn/walk.hpp>    // ctnn::walk

namespace ctnn {

struct NamedTensor {
  std::string name;        // "inception3a.branch2.1.conv.weight"
  std::vector<std::size_t> shape;  // PyTorch's shape
  std::size_t offset = 0;  // into the parameter buffer, or the buffer of running statistics
  std::size_t count = 0;
  TensorRole role = TensorRole::parameter;
  // The layer's weight: its fan-in (prod of its shape after the first dimension; 1 for a 1-D
  // BatchNorm weight) and rank. Initialisers of a bias need them.
  std::size_t fan_in = 0;
  std::size_t weight_rank = 0;
};

// Every tensor of the network in the order of its flat buffers.
template <class Net, ShapeType In>
std::vector<NamedTensor> named_tensors() {
  std::vector<NamedTensor> tensors;
  walk<Net, In>([&]<class L, ShapeType>(const LayerNode& node) {
    if constexpr (!requires { L::tensors; }) return;  // named compositions
    else {
    if (!node.is_leaf) return;
    std::size_t weight_fan_in = 0, weight_rank = 0;
    for (const TensorSpec& spec : L::tensors) {
      NamedTensor t;
      t.name = node.path.empty() ? std::string(spec.name) : std::string(node.path) + "." + std::string(spec.name);
      t.shape.assign(spec.dims.begin(), spec.dims.begin() + static_cast<std::ptrdiff_t>(spec.rank));
      t.offset = (spec.role == TensorRole::parameter ? node.parameter_offset : node.buffer_offset) + spec.offset;
      t.count = spec.count();
      t.role = spec.role;
      if (spec.name == "weight") {
        weight_fan_in = spec.count() / spec.dims[0];
        weight_rank = spec.rank;
      }
      t.fan_in = weight_fan_in;
      t.weight_rank = weight_rank;
      tensors.push_back(std::move(t));
    }
    }
  });
  return tensors;
}

}  // namespace ctnn
