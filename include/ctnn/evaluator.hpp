#pragma once
// The split between what a layer is and how a device computes it.
//
// A layer type only describes; `Evaluator<Layer, Device, T>` computes it on one device, the way
// Eigen's TensorEvaluator<Op, Device> does. Leaf layers have one specialisation per device
// (ctnn/cpu/*.hpp, ctnn/cuda/*.hpp); composites (Sequential, Concat, Sum, AuxOutput), views
// (Flatten, Identity) and Dropout's pass-through have one device-generic evaluator that calls
// their children's, or the device's copy_images, found by argument-dependent lookup.
//
// Every evaluator provides, for a per-image input shape In:
//   template <ShapeType In> static void forward(Context& ctx, const ForwardArgs<T>& args);
//   template <ShapeType In> static void backward(Context& ctx, const BackwardArgs<T>& args);
// x, y, dy, dx are Slots: N images, image n at data + n * image_stride, each image contiguous
// C*H*W. A slot may be a channel slice of a larger image (an Inception branch's output).
// `saved` holds L::saved_elements<In> * N elements kept from the training forward for backward;
// `scratch` holds L::scratch_elements<In> * N elements free for the duration of the call.
// Composites call their children through forward_layer / backward_layer below, which hand a
// child empty x and y slots where its description says backward does not read them.

#include <cstddef>       // std::size_t
#include <type_traits>   // std::false_type

#include <ctnn/layer.hpp>   // ctnn::HasBody, ctnn::LayerDescription, ctnn::Mode
#include <ctnn/shape.hpp>   // ctnn::ShapeType

namespace ctnn {

// Device tags. host_memory: the model's parameters, gradients and buffers are host memory that
// host code (an MPI all-reduce) reads and writes in place.
struct Cpu {
  static constexpr const char* name = "Cpu";
  static constexpr bool host_memory = true;
};
struct Cuda {
  static constexpr const char* name = "Cuda";
  static constexpr bool host_memory = false;
};

// N images of one shape: image n starts at data + n * image_stride.
template <class T>
struct Slot {
  T* data = nullptr;
  std::size_t image_stride = 0;

  T* image(std::size_t n) const { return data + n * image_stride; }
  // The channel slice starting at `offset` elements into every image (empty stays empty).
  Slot slice(std::size_t offset) const { return {data ? data + offset : nullptr, image_stride}; }
  operator Slot<const T>() const { return {data, image_stride}; }
  explicit operator bool() const { return data != nullptr; }
};

template <class T>
using ConstSlot = Slot<const T>;

// A layer's window into the model's flat buffers: parameters, their gradients and the
// non-trainable buffers (running statistics). Offsets are compile-time constants.
template <class T>
struct ParamSpan {
  const T* values = nullptr;
  T* gradients = nullptr;
  T* buffers = nullptr;

  ParamSpan advance(std::size_t parameter_offset, std::size_t buffer_offset) const {
    return {values + parameter_offset, gradients ? gradients + parameter_offset : nullptr,
            buffers ? buffers + buffer_offset : nullptr};
  }
};

// What forward gets: y = layer(x) with the layer's parameters.
template <class T>
struct ForwardArgs {
  ParamSpan<T> params{};
  ConstSlot<T> x{};
  Slot<T> y{};
  T* saved = nullptr;    // training: kept for backward
  T* scratch = nullptr;  // free during the call
};

// What backward gets: dx (+)= the input gradient of dy; the parameter gradients into
// params.gradients unless it is nullptr (frozen). x and y are the forward's, empty where the
// description's backward_reads_input / backward_reads_output is false; dx is empty when nobody
// wants the input gradient.
template <class T>
struct BackwardArgs {
  ParamSpan<T> params{};
  ConstSlot<T> x{};
  ConstSlot<T> y{};
  ConstSlot<T> dy{};
  Slot<T> dx{};
  bool accumulate_dx = false;  // add to dx instead of overwriting it
  T* saved = nullptr;
  T* scratch = nullptr;
};

// Specialised per leaf layer and device. This primary template marks "no evaluator": using a
// layer on a device without one is the single error of ctnn/model.hpp's check (EvaluatorFor).
template <class L, class Device, class T>
struct Evaluator {
  static constexpr bool missing = true;
};

// Named<"conv1", L> is L under a name; evaluation sees through the name.
template <class L>
concept IsNamed = requires { typename L::named_layer; };

namespace detail {
template <class L>
struct unnamed {
  using type = L;
};
template <IsNamed L>
struct unnamed<L> {
  using type = typename unnamed<typename L::named_layer>::type;
};
}  // namespace detail

template <class L>
using unnamed_t = typename detail::unnamed<L>::type;

// The evaluator of any layer, named or not.
template <class L, class Device, class T>
using evaluator_t = Evaluator<unnamed_t<L>, Device, T>;

// Whether layer L (named or not) is a description with an evaluator of its own for Device.
// Composites have generic ones; ctnn/model.hpp checks every leaf of a network with it.
template <class L, class Device, class T>
concept EvaluatorFor = LayerDescription<unnamed_t<L>> && !requires { evaluator_t<L, Device, T>::missing; };

// ---------------------------------------------------------------------------------------------
// Calling a child: the one place composites and the model run a layer.
// ---------------------------------------------------------------------------------------------
template <class L, ShapeType In, class Context>
void forward_layer(Context& ctx, const ForwardArgs<typename Context::scalar>& args) {
  evaluator_t<L, typename Context::device, typename Context::scalar>::template forward<In>(ctx, args);
}

// An evaluator whose forward rewrote the buffer it shares with its input (a view whose device
// reorders in place: oneDNN's Flatten) declares `static constexpr bool restores_input = true` and
// gets x and y in backward to put the input's values back for the layers before.
template <class E>
concept RestoresInput = requires { requires E::restores_input; };

template <class L, ShapeType In, class Context>
void backward_layer(Context& ctx, BackwardArgs<typename Context::scalar> args) {
  using Layer = unnamed_t<L>;
  using LayerEvaluator = evaluator_t<L, typename Context::device, typename Context::scalar>;
  if constexpr (!Layer::backward_reads_input && !RestoresInput<LayerEvaluator>) args.x = {};
  if constexpr (!Layer::backward_reads_output && !RestoresInput<LayerEvaluator>) args.y = {};
  LayerEvaluator::template backward<In>(ctx, args);
  // A leaf's parameter gradients are final once its backward has run (see PassState).
  if constexpr (Layer::is_leaf && Layer::parameter_count > 0)
    if (args.params.gradients != nullptr) ctx.gradients_final(args.params.gradients, Layer::parameter_count);
}

// ---------------------------------------------------------------------------------------------
// Fusion: a device may compute two consecutive layers of a Sequential in one call where the
// second runs in place on the first's output, in evaluation mode (cuDNN's convolution + bias +
// ReLU). Sequential asks this trait; a specialisation provides
//   static constexpr bool available = true;
//   template <ShapeType In> static void forward(Context&, const ForwardArgs<T>&);  // both layers
// (or, where it needs the second layer's parameters and buffers too, forward(Context&, const
// ForwardArgs<T>&, const ParamSpan<T>& second): oneDNN's Conv + BatchNorm)
// and, to fuse the training forward too (each layer's backward then runs on its own, reading the
// saved slot the two share: oneDNN's Conv + ReLU),
//   static constexpr bool in_training = true;
// and, to fuse the backward too where a pass allows (oneDNN's BatchNorm + ReLU), both of
//   static bool fuses_backward(const Context&);   // the same answer while planning and running
//   template <ShapeType In> static void backward(Context&, const BackwardArgs<T>&);
// whose arguments are the first layer's, with the second's y and dy (backward_fused_pair). Its
// forward must then compute what that backward reads in the passes fuses_backward accepts.
// ---------------------------------------------------------------------------------------------
template <class First, class Second, class Device, class T>
struct Fusion {
  static constexpr bool available = false;
};

// FusionOfThree: the same for three consecutive layers, in evaluation only, where the second and
// the third run in place on the first's output (oneDNN: Conv, then BatchNorm folded into its
// weights, then an activation as its post-op). Sequential tries it before Fusion. A
// specialisation provides
//   static constexpr bool available = true;
//   template <ShapeType In>
//   static void forward(Context&, const ForwardArgs<T>& first, const ParamSpan<T>& second);
// with the first layer's arguments (y: the third's output, the same slot) and the second's
// parameters and buffers.
template <class First, class Second, class Third, class Device, class T>
struct FusionOfThree {
  static constexpr bool available = false;
};

// FusionAcross: a device may compute two consecutive layers of a Sequential in one call in
// evaluation where the second does not run in place: the call reads the first's input and writes
// the second's output, and what the first computes need not reach memory (oneDNN: a 1x1
// convolution with the depthwise convolution after it as a post-op, MobileNetV2's expansion).
// Sequential tries it after FusionOfThree and before Fusion, unless it is to record an output
// inside the pair (the second's own output excepted). A specialisation provides
//   static constexpr bool available = true;
//   template <ShapeType In>
//   static void forward(Context&, const ForwardArgs<T>& first, const ForwardArgs<T>& second);
// with each layer's own arguments (second.x is first.y, the slot between them); it may still
// compute the two one after the other through them, where fusing would not pay.
template <class First, class Second, class Device, class T>
struct FusionAcross {
  static constexpr bool available = false;
};

// The backward of layers First and Second of a Sequential as one call of their Fusion (see
// below): args are First's with Second's y and dy. First's parameter gradients are then final.
template <class First, class Second, ShapeType In, class Context>
void backward_fused_pair(Context& ctx, const BackwardArgs<typename Context::scalar>& args) {
  Fusion<unnamed_t<First>, unnamed_t<Second>, typename Context::device, typename Context::scalar>::template backward<In>(
      ctx, args);
  using Layer = unnamed_t<First>;
  if constexpr (Layer::is_leaf && Layer::parameter_count > 0)
    if (args.params.gradients != nullptr) ctx.gradients_final(args.params.gradients, Layer::parameter_count);
}

// A view (Flatten, Identity: is_view) on any device: nothing to compute unless the plan gave it
// an output of its own, then a copy by the device's copy_images.
template <class T>
struct ViewEvaluator {
  template <ShapeType In, class Context>
  static void forward(Context& ctx, const ForwardArgs<T>& a) {
    if (a.x.data != a.y.data) copy_images(ctx, a.x, a.y, In::size, false);
  }
  template <ShapeType In, class Context>
  static void backward(Context& ctx, const BackwardArgs<T>& a) {
    if (a.dx) copy_images(ctx, a.dy, a.dx, In::size, a.accumulate_dx);
  }
};

// A named composition (BasicConv2d, Inception, GoogLeNet, ...) is computed by its body, fed the
// input shape the composition accepts after its own checks.
template <class L, class Device, class T>
  requires HasBody<L>
struct Evaluator<L, Device, T> {
  template <ShapeType In, class Context>
  static void forward(Context& ctx, const ForwardArgs<T>& args) {
    forward_layer<typename L::body, typename L::template accepted_input<In>>(ctx, args);
  }
  template <ShapeType In, class Context>
  static void backward(Context& ctx, const BackwardArgs<T>& args) {
    backward_layer<typename L::body, typename L::template accepted_input<In>>(ctx, args);
  }
};

}  // namespace ctnn
