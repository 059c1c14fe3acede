#pragma once
// ctnn::Residual<Body, Shortcut = Identity>: Body(x) + Shortcut(x), the skip connection of a
// ResNet block. A named composition of Sum<Body, Shortcut> (ctnn/layers/sum.hpp): the body
// writes the output, the shortcut is added in place (an Identity shortcut straight from x).
//
//   // torchvision's BasicBlock with a downsampling shortcut, names and all:
//   using Block = Sequential<
//       Inline<Residual<Sequential<Named<"conv1", Conv<64, 128, 3, 2, 1, false>>, Named<"bn1", BatchNorm<128>>,
//                                  Named<"relu", ReLU>, Named<"conv2", Conv<128, 128, 3, 1, 1, false>>,
//                                  Named<"bn2", BatchNorm<128>>>,
//                       Named<"downsample", Sequential<Conv<64, 128, 1, 2, 0, false>, BatchNorm<128>>>>>,
//       Named<"relu", ReLU>>;
//   Shape<64, 56, 56> -> Shape<128, 28, 28>;  tensors conv1.weight, bn1.*, ..., downsample.0.weight,
//   downsample.1.*
//
// The body's layers are the block's own (an unnamed Body is Inline: conv1, not 0.conv1); the
// shortcut keeps its name. Body and shortcut must produce one shape: otherwise one error,
// Residual_body_produces_a_shape_other_than_its_shortcut<body C, H, W, shortcut C, H, W>.

#include <string_view>   // std::string_view
#include <type_traits>   // std::conditional_t

#include <ctnn/diagnostics.hpp>       // Residual_body_produces_a_shape_other_than_its_shortcut
#include <ctnn/layer.hpp>             // ctnn::Composed
#include <ctnn/layers/identity.hpp>   // ctnn::Identity
#include <ctnn/layers/named.hpp>      // ctnn::Inline, ctnn::is_named_v
#include <ctnn/layers/sum.hpp>        // ctnn::Sum
#include <ctnn/shape.hpp>             // ctnn::ShapeType, ctnn::output_shape_t

namespace ctnn {

template <class Body, class Shortcut = Identity>
struct Residual : Composed<Sum<std::conditional_t<is_named_v<Body>, Body, Inline<Body>>, Shortcut>> {
  static constexpr std::string_view type_name = "Residual";

  // The check sits in the requires-clause itself (see Conv), in Residual's words rather than Sum's.
  template <ShapeType In>
    requires diagnostic::Residual_body_produces_a_shape_other_than_its_shortcut<
        output_shape_t<Body, In>::channels, output_shape_t<Body, In>::height, output_shape_t<Body, In>::width,
        output_shape_t<Shortcut, In>::channels, output_shape_t<Shortcut, In>::height,
        output_shape_t<Shortcut, In>::width>::ok
  using output_shape = output_shape_t<Body, In>;
};

}  // namespace ctnn
