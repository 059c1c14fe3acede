#pragma once
// Pooling layers, with PyTorch's output-size rule including ceil mode.
//
//   MaxPool<K, S = K, P = 0, Rounding = floor>   nn.MaxPool2d(K, S, P, ceil_mode)
//   AvgPool<K, S = K, P = 0, Rounding = floor>   nn.AvgPool2d(K, S, P, ceil_mode), count_include_pad
//   AdaptiveAvgPool<OH, OW = OH>                 nn.AdaptiveAvgPool2d((OH, OW))
//
//   Shape<C, H, W> -> Shape<C, pool_output_size(H), pool_output_size(W)>
//   MaxPool<3, 2, 0, Rounding::ceil> on Shape<64, 112, 112> -> Shape<64, 56, 56>
//   CPU kernels: ctnn/cpu/pooling.hpp    GPU kernels: ctnn/cuda/pooling.hpp

#include <algorithm>     // std::min, std::max
#include <cstddef>       // std::size_t, std::ptrdiff_t
#include <string_view>   // std::string_view

#include <ctnn/diagnostics.hpp>   // Pool_window_is_larger_than_..., Pool_padding_exceeds_half_its_window, ...
#include <ctnn/layer.hpp>         // ctnn::Layer
#include <ctnn/shape.hpp>         // ctnn::Shape, ctnn::pool_output_size

namespace ctnn {

// How a pooling layer rounds its output size; Rounding::ceil is PyTorch's ceil_mode=True.
enum class Rounding { floor, ceil };

// What every backend's pooling kernel needs (adaptive pooling: kernel 0, stride 1, padding 0).
struct PoolGeometry {
  std::size_t channels, kernel, stride, padding;
  std::size_t in_height, in_width, out_height, out_width;

  constexpr std::size_t in_plane() const { return in_height * in_width; }
  constexpr std::size_t out_plane() const { return out_height * out_width; }
  // The window of output index o along an axis of `extent` input elements, PyTorch's:
  //   [o*S - P, o*S - P + K) clipped to [0, extent); padded_size clips to [-P, extent + P) instead
  //   (AvgPool's count_include_pad divisor)
  struct Range {
    std::ptrdiff_t begin, end, padded_size;
  };
  constexpr Range window(std::size_t o, std::size_t extent) const {
    const std::ptrdiff_t start = static_cast<std::ptrdiff_t>(o * stride) - static_cast<std::ptrdiff_t>(padding);
    const std::ptrdiff_t padded_end = std::min<std::ptrdiff_t>(start + static_cast<std::ptrdiff_t>(kernel),
                                                               static_cast<std::ptrdiff_t>(extent + padding));
    return {std::max<std::ptrdiff_t>(start, 0), std::min<std::ptrdiff_t>(padded_end, static_cast<std::ptrdiff_t>(extent)),
            padded_end - start};
  }
};

namespace detail {
template <std::size_t K, std::size_t S, std::size_t P, Rounding R>
struct PoolLayer : Layer {
  static_assert(diagnostic::Pool_K_and_S_must_be_positive<K, S>::ok);
  // Independent of the input, so checked as soon as the layer type is used.
  static_assert(diagnostic::Pool_padding_exceeds_half_its_window<P, K>::ok);
  static constexpr std::size_t kernel = K, stride = S, padding = P;
  static constexpr bool ceil_mode = R == Rounding::ceil;

  // The check sits in the requires-clause itself (see Conv): one error per mistake with clang too.
  template <ShapeType Input>
    requires diagnostic::Pool_window_is_larger_than_its_padded_input_of_height_and_width<
        K, Input::height + 2 * P, Input::width + 2 * P>::ok
  using output_shape = Shape<Input::channels, pool_output_size(Input::height, K, S, P, ceil_mode),
                             pool_output_size(Input::width, K, S, P, ceil_mode)>;

  template <ShapeType Input>
  static constexpr PoolGeometry geometry{Input::channels, K, S, P, Input::height, Input::width,
                                         output_shape<Input>::height, output_shape<Input>::width};
};
}  // namespace detail

template <std::size_t K, std::size_t S = K, std::size_t P = 0, Rounding R = Rounding::floor>
struct MaxPool : detail::PoolLayer<K, S, P, R> {
  static constexpr std::string_view type_name = "MaxPool2d";
  // Backward routes each gradient to the input position that won, recorded during the training
  // forward as one index per output element (an exact integer in T).
  static constexpr bool backward_reads_input = false;
  static constexpr bool backward_reads_output = false;
  template <ShapeType Input>
  static constexpr std::size_t saved_elements =
      align_elements(detail::PoolLayer<K, S, P, R>::template output_shape<Input>::size);
};

template <std::size_t K, std::size_t S = K, std::size_t P = 0, Rounding R = Rounding::floor>
struct AvgPool : detail::PoolLayer<K, S, P, R> {
  static constexpr std::string_view type_name = "AvgPool2d";
  static constexpr bool backward_reads_input = false;
  static constexpr bool backward_reads_output = false;
};

// Output cell (i, j) averages rows [floor(i*H/OH), ceil((i+1)*H/OH)) and the same for columns.
template <std::size_t OH, std::size_t OW = OH>
struct AdaptiveAvgPool : Layer {
  static_assert(diagnostic::AdaptiveAvgPool_output_size_must_be_positive<OH, OW>::ok);
  static constexpr std::string_view type_name = "AdaptiveAvgPool2d";
  static constexpr std::size_t out_height = OH, out_width = OW;
  static constexpr bool backward_reads_input = false;
  static constexpr bool backward_reads_output = false;
  template <ShapeType Input>
  using output_shape = Shape<Input::channels, OH, OW>;

  template <ShapeType Input>
  static constexpr PoolGeometry geometry{Input::channels, 0, 1, 0, Input::height, Input::width, OH, OW};
};

}  // namespace ctnn
