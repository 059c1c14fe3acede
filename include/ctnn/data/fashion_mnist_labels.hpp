#pragma once
// Fashion-MNIST's classes, apart from the file reader (fashion_mnist.hpp, which needs zlib), so
// that a model naming them (models/fashion_inception.hpp) needs only ctnn::ctnn.

#include <array>         // std::array
#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view

namespace ctnn::data {

inline constexpr std::size_t fashion_mnist_class_count = 10;

// Class names, indexed by label.
inline constexpr std::array<std::string_view, fashion_mnist_class_count> fashion_mnist_labels = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

}  // namespace ctnn::data
