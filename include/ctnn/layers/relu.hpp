#pragma once
// ctnn::ReLU: max(x, 0) element-wise; PyTorch's nn.ReLU. Runs in place where the memory plan
// allows it.   Shape<C, H, W> -> Shape<C, H, W>
//   CPU kernel: ctnn/cpu/elementwise.hpp    GPU kernel: ctnn/cuda/elementwise.hpp

#include <string_view>   // std::string_view

#include <ctnn/layer.hpp>   // ctnn::Layer
#include <ctnn/shape.hpp>   // ctnn::ShapeType

namespace ctnn {

struct ReLU : Layer {
  static constexpr std::string_view type_name = "ReLU";
  static constexpr bool in_place = true;
  static constexpr bool backward_reads_input = false;   // dx = dy * (y > 0) needs y only
  static constexpr bool backward_reads_output = true;
  template <ShapeType In>
  using output_shape = In;
};

}  // namespace ctnn
