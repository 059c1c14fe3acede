#pragma once
// ctnn::InceptionAux<In, Classes>: the reference model's auxiliary classifier.
//
//   AvgPool 5x5 stride 3:  Shape<In, 14, 14> -> Shape<In, 4, 4>
//   BasicConv2d 1x1:       -> Shape<128, 4, 4>
//   flatten, dropout 0.5:  -> Features<2048>
//   fc1 + ReLU, dropout:   -> Features<1024>
//   fc2:                   -> Features<Classes>
//
// fc1 takes 2048 = 128 * 4 * 4 features, so the head only fits a 14x14 input (4x4 after
// pooling); anything else fails to compile in Linear's feature check.

#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view

#include <ctnn/diagnostics.hpp>        // InceptionAux_receives_channels_but_was_declared_with_In
#include <ctnn/layer.hpp>              // ctnn::Composed
#include <ctnn/layers/basic_conv.hpp>  // ctnn::BasicConv2d
#include <ctnn/layers/dropout.hpp>     // ctnn::Dropout
#include <ctnn/layers/flatten.hpp>     // ctnn::Flatten
#include <ctnn/layers/linear.hpp>      // ctnn::Linear
#include <ctnn/layers/named.hpp>       // ctnn::Named
#include <ctnn/layers/pooling.hpp>     // ctnn::AvgPool
#include <ctnn/layers/relu.hpp>        // ctnn::ReLU
#include <ctnn/layers/sequential.hpp>  // ctnn::Sequential

namespace ctnn {

template <std::size_t In, std::size_t Classes>
struct InceptionAux
    : Composed<Sequential<Named<"averagePool", AvgPool<5, 3>>, Named<"conv", BasicConv2d<In, 128, 1>>, Flatten,
                          Dropout<50>, Named<"fc1", Linear<2048, 1024>>, ReLU, Dropout<50>,
                          Named<"fc2", Linear<1024, Classes>>>> {
  using base = Composed<Sequential<Named<"averagePool", AvgPool<5, 3>>, Named<"conv", BasicConv2d<In, 128, 1>>,
                                   Flatten, Dropout<50>, Named<"fc1", Linear<2048, 1024>>, ReLU, Dropout<50>,
                                   Named<"fc2", Linear<1024, Classes>>>>;
  static constexpr std::string_view type_name = "InceptionAux";

  // One check for the head, then its body sees the declared channel count, so a wrong input
  // gives this one error instead of a second one from the 1x1 conv.
  template <ShapeType Input>
    requires diagnostic::InceptionAux_receives_channels_but_was_declared_with_In<Input::channels, In>::ok
  using output_shape = typename base::template output_shape<Shape<In, Input::height, Input::width>>;
};

}  // namespace ctnn
