#pragma once
// ctnn::Dropout<Percent>: nn.Dropout(Percent / 100). In training it zeroes each element with
// probability p and scales the rest by 1 / (1 - p); in evaluation it is the identity.
//   Dropout<40> is GoogLeNet's nn.Dropout(0.4).   Shape -> same Shape
//   kernels: DropoutKernel<Cpu> in ctnn/cpu/elementwise.hpp, DropoutKernel<Cuda> in
//   ctnn/cuda/elementwise.hpp; the pass-through below is the same on every device

#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view

#include <ctnn/diagnostics.hpp>   // Dropout_probability_percent_must_be_below_100
#include <ctnn/evaluator.hpp>     // ctnn::Evaluator, ctnn::ForwardArgs, ctnn::BackwardArgs
#include <ctnn/layer.hpp>         // ctnn::Layer, ctnn::Mode
#include <ctnn/shape.hpp>         // ctnn::ShapeType

namespace ctnn {

template <std::size_t Percent>
struct Dropout : Layer {
  static_assert(diagnostic::Dropout_probability_percent_must_be_below_100<Percent>::ok);
  static constexpr std::string_view type_name = "Dropout";
  static constexpr std::size_t percent = Percent;
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

// How a device draws a mask and applies it (forward) or applies it again (backward):
//   template <class Layer, ShapeType In> static void forward(Context&, const ForwardArgs<T>&);
//   template <class Layer, ShapeType In> static void backward(Context&, const BackwardArgs<T>&);
template <class Device, class T>
struct DropoutKernel;

// Evaluation, p = 0 and Model::disable_dropout pass the input through, on every device. Whether
// forward dropped is read again in backward from the pass state, which the model sets at
// forward only: the two always agree.
template <std::size_t Percent, class Device, class T>
struct Evaluator<Dropout<Percent>, Device, T> {
  template <class Context>
  static bool drops(const Context& ctx) {
    return Percent > 0 && ctx.mode == Mode::train && !ctx.dropout_disabled;
  }
  template <ShapeType In, class Context>
  static void forward(Context& ctx, const ForwardArgs<T>& a) {
    if (drops(ctx))
      DropoutKernel<Device, T>::template forward<Dropout<Percent>, In>(ctx, a);
    else
      copy_images(ctx, a.x, a.y, In::size, false);
  }
  template <ShapeType In, class Context>
  static void backward(Context& ctx, const BackwardArgs<T>& a) {
    if (!a.dx) return;  // nobody wants the input gradient
    if (drops(ctx))
      DropoutKernel<Device, T>::template backward<Dropout<Percent>, In>(ctx, a);
    else
      copy_images(ctx, a.dy, a.dx, In::size, a.accumulate_dx);
  }
};

}  // namespace ctnn
