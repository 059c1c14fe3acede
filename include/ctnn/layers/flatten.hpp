#pragma once
// ctnn::Flatten: torch.flatten(x, 1). NCHW images are already contiguous per image, so the
// output is the input's memory seen as features:   Shape<C, H, W> -> Features<C*H*W>

#include <string_view>   // std::string_view

#include <ctnn/evaluator.hpp>         // ctnn::Evaluator, ctnn::ViewEvaluator
#include <ctnn/layer.hpp>             // ctnn::Layer
#include <ctnn/layers/identity.hpp>   // ctnn::Identity (declared here before it had a header of its own)
#include <ctnn/shape.hpp>             // ctnn::Features

namespace ctnn {

struct Flatten : Layer {
  static constexpr std::string_view type_name = "Flatten";
  static constexpr bool is_view = true;
  static constexpr bool backward_reads_input = false;
  static constexpr bool backward_reads_output = false;
  template <ShapeType In>
  using output_shape = Features<In::size>;
};

template <class Device, class T>
struct Evaluator<Flatten, Device, T> : ViewEvaluator<T> {};

}  // namespace ctnn
