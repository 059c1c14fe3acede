// ctnn-classify --model resnet50, for every supported class count.

#include <ctnn/models/resnet50.hpp>   // ctnn::ResNet50

#include "run.hpp"   // classify::classify_imagenet

namespace classify {

// torchvision.models.resnet50; 1000 classes without weights.
int resnet50(const Options& options) {
  return classify_imagenet<ctnn::ResNet50>(
      options, "fc.weight", 1000, "--model resnet50 takes the weights of torchvision.models.resnet50");
}

}  // namespace classify
