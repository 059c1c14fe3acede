#pragma once
// ctnn::Upsample<Factor, Mode>: nn.Upsample(scale_factor=Factor, mode=...) with an integer factor,
// align_corners=False:
//
//   Upsample<2>                          nn.Upsample(scale_factor=2)   (mode='nearest')
//   Upsample<2, UpsampleMode::bilinear>  nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False)
//
//   Shape<C, H, W> -> Shape<C, Factor * H, Factor * W>
//   arithmetic: ctnn/rules/upsample.hpp, written once for both devices
//   CPU kernel: ctnn/cpu/upsample.hpp    GPU kernels: ctnn/cuda/upsample.hpp
//
// Linear in its input: backward needs neither the input nor the output.

#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view

#include <ctnn/diagnostics.hpp>   // Upsample_factor_must_be_positive
#include <ctnn/layer.hpp>         // ctnn::Layer
#include <ctnn/shape.hpp>         // ctnn::Shape, ctnn::ShapeType

namespace ctnn {

// How Upsample fills the new elements; PyTorch's mode='nearest' and mode='bilinear'.
enum class UpsampleMode { nearest, bilinear };

// What every backend's upsampling kernel needs.
struct UpsampleGeometry {
  std::size_t channels, factor, in_height, in_width;
  bool bilinear;

  constexpr std::size_t out_height() const { return factor * in_height; }
  constexpr std::size_t out_width() const { return factor * in_width; }
  constexpr std::size_t in_plane() const { return in_height * in_width; }
  constexpr std::size_t out_plane() const { return out_height() * out_width(); }
};

template <std::size_t Factor, UpsampleMode Mode = UpsampleMode::nearest>
struct Upsample : Layer {
  static_assert(diagnostic::Upsample_factor_must_be_positive<Factor>::ok);

  static constexpr std::string_view type_name = "Upsample";
  static constexpr std::size_t factor = Factor;
  static constexpr UpsampleMode mode = Mode;
  static constexpr bool backward_reads_input = false;
  static constexpr bool backward_reads_output = false;
  // A zero factor (the check above) keeps the input's size, so the next layer adds no error of its own.
  static constexpr std::size_t checked_factor = Factor > 0 ? Factor : 1;
  template <ShapeType In>
  using output_shape = Shape<In::channels, checked_factor * In::height, checked_factor * In::width>;

  template <ShapeType In>
  static constexpr UpsampleGeometry geometry{In::channels, Factor, In::height, In::width, Mode == UpsampleMode::bilinear};
};

}  // namespace ctnn
