// Tests of the IDX reader, the Fashion-MNIST loader and the BatchLoader.
//
// Malformed files are written into a temporary directory (raw, or gzip-compressed with zlib) so
// every validation path is exercised; the real data set is checked when installed.

#include <doctest/doctest.h>   // TEST_CASE, CHECK, REQUIRE, MESSAGE

#include <zlib.h>   // gzopen, gzwrite, gzclose

#include <algorithm>     // std::sort, std::any_of
#include <array>         // std::array
#include <cmath>         // std::sqrt
#include <cstddef>       // std::size_t
#include <cstdint>       // std::uint8_t, std::uint32_t, std::int32_t
#include <cstdlib>       // setenv, unsetenv, std::getenv
#include <filesystem>    // std::filesystem::path, temp_directory_path
#include <fstream>       // std::ofstream, std::ifstream
#include <iterator>      // std::istreambuf_iterator
#include <optional>      // std::optional
#include <set>           // std::set
#include <string>        // std::string
#include <string_view>   // std::string_view
#include <tuple>         // std::tuple
#include <vector>        // std::vector

#include <unistd.h>   // getpid

#include "ctnn/data/batcher.hpp"         // BatchLoader, Augmentation, Normalization
#include "ctnn/data/fashion_mnist.hpp"   // load_fashion_mnist, Dataset, Split
#include "ctnn/data/idx.hpp"             // read_idx_images, read_idx_labels
#include "ctnn/error.hpp"                // ctnn::Error

#include "support/skip.hpp"   // ctnn::test::dataset_available

namespace fs = std::filesystem;
using namespace ctnn::data;

namespace {

using Bytes = std::vector<std::uint8_t>;

// Checks that `expression` throws ctnn::Error whose subject is `expected_subject` (a path) and
// whose reason contains `reason_fragment`. A macro so failures report the caller's line.
#define CHECK_CTNN_ERROR(expression, expected_subject, reason_fragment)                                 \
  do {                                                                                                  \
    bool error_thrown = false;                                                                          \
    try {                                                                                               \
      (void)(expression);                                                                               \
    } catch (const ctnn::Error& error) {                                                                \
      error_thrown = true;                                                                              \
      const std::string message = error.what();                                                         \
      CHECK_MESSAGE(error.subject() == fs::path(expected_subject).string(), message);                   \
      CHECK_MESSAGE(error.reason().find(reason_fragment) != std::string::npos,                          \
                    "reason lacks '" << std::string(reason_fragment) << "': " << message);              \
      CHECK_MESSAGE(message.find(fs::path(expected_subject).string()) != std::string::npos, message);   \
    }                                                                                                   \
    CHECK_MESSAGE(error_thrown, "expected a ctnn::Error from " #expression);                            \
  } while (false)

// A fresh directory under the system temp directory, removed with its contents at scope exit.
class TemporaryDirectory {
 public:
  explicit TemporaryDirectory(std::string_view name) {
    static int created = 0;
    path_ = fs::temp_directory_path() /
            ("ctnn_test_" + std::string(name) + "_" + std::to_string(getpid()) + "_" + std::to_string(created++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TemporaryDirectory() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(std::string_view name) const { return path_ / name; }

 private:
  fs::path path_;
};

void write_raw(const fs::path& file, const Bytes& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

void write_gzip(const fs::path& file, const Bytes& bytes) {
  gzFile out = gzopen(file.string().c_str(), "wb");
  REQUIRE(out != nullptr);
  if (!bytes.empty()) REQUIRE(gzwrite(out, bytes.data(), static_cast<unsigned>(bytes.size())) == int(bytes.size()));
  REQUIRE(gzclose(out) == Z_OK);
}

Bytes read_raw(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void append_big_endian_32(Bytes& bytes, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<std::uint8_t>(value >> shift));
}

// An IDX file: magic number, one 32-bit size per dimension, then `data` verbatim (which need not
// match the sizes, to build malformed files).
Bytes idx_file(std::uint32_t magic, const std::vector<std::uint32_t>& dimensions, const Bytes& data) {
  Bytes bytes;
  append_big_endian_32(bytes, magic);
  for (const std::uint32_t extent : dimensions) append_big_endian_32(bytes, extent);
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

// Pixels that identify their image and position; never zero, so crop padding stands out.
Bytes pattern_images(std::size_t count, std::size_t image_size) {
  Bytes pixels(count * image_size);
  for (std::size_t image = 0; image < count; ++image)
    for (std::size_t i = 0; i < image_size; ++i)
      pixels[image * image_size + i] = static_cast<std::uint8_t>(1 + (image * 31 + i * 7) % 255);
  return pixels;
}

Bytes cycling_labels(std::size_t count) {
  Bytes labels(count);
  for (std::size_t i = 0; i < count; ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
  return labels;
}

Bytes valid_images_file(std::uint32_t count) {
  return idx_file(idx_images_magic, {count, 28, 28}, pattern_images(count, 28 * 28));
}
Bytes valid_labels_file(std::uint32_t count) { return idx_file(idx_labels_magic, {count}, cycling_labels(count)); }

// A synthetic dataset whose label is the sample index, so batches can be traced back.
Dataset indexed_dataset(std::size_t count, std::size_t channels = 1, std::size_t height = 28, std::size_t width = 28) {
  Dataset dataset;
  dataset.count = count;
  dataset.channels = channels;
  dataset.height = height;
  dataset.width = width;
  dataset.images = pattern_images(count, channels * height * width);
  dataset.labels.resize(count);
  for (std::size_t i = 0; i < count; ++i) dataset.labels[i] = static_cast<std::uint8_t>(i);
  return dataset;
}

// The dataset indices an epoch visits, batch by batch.
std::vector<std::size_t> epoch_order(BatchLoader& loader) {
  std::vector<std::size_t> order;
  loader.begin_epoch();
  while (auto batch = loader.next()) order.insert(order.end(), batch->indices.begin(), batch->indices.end());
  return order;
}

struct BatchCopy {
  std::vector<float> images;
  std::vector<std::int32_t> labels;
  std::vector<std::size_t> indices;
  bool operator==(const BatchCopy&) const = default;
};

BatchCopy copy_of(const Batch& batch) {
  return {std::vector<float>(batch.images.begin(), batch.images.end()),
          std::vector<std::int32_t>(batch.labels.begin(), batch.labels.end()),
          std::vector<std::size_t>(batch.indices.begin(), batch.indices.end())};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// IDX reading and validation

TEST_CASE("IDX: valid raw and gzip files read identically") {
  TemporaryDirectory directory("idx_valid");
  const Bytes images = valid_images_file(3);
  write_raw(directory / "images.idx", images);
  write_gzip(directory / "images.idx.gz", images);
  for (const auto* name : {"images.idx", "images.idx.gz"}) {
    CAPTURE(name);
    const IdxArray array = read_idx_images(directory / name);
    CHECK(array.dimensions == std::vector<std::size_t>{3, 28, 28});
    CHECK(array.values == pattern_images(3, 28 * 28));
  }
  write_gzip(directory / "labels.gz", valid_labels_file(7));
  const IdxArray labels = read_idx_labels(directory / "labels.gz");
  CHECK(labels.dimensions == std::vector<std::size_t>{7});
  CHECK(labels.values == cycling_labels(7));
}

TEST_CASE("IDX: missing file, directory instead of file") {
  TemporaryDirectory directory("idx_missing");
  CHECK_CTNN_ERROR(read_idx_images(directory / "absent.gz"), directory / "absent.gz", "file not found");
  CHECK_CTNN_ERROR(read_idx_labels(directory.path()), directory.path(), "is a directory");
}

TEST_CASE("IDX: neither gzip nor IDX") {
  TemporaryDirectory directory("idx_foreign");
  const auto zip = directory / "archive.zip";
  write_raw(zip, {'P', 'K', 3, 4, 'd', 'a', 't', 'a'});
  CHECK_CTNN_ERROR(read_idx_images(zip), zip, "neither gzip-compressed nor an IDX file");
  CHECK_CTNN_ERROR(read_idx_images(zip), zip, "50 4b 03 04");
  const auto html = directory / "error_page";
  write_raw(html, {'<', 'h'});
  CHECK_CTNN_ERROR(read_idx_labels(html), html, "neither gzip-compressed nor an IDX file");
  // gzip around something that is not IDX: the decompressed magic number is wrong.
  const auto text = directory / "text.gz";
  write_gzip(text, {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
  CHECK_CTNN_ERROR(read_idx_images(text), text, "wrong magic number 0x68656c6c, expected 0x00000803");
}

TEST_CASE("IDX: wrong magic number and wrong dimension count") {
  TemporaryDirectory directory("idx_magic");
  const auto floats = directory / "floats.gz";
  write_gzip(floats, idx_file(0x00000D03, {1, 28, 28}, Bytes(4 * 28 * 28)));
  CHECK_CTNN_ERROR(read_idx_images(floats), floats, "wrong magic number 0x00000d03, expected 0x00000803");
  CHECK_CTNN_ERROR(read_idx_images(floats), floats, "32-bit float");

  // A label file where images are expected, and vice versa.
  const auto labels = directory / "labels";
  write_raw(labels, valid_labels_file(4));
  CHECK_CTNN_ERROR(read_idx_images(labels), labels, "wrong magic number 0x00000801, expected 0x00000803");
  const auto images = directory / "images.gz";
  write_gzip(images, valid_images_file(2));
  CHECK_CTNN_ERROR(read_idx_labels(images), images, "the file has 3 dimensions, expected 1");

  const auto two_dimensional = directory / "matrix";
  write_raw(two_dimensional, idx_file(0x00000802, {28, 28}, Bytes(28 * 28)));
  CHECK_CTNN_ERROR(read_idx_images(two_dimensional), two_dimensional, "the file has 2 dimensions, expected 3");
}

TEST_CASE("IDX: truncated files") {
  TemporaryDirectory directory("idx_truncated");
  for (const bool compressed : {false, true}) {
    CAPTURE(compressed);
    const auto write = [&](const fs::path& file, const Bytes& bytes) {
      compressed ? write_gzip(file, bytes) : write_raw(file, bytes);
    };
    const auto short_data = directory / (compressed ? "short_data.gz" : "short_data");
    Bytes images = valid_images_file(3);
    images.resize(images.size() - 1);
    write(short_data, images);
    CHECK_CTNN_ERROR(read_idx_images(short_data), short_data,
                     "truncated: dimensions [3, 28, 28] declare 2352 data bytes, the file holds only 2351");

    const auto short_sizes = directory / (compressed ? "short_sizes.gz" : "short_sizes");
    write(short_sizes, {0, 0, 8, 3, 0, 0, 0, 3, 0, 0});
    CHECK_CTNN_ERROR(read_idx_images(short_sizes), short_sizes, "header ends after 6 of its 12 dimension-size bytes");

    const auto short_magic = directory / (compressed ? "short_magic.gz" : "short_magic");
    write(short_magic, {0, 0, 8});
    CHECK_CTNN_ERROR(read_idx_labels(short_magic), short_magic, "inside the 4-byte IDX magic number");

    const auto empty = directory / (compressed ? "empty.gz" : "empty");
    write(empty, {});
    CHECK_CTNN_ERROR(read_idx_labels(empty), empty, compressed ? "gzip stream holds no data" : "file is empty");
  }
}

TEST_CASE("IDX: trailing bytes after the declared data") {
  TemporaryDirectory directory("idx_trailing");
  Bytes labels = valid_labels_file(5);
  labels.insert(labels.end(), {1, 2, 3});
  write_raw(directory / "labels", labels);
  write_gzip(directory / "labels.gz", labels);
  CHECK_CTNN_ERROR(read_idx_labels(directory / "labels"), directory / "labels",
                   "sizes do not match the file length: 3 trailing bytes after the 5 data bytes");
  CHECK_CTNN_ERROR(read_idx_labels(directory / "labels.gz"), directory / "labels.gz", "3 trailing bytes");
}

TEST_CASE("IDX: absurd dimensions are refused before allocating") {
  TemporaryDirectory directory("idx_absurd");
  // 2^96 bytes would overflow std::size_t when multiplied naively.
  const auto overflowing = directory / "overflowing.gz";
  write_gzip(overflowing, idx_file(idx_images_magic, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, Bytes(16)));
  CHECK_CTNN_ERROR(read_idx_images(overflowing), overflowing, "absurd dimensions [4294967295, 4294967295, 4294967295]");
  const auto huge = directory / "huge";
  write_raw(huge, idx_file(idx_labels_magic, {2'000'000'000}, Bytes(16)));
  CHECK_CTNN_ERROR(read_idx_labels(huge), huge, "more than the limit of 1000000000 bytes");
  // The cap is a parameter.
  const auto images = directory / "images";
  write_raw(images, valid_images_file(2));
  CHECK_CTNN_ERROR(read_idx_images(images, 1000), images, "absurd dimensions [2, 28, 28]");
  CHECK(read_idx_images(images, 2 * 28 * 28).values.size() == 2 * 28 * 28);
}

TEST_CASE("IDX: corrupt gzip streams report zlib's message") {
  TemporaryDirectory directory("idx_corrupt");
  const Bytes images = valid_images_file(20);
  const auto good = directory / "good.gz";
  write_gzip(good, images);
  const Bytes compressed = read_raw(good);
  REQUIRE(compressed.size() > 100);

  const auto bad_checksum = directory / "bad_checksum.gz";
  Bytes damaged = compressed;
  damaged[damaged.size() - 8] ^= 0xFF;   // first byte of the CRC-32 trailer
  write_raw(bad_checksum, damaged);
  CHECK_CTNN_ERROR(read_idx_images(bad_checksum), bad_checksum, "corrupt gzip stream: incorrect data check (zlib)");

  const auto bad_method = directory / "bad_method.gz";
  damaged = compressed;
  damaged[2] = 7;   // compression method: only 8 (deflate) exists
  write_raw(bad_method, damaged);
  CHECK_CTNN_ERROR(read_idx_images(bad_method), bad_method, "corrupt gzip stream: unknown compression method");

  const auto scrambled = directory / "scrambled.gz";
  damaged = compressed;
  for (std::size_t i = 20; i < damaged.size() - 20; i += 3) damaged[i] ^= 0x5A;
  write_raw(scrambled, damaged);
  CHECK_CTNN_ERROR(read_idx_images(scrambled), scrambled, "corrupt gzip stream: ");

  const auto cut_off = directory / "cut_off.gz";
  damaged.assign(compressed.begin(), compressed.begin() + static_cast<std::ptrdiff_t>(compressed.size() / 2));
  write_raw(cut_off, damaged);
  CHECK_CTNN_ERROR(read_idx_images(cut_off), cut_off, "gzip stream is cut off: unexpected end of file (zlib)");
}

// ---------------------------------------------------------------------------------------------
// Fashion-MNIST loading

TEST_CASE("Fashion-MNIST: loads gzip and uncompressed splits from a directory") {
  TemporaryDirectory directory("fashion_valid");
  write_gzip(directory / "t10k-images-idx3-ubyte.gz", valid_images_file(12));
  write_gzip(directory / "t10k-labels-idx1-ubyte.gz", valid_labels_file(12));
  write_raw(directory / "train-images-idx3-ubyte", valid_images_file(5));
  write_raw(directory / "train-labels-idx1-ubyte", valid_labels_file(5));

  const Dataset test = load_fashion_mnist(directory.path(), Split::test);
  CHECK(test.count == 12);
  CHECK(test.channels == 1);
  CHECK(test.height == 28);
  CHECK(test.width == 28);
  CHECK(test.images == pattern_images(12, 28 * 28));
  CHECK(test.labels == cycling_labels(12));
  CHECK(test.image(11).size() == 28 * 28);
  CHECK(test.image(11)[0] == test.images[11 * 28 * 28]);

  const Dataset train = load_fashion_mnist(directory.path(), Split::train);
  CHECK(train.count == 5);
  CHECK(train.images == pattern_images(5, 28 * 28));
}

TEST_CASE("Fashion-MNIST: missing directory and missing files") {
  TemporaryDirectory directory("fashion_missing");
  CHECK_CTNN_ERROR(load_fashion_mnist(directory / "nowhere", Split::test), directory / "nowhere",
                   "Fashion-MNIST directory not found");
  write_gzip(directory / "t10k-labels-idx1-ubyte.gz", valid_labels_file(3));
  CHECK_CTNN_ERROR(load_fashion_mnist(directory.path(), Split::test), directory / "t10k-images-idx3-ubyte.gz",
                   "file not found (nor the uncompressed t10k-images-idx3-ubyte)");
  write_gzip(directory / "train-images-idx3-ubyte.gz", valid_images_file(3));
  CHECK_CTNN_ERROR(load_fashion_mnist(directory.path(), Split::train), directory / "train-labels-idx1-ubyte.gz",
                   "file not found");
}

TEST_CASE("Fashion-MNIST: inconsistent files") {
  TemporaryDirectory directory("fashion_inconsistent");
  const auto images = directory / "t10k-images-idx3-ubyte.gz";
  const auto labels = directory / "t10k-labels-idx1-ubyte.gz";

  SUBCASE("image and label counts differ") {
    write_gzip(images, valid_images_file(5));
    write_gzip(labels, valid_labels_file(4));
    CHECK_CTNN_ERROR(load_fashion_mnist(directory.path(), Split::test), labels, "holds 4 labels but");
    CHECK_CTNN_ERROR(load_fashion_mnist(directory.path(), Split::test), labels, images.string() + " holds 5 images");
  }
  SUBCASE("label outside 0..9") {
    write_gzip(images, valid_images_file(5));
    Bytes label_values = cycling_labels(5);
    label_values[3] = 10;
    write_gzip(labels, idx_file(idx_labels_magic, {5}, label_values));
    CHECK_CTNN_ERROR(load_fashion_mnist(directory.path(), Split::test), labels, "label 10 of sample 3 is outside 0..9");
  }
  SUBCASE("images are not 28x28") {
    write_gzip(images, idx_file(idx_images_magic, {2, 32, 32}, Bytes(2 * 32 * 32)));
    write_gzip(labels, valid_labels_file(2));
    CHECK_CTNN_ERROR(load_fashion_mnist(directory.path(), Split::test), images,
                     "images are 32x32, Fashion-MNIST images are 28x28");
  }
  SUBCASE("no images") {
    write_gzip(images, idx_file(idx_images_magic, {0, 28, 28}, {}));
    write_gzip(labels, valid_labels_file(0));
    CHECK_CTNN_ERROR(load_fashion_mnist(directory.path(), Split::test), images, "holds no images");
  }
  SUBCASE("a defect inside one file is reported against that file") {
    write_gzip(images, valid_images_file(5));
    Bytes truncated_labels = valid_labels_file(5);
    truncated_labels.pop_back();
    write_gzip(labels, truncated_labels);
    CHECK_CTNN_ERROR(load_fashion_mnist(directory.path(), Split::test), labels, "truncated");
  }
}

TEST_CASE("Fashion-MNIST: default directory and class names") {
  const char* previous = std::getenv("CTNN_FASHION_MNIST_DIR");
  const std::optional<std::string> saved = previous ? std::optional<std::string>(previous) : std::nullopt;
  setenv("CTNN_FASHION_MNIST_DIR", "/tmp/somewhere/else", 1);
  CHECK(default_fashion_mnist_directory() == fs::path("/tmp/somewhere/else"));
  unsetenv("CTNN_FASHION_MNIST_DIR");
  CHECK(default_fashion_mnist_directory() == fs::path("/usr/share/datasets/fashion-mnist"));
  if (saved) setenv("CTNN_FASHION_MNIST_DIR", saved->c_str(), 1);

  CHECK(fashion_mnist_labels.size() == 10);
  CHECK(fashion_mnist_labels[0] == "T-shirt/top");
  CHECK(fashion_mnist_labels[9] == "Ankle boot");
  CHECK(split_file_prefix(Split::train) == "train");
  CHECK(split_file_prefix(Split::test) == "t10k");
}

TEST_CASE("Fashion-MNIST: the real data set" * doctest::test_suite("dataset")) {
  const fs::path directory = default_fashion_mnist_directory();
  if (!ctnn::test::dataset_available(directory, "dataset-fashion-mnist")) return;
  // Reference values computed independently with Python's gzip + numpy.
  const Dataset test = load_fashion_mnist(directory, Split::test);
  REQUIRE(test.count == 10000);
  CHECK(test.images.size() == 10000u * 28 * 28);
  CHECK(test.labels.size() == 10000);
  CHECK(test.labels[0] == 9);
  CHECK(fashion_mnist_labels[test.labels[0]] == "Ankle boot");
  CHECK(test.labels[1] == 2);
  std::uint64_t pixel_sum = 0;
  for (const std::uint8_t pixel : test.images) pixel_sum += pixel;
  CHECK(pixel_sum == 573469082u);
  std::uint64_t first_image_sum = 0;
  for (const std::uint8_t pixel : test.image(0)) first_image_sum += pixel;
  CHECK(first_image_sum == 33456u);
  CHECK(test.image(0)[14 * 28 + 14] == 110);
  std::vector<std::size_t> per_class(10);
  for (const std::uint8_t label : test.labels) ++per_class[label];
  CHECK(per_class == std::vector<std::size_t>(10, 1000));

  const Dataset train = load_fashion_mnist(directory, Split::train);
  REQUIRE(train.count == 60000);
  CHECK(train.labels[0] == 9);
  std::uint64_t train_pixel_sum = 0;
  for (const std::uint8_t pixel : train.images) train_pixel_sum += pixel;
  CHECK(train_pixel_sum == 3431114169u);

  // Normalised with the training statistics, a full epoch of the training set has mean ~0, std ~1.
  BatchLoader loader(train, 1000, true, 7);
  double sum = 0, sum_of_squares = 0;
  std::size_t values = 0;
  while (auto batch = loader.next()) {
    for (const float value : batch->images) {
      sum += value;
      sum_of_squares += double(value) * value;
    }
    values += batch->images.size();
  }
  CHECK(values == 60000u * 28 * 28);
  const double mean = sum / double(values);
  const double deviation = std::sqrt(sum_of_squares / double(values) - mean * mean);
  CHECK(mean == doctest::Approx(0.0).epsilon(0.001));
  CHECK(deviation == doctest::Approx(1.0).epsilon(0.001));
}

// ---------------------------------------------------------------------------------------------
// BatchLoader

TEST_CASE("BatchLoader: batch count, sizes, drop_last") {
  const Dataset dataset = indexed_dataset(37);
  BatchLoader keep_last(dataset, 8, false, 1);
  CHECK(keep_last.batches_per_epoch() == 5);
  std::vector<std::size_t> sizes;
  keep_last.begin_epoch();
  while (auto batch = keep_last.next()) {
    sizes.push_back(batch->size);
    CHECK(batch->shape() == std::array<std::size_t, 4>{batch->size, 1, 28, 28});
    CHECK(batch->images.size() == batch->size * 28 * 28);
    CHECK(batch->labels.size() == batch->size);
  }
  CHECK(sizes == std::vector<std::size_t>{8, 8, 8, 8, 5});
  CHECK_FALSE(keep_last.next().has_value());   // stays exhausted until the next epoch

  BatchLoader drop_last(dataset, 8, false, 1, Augmentation::none(), true);
  CHECK(drop_last.batches_per_epoch() == 4);
  CHECK(epoch_order(drop_last).size() == 32);

  BatchLoader exact(dataset, 37, false, 1, Augmentation::none(), true);
  CHECK(exact.batches_per_epoch() == 1);
  BatchLoader too_big(dataset, 64, true, 1, Augmentation::none(), true);
  CHECK(too_big.batches_per_epoch() == 0);
  CHECK_FALSE(too_big.next().has_value());
}

TEST_CASE("BatchLoader: without shuffling the order is the dataset order") {
  const Dataset dataset = indexed_dataset(10);
  BatchLoader loader(dataset, 4, false, 123);
  std::vector<std::size_t> identity(10);
  for (std::size_t i = 0; i < 10; ++i) identity[i] = i;
  CHECK(epoch_order(loader) == identity);
  CHECK(epoch_order(loader) == identity);
  CHECK(loader.epoch() == 2);
}

TEST_CASE("BatchLoader: shuffled order is a permutation, fixed by the seed, new each epoch") {
  const Dataset dataset = indexed_dataset(100);
  BatchLoader first(dataset, 16, true, 42);
  BatchLoader same_seed(dataset, 16, true, 42);
  BatchLoader other_seed(dataset, 16, true, 43);

  std::vector<std::vector<std::size_t>> epochs;
  for (int epoch = 0; epoch < 3; ++epoch) {
    const auto order = epoch_order(first);
    CHECK(order == epoch_order(same_seed));
    CHECK(order != epoch_order(other_seed));
    // Every sample exactly once.
    auto sorted = order;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 0; i < sorted.size(); ++i) CHECK(sorted[i] == i);
    epochs.push_back(order);
  }
  CHECK(epochs[0] != epochs[1]);
  CHECK(epochs[1] != epochs[2]);
  CHECK(first.epoch() == 3);
}

TEST_CASE("BatchLoader: labels and pixels follow the indices, normalised with Fashion-MNIST statistics") {
  const Dataset dataset = indexed_dataset(20);
  BatchLoader loader(dataset, 6, true, 5);
  std::set<std::int32_t> seen_labels;
  while (auto batch = loader.next()) {
    for (std::size_t slot = 0; slot < batch->size; ++slot) {
      const std::size_t index = batch->indices[slot];
      CHECK(batch->labels[slot] == static_cast<std::int32_t>(dataset.labels[index]));
      seen_labels.insert(batch->labels[slot]);
      for (std::size_t i = 0; i < 28 * 28; ++i) {
        const float expected = (dataset.image(index)[i] / 255.0f - 0.2860f) / 0.3530f;
        if (batch->images[slot * 28 * 28 + i] != doctest::Approx(expected).epsilon(1e-6)) {
          FAIL_CHECK("pixel " << i << " of sample " << index);
          break;
        }
      }
    }
  }
  CHECK(seen_labels.size() == 20);

  const Normalization normalization;
  CHECK(normalization(0) == doctest::Approx(-0.2860 / 0.3530).epsilon(1e-6));   // -0.81020
  CHECK(normalization(255) == doctest::Approx((1 - 0.2860) / 0.3530).epsilon(1e-6));   // 2.02266
  CHECK(normalization(0) == doctest::Approx(-0.810198));
  const Normalization custom{0.5f, 0.25f};
  CHECK(custom(255) == doctest::Approx(2.0));
  BatchLoader custom_loader(dataset, 4, false, 0, Augmentation::none(), false, custom);
  const auto batch = custom_loader.next();
  REQUIRE(batch);
  CHECK(batch->images[0] == doctest::Approx((dataset.images[0] / 255.0 - 0.5) / 0.25));
}

TEST_CASE("BatchLoader: the internal buffer is reused; caller buffers are filled in place") {
  const Dataset dataset = indexed_dataset(30);
  BatchLoader loader(dataset, 7, true, 9);
  const float* first_data = nullptr;
  for (int epoch = 0; epoch < 2; ++epoch) {
    loader.begin_epoch();
    while (auto batch = loader.next()) {
      if (first_data == nullptr) first_data = batch->images.data();
      CHECK(batch->images.data() == first_data);
    }
  }

  BatchLoader internal(dataset, 7, true, 9);
  BatchLoader external(dataset, 7, true, 9);
  std::vector<float> images(7 * 28 * 28);
  std::vector<std::int32_t> labels(7);
  while (auto expected = internal.next()) {
    const auto batch = external.next_into(images, labels);
    REQUIRE(batch);
    CHECK(batch->images.data() == images.data());
    CHECK(batch->labels.data() == labels.data());
    CHECK(copy_of(*batch) == copy_of(*expected));
  }
  CHECK_FALSE(external.next_into(images, labels).has_value());

  std::vector<float> too_small(6 * 28 * 28);
  CHECK_CTNN_ERROR(external.next_into(too_small, labels), "BatchLoader", "cannot hold a batch of 7 samples");
}

TEST_CASE("BatchLoader: augmentation keeps the shape, is reproducible, and is a padded crop plus flip") {
  constexpr std::size_t padding = 4;
  const Dataset dataset = indexed_dataset(64);
  const Normalization normalize;
  BatchLoader augmented(dataset, 16, true, 77, Augmentation::crop_and_flip(padding));
  BatchLoader again(dataset, 16, true, 77, Augmentation::crop_and_flip(padding));
  BatchLoader other_seed(dataset, 16, true, 78, Augmentation::crop_and_flip(padding));

  std::set<std::tuple<long, long, bool>> transforms_seen;
  bool any_differs_from_other_seed = false;
  while (auto batch = augmented.next()) {
    const auto repeat = again.next();
    REQUIRE(repeat);
    CHECK(copy_of(*batch) == copy_of(*repeat));
    const auto other = other_seed.next();
    REQUIRE(other);
    any_differs_from_other_seed = any_differs_from_other_seed || copy_of(*batch) != copy_of(*other);

    CHECK(batch->shape() == std::array<std::size_t, 4>{16, 1, 28, 28});
    CHECK(batch->images.size() == 16 * 28 * 28);
    for (std::size_t slot = 0; slot < batch->size; ++slot) {
      const auto original = dataset.image(batch->indices[slot]);
      const float* output = batch->images.data() + slot * 28 * 28;
      // Find which shift / flip produced this output; exactly one must match.
      int matches = 0;
      for (long shift_y = -long(padding); shift_y <= long(padding); ++shift_y)
        for (long shift_x = -long(padding); shift_x <= long(padding); ++shift_x)
          for (const bool flip : {false, true}) {
            bool equal = true;
            for (long y = 0; y < 28 && equal; ++y)
              for (long x = 0; x < 28 && equal; ++x) {
                const long source_y = y + shift_y, source_x = x + shift_x;
                const bool inside = source_y >= 0 && source_y < 28 && source_x >= 0 && source_x < 28;
                const float expected = normalize(inside ? original[std::size_t(source_y * 28 + source_x)] : 0);
                equal = output[y * 28 + (flip ? 27 - x : x)] == expected;
              }
            if (equal) {
              ++matches;
              transforms_seen.insert({shift_y, shift_x, flip});
            }
          }
      CHECK(matches == 1);
    }
  }
  CHECK(any_differs_from_other_seed);
  // 64 samples over 162 possible transforms: the randomness is really used, both flips occur.
  CHECK(transforms_seen.size() > 30);
  CHECK(std::any_of(transforms_seen.begin(), transforms_seen.end(), [](auto& t) { return std::get<2>(t); }));
  CHECK(std::any_of(transforms_seen.begin(), transforms_seen.end(), [](auto& t) { return !std::get<2>(t); }));
}

TEST_CASE("BatchLoader: augmentation of multi-channel, non-square images") {
  const Dataset dataset = indexed_dataset(8, 3, 5, 7);
  const Normalization normalize;
  BatchLoader loader(dataset, 8, false, 3, Augmentation::crop_and_flip(2));
  const auto batch = loader.next();
  REQUIRE(batch);
  CHECK(batch->shape() == std::array<std::size_t, 4>{8, 3, 5, 7});
  const float background = normalize(0);
  for (std::size_t slot = 0; slot < 8; ++slot) {
    // All three channels get the same crop: background pixels sit at the same places.
    const float* sample = batch->images.data() + slot * 3 * 35;
    for (std::size_t i = 0; i < 35; ++i) {
      CHECK((sample[i] == background) == (sample[35 + i] == background));
      CHECK((sample[i] == background) == (sample[70 + i] == background));
    }
  }
  const Dataset flat = indexed_dataset(4);
  BatchLoader flip_only(flat, 4, false, 11, Augmentation{false, 4, true});
  const auto flipped = flip_only.next();
  REQUIRE(flipped);
  for (std::size_t slot = 0; slot < 4; ++slot) {
    const float* output = flipped->images.data() + slot * 784;
    const bool mirrored = output[0] == normalize(flat.image(slot)[27]);
    const bool unchanged = output[0] == normalize(flat.image(slot)[0]);
    CHECK(mirrored != unchanged);
    CHECK(output[0] != normalize(0));   // no crop: no padding appears
  }
}

TEST_CASE("BatchLoader: state() / set_state() resume exactly") {
  const Dataset dataset = indexed_dataset(50);
  const auto augmentation = Augmentation::crop_and_flip();

  BatchLoader original(dataset, 8, true, 2024, augmentation);
  original.begin_epoch();
  for (int i = 0; i < 3; ++i) REQUIRE(original.next());
  const std::string saved = original.state();

  // What the original produces from here on: the rest of this epoch and all of the next.
  std::vector<BatchCopy> expected;
  while (auto batch = original.next()) expected.push_back(copy_of(*batch));
  original.begin_epoch();
  while (auto batch = original.next()) expected.push_back(copy_of(*batch));

  BatchLoader resumed(dataset, 8, true, 999, augmentation);   // a different seed is overwritten
  resumed.next();                                              // and so is any progress
  resumed.set_state(saved);
  CHECK(resumed.epoch() == 1);
  std::vector<BatchCopy> produced;
  while (auto batch = resumed.next()) produced.push_back(copy_of(*batch));
  resumed.begin_epoch();
  while (auto batch = resumed.next()) produced.push_back(copy_of(*batch));
  REQUIRE(produced.size() == expected.size());
  CHECK(produced == expected);
  CHECK(resumed.state() == original.state());

  // A state saved before any epoch replays from the seed.
  BatchLoader fresh(dataset, 8, true, 5, augmentation);
  const std::string initial = fresh.state();
  const auto first = copy_of(*fresh.next());
  BatchLoader restored(dataset, 8, true, 6, augmentation);
  restored.set_state(initial);
  CHECK(copy_of(*restored.next()) == first);

  // A state saved at the end of an epoch continues with the next epoch.
  BatchLoader finished(dataset, 8, true, 5, augmentation);
  while (finished.next()) {}
  const std::string at_end = finished.state();
  finished.begin_epoch();
  const auto next_epoch_first = copy_of(*finished.next());
  BatchLoader continued(dataset, 8, true, 0, augmentation);
  continued.set_state(at_end);
  CHECK_FALSE(continued.next().has_value());
  continued.begin_epoch();
  CHECK(copy_of(*continued.next()) == next_epoch_first);
}

TEST_CASE("BatchLoader: invalid states and settings are refused") {
  const Dataset dataset = indexed_dataset(50);
  BatchLoader loader(dataset, 8, true, 1);
  loader.next();
  const std::string good_state = loader.state();
  const auto following = copy_of(*BatchLoader(loader).next());

  CHECK_CTNN_ERROR(loader.set_state("not a state"), "BatchLoader", "malformed state string");
  CHECK_CTNN_ERROR(loader.set_state(good_state.substr(0, good_state.size() / 2)), "BatchLoader",
                   "malformed state string");
  CHECK_CTNN_ERROR(loader.set_state(good_state + " 17"), "BatchLoader", "malformed state string");
  BatchLoader other_batch_size(dataset, 10, true, 1);
  CHECK_CTNN_ERROR(other_batch_size.set_state(good_state), "BatchLoader", "state was saved by a loader configured as");
  const Dataset smaller = indexed_dataset(40);
  BatchLoader other_dataset(smaller, 8, true, 1);
  CHECK_CTNN_ERROR(other_dataset.set_state(good_state), "BatchLoader", "samples=50");
  // A refused state leaves the loader untouched.
  CHECK(copy_of(*loader.next()) == following);

  CHECK_CTNN_ERROR(BatchLoader(dataset, 0, true, 1), "BatchLoader", "batch size must be positive");
  CHECK_CTNN_ERROR(BatchLoader(dataset, 8, true, 1, Augmentation::crop_and_flip(29)), "BatchLoader",
                   "crop padding 29 exceeds the image size 28x28");
  Dataset inconsistent = indexed_dataset(5);
  inconsistent.labels.pop_back();
  CHECK_CTNN_ERROR(BatchLoader(inconsistent, 2, true, 1), "BatchLoader",
                   "dataset of 5 samples holds 3920 pixels and 4 labels");
}
