// ctnn-classify --model googlenet-seed, for every supported class count.

#include <ctnn/layers/googlenet.hpp>   // ctnn::GoogLeNet

#include "run.hpp"   // classify::classify_imagenet

namespace classify {
namespace {
// Without the auxiliary heads: they run in training only (a file may still carry them).
template <std::size_t Classes>
using SeedGoogLeNet = ctnn::GoogLeNet<Classes, false>;
}  // namespace

// The seed's GoogLeNet (tools/reference_model/googlenet_seed.py); 2 classes without weights, as
// the seed's num_classes=2.
int googlenet_seed(const Options& options) {
  return classify_imagenet<SeedGoogLeNet>(options, "fc.weight", 2,
                                          "--model googlenet-seed takes the weights of googlenet_seed.py's GoogLeNet");
}

}  // namespace classify
