#pragma once
// ctnn::summary<Net, In>(): a table in the manner of torchsummary, produced from the type: each
// layer in execution order with its PyTorch path, output shape (-1 for the batch) and
// parameters, then totals and memory.
//
//          Layer (type)  Path                         Output Shape      Param #
//            Conv2d-1    conv1.conv             [-1, 64, 112, 112]        9,472
//              ReLU-2    conv1.relu             [-1, 64, 112, 112]            0
//       BasicConv2d-3    conv1                  [-1, 64, 112, 112]        9,472

#include <cstddef>   // std::size_t
#include <cstdio>    // std::snprintf
#include <string>    // std::string, std::to_string

#include <ctnn/layers/flatten.hpp>   // ctnn::Flatten
#include <ctnn/queries.hpp>          // ctnn::activation_bytes_v
#include <ctnn/shape.hpp>            // ctnn::ShapeType, ctnn::output_shape_t
#include <ctnn/walk.hpp>             // ctnn::walk

namespace ctnn {

namespace detail {
inline std::string with_thousands(std::size_t value) {
  std::string digits = std::to_string(value), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}
inline std::string megabytes(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", bytes / (1024.0 * 1024.0));
  return text;
}
inline std::string padded(const std::string& s, std::size_t width, bool right_align) {
  if (s.size() >= width) return s;
  const std::string fill(width - s.size(), ' ');
  return right_align ? fill + s : s + fill;
}
}  // namespace detail

template <class Net, ShapeType In, class T = float>
std::string summary() {
  const std::string rule(96, '-'), double_rule(96, '=');
  std::string table = rule + "\n" + detail::padded("Layer (type)", 24, true) + "  " +
                      detail::padded("Path", 36, false) + detail::padded("Output Shape", 22, true) +
                      detail::padded("Param #", 12, true) + "\n" + double_rule + "\n";
  std::size_t row = 0, output_elements = 0;
  bool flat = false;  // after Flatten, shapes print as [-1, F] until a spatial layer runs
  walk<Net, In>([&]<class L, ShapeType I>(const LayerNode& node) {
    if (node.depth == 0 || (node.inlined && !node.is_leaf)) return;  // the network; a body shown as its parent
    using O = output_shape_t<L, I>;
    if (node.is_leaf) {
      if constexpr (std::is_same_v<L, Flatten>) flat = true;
      else if constexpr (requires { L::kernel; } || requires { L::out_height; }) flat = false;
      output_elements += O::size;
    }
    const std::string shape = flat ? "[-1, " + std::to_string(O::size) + "]"
                                   : "[-1, " + std::to_string(O::channels) + ", " + std::to_string(O::height) + ", " +
                                         std::to_string(O::width) + "]";
    const std::string type = std::string(L::type_name) + "-" + std::to_string(++row);
    std::string path(node.path);
    if (node.in_aux_output && node.path.find('.') == std::string_view::npos) path += " (train)";
    table += detail::padded(type, 24, true) + "  " + detail::padded(path, 36, false) + detail::padded(shape, 22, true) +
             detail::padded(detail::with_thousands(L::parameter_count), 12, true) + "\n";
  });
  const double parameter_bytes = static_cast<double>(Net::parameter_count * sizeof(T));
  const double input_bytes = static_cast<double>(In::size * sizeof(T));
  // torchsummary's estimate: every layer output, once forward and once for its gradient.
  const double pass_bytes = 2.0 * static_cast<double>(output_elements * sizeof(T));
  table += double_rule + "\n";
  table += "Total params: " + detail::with_thousands(Net::parameter_count) + "\n";
  table += "Trainable params: " + detail::with_thousands(Net::parameter_count) + "\n";
  table += "Non-trainable params: " + detail::with_thousands(Net::buffer_count) + "\n";
  table += "Multiply-accumulates per image: " + detail::with_thousands(Net::template macs<In>) + "\n";
  table += rule + "\n";
  table += "Input size (MB): " + detail::megabytes(input_bytes) + "\n";
  table += "Forward/backward pass size (MB): " + detail::megabytes(pass_bytes) + "\n";
  table += "Params size (MB): " + detail::megabytes(parameter_bytes) + "\n";
  table += "Estimated Total Size (MB): " + detail::megabytes(input_bytes + pass_bytes + parameter_bytes) + "\n";
  table += "Planned inference arena per image (MB): " +
           detail::megabytes(static_cast<double>(activation_bytes_v<Net, In, T>)) + "\n";
  table += "Planned training arena per image (MB): " +
           detail::megabytes(static_cast<double>(training_activation_bytes_v<Net, In, T>)) + "\n";
  table += rule + "\n";
  return table;
}

}  // namespace ctnn
