// ctnn-classify --model fashion-mnist: ctnn::FashionInception (10 classes, its own type) on 28x28
// grayscale images, normalised as in training ((p / 255 - 0.2860) / 0.3530). Without --weights it
// uses the trained weights shipped in examples/data/; --precision int8 calibrates on the inputs and
// the example images shipped there.

#include <ctnn/io/image.hpp>                  // ctnn::image::load, grayscale_preprocess
#include <ctnn/models/fashion_inception.hpp>  // ctnn::FashionInception, ctnn::FashionInput

#include "run.hpp"   // classify::classify

namespace classify {

int fashion_mnist(const Options& options) {
  const ModelSpec spec{[](const std::filesystem::path& path) {
                         return ctnn::image::grayscale_preprocess(ctnn::image::load(path, 0), 28, 0.2860f, 0.3530f);
                       },
                       shipped_data_file("fashion_mnist_labels.txt"),
                       "--model fashion-mnist takes the weights of ctnn::FashionInception (ctnn's Fashion-MNIST training)",
                       shipped_data_file("fashion_inception.safetensors"),
                       {shipped_data_file("fashion_mnist_0_ankle_boot.png"), shipped_data_file("fashion_mnist_1_pullover.png"),
                        shipped_data_file("fashion_mnist_2_trouser.png"), shipped_data_file("fashion_mnist_9_sneaker.png")}};
  return classify<ctnn::FashionInception, ctnn::FashionInput>(options, spec, open_weights(options, spec));
}

}  // namespace classify
