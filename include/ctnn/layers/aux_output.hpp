#pragma once
// ctnn::AuxOutput<Head>: an auxiliary classifier tapped off the main path, as GoogLeNet's aux1
// and aux2. On the main path it is the identity. In training mode it also runs Head on its input
// and publishes Head's output as an extra network output; in evaluation mode Head does not run,
// as in the reference model (`if self.training and self.aux_logits`).
//
// Backward adds Head's input gradient, from the gradient the loss gives the extra output, to the
// gradient flowing along the main path.

#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view

#include <ctnn/container.hpp>    // ctnn::ContainerLayer
#include <ctnn/evaluator.hpp>    // ctnn::Evaluator, ctnn::forward_layer, ctnn::backward_layer
#include <ctnn/layer.hpp>        // ctnn::Mode, ctnn::align_elements
#include <ctnn/pass_state.hpp>   // ctnn::record_if
#include <ctnn/shape.hpp>        // ctnn::ShapeType, ctnn::output_shape_t

namespace ctnn {

template <class Head>
struct AuxOutput : ContainerLayer<Head> {
  using head = Head;
  static constexpr std::string_view type_name = Head::type_name;
  static constexpr bool is_view = true;
  static constexpr bool backward_reads_input = true;
  static constexpr bool backward_reads_output = true;  // its output is Head's input
  // walk() shows the head in the tap's place, in training only; the recorded output is the head's.
  static constexpr std::size_t node_count = Head::node_count;
  static constexpr bool has_own_node = false;
  static constexpr bool children_run_in_training_only = true;
  static constexpr bool records_own_output = true;
  template <ShapeType In, std::size_t>
  using child_input_shape = In;
  template <ShapeType In>
  using head_output_shape = output_shape_t<Head, In>;
  // The identity on the main path, but only for an input Head accepts: naming Head's output
  // shape runs Head's own checks (InceptionAux behind too small an image fails in fc1).
  template <ShapeType In>
    requires ShapeType<head_output_shape<In>>
  using output_shape = In;
  template <ShapeType In>
  static constexpr std::size_t macs = Head::template macs<In>;
  // Training keeps Head's output (the extra network output, its N images packed back to back
  // within N * head_output_elements) and Head's own saved state.
  template <ShapeType In>
  static constexpr std::size_t head_output_elements = align_elements(head_output_shape<In>::size);
  template <ShapeType In>
  static constexpr std::size_t saved_elements = head_output_elements<In> + Head::template saved_elements<In>;
  template <ShapeType In>
  static constexpr std::size_t scratch_elements = Head::template scratch_elements<In>;
  template <ShapeType In>
  static constexpr std::size_t workspace_elements = Head::template workspace_elements<In>;
};

template <class Head, class Device, class T>
struct Evaluator<AuxOutput<Head>, Device, T> {
  using Tap = AuxOutput<Head>;

  template <ShapeType In, class Context>
  static void forward(Context& ctx, const ForwardArgs<T>& a) {
    if (a.y.data != a.x.data) copy_images(ctx, a.x, a.y, In::size, false);
    if (ctx.mode != Mode::train) return;
    // Images packed back to back: Model::aux_output(k) hands this out as one [N, size] tensor.
    const Slot<T> head_output{a.saved, output_shape_t<Head, In>::size};
    const std::size_t first_node = ctx.node;  // the head's subtree starts where the tap's does
    forward_layer<Head, In>(ctx, {a.params, a.x, head_output, a.saved + ctx.batch * Tap::template head_output_elements<In>,
                                  a.scratch});
    record_if(ctx, first_node + Head::node_count - 1, head_output, output_shape_t<Head, In>::size);
    ctx.publish_aux_output(head_output, output_shape_t<Head, In>::size);
  }

  template <ShapeType In, class Context>
  static void backward(Context& ctx, const BackwardArgs<T>& a) {
    // Backward visits taps in reverse forward order, so the last published output comes first.
    const ConstSlot<T> head_gradient = ctx.take_aux_gradient();
    if (a.dx) copy_images(ctx, a.dy, a.dx, In::size, a.accumulate_dx);
    const Slot<T> head_output{a.saved, output_shape_t<Head, In>::size};
    backward_layer<Head, In>(ctx, {a.params, a.x, head_output, head_gradient, a.dx, true,
                                   a.saved + ctx.batch * Tap::template head_output_elements<In>, a.scratch});
  }
};

}  // namespace ctnn
