// ctnn-classify --model resnet18, for every supported class count.

#include <ctnn/models/resnet18.hpp>   // ctnn::ResNet18

#include "run.hpp"   // classify::classify_imagenet

namespace classify {

// torchvision.models.resnet18; 1000 classes without weights.
int resnet18(const Options& options) {
  return classify_imagenet<ctnn::ResNet18>(
      options, "fc.weight", 1000, "--model resnet18 takes the weights of torchvision.models.resnet18");
}

}  // namespace classify
