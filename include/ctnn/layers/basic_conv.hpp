#pragma once
// ctnn::BasicConv2d<In, Out, K, S = 1, P = 0>: the reference model's BasicConv2d, a convolution
// with bias followed by ReLU (no batch norm).   parameters: conv.weight, conv.bias

#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view

#include <ctnn/layer.hpp>              // ctnn::Composed
#include <ctnn/layers/conv.hpp>        // ctnn::Conv
#include <ctnn/layers/named.hpp>       // ctnn::Named
#include <ctnn/layers/relu.hpp>        // ctnn::ReLU
#include <ctnn/layers/sequential.hpp>  // ctnn::Sequential

namespace ctnn {

template <std::size_t In, std::size_t Out, std::size_t K, std::size_t S = 1, std::size_t P = 0>
struct BasicConv2d : Composed<Sequential<Named<"conv", Conv<In, Out, K, S, P>>, Named<"relu", ReLU>>> {
  static constexpr std::string_view type_name = "BasicConv2d";
};

}  // namespace ctnn
