#pragma once
// ctnn::TorchvisionGoogLeNet<NumClasses = 1000, AuxLogits = false, TransformsInput = false>:
// torchvision.models.GoogLeNet (torchvision 0.14), layer for layer and with its state_dict
// names, so its checkpoints load tensor by tensor.
//
// It differs from the reference GoogLeNet (ctnn/layers/googlenet.hpp) where torchvision does:
//   BasicConv2d   conv without bias, BatchNorm2d(eps=0.001), ReLU
//                   conv1.conv.weight, conv1.bn.{weight, bias, running_mean, running_var, num_batches_tracked}
//   Inception     branch3's second conv is 3x3 pad 1, not 5x5 (torchvision's known deviation,
//                 pytorch/vision#906); branch4's pool is MaxPool2d(3, 1, 1, ceil_mode=True)
//   maxpool4      MaxPool2d(2, 2, ceil_mode=True)
//   InceptionAux  adaptive_avg_pool2d to 4x4, conv 1x1 -> 128, flatten, fc1, ReLU, dropout 0.7, fc2
//   head          avgpool, flatten, dropout 0.2, fc
//   transform_input  with TransformsInput, TransformInput runs first (see transform_input.hpp)
//
//   Shape<3, 224, 224> -> ... -> Features<NumClasses>; the shapes are GoogLeNet's (googlenet.hpp).
//   parameter_count_v<TorchvisionGoogLeNet<>> == 6'624'904, torchvision's num_params.
// In training mode with AuxLogits the model also outputs aux1 (after 4a) and aux2 (after 4d);
// torchvision returns them as GoogLeNetOutputs(logits, aux_logits2, aux_logits1).

#include <cstddef>       // std::size_t
#include <ratio>         // std::ratio
#include <string_view>   // std::string_view

#include <ctnn/diagnostics.hpp>              // InceptionAux_receives_channels_but_was_declared_with_In
#include <ctnn/layer.hpp>                    // ctnn::Composed
#include <ctnn/layers/batch_norm.hpp>        // ctnn::BatchNorm
#include <ctnn/layers/concat.hpp>            // ctnn::Concat
#include <ctnn/layers/conv.hpp>              // ctnn::Conv
#include <ctnn/layers/dropout.hpp>           // ctnn::Dropout
#include <ctnn/layers/flatten.hpp>           // ctnn::Flatten
#include <ctnn/layers/googlenet.hpp>         // ctnn::OptionalAuxOutput
#include <ctnn/layers/inception.hpp>         // ctnn::InceptionAcceptsChannels
#include <ctnn/layers/linear.hpp>            // ctnn::Linear
#include <ctnn/layers/named.hpp>             // ctnn::Named
#include <ctnn/layers/pooling.hpp>           // ctnn::MaxPool, ctnn::AdaptiveAvgPool
#include <ctnn/layers/relu.hpp>              // ctnn::ReLU
#include <ctnn/layers/sequential.hpp>        // ctnn::Sequential
#include <ctnn/layers/transform_input.hpp>   // ctnn::TransformInput

namespace ctnn {

// torchvision's building blocks, named as torchvision names its classes.
namespace torchvision {

// BasicConv2d(In, Out, kernel_size=K, stride=S, padding=P): conv (no bias), bn, relu.
template <std::size_t In, std::size_t Out, std::size_t K, std::size_t S = 1, std::size_t P = 0>
struct BasicConv2d : Composed<Sequential<Named<"conv", Conv<In, Out, K, S, P, false>>,
                                         Named<"bn", BatchNorm<Out, std::ratio<1, 1000>>>, Named<"relu", ReLU>>> {
  static constexpr std::string_view type_name = "BasicConv2d";
};

//   branch1: 1x1 -> C1x1
//   branch2: 1x1 -> C3x3Reduce, 3x3 pad 1 -> C3x3
//   branch3: 1x1 -> C5x5Reduce, 3x3 pad 1 -> C5x5   (torchvision's 3x3, despite the name)
//   branch4: MaxPool 3x3 stride 1 pad 1 ceil, 1x1 -> PoolProj
//   Shape<In, H, W> -> Shape<C1x1 + C3x3 + C5x5 + PoolProj, H, W>
template <std::size_t In, std::size_t C1x1, std::size_t C3x3Reduce, std::size_t C3x3, std::size_t C5x5Reduce,
          std::size_t C5x5, std::size_t PoolProj>
struct Inception
    : Composed<Concat<Named<"branch1", BasicConv2d<In, C1x1, 1>>,
                      Named<"branch2", Sequential<BasicConv2d<In, C3x3Reduce, 1>, BasicConv2d<C3x3Reduce, C3x3, 3, 1, 1>>>,
                      Named<"branch3", Sequential<BasicConv2d<In, C5x5Reduce, 1>, BasicConv2d<C5x5Reduce, C5x5, 3, 1, 1>>>,
                      Named<"branch4", Sequential<MaxPool<3, 1, 1, Rounding::ceil>, BasicConv2d<In, PoolProj, 1>>>>,
               InceptionAcceptsChannels<In>> {
  static constexpr std::string_view type_name = "Inception";
  static constexpr std::size_t in_channels = In;
  static constexpr std::size_t out_channels = C1x1 + C3x3 + C5x5 + PoolProj;
};

// Checks the head's input once; its body then sees the declared channel count, so a wrong input
// gives this one error instead of a second one from the 1x1 conv.
template <std::size_t In>
struct InceptionAuxAcceptsChannels {
  template <ShapeType Input>
    requires diagnostic::InceptionAux_receives_channels_but_was_declared_with_In<Input::channels, In>::ok
  using shape = Shape<In, Input::height, Input::width>;
};

//   adaptive_avg_pool2d (4, 4):  Shape<In, H, W> -> Shape<In, 4, 4>   (any H, W >= 1)
//   conv 1x1:                    -> Shape<128, 4, 4>
//   flatten, fc1, ReLU:          -> Features<1024>
//   dropout 0.7, fc2:            -> Features<Classes>
template <std::size_t In, std::size_t Classes>
struct InceptionAux
    : Composed<Sequential<Named<"adaptive_avg_pool", AdaptiveAvgPool<4, 4>>, Named<"conv", BasicConv2d<In, 128, 1>>,
                          Flatten, Named<"fc1", Linear<2048, 1024>>, Named<"relu", ReLU>,
                          Named<"dropout", Dropout<70>>, Named<"fc2", Linear<1024, Classes>>>,
               InceptionAuxAcceptsChannels<In>> {
  static constexpr std::string_view type_name = "InceptionAux";
};

namespace detail {
// Sequential<L...>, with First in front where Enabled: the input transform costs nothing, not
// even a copy or an input gradient for conv1, when it is off.
template <bool Enabled, class First, class Body>
struct prepend_if;
template <class First, class... L>
struct prepend_if<true, First, Sequential<L...>> {
  using type = Sequential<First, L...>;
};
template <class First, class... L>
struct prepend_if<false, First, Sequential<L...>> {
  using type = Sequential<L...>;
};

template <std::size_t NumClasses, bool AuxLogits>
using googlenet_body = Sequential<
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
    Named<"maxpool4", MaxPool<2, 2, 0, Rounding::ceil>>,
    Named<"inception5a", Inception<832, 256, 160, 320, 32, 128, 128>>,
    Named<"inception5b", Inception<832, 384, 192, 384, 48, 128, 128>>,
    Named<"avgpool", AdaptiveAvgPool<1, 1>>,
    Flatten,
    Named<"dropout", Dropout<20>>,
    Named<"fc", Linear<1024, NumClasses>>>;
}  // namespace detail

}  // namespace torchvision

template <std::size_t NumClasses = 1000, bool AuxLogits = false, bool TransformsInput = false>
struct TorchvisionGoogLeNet
    : Composed<typename torchvision::detail::prepend_if<TransformsInput, Named<"transform_input", TransformInput>,
                                                        torchvision::detail::googlenet_body<NumClasses, AuxLogits>>::type> {
  static constexpr std::string_view type_name = "GoogLeNet";
  static constexpr std::size_t num_classes = NumClasses;
  static constexpr bool aux_logits = AuxLogits;
  static constexpr bool transform_input = TransformsInput;
};

// torchvision's num_params for googlenet(aux_logits=False); the two aux heads add 6'379'984.
static_assert(parameter_count_v<TorchvisionGoogLeNet<1000, false>> == 6'624'904);
static_assert(parameter_count_v<TorchvisionGoogLeNet<1000, true>> == 13'004'888);

}  // namespace ctnn
