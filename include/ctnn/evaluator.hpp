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

namespace detail {
// The type whose evaluator computes L: a named composition (BasicConv2d, Inception, ...) is
// computed by its body.
template <class L>
struct evaluated {
  using type = L;
};
template <HasBody L>
struct evaluated<L> {
  using type = typename evaluated<typename L::body>::type;
};
}  // namespace detail

template <class L>
using evaluated_t = typename detail::evaluated<L>::type;

// The evaluator of any layer, with named compositions resolved to their bodies.
template <class L, class Device, class T>
using evaluator_t = Evaluator<evaluated_t<L>, Device, T>;

}  // namespace ctnn
