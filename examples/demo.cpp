// The quick-start demo: GoogLeNet as a type. Prints the network's summary, computed from the
// type at compile time, then classifies a generated test pattern with freshly initialised
// weights (as the reference model's _initialize_weights does) and prints the probabilities.

#include <cmath>     // std::exp, std::sin
#include <cstdio>    // std::printf
#include <vector>    // std::vector

#include <ctnn/ctnn.hpp>   // ctnn::GoogLeNet, ctnn::Model, ctnn::summary, ctnn::init

using Net = ctnn::GoogLeNet<2, true>;  // the reference model's defaults: 2 classes, aux heads
using Image = ctnn::Shape<3, 224, 224>;

// What the compiler knows about the network, checked while this file compiles.
static_assert(ctnn::parameter_count_v<Net> == 10'309'430);
static_assert(ctnn::output_shape_t<Net, Image>::channels == 2);
static_assert(ctnn::macs_v<ctnn::GoogLeNet<1000, false>, Image> == 1'582'671'872);

int main() {
  std::printf("%s\n", ctnn::summary<Net, Image>().c_str());

  ctnn::Model<Net, Image> model;
  ctnn::init::googlenet_seed(model, 2026);
  model.eval();

  // A batch of two generated images: horizontal and vertical stripes.
  std::vector<float> images(2 * Image::size);
  for (std::size_t c = 0; c < 3; ++c)
    for (std::size_t y = 0; y < 224; ++y)
      for (std::size_t x = 0; x < 224; ++x) {
        images[(c * 224 + y) * 224 + x] = static_cast<float>(std::sin(0.2 * static_cast<double>(y)));
        images[Image::size + (c * 224 + y) * 224 + x] = static_cast<float>(std::sin(0.2 * static_cast<double>(x)));
      }

  const auto logits = model.forward(images);
  for (std::size_t n = 0; n < 2; ++n) {
    const double a = logits[2 * n], b = logits[2 * n + 1];
    const double p1 = 1.0 / (1.0 + std::exp(a - b));  // softmax over the two classes
    std::printf("image %zu (%s stripes): logits [% .4f, % .4f]  class %d with probability %.3f\n", n,
                n == 0 ? "horizontal" : "vertical", a, b, p1 > 0.5 ? 1 : 0, p1 > 0.5 ? p1 : 1 - p1);
  }
  std::printf("(untrained weights: the classes are arbitrary; this shows the type running end to end)\n");
}
