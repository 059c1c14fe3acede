#pragma once
// ctnn::Inception<In, C1x1, C3x3Reduce, C3x3, C5x5Reduce, C5x5, PoolProj>: the reference
// model's Inception block. Four branches over the same input, concatenated along channels:
//
//   branch1: BasicConv2d 1x1 -> C1x1
//   branch2: BasicConv2d 1x1 -> C3x3Reduce, BasicConv2d 3x3 pad 1 -> C3x3
//   branch3: BasicConv2d 1x1 -> C5x5Reduce, BasicConv2d 5x5 pad 2 -> C5x5
//   branch4: MaxPool 3x3 stride 1 pad 1,    BasicConv2d 1x1 -> PoolProj
//
//   Shape<In, H, W> -> Shape<C1x1 + C3x3 + C5x5 + PoolProj, H, W>
//   Inception<192, 64, 96, 128, 16, 32, 32> on Shape<192, 28, 28> -> Shape<256, 28, 28>

#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view

#include <ctnn/diagnostics.hpp>        // Inception_receives_channels_but_was_declared_with_In
#include <ctnn/layer.hpp>              // ctnn::Composed
#include <ctnn/layers/basic_conv.hpp>  // ctnn::BasicConv2d
#include <ctnn/layers/concat.hpp>      // ctnn::Concat
#include <ctnn/layers/named.hpp>       // ctnn::Named
#include <ctnn/layers/pooling.hpp>     // ctnn::MaxPool
#include <ctnn/layers/sequential.hpp>  // ctnn::Sequential

namespace ctnn {

// Checks the block's input once; the branches then see the declared channel count, so a wrong
// input gives this one error instead of one per branch.
template <std::size_t In>
struct InceptionAcceptsChannels {
  template <ShapeType Input>
    requires diagnostic::Inception_receives_channels_but_was_declared_with_In<Input::channels, In>::ok
  using shape = Shape<In, Input::height, Input::width>;
};

template <std::size_t In, std::size_t C1x1, std::size_t C3x3Reduce, std::size_t C3x3, std::size_t C5x5Reduce,
          std::size_t C5x5, std::size_t PoolProj>
struct Inception
    : Composed<Concat<Named<"branch1", BasicConv2d<In, C1x1, 1>>,
                      Named<"branch2", Sequential<BasicConv2d<In, C3x3Reduce, 1>, BasicConv2d<C3x3Reduce, C3x3, 3, 1, 1>>>,
                      Named<"branch3", Sequential<BasicConv2d<In, C5x5Reduce, 1>, BasicConv2d<C5x5Reduce, C5x5, 5, 1, 2>>>,
                      Named<"branch4", Sequential<MaxPool<3, 1, 1>, BasicConv2d<In, PoolProj, 1>>>>,
               InceptionAcceptsChannels<In>> {
  static constexpr std::string_view type_name = "Inception";
  static constexpr std::size_t in_channels = In;
  static constexpr std::size_t out_channels = C1x1 + C3x3 + C5x5 + PoolProj;
};

}  // namespace ctnn
