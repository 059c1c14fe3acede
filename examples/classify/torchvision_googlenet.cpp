// ctnn-classify --model torchvision-googlenet, for every supported class count.

#include <ctnn/layers/torchvision_googlenet.hpp>   // ctnn::TorchvisionGoogLeNet

#include "run.hpp"   // classify::classify_imagenet

namespace classify {
namespace {
// Without the auxiliary heads: they run in training only (its pretrained file carries them; they
// are skipped). torchvision's transform_input step runs on the preprocessed image instead.
template <std::size_t Classes>
using TorchvisionGoogLeNet = ctnn::TorchvisionGoogLeNet<Classes, false, false>;
}  // namespace

// torchvision.models.googlenet; 1000 classes without weights; transform_input unless
// --no-transform-input.
int torchvision_googlenet(const Options& options) {
  return classify_imagenet<TorchvisionGoogLeNet>(
      options, "fc.weight", 1000, "--model torchvision-googlenet takes the weights of torchvision.models.googlenet",
      options.transform_input);
}

}  // namespace classify
