#pragma once
// ctnn::Identity: nn.Identity, the input unchanged. Stands where an optional layer is switched
// off (GoogLeNet without aux heads) and is Residual's default shortcut. A view: the memory plan
// gives it its input's buffer, so it costs nothing.   Shape -> same Shape

#include <string_view>   // std::string_view

#include <ctnn/evaluator.hpp>   // ctnn::Evaluator, ctnn::ViewEvaluator
#include <ctnn/layer.hpp>       // ctnn::Layer
#include <ctnn/shape.hpp>       // ctnn::ShapeType

namespace ctnn {

struct Identity : Layer {
  static constexpr std::string_view type_name = "Identity";
  static constexpr bool is_view = true;
  static constexpr bool backward_reads_input = false;
  static constexpr bool backward_reads_output = false;
  template <ShapeType In>
  using output_shape = In;
};

template <class Device, class T>
struct Evaluator<Identity, Device, T> : ViewEvaluator<T> {};

}  // namespace ctnn
