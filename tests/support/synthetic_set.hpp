#pragma once
// Test support: Fashion-MNIST-shaped data sets built in memory (28x28 u8 images, labels 0-9), each
// test painting its images its own way.
//
//   synthetic_set(64, [&](std::size_t i) { return i % 10; },
//                 [&](std::size_t i, std::uint8_t label, std::span<std::uint8_t, 784> pixels) { ... });

#include <cstddef>   // std::size_t
#include <cstdint>   // std::uint8_t
#include <span>      // std::span

#include <ctnn/data/fashion_mnist.hpp>   // ctnn::data::Dataset

namespace ctnn::test {

inline constexpr std::size_t synthetic_pixels = 28 * 28;

// `count` images: image i gets the label label_of(i), then paint(i, label, its pixels) fills it
// (in that order, image by image, so that a random generator both use is read as before).
template <class LabelOf, class Paint>
data::Dataset synthetic_set(std::size_t count, LabelOf label_of, Paint paint) {
  data::Dataset set;
  set.count = count;
  set.images.resize(count * synthetic_pixels);
  set.labels.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    set.labels[i] = static_cast<std::uint8_t>(label_of(i));
    paint(i, set.labels[i], std::span<std::uint8_t, synthetic_pixels>(set.images.data() + i * synthetic_pixels,
                                                                       synthetic_pixels));
  }
  return set;
}

}  // namespace ctnn::test
