#pragma once
// ctnn::GoogLeNet<NumClasses = 2, AuxLogits = true>: the reference GoogLeNet (Inception v1),
// layer for layer and name for name as googlenet_seed.py defines it.
//
//   Shape<3, 224, 224>
//   conv1 7x7/2 -> <64, 112, 112>   maxpool1 3/2 ceil -> <64, 56, 56>
//   conv2 1x1   -> <64, 56, 56>     conv3 3x3 -> <192, 56, 56>   maxpool2 -> <192, 28, 28>
//   inception3a -> <256, 28, 28>    inception3b -> <480, 28, 28>  maxpool3 -> <480, 14, 14>
//   inception4a -> <512, 14, 14>    [aux1]   4b, 4c -> <512, 14, 14>
//   inception4d -> <528, 14, 14>    [aux2]   4e -> <832, 14, 14>   maxpool4 -> <832, 7, 7>
//   inception5a -> <832, 7, 7>      inception5b -> <1024, 7, 7>
//   avgpool -> <1024, 1, 1>   flatten, dropout 0.4, fc -> Features<NumClasses>
//
// In training mode with AuxLogits the model also outputs aux1 (after 4a) and aux2 (after 4d);
// the reference returns them as (x, aux2, aux1).

#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view
#include <type_traits>   // std::conditional_t

#include <ctnn/layer.hpp>                  // ctnn::Composed
#include <ctnn/layers/aux_output.hpp>      // ctnn::AuxOutput
#include <ctnn/layers/basic_conv.hpp>      // ctnn::BasicConv2d
#include <ctnn/layers/dropout.hpp>         // ctnn::Dropout
#include <ctnn/layers/flatten.hpp>         // ctnn::Flatten, ctnn::Identity
#include <ctnn/layers/inception.hpp>       // ctnn::Inception
#include <ctnn/layers/inception_aux.hpp>   // ctnn::InceptionAux
#include <ctnn/layers/linear.hpp>          // ctnn::Linear
#include <ctnn/layers/named.hpp>           // ctnn::Named
#include <ctnn/layers/pooling.hpp>         // ctnn::MaxPool, ctnn::AdaptiveAvgPool
#include <ctnn/layers/sequential.hpp>      // ctnn::Sequential

namespace ctnn {

// An auxiliary head where Enabled, else nothing (an Identity the memory plan sees through).
template <bool Enabled, class Head>
using OptionalAuxOutput = std::conditional_t<Enabled, AuxOutput<Head>, Identity>;

template <std::size_t NumClasses = 2, bool AuxLogits = true>
struct GoogLeNet
    : Composed<Sequential<
          Named<"conv1", BasicConv2d<3, 64, 7, 2, 3>>,
          Named<"maxpool1", MaxPool<3, 2, 0, Rounding::ceil>>,
          Named<"conv2", BasicConv2d<64, 64, 1>>,
          Named<"conv3", BasicConv2d<64, 192, 3, 1, 1>>,
          Named<"maxpool2", MaxPool<3, 2, 0, Rounding::ceil>>,
          Named<"inception3a", Inception<192, 64, 96, 128, 16, 32, 32>>,
          Named<"inception3b", Inception<256, 128, 128, 192, 32, 96, 64>>,
          Named<"maxpool3", MaxPool<3, 2, 0, Rounding::ceil>>,
          Named<"inception4a", Inception<480, 192, 96, 208, 16, 48, 64>>,
          Named<"aux1", OptionalAuxOutput<AuxLogits, InceptionAux<512, NumClasses>>>,
          Named<"inception4b", Inception<512, 160, 112, 224, 24, 64, 64>>,
          Named<"inception4c", Inception<512, 128, 128, 256, 24, 64, 64>>,
          Named<"inception4d", Inception<512, 112, 144, 288, 32, 64, 64>>,
          Named<"aux2", OptionalAuxOutput<AuxLogits, InceptionAux<528, NumClasses>>>,
          Named<"inception4e", Inception<528, 256, 160, 320, 32, 128, 128>>,
          Named<"maxpool4", MaxPool<3, 2, 0, Rounding::ceil>>,
          Named<"inception5a", Inception<832, 256, 160, 320, 32, 128, 128>>,
          Named<"inception5b", Inception<832, 384, 192, 384, 48, 128, 128>>,
          Named<"avgpool", AdaptiveAvgPool<1, 1>>,
          Flatten,
          Named<"dropout", Dropout<40>>,
          Named<"fc", Linear<1024, NumClasses>>>> {
  static constexpr std::string_view type_name = "GoogLeNet";
  static constexpr std::size_t num_classes = NumClasses;
  static constexpr bool aux_logits = AuxLogits;
};

}  // namespace ctnn
