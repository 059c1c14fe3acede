#pragma once
// Freezing a network's first layers for fine-tuning, by layer name.
//
//   ctnn::freeze_up_to(model, "inception4e");   // conv1 ... inception4e (and aux1, aux2, which
//                                               // come before it in parameter order) stay fixed
//   sgd.step(model);                            // updates only parameters after inception4e
//   ctnn::unfreeze(model);
//
// Parameters live in one buffer in the order of the network's definition, so "every layer
// before and including L" is a prefix [0, end of L) of it: Model::set_trainable_from(end). Backward
// then computes no gradients there and skips the layers that need none (for GoogLeNet frozen
// through inception4e, everything up to maxpool4 is not run backward at all), and optimizers
// stepping the model leave the prefix unchanged.

#include <cstddef>       // std::size_t
#include <string>        // std::string
#include <string_view>   // std::string_view

#include <ctnn/error.hpp>        // ctnn::Error
#include <ctnn/find_layer.hpp>   // ctnn::find_layer, ctnn::top_level_layer_names

namespace ctnn {

// Freezes every parameter up to the end of the layer at `path` (a PyTorch module path such as
// "inception4e" or "inception4e.branch1"); returns how many parameters are now frozen.
template <class Model>
std::size_t freeze_up_to(Model& model, std::string_view path) {
  using Net = typename Model::network;
  using In = typename Model::input_shape;
  const auto layer = find_layer<Net, In>(path);
  if (!layer)
    throw Error("freeze_up_to", "the network has no layer '" + std::string(path) +
                                    "' (top-level layers: " + top_level_layer_names<Net, In>() + ")");
  const std::size_t end = layer->parameter_offset + layer->parameter_count;
  model.set_trainable_from(end);
  return end;
}

// Makes every parameter trainable again.
template <class Model>
void unfreeze(Model& model) {
  model.set_trainable_from(0);
}

}  // namespace ctnn
