// expect: Inception_receives_channels_but_was_declared_with_In<64, 60>
// A whole program's use of a wrong network: a Model, a forward pass and the compile-time memory
// queries, over a network whose Inception block was declared for 60 channels where the stem
// delivers 64. Still one error, with g++ and with clang (ctest compile_fail.with_clang): the
// layers after the block and the memory plan add none of their own. The twin declares 64.

#include <cstddef>   // std::size_t
#include <vector>    // std::vector

#include <ctnn/ctnn.hpp>   // ctnn::Model, ctnn::Sequential, ctnn::Inception, ..., ctnn::activation_bytes_v

#ifdef CTNN_SHOULD_FAIL
constexpr std::size_t kMixedIn = 60;
#else
constexpr std::size_t kMixedIn = 64;
#endif

using Net = ctnn::Sequential<ctnn::Named<"stem", ctnn::BasicConv2d<3, 64, 3, 1, 1>>,
                             ctnn::Named<"mixed", ctnn::Inception<kMixedIn, 16, 24, 32, 4, 8, 8>>,
                             ctnn::Named<"avgpool", ctnn::AdaptiveAvgPool<1>>, ctnn::Flatten,
                             ctnn::Named<"fc", ctnn::Linear<64, 10>>>;
using Image = ctnn::Shape<3, 32, 32>;

[[maybe_unused]] constexpr std::size_t kBytes = ctnn::activation_bytes_v<Net, Image> +
                                                ctnn::training_activation_bytes_v<Net, Image> +
                                                ctnn::workspace_bytes_v<Net, Image>;
[[maybe_unused]] constexpr std::size_t kMacs = ctnn::macs_v<Net, Image>;

[[maybe_unused]] void classify() {
  ctnn::Model<Net, Image> model;
  const std::vector<float> images(2 * Image::size, 0.5f);
  model.forward(images);
}
