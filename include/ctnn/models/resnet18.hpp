#pragma once
// ctnn::ResNet18<NumClasses = 1000>: torchvision.models.resnet18, layer for layer and with its
// state_dict names, so torchvision's checkpoints load tensor by tensor (tools/convert_to_safetensors.py).
//
//   He et al. 2015, Table 1, 18-layer          output for Shape<3, 224, 224>
//   conv1    7x7, 64, /2                       <64, 112, 112>
//            3x3 max pool, /2                  <64, 56, 56>
//   layer1   [3x3, 64;  3x3, 64]  x 2          <64, 56, 56>
//   layer2   [3x3, 128; 3x3, 128] x 2, /2      <128, 28, 28>
//   layer3   [3x3, 256; 3x3, 256] x 2, /2      <256, 14, 14>
//   layer4   [3x3, 512; 3x3, 512] x 2, /2      <512, 7, 7>
//            average pool, fc                  Features<NumClasses>
//   11,689,512 parameters (1000 classes), 1.81 G multiply-adds per image
//
//   ctnn::Model<ctnn::ResNet18<>, ctnn::Shape<3, 224, 224>> model;
//   ctnn::load_weights(model, "resnet18.safetensors");   // converted from torchvision's resnet18-f37072fd.pth

#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view

#include <ctnn/layer.hpp>           // ctnn::Composed, ctnn::parameter_count_v
#include <ctnn/models/resnet.hpp>   // ctnn::torchvision::ResNet, BasicBlock

namespace ctnn {

// torchvision: resnet18 = ResNet(BasicBlock, [2, 2, 2, 2])
template <std::size_t NumClasses = 1000>
struct ResNet18 : Composed<torchvision::ResNet<torchvision::BasicBlock, 2, 2, 2, 2, NumClasses>> {
  static constexpr std::string_view type_name = "ResNet18";
  static constexpr std::size_t num_classes = NumClasses;
};

static_assert(parameter_count_v<ResNet18<1000>> == 11'689'512, "torchvision's resnet18 has 11,689,512 parameters");

}  // namespace ctnn
