#pragma once
// Compile-time memory figures of a network fed In, per image (multiply by the batch size).
//
//   activation_bytes_v<Net, In>           the inference arena: scratch plus the output
//   training_activation_bytes_v<Net, In>  the training arena: saved state, scratch, output and
//                                         the copy of the input that backward reads
// Per-thread work space (im2col) does not grow with the batch and is not included; see
// workspace_bytes_v.

#include <cstddef>   // std::size_t

#include <ctnn/layer.hpp>   // ctnn::align_elements
#include <ctnn/shape.hpp>   // ctnn::ShapeType, ctnn::output_shape_t

namespace ctnn {

namespace detail {
// The output size of L fed In, or 0 where L does not accept In: its check has reported that, and
// a figure built on it must not add a second error.
template <class L, ShapeType In>
constexpr std::size_t output_size_or_zero() {
  if constexpr (requires { typename output_shape_t<L, In>; }) return output_shape_t<L, In>::size;
  else return 0;
}
}  // namespace detail

template <class L, ShapeType In, class T = float>
inline constexpr std::size_t activation_bytes_v =
    (L::template scratch_elements<In> + detail::output_size_or_zero<L, In>()) * sizeof(T);

template <class L, ShapeType In, class T = float>
inline constexpr std::size_t training_activation_bytes_v =
    (L::template saved_elements<In> + L::template scratch_elements<In> + detail::output_size_or_zero<L, In>() +
     In::size) *
    sizeof(T);

template <class L, ShapeType In, class T = float>
inline constexpr std::size_t workspace_bytes_v = align_elements(L::template workspace_elements<In>) * sizeof(T);

}  // namespace ctnn
