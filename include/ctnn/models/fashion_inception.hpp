#pragma once
// ctnn::FashionInception: a small Inception network (GoogLeNet's building blocks, with batch
// norm) for 28x28 grayscale images, sized to train to >= 93% Fashion-MNIST test accuracy in
// under 30 minutes on two CPU cores (docs/fashion-mnist.md has the run).
//
//   Shape<1, 28, 28>
//   conv1        3x3         -> <24, 28, 28>
//   conv2        3x3 /2      -> <64, 14, 14>      a strided conv halves the plane more cheaply
//                                                 than a conv and a max pool at 28x28
//   maxpool1     2x2 /2      -> <64, 7, 7>
//   inception3a              -> <224, 7, 7>       64 + 96 + 32 + 32
//   inception3b              -> <320, 7, 7>       96 + 144 + 48 + 32
//   avgpool                  -> <320, 1, 1>
//   flatten, dropout 0.2, fc -> Features<10>
//   280,418 parameters, 15.7 M multiply-adds per image
//
// The Inception blocks sit at 7x7 because a training step on the CPU costs mostly per-element
// work (batch norm, ReLU, pooling, concatenation), which is 16x cheaper there than at 28x28.
//
// Every convolution is torchvision's BasicConv2d: conv without bias, BatchNorm2d(eps=0.001),
// ReLU; the Inception blocks are torchvision's (branch3 is a 3x3, not a 5x5; branch4 max-pools
// 3x3 stride 1 before its 1x1). The tensor names are PyTorch's ("inception3a.branch2.1.bn.weight"),
// so the same module written in PyTorch loads the saved weights with strict=True.
//
//   ctnn::Model<ctnn::FashionInception, ctnn::FashionInput> model;
//   ctnn::load_weights(model, "examples/data/fashion_inception.safetensors");
//   model.eval();
//   auto logits = model.forward(images);   // N x 10, classes ctnn::data::fashion_mnist_labels

#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view
#include <type_traits>   // std::is_same_v

#include <ctnn/data/fashion_mnist_labels.hpp>      // ctnn::data::fashion_mnist_labels (class names)
#include <ctnn/layer.hpp>                          // ctnn::Composed, ctnn::parameter_count_v, ctnn::macs_v
#include <ctnn/layers/dropout.hpp>                 // ctnn::Dropout
#include <ctnn/layers/flatten.hpp>                 // ctnn::Flatten
#include <ctnn/layers/linear.hpp>                  // ctnn::Linear
#include <ctnn/layers/named.hpp>                   // ctnn::Named
#include <ctnn/layers/pooling.hpp>                 // ctnn::MaxPool, ctnn::AdaptiveAvgPool
#include <ctnn/layers/sequential.hpp>              // ctnn::Sequential
#include <ctnn/layers/torchvision_googlenet.hpp>   // ctnn::torchvision::BasicConv2d, Inception
#include <ctnn/shape.hpp>                          // ctnn::Shape, ctnn::Features, ctnn::output_shape_t

namespace ctnn {

// The input the network is declared for: one 28x28 grayscale image, normalised as
// ctnn::data::Normalization does ((pixel / 255 - 0.2860) / 0.3530).
using FashionInput = Shape<1, 28, 28>;

// The classes of the output, by index.
inline constexpr auto fashion_inception_labels = data::fashion_mnist_labels;

struct FashionInception
    : Composed<Sequential<
          Named<"conv1", torchvision::BasicConv2d<1, 24, 3, 1, 1>>,
          Named<"conv2", torchvision::BasicConv2d<24, 64, 3, 2, 1>>,
          Named<"maxpool1", MaxPool<2, 2>>,
          Named<"inception3a", torchvision::Inception<64, 64, 64, 96, 16, 32, 32>>,
          Named<"inception3b", torchvision::Inception<224, 96, 96, 144, 24, 48, 32>>,
          Named<"avgpool", AdaptiveAvgPool<1, 1>>,
          Flatten,
          Named<"dropout", Dropout<20>>,
          Named<"fc", Linear<320, 10>>>> {
  static constexpr std::string_view type_name = "FashionInception";
  static constexpr std::size_t num_classes = 10;
};

// The shape facts, checked where the type is declared.
static_assert(std::is_same_v<output_shape_t<FashionInception, FashionInput>, Features<10>>,
              "FashionInception maps a 28x28 grayscale image to 10 class scores");
static_assert(parameter_count_v<FashionInception> == 280'418, "FashionInception's parameter count changed");

}  // namespace ctnn
