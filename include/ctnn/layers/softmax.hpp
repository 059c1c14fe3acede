#pragma once
// ctnn::Softmax: nn.Softmax(dim=1), the softmax over the channels at every position:
//
//   y[c, h, w] = exp(x[c, h, w] - m) / sum over k of exp(x[k, h, w] - m),  m = max over k of x[k, h, w]
//
//   Features<C> -> Features<C>            class probabilities of a feature vector (after Linear)
//   Shape<C, H, W> -> Shape<C, H, W>      per pixel over the C channels, as PyTorch's dim=1 on
//                                         NCHW does: the class probabilities of a segmentation map
//   CPU kernel: ctnn/cpu/softmax.hpp    GPU kernel: ctnn/cuda/softmax.hpp (cuDNN)
//
// Backward reads the output only: dx[c] = y[c] * (dy[c] - sum over k of dy[k] * y[k]).

#include <string_view>   // std::string_view

#include <ctnn/layer.hpp>   // ctnn::Layer
#include <ctnn/shape.hpp>   // ctnn::ShapeType

namespace ctnn {

struct Softmax : Layer {
  static constexpr std::string_view type_name = "Softmax";
  // Not in place: cuDNN does not promise cudnnSoftmaxForward may write over its input. As a
  // network's last layer it writes the caller's output directly in any case.
  static constexpr bool in_place = false;
  static constexpr bool backward_reads_input = false;
  static constexpr bool backward_reads_output = true;
  template <ShapeType In>
  using output_shape = In;
};

}  // namespace ctnn
