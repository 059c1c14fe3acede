#pragma once
// ctnn::MobileNetV2<NumClasses = 1000>: torchvision.models.mobilenet_v2 (width 1.0), layer for
// layer and with its state_dict names, so torchvision's checkpoints load tensor by tensor
// (tools/convert_to_safetensors.py).
//
//   Sandler et al. 2018, Table 2: t expansion, c channels, n repeats, s stride of the first
//   features.0       conv2d 3x3, 32, /2                  <32, 112, 112>     for Shape<3, 224, 224>
//   features.1       bottleneck t=1 c=16  n=1 s=1        <16, 112, 112>
//   features.2-3     bottleneck t=6 c=24  n=2 s=2        <24, 56, 56>
//   features.4-6     bottleneck t=6 c=32  n=3 s=2        <32, 28, 28>
//   features.7-10    bottleneck t=6 c=64  n=4 s=2        <64, 14, 14>
//   features.11-13   bottleneck t=6 c=96  n=3 s=1        <96, 14, 14>
//   features.14-16   bottleneck t=6 c=160 n=3 s=2        <160, 7, 7>
//   features.17      bottleneck t=6 c=320 n=1 s=1        <320, 7, 7>
//   features.18      conv2d 1x1, 1280                    <1280, 7, 7>
//                    average pool, dropout 0.2, fc       Features<NumClasses>
//   3,504,872 parameters (1000 classes), 0.30 G multiply-adds per image
//
// Every convolution but the last of a bottleneck is torchvision's Conv2dNormActivation: conv
// (padding (K - 1) / 2, no bias), BatchNorm2d, ReLU6.
//
//   ctnn::Model<ctnn::MobileNetV2<>, ctnn::Shape<3, 224, 224>> model;
//   ctnn::load_weights(model, "mobilenet_v2.safetensors");   // converted from torchvision's mobilenet_v2-*.pth

#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view
#include <type_traits>   // std::conditional_t

#include <ctnn/layer.hpp>               // ctnn::Composed, ctnn::parameter_count_v
#include <ctnn/layers/batch_norm.hpp>   // ctnn::BatchNorm
#include <ctnn/layers/conv.hpp>         // ctnn::Conv
#include <ctnn/layers/dropout.hpp>      // ctnn::Dropout
#include <ctnn/layers/flatten.hpp>      // ctnn::Flatten
#include <ctnn/layers/linear.hpp>       // ctnn::Linear
#include <ctnn/layers/named.hpp>        // ctnn::Named
#include <ctnn/layers/pooling.hpp>      // ctnn::AdaptiveAvgPool
#include <ctnn/layers/relu6.hpp>        // ctnn::ReLU6
#include <ctnn/layers/residual.hpp>     // ctnn::Residual
#include <ctnn/layers/sequential.hpp>   // ctnn::Sequential

namespace ctnn {

namespace torchvision {

// Conv2dNormActivation(In, Out, kernel_size=K, stride=S, groups=Groups, activation_layer=ReLU6):
// children "0" (conv, no bias), "1" (bn), "2" (ReLU6).
template <std::size_t In, std::size_t Out, std::size_t K, std::size_t S = 1, std::size_t Groups = 1>
struct Conv2dNormActivation : Composed<Sequential<Conv<In, Out, K, S, (K - 1) / 2, false, Groups>, BatchNorm<Out>, ReLU6>> {
  static constexpr std::string_view type_name = "Conv2dNormActivation";
};

namespace detail {
// InvertedResidual's "conv": expand 1x1 (unless Expand is 1), depthwise 3x3 /S, project 1x1, bn.
template <std::size_t In, std::size_t Out, std::size_t S, std::size_t Expand, std::size_t Hidden = In * Expand>
using inverted_residual_conv = std::conditional_t<
    Expand == 1,
    Sequential<Conv2dNormActivation<Hidden, Hidden, 3, S, Hidden>, Conv<Hidden, Out, 1, 1, 0, false>, BatchNorm<Out>>,
    Sequential<Conv2dNormActivation<In, Hidden, 1>, Conv2dNormActivation<Hidden, Hidden, 3, S, Hidden>,
               Conv<Hidden, Out, 1, 1, 0, false>, BatchNorm<Out>>>;
}  // namespace detail

// InvertedResidual(In, Out, stride=S, expand_ratio=Expand): x + conv(x) where S is 1 and the
// channels stay, else conv(x).   Shape<In, H, W> -> Shape<Out, H / S, W / S>
//   tensors of features.2 (InvertedResidual<16, 24, 2, 6>): conv.0.0.weight [96, 16, 1, 1],
//   conv.0.1.*, conv.1.0.weight [96, 1, 3, 3] (depthwise), conv.1.1.*, conv.2.weight [24, 96, 1, 1], conv.3.*
// (It is a Residual, or a composition of a Sequential, itself: walk shows a composition's container
// body's children as its own.)
template <std::size_t In, std::size_t Out, std::size_t S, std::size_t Expand>
struct InvertedResidual
    : std::conditional_t<S == 1 && In == Out, Residual<Named<"conv", detail::inverted_residual_conv<In, Out, S, Expand>>>,
                         Composed<Sequential<Named<"conv", detail::inverted_residual_conv<In, Out, S, Expand>>>>> {
  static constexpr std::string_view type_name = "InvertedResidual";
};

}  // namespace torchvision

template <std::size_t NumClasses = 1000>
struct MobileNetV2
    : Composed<Sequential<
          Named<"features",
                Sequential<torchvision::Conv2dNormActivation<3, 32, 3, 2>,
                           //                            In,  Out, S, t
                           torchvision::InvertedResidual<32, 16, 1, 1>,
                           torchvision::InvertedResidual<16, 24, 2, 6>,
                           torchvision::InvertedResidual<24, 24, 1, 6>,
                           torchvision::InvertedResidual<24, 32, 2, 6>,
                           torchvision::InvertedResidual<32, 32, 1, 6>,
                           torchvision::InvertedResidual<32, 32, 1, 6>,
                           torchvision::InvertedResidual<32, 64, 2, 6>,
                           torchvision::InvertedResidual<64, 64, 1, 6>,
                           torchvision::InvertedResidual<64, 64, 1, 6>,
                           torchvision::InvertedResidual<64, 64, 1, 6>,
                           torchvision::InvertedResidual<64, 96, 1, 6>,
                           torchvision::InvertedResidual<96, 96, 1, 6>,
                           torchvision::InvertedResidual<96, 96, 1, 6>,
                           torchvision::InvertedResidual<96, 160, 2, 6>,
                           torchvision::InvertedResidual<160, 160, 1, 6>,
                           torchvision::InvertedResidual<160, 160, 1, 6>,
                           torchvision::InvertedResidual<160, 320, 1, 6>,
                           torchvision::Conv2dNormActivation<320, 1280, 1>>>,
          Named<"avgpool", AdaptiveAvgPool<1>>,  // functional in torchvision: no tensors
          Flatten,
          Named<"classifier", Sequential<Dropout<20>, Linear<1280, NumClasses>>>>> {
  static constexpr std::string_view type_name = "MobileNetV2";
  static constexpr std::size_t num_classes = NumClasses;
};

static_assert(parameter_count_v<MobileNetV2<1000>> == 3'504'872, "torchvision's mobilenet_v2 has 3,504,872 parameters");

}  // namespace ctnn
