// ctnn-classify --model mobilenet-v2, for every supported class count.

#include <ctnn/models/mobilenet_v2.hpp>   // ctnn::MobileNetV2

#include "run.hpp"   // classify::classify_imagenet

namespace classify {

// torchvision.models.mobilenet_v2; 1000 classes without weights.
int mobilenet_v2(const Options& options) {
  return classify_imagenet<ctnn::MobileNetV2>(
      options, "classifier.1.weight", 1000, "--model mobilenet-v2 takes the weights of torchvision.models.mobilenet_v2");
}

}  // namespace classify
