#pragma once
// ctnn::TransformInput: torchvision GoogLeNet's transform_input=True step. The network's input
// is normalised with ImageNet's per-channel mean and std; the original (TensorFlow-ported)
// weights expect mean 0.5, std 0.5 instead. Per channel c:
//
//   y_c = x_c * (std_c / 0.5) + (mean_c - 0.5) / 0.5
//   mean = (0.485, 0.456, 0.406), std = (0.229, 0.224, 0.225)
//
//   Shape<3, H, W> -> Shape<3, H, W>; no parameters
//   CPU kernel: ctnn/cpu/transform_input.hpp

#include <array>         // std::array
#include <string_view>   // std::string_view

#include <ctnn/diagnostics.hpp>   // TransformInput_receives_channels_but_needs_3
#include <ctnn/layer.hpp>         // ctnn::Layer
#include <ctnn/shape.hpp>         // ctnn::Shape, ctnn::ShapeType

namespace ctnn {

struct TransformInput : Layer {
  static constexpr std::string_view type_name = "TransformInput";
  // Spelled as torchvision spells them, so the double constants round the same way.
  static constexpr std::array<double, 3> scale{0.229 / 0.5, 0.224 / 0.5, 0.225 / 0.5};
  static constexpr std::array<double, 3> shift{(0.485 - 0.5) / 0.5, (0.456 - 0.5) / 0.5, (0.406 - 0.5) / 0.5};

  static constexpr bool in_place = true;
  static constexpr bool backward_reads_input = false;   // dx_c = dy_c * scale_c
  static constexpr bool backward_reads_output = false;

  // Three channels out whatever comes in, so a wrong input is this one error, not a second one
  // from the layer after.
  template <ShapeType Input>
    requires diagnostic::TransformInput_receives_channels_but_needs_3<Input::channels>::ok
  using output_shape = Shape<3, Input::height, Input::width>;
};

}  // namespace ctnn
