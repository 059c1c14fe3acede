#pragma once
// Feature read-out: the output of a named layer for a batch of images, e.g. GoogLeNet's 1024-d
// pooled features for a linear probe or retrieval.
//
//   std::span<const float> f = ctnn::features_of(model, "avgpool", images);  // N x 1024
//
// It runs a forward in the model's current mode with Model::record_output_of(path), which
// copies that layer's output aside as the forward passes it (see Model::recorded_output()).
// The span is valid until the next forward. The network's output is computed too: forward
// goes to the end.

#include <span>          // std::span
#include <string_view>   // std::string_view

namespace ctnn {

template <class Model>
std::span<const typename Model::scalar> features_of(Model& model, std::string_view path,
                                                    std::span<const typename Model::scalar> images) {
  const auto& recorded = model.recorded_layer();
  if (!recorded || recorded->path != path) model.record_output_of(path);
  model.forward(images);
  return model.recorded_output();
}

}  // namespace ctnn
