#pragma once
// The split between what a layer is and how a device computes it.
//
// A layer type only describes; `Evaluator<Layer, Device, T>` computes it on one device, the way
// Eigen's TensorEvaluator<Op, Device> does. Leaf layers have one specialisation per device
// (ctnn/cpu/*.hpp, ctnn/cuda/*.hpp); composites (Sequential, Concat, AuxOutput) have one generic
// evaluator that plans memory and calls their children's.
//
// Every evaluator provides, for a per-image input shape In:
//   forward<In>(ctx, params, x, y, saved, scratch)
//   backward<In>(ctx, params, x, y, dy, dx, accumulate_dx, saved, scratch)
// x, y, dy, dx are Slots: N images, image n at data + n * image_stride, each image contiguous
// C*H*W. A slot may be a channel slice of a larger image (an Inception branch's output).
// `saved` holds L::saved_elements<In> * N elements kept from the training forward for backward;
// `scratch` holds L::scratch_elements<In> * N elements free for the duration of the call.

#include <cstddef>   // std::size_t

#include <ctnn/layer.hpp>   // ctnn::HasBody
#include <ctnn/shape.hpp>   // ctnn::ShapeType

namespace ctnn {

// Device tags.
struct Cpu {};
struct Cuda {};

// N images of one shape: image n starts at data + n * image_stride.
template <class T>
struct Slot {
  T* data = nullptr;
  std::size_t image_stride = 0;

  T* image(std::size_t n) const { return data + n * image_stride; }
  // The channel slice starting at `offset` elements into every image.
  Slot slice(std::size_t offset) const { return {data + offset, image_stride}; }
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

template <class L, class Device, class T>
struct Evaluator;  // specialised per leaf layer and device; composites are generic

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

// A named composition (BasicConv2d, Inception, GoogLeNet, ...) is computed by its body, fed the
// input shape the composition accepts after its own checks.
template <class L, class Device, class T>
  requires HasBody<L>
struct Evaluator<L, Device, T> {
  using Body = evaluator_t<typename L::body, Device, T>;

  template <ShapeType In, class Context>
  static void forward(Context& ctx, ParamSpan<T> params, ConstSlot<T> x, Slot<T> y, T* saved, T* scratch) {
    Body::template forward<typename L::template accepted_input<In>>(ctx, params, x, y, saved, scratch);
  }
  template <ShapeType In, class Context>
  static void backward(Context& ctx, ParamSpan<T> params, ConstSlot<T> x, ConstSlot<T> y, ConstSlot<T> dy,
                       Slot<T> dx, bool accumulate_dx, T* saved, T* scratch) {
    Body::template backward<typename L::template accepted_input<In>>(ctx, params, x, y, dy, dx, accumulate_dx, saved,
                                                                     scratch);
  }
};

}  // namespace ctnn
