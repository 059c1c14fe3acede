#pragma once
// ctnn::Shape<C, H, W>: the per-image shape of an activation, known to the compiler.
// The batch size N is the only runtime extent; a batch is N images of Shape laid out NCHW.

#include <cstddef>   // std::size_t
#include <tuple>     // std::tuple_element_t

namespace ctnn {

template <std::size_t C, std::size_t H, std::size_t W>
struct Shape {
  static constexpr std::size_t channels = C;
  static constexpr std::size_t height = H;
  static constexpr std::size_t width = W;
  static constexpr std::size_t plane = H * W;   // elements of one channel
  static constexpr std::size_t size = C * H * W; // elements of one image
};

// A feature vector, as produced by Flatten or Linear: [N, F] is stored as N images of Shape<F, 1, 1>.
template <std::size_t F>
using Features = Shape<F, 1, 1>;

namespace detail {
template <class T>
struct is_shape : std::false_type {};
template <std::size_t C, std::size_t H, std::size_t W>
struct is_shape<Shape<C, H, W>> : std::true_type {};
}  // namespace detail

template <class S>
concept ShapeType = detail::is_shape<S>::value;

// The shape a layer or network L produces from a per-image input shape In:
//   output_shape_t<Conv<3, 64, 7, 2, 3>, Shape<3, 224, 224>>  ->  Shape<64, 112, 112>
template <class L, ShapeType In>
using output_shape_t = typename L::template output_shape<In>;

// ---------------------------------------------------------------------------------------------
// Output-size arithmetic, exactly as PyTorch computes it.
// ---------------------------------------------------------------------------------------------

// Convolution: (in + 2P - K) / S + 1. Callers check in + 2P >= K and S > 0 first; a failed check
// yields 1 here so that one mistake gives one error rather than a cascade of follow-on ones.
constexpr std::size_t conv_output_size(std::size_t in, std::size_t kernel, std::size_t stride,
                                       std::size_t padding) {
  return stride > 0 && in + 2 * padding >= kernel ? (in + 2 * padding - kernel) / stride + 1 : 1;
}

// Pooling (torch's pooling_output_shape): in ceil mode the output grows by one partial window,
// unless that window would start in the right padding:
//   out = ceil_or_floor((in + 2P - K) / S) + 1;  if ceil and (out - 1) * S >= in + P: --out
//   MaxPool(3, 2, ceil):   in 14 -> 7 (floor gives 6);   in 13 -> 6
constexpr std::size_t pool_output_size(std::size_t in, std::size_t kernel, std::size_t stride,
                                       std::size_t padding, bool ceil_mode) {
  if (stride == 0 || in + 2 * padding < kernel) return 1;  // a failed check, as above
  const std::size_t span = in + 2 * padding - kernel;
  std::size_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + padding) --out;
  return out;
}

}  // namespace ctnn
