#pragma once
// ctnn::Dropout<Percent>: nn.Dropout(Percent / 100). In training it zeroes each element with
// probability p and scales the rest by 1 / (1 - p); in evaluation it is the identity.
//   Dropout<40> is GoogLeNet's nn.Dropout(0.4).   Shape -> same Shape
//   CPU kernel: ctnn/cpu/elementwise.hpp

#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view

#include <ctnn/diagnostics.hpp>   // Dropout_probability_percent_must_be_below_100
#include <ctnn/layer.hpp>         // ctnn::Layer
#include <ctnn/shape.hpp>         // ctnn::ShapeType

namespace ctnn {

template <std::size_t Percent>
struct Dropout : Layer {
  static_assert(diagnostic::Dropout_probability_percent_must_be_below_100<Percent>::ok);
  static constexpr std::string_view type_name = "Dropout";
  static constexpr double probability = Percent / 100.0;
  static constexpr bool in_place = true;
  static constexpr bool backward_reads_input = false;   // the saved mask is enough
  static constexpr bool backward_reads_output = false;
  template <ShapeType In>
  using output_shape = In;
  // The mask of scale factors (0 or 1 / (1 - p)) per element.
  template <ShapeType In>
  static constexpr std::size_t saved_elements = align_elements(In::size);
};

}  // namespace ctnn
