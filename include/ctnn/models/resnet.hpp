#pragma once
// torchvision's ResNet building blocks (torchvision.models.resnet, torchvision 0.14), with its
// state_dict names; ctnn::ResNet18 (models/resnet18.hpp) and ctnn::ResNet50 (models/resnet50.hpp)
// are made of them.
//
//   BasicBlock<In, Planes, S>    conv1 3x3 /S, bn1, relu, conv2 3x3, bn2   (+ shortcut), relu
//                                Shape<In, H, W> -> Shape<Planes, H / S, W / S>
//   Bottleneck<In, Planes, S>    conv1 1x1, bn1, relu, conv2 3x3 /S, bn2, relu, conv3 1x1 -> 4 Planes,
//                                bn3   (+ shortcut), relu       (ResNet v1.5: the stride is in conv2)
//                                Shape<In, H, W> -> Shape<4 Planes, H / S, W / S>
//   shortcut                     Identity; where S > 1 or the channels change, torchvision's
//                                downsample: conv 1x1 /S without bias, bn ("downsample.0", "downsample.1")
//   ResNetStage<Block, In, Planes, Blocks, S>   torchvision's _make_layer: Block<In, Planes, S>, then
//                                Blocks - 1 of Block<Planes * expansion, Planes, 1>; children "0", "1", ...
//   ResNet<Block, B1, B2, B3, B4, NumClasses>    torchvision's ResNet(block, [B1, B2, B3, B4]):
//                                conv1 7x7 /2, bn1, relu, maxpool 3x3 /2, layer1 .. layer4 (64, 128, 256,
//                                512 planes; the last three /2), avgpool, flatten, fc
//
//   tensors of layer2.0 (BasicBlock<64, 128, 2>): layer2.0.conv1.weight [128, 64, 3, 3], layer2.0.bn1.*,
//   layer2.0.conv2.weight, layer2.0.bn2.*, layer2.0.downsample.0.weight [128, 64, 1, 1], layer2.0.downsample.1.*

#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view
#include <type_traits>   // std::conditional_t
#include <utility>       // std::index_sequence, std::make_index_sequence

#include <ctnn/layer.hpp>                // ctnn::Composed
#include <ctnn/layers/batch_norm.hpp>    // ctnn::BatchNorm
#include <ctnn/layers/conv.hpp>          // ctnn::Conv
#include <ctnn/layers/flatten.hpp>       // ctnn::Flatten
#include <ctnn/layers/identity.hpp>      // ctnn::Identity
#include <ctnn/layers/linear.hpp>        // ctnn::Linear
#include <ctnn/layers/named.hpp>         // ctnn::Named, ctnn::Inline
#include <ctnn/layers/pooling.hpp>       // ctnn::MaxPool, ctnn::AdaptiveAvgPool
#include <ctnn/layers/relu.hpp>          // ctnn::ReLU
#include <ctnn/layers/residual.hpp>      // ctnn::Residual
#include <ctnn/layers/sequential.hpp>    // ctnn::Sequential

namespace ctnn::torchvision {

// The shortcut of a block from In to Out channels at stride S: x itself where nothing changes,
// else torchvision's downsample (conv 1x1 /S, bn).
template <std::size_t In, std::size_t Out, std::size_t S>
using ResNetShortcut =
    std::conditional_t<S == 1 && In == Out, Identity,
                       Named<"downsample", Sequential<Conv<In, Out, 1, S, 0, false>, BatchNorm<Out>>>>;

template <std::size_t In, std::size_t Planes, std::size_t S = 1>
struct BasicBlock
    : Composed<Sequential<Inline<Residual<Sequential<Named<"conv1", Conv<In, Planes, 3, S, 1, false>>,
                                                     Named<"bn1", BatchNorm<Planes>>, Named<"relu", ReLU>,
                                                     Named<"conv2", Conv<Planes, Planes, 3, 1, 1, false>>,
                                                     Named<"bn2", BatchNorm<Planes>>>,
                                          ResNetShortcut<In, Planes, S>>>,
                          Named<"relu", ReLU>>> {
  static constexpr std::string_view type_name = "BasicBlock";
  static constexpr std::size_t expansion = 1;
};

template <std::size_t In, std::size_t Planes, std::size_t S = 1>
struct Bottleneck
    : Composed<Sequential<Inline<Residual<Sequential<Named<"conv1", Conv<In, Planes, 1, 1, 0, false>>,
                                                     Named<"bn1", BatchNorm<Planes>>, Named<"relu", ReLU>,
                                                     Named<"conv2", Conv<Planes, Planes, 3, S, 1, false>>,
                                                     Named<"bn2", BatchNorm<Planes>>, Named<"relu", ReLU>,
                                                     Named<"conv3", Conv<Planes, 4 * Planes, 1, 1, 0, false>>,
                                                     Named<"bn3", BatchNorm<4 * Planes>>>,
                                          ResNetShortcut<In, 4 * Planes, S>>>,
                          Named<"relu", ReLU>>> {
  static constexpr std::string_view type_name = "Bottleneck";
  static constexpr std::size_t expansion = 4;
};

namespace detail {
template <std::size_t, class T>
using repeated = T;

template <class First, class Rest, class Indices>
struct stage;
template <class First, class Rest, std::size_t... I>
struct stage<First, Rest, std::index_sequence<I...>> {
  using type = Sequential<First, repeated<I, Rest>...>;
};
}  // namespace detail

// torchvision's ResNet._make_layer(block, planes, blocks, stride): the first block changes the
// channels and the stride, the others keep them.
template <template <std::size_t, std::size_t, std::size_t> class Block, std::size_t In, std::size_t Planes,
          std::size_t Blocks, std::size_t S>
using ResNetStage = typename detail::stage<Block<In, Planes, S>, Block<Planes * Block<In, Planes, S>::expansion, Planes, 1>,
                                           std::make_index_sequence<Blocks - 1>>::type;

template <template <std::size_t, std::size_t, std::size_t> class Block, std::size_t B1, std::size_t B2, std::size_t B3,
          std::size_t B4, std::size_t NumClasses, std::size_t E = Block<64, 64, 1>::expansion>
using ResNet = Sequential<Named<"conv1", Conv<3, 64, 7, 2, 3, false>>, Named<"bn1", BatchNorm<64>>, Named<"relu", ReLU>,
                          Named<"maxpool", MaxPool<3, 2, 1>>,
                          Named<"layer1", ResNetStage<Block, 64, 64, B1, 1>>,
                          Named<"layer2", ResNetStage<Block, 64 * E, 128, B2, 2>>,
                          Named<"layer3", ResNetStage<Block, 128 * E, 256, B3, 2>>,
                          Named<"layer4", ResNetStage<Block, 256 * E, 512, B4, 2>>,
                          Named<"avgpool", AdaptiveAvgPool<1>>, Flatten,
                          Named<"fc", Linear<512 * E, NumClasses>>>;

}  // namespace ctnn::torchvision
