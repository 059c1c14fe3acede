#pragma once
// ctnn::Linear<In, Out>: y = x W^T + b; PyTorch's nn.Linear(In, Out).
//   Features<In> -> Features<Out>;  parameters: weight [Out, In], then bias [Out]
//   CPU kernel: ctnn/cpu/linear.hpp    GPU kernel: ctnn/cuda/linear.hpp

#include <array>         // std::array
#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view

#include <ctnn/diagnostics.hpp>   // Linear_receives_features_but_was_declared_with_In, ...
#include <ctnn/layer.hpp>         // ctnn::Layer, ctnn::TensorSpec
#include <ctnn/shape.hpp>         // ctnn::Features

namespace ctnn {

template <std::size_t In, std::size_t Out>
struct Linear : Layer {
  static_assert(diagnostic::Linear_In_and_Out_must_be_positive<In, Out>::ok);
  static constexpr std::string_view type_name = "Linear";
  static constexpr std::size_t in_features = In, out_features = Out;
  static constexpr std::size_t weight_count = Out * In;
  static constexpr std::size_t bias_offset = weight_count;
  static constexpr std::size_t parameter_count = weight_count + Out;
  static constexpr bool backward_reads_input = true;
  static constexpr bool backward_reads_output = false;
  static constexpr std::array<TensorSpec, 2> tensors{{{"weight", {Out, In}, 2, 0}, {"bias", {Out}, 1, weight_count}}};

  // The checks sit in the requires-clause itself (see Conv): one error per mistake with clang too.
  template <ShapeType Input>
    requires(diagnostic::Linear_receives_an_unflattened_input_of_height_and_width<Input::height, Input::width>::ok &&
             diagnostic::Linear_receives_features_but_was_declared_with_In<Input::size, In>::ok)
  using output_shape = Features<Out>;

  template <ShapeType Input>
  static constexpr std::size_t macs = In * Out;
};

}  // namespace ctnn
