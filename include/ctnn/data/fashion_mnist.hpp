#pragma once
// Loading Fashion-MNIST (and MNIST, whose files have the same names and format) from a directory
// holding the four IDX files, gzip-compressed or not:
//   train-images-idx3-ubyte[.gz]  train-labels-idx1-ubyte[.gz]
//   t10k-images-idx3-ubyte[.gz]   t10k-labels-idx1-ubyte[.gz]
//
// Every defect is a ctnn::Error(file path, reason); a Dataset is returned only when both files of
// a split are complete and consistent.

#include <cstddef>       // std::size_t
#include <cstdint>       // std::uint8_t
#include <cstdlib>       // std::getenv
#include <filesystem>    // std::filesystem::path, exists
#include <span>          // std::span
#include <string>        // std::string, std::to_string
#include <string_view>   // std::string_view
#include <system_error>  // std::error_code
#include <utility>       // std::move
#include <vector>        // std::vector

#include "ctnn/data/fashion_mnist_labels.hpp"   // fashion_mnist_class_count, fashion_mnist_labels
#include "ctnn/data/idx.hpp"                    // read_idx_images, read_idx_labels
#include "ctnn/error.hpp"                      // ctnn::Error

namespace ctnn::data {

enum class Split { train, test };

// Images and labels of one split, images stored as count x channels x height x width bytes.
struct Dataset {
  std::size_t count = 0;
  std::size_t channels = 1, height = 28, width = 28;
  std::vector<std::uint8_t> images;   // count * channels * height * width pixels, 0 = background
  std::vector<std::uint8_t> labels;   // count class indices in 0..9

  // Pixels per image.
  std::size_t image_size() const { return channels * height * width; }
  // The pixels of image `index` (unchecked, like operator[]).
  std::span<const std::uint8_t> image(std::size_t index) const {
    return std::span<const std::uint8_t>(images).subspan(index * image_size(), image_size());
  }
};

inline constexpr std::size_t fashion_mnist_image_height = 28;
inline constexpr std::size_t fashion_mnist_image_width = 28;

// Where the data set lives: $CTNN_FASHION_MNIST_DIR if set and non-empty, else the directory
// Debian's dataset-fashion-mnist package installs.
inline std::filesystem::path default_fashion_mnist_directory() {
  const char* from_environment = std::getenv("CTNN_FASHION_MNIST_DIR");
  if (from_environment != nullptr && *from_environment != '\0') return from_environment;
  return "/usr/share/datasets/fashion-mnist";
}

// The file-name prefix of a split ("t10k" is the original name of the test files).
constexpr std::string_view split_file_prefix(Split split) { return split == Split::train ? "train" : "t10k"; }

// Builds a Dataset from an IDX image file and an IDX label file (either may be gzip-compressed),
// checking that the images are 28x28, that both files hold the same number of samples and that
// every label is a class index 0..9.
inline Dataset load_idx_image_dataset(const std::filesystem::path& images_file,
                                      const std::filesystem::path& labels_file) {
  IdxArray images = read_idx_images(images_file);
  IdxArray labels = read_idx_labels(labels_file);

  const std::size_t image_count = images.dimensions[0];
  const std::size_t height = images.dimensions[1];
  const std::size_t width = images.dimensions[2];
  if (height != fashion_mnist_image_height || width != fashion_mnist_image_width) {
    throw Error(images_file.string(), "images are " + std::to_string(height) + "x" + std::to_string(width) +
                                          ", Fashion-MNIST images are 28x28");
  }
  if (image_count == 0) throw Error(images_file.string(), "holds no images");
  if (labels.dimensions[0] != image_count) {
    throw Error(labels_file.string(), "holds " + std::to_string(labels.dimensions[0]) + " labels but " +
                                          images_file.string() + " holds " + std::to_string(image_count) +
                                          " images");
  }
  for (std::size_t index = 0; index < labels.values.size(); ++index) {
    if (labels.values[index] >= fashion_mnist_class_count) {
      throw Error(labels_file.string(), "label " + std::to_string(labels.values[index]) + " of sample " +
                                            std::to_string(index) + " is outside 0..9");
    }
  }

  Dataset dataset;
  dataset.count = image_count;
  dataset.channels = 1;
  dataset.height = height;
  dataset.width = width;
  dataset.images = std::move(images.values);
  dataset.labels = std::move(labels.values);
  return dataset;
}

namespace detail {

// `<directory>/<name>.gz`, or `<directory>/<name>` when only the uncompressed file exists.
inline std::filesystem::path find_idx_file(const std::filesystem::path& directory, const std::string& name) {
  std::error_code ignored;
  const std::filesystem::path compressed = directory / (name + ".gz");
  if (std::filesystem::exists(compressed, ignored)) return compressed;
  const std::filesystem::path uncompressed = directory / name;
  if (std::filesystem::exists(uncompressed, ignored)) return uncompressed;
  throw Error(compressed.string(), "file not found (nor the uncompressed " + name + ")");
}

}  // namespace detail

// Loads one split of Fashion-MNIST (or MNIST) from `directory`.
inline Dataset load_fashion_mnist(const std::filesystem::path& directory, Split split) {
  std::error_code ignored;
  if (!std::filesystem::is_directory(directory, ignored)) {
    throw Error(directory.string(),
                "Fashion-MNIST directory not found (set CTNN_FASHION_MNIST_DIR or install dataset-fashion-mnist)");
  }
  const std::string prefix(split_file_prefix(split));
  // Find both files before reading either so a missing one fails fast.
  const auto images_file = detail::find_idx_file(directory, prefix + "-images-idx3-ubyte");
  const auto labels_file = detail::find_idx_file(directory, prefix + "-labels-idx1-ubyte");
  return load_idx_image_dataset(images_file, labels_file);
}

// Loads one split from default_fashion_mnist_directory().
inline Dataset load_fashion_mnist(Split split) { return load_fashion_mnist(default_fashion_mnist_directory(), split); }

}  // namespace ctnn::data
