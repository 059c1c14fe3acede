#pragma once
// ctnn::ReLU6: min(max(x, 0), 6) element-wise; PyTorch's nn.ReLU6 (MobileNetV2's activation). Runs
// in place where the memory plan allows it.   Shape<C, H, W> -> Shape<C, H, W>
//   backward: dx = dy where 0 < x < 6 (PyTorch's hardtanh_backward), which is where 0 < y < 6
//   CPU kernel: ctnn/cpu/elementwise.hpp    GPU kernel: ctnn/cuda/elementwise.hpp

#include <string_view>   // std::string_view

#include <ctnn/layer.hpp>   // ctnn::Layer
#include <ctnn/shape.hpp>   // ctnn::ShapeType

namespace ctnn {

struct ReLU6 : Layer {
  static constexpr std::string_view type_name = "ReLU6";
  static constexpr double ceiling = 6;  // y = min(max(x, 0), ceiling)
  static constexpr bool in_place = true;
  static constexpr bool backward_reads_input = false;   // 0 < x < 6 exactly where 0 < y < 6
  static constexpr bool backward_reads_output = true;
  template <ShapeType In>
  using output_shape = In;
};

}  // namespace ctnn
