#pragma once
// ctnn::ResNet50<NumClasses = 1000>: torchvision.models.resnet50 (ResNet v1.5: the stride of a
// bottleneck is in its 3x3 convolution), layer for layer and with its state_dict names, so
// torchvision's checkpoints load tensor by tensor (tools/convert_to_safetensors.py).
//
//   He et al. 2015, Table 1, 50-layer                  output for Shape<3, 224, 224>
//   conv1    7x7, 64, /2                               <64, 112, 112>
//            3x3 max pool, /2                          <64, 56, 56>
//   layer1   [1x1, 64;  3x3, 64;  1x1, 256]  x 3       <256, 56, 56>
//   layer2   [1x1, 128; 3x3, 128; 1x1, 512]  x 4, /2   <512, 28, 28>
//   layer3   [1x1, 256; 3x3, 256; 1x1, 1024] x 6, /2   <1024, 14, 14>
//   layer4   [1x1, 512; 3x3, 512; 1x1, 2048] x 3, /2   <2048, 7, 7>
//            average pool, fc                          Features<NumClasses>
//   25,557,032 parameters (1000 classes), 4.09 G multiply-adds per image
//
//   ctnn::Model<ctnn::ResNet50<>, ctnn::Shape<3, 224, 224>> model;
//   ctnn::load_weights(model, "resnet50.safetensors");   // converted from torchvision's resnet50-*.pth

#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view

#include <ctnn/layer.hpp>           // ctnn::Composed, ctnn::parameter_count_v
#include <ctnn/models/resnet.hpp>   // ctnn::torchvision::ResNet, Bottleneck

namespace ctnn {

// torchvision: resnet50 = ResNet(Bottleneck, [3, 4, 6, 3])
template <std::size_t NumClasses = 1000>
struct ResNet50 : Composed<torchvision::ResNet<torchvision::Bottleneck, 3, 4, 6, 3, NumClasses>> {
  static constexpr std::string_view type_name = "ResNet50";
  static constexpr std::size_t num_classes = NumClasses;
};

static_assert(parameter_count_v<ResNet50<1000>> == 25'557'032, "torchvision's resnet50 has 25,557,032 parameters");

}  // namespace ctnn
