#pragma once
// BatchLoader: turns a Dataset into normalised float batches (N x C x H x W) in a shuffled,
// seed-determined order, optionally augmented with random crops and horizontal flips.
//
// All randomness (the shuffle and the augmentation) comes from one std::mt19937_64 seeded by the
// caller, and state() / set_state() capture it together with the position in the epoch, so a
// training run can be stopped and resumed with bit-identical batches.
//
// Typical use:
//   BatchLoader loader(train, 128, /*shuffle=*/true, seed, Augmentation::crop_and_flip());
//   for (int epoch = 0; epoch < epochs; ++epoch) {
//     loader.begin_epoch();
//     while (auto batch = loader.next()) train_step(batch->images, batch->labels);
//   }

#include <algorithm>   // std::min, std::fill_n
#include <array>       // std::array
#include <cstddef>     // std::size_t, std::ptrdiff_t
#include <cstdint>     // std::uint8_t, std::uint64_t, std::int32_t
#include <numeric>     // std::iota
#include <optional>    // std::optional
#include <random>      // std::mt19937_64 and its operator<< / >>
#include <span>        // std::span
#include <sstream>     // std::ostringstream, std::istringstream, std::ws
#include <string>      // std::string, std::to_string
#include <vector>      // std::vector

#include "ctnn/data/fashion_mnist.hpp"     // Dataset
#include "ctnn/data/shuffle.hpp"           // uniform_below, arrange_order
#include "ctnn/distributed/sampler.hpp"    // sampler_total_size, check_rank (data parallelism)
#include "ctnn/error.hpp"                  // ctnn::Error

namespace ctnn::data {

// Fashion-MNIST training-set pixel statistics, after scaling pixels to [0, 1].
inline constexpr float fashion_mnist_mean = 0.2860f;
inline constexpr float fashion_mnist_std = 0.3530f;

// Maps a pixel byte p to (p / 255 - mean) / standard_deviation.
struct Normalization {
  float mean = fashion_mnist_mean;
  float standard_deviation = fashion_mnist_std;

  float operator()(std::uint8_t pixel) const {
    return (static_cast<float>(pixel) / 255.0f - mean) / standard_deviation;
  }
};

// Random training-time distortions, applied per sample.
struct Augmentation {
  bool random_crop = false;          // pad every side by crop_padding, then cut a random HxW window
  std::size_t crop_padding = 4;      // padded pixels hold the normalised value of a 0 (background) pixel
  bool horizontal_flip = false;      // mirror left-right with probability 0.5

  static constexpr Augmentation none() { return {}; }
  static constexpr Augmentation crop_and_flip(std::size_t padding = 4) { return {true, padding, true}; }
};

// One batch. images / labels point into the loader's buffer (next()) or the caller's
// (next_into()) and stay valid until the next call that fills that buffer; indices point into the
// loader's epoch order and stay valid until begin_epoch() or set_state() (a sharded loader's until
// the next batch).
struct Batch {
  std::span<const float> images;          // size x channels x height x width floats, NCHW
  std::span<const std::int32_t> labels;   // size labels
  std::span<const std::size_t> indices;   // the dataset index of each sample
  std::size_t size = 0;
  std::size_t channels = 0, height = 0, width = 0;

  std::array<std::size_t, 4> shape() const { return {size, channels, height, width}; }
};

class BatchLoader {
 public:
  // Keeps a reference to `dataset`, which must outlive the loader. Nothing random happens here;
  // the first epoch is shuffled by begin_epoch() or, if that is never called, by the first next().
  BatchLoader(const Dataset& dataset, std::size_t batch_size, bool shuffle, std::uint64_t seed,
              Augmentation augmentation = Augmentation::none(), bool drop_last = false,
              Normalization normalization = {})
      : dataset_(&dataset),
        batch_size_(batch_size),
        shuffle_(shuffle),
        drop_last_(drop_last),
        augmentation_(augmentation),
        engine_(seed),
        epoch_start_engine_(seed) {
    if (batch_size == 0) throw Error("BatchLoader", "batch size must be positive");
    if (dataset.image_size() == 0) throw Error("BatchLoader", "dataset images have no pixels");
    // Padding beyond the image size would only crop background (and a huge one overflows).
    const std::size_t padding = augmentation.crop_padding;
    if (augmentation.random_crop && (padding > dataset.height || padding > dataset.width)) {
      throw Error("BatchLoader", "crop padding " + std::to_string(padding) + " exceeds the image size " +
                                     std::to_string(dataset.height) + "x" + std::to_string(dataset.width));
    }
    if (dataset.images.size() != dataset.count * dataset.image_size() || dataset.labels.size() != dataset.count) {
      throw Error("BatchLoader", "dataset of " + std::to_string(dataset.count) + " samples holds " +
                                     std::to_string(dataset.images.size()) + " pixels and " +
                                     std::to_string(dataset.labels.size()) + " labels");
    }
    for (int pixel = 0; pixel < 256; ++pixel) {
      normalized_pixel_[static_cast<std::size_t>(pixel)] = normalization(static_cast<std::uint8_t>(pixel));
    }
    order_.resize(dataset.count);
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    // Sized once: batches are written in place, never reallocating.
    image_buffer_.resize(batch_size * sample_size());
    label_buffer_.resize(batch_size);
  }
  // A temporary dataset would dangle.
  BatchLoader(Dataset&&, std::size_t, bool, std::uint64_t, Augmentation = {}, bool = false,
              Normalization = {}) = delete;

  std::size_t batch_size() const { return batch_size_; }
  // Floats per sample: channels * height * width.
  std::size_t sample_size() const { return dataset_->image_size(); }
  std::size_t batches_per_epoch() const {
    return drop_last_ ? epoch_length() / batch_size_ : (epoch_length() + batch_size_ - 1) / batch_size_;
  }
  // How many epochs have begun: 0 before the first, 1 during the first.
  std::size_t epoch() const { return epoch_; }

  // ---- data parallelism: this process's share of every batch ----------------------------------
  // From now on batches are process `rank`'s share of the batches of batch_size() samples a
  // single process would get from the same seed: the rows at positions rank, rank + world, ...
  // of each, batch_size() / world of them (DistributedSampler's strided share, see
  // ctnn/distributed/sampler.hpp). Every process draws the augmentation of every row in order
  // and writes only its own, so the union over the processes is the single process's batch,
  // augmented alike, and state() stays the single process's: a run resumes with any number of
  // processes. Without drop_last the epoch is padded by repeating its start until its length is
  // a multiple of `world` (pad = true, every process gets as many samples), or not (pad = false:
  // evaluation, where each sample must count once; a process may then get fewer rows, or none,
  // in the last batch). batch_size() must be a multiple of world.
  void shard(std::size_t rank, std::size_t world, bool pad = true) {
    distributed::check_rank("BatchLoader::shard", rank, world);
    if (batch_size_ % world != 0)
      throw Error("BatchLoader", "the batch of " + std::to_string(batch_size_) + " samples does not split evenly over " +
                                     std::to_string(world) + " processes (each takes batch / processes samples)");
    shard_rank_ = rank, shard_world_ = world, shard_pad_ = pad;
    shard_indices_.resize(batch_size_ / world);
  }
  std::size_t shard_rank() const { return shard_rank_; }
  std::size_t shard_world() const { return shard_world_; }

  // Starts the next epoch: reshuffles (when shuffling) with the generator and rewinds.
  void begin_epoch() {
    epoch_start_engine_ = engine_;
    arrange_epoch_order();
    cursor_ = 0;
    ++epoch_;
  }

  // The next batch in the loader's own buffer, or nullopt once the epoch is used up (including a
  // smaller last batch when drop_last is set).
  std::optional<Batch> next() { return next_into(image_buffer_, label_buffer_); }

  // Like next(), but writes into the caller's buffers, which must hold a full batch:
  // batch_size() * sample_size() floats and batch_size() labels.
  std::optional<Batch> next_into(std::span<float> images, std::span<std::int32_t> labels) {
    if (images.size() < batch_size_ * sample_size() || labels.size() < batch_size_) {
      throw Error("BatchLoader", "buffers of " + std::to_string(images.size()) + " floats and " +
                                     std::to_string(labels.size()) + " labels cannot hold a batch of " +
                                     std::to_string(batch_size_) + " samples of " +
                                     std::to_string(sample_size()) + " floats");
    }
    if (epoch_ == 0) begin_epoch();
    const std::size_t remaining = epoch_length() - cursor_;
    const std::size_t size = std::min(batch_size_, remaining);
    if (size == 0 || (drop_last_ && size < batch_size_)) return std::nullopt;

    std::size_t kept = 0;  // rows of this process (all of them unless sharded)
    for (std::size_t slot = 0; slot < size; ++slot) {
      const std::size_t index = order_[(cursor_ + slot) % dataset_->count];  // past the end: padding
      const Transform transform = draw_transform();
      if (slot % shard_world_ != shard_rank_) continue;
      write_sample(index, transform, images.data() + kept * sample_size());
      labels[kept] = static_cast<std::int32_t>(dataset_->labels[index]);
      if (shard_world_ > 1) shard_indices_[kept] = index;
      ++kept;
    }
    Batch batch;
    batch.images = images.first(kept * sample_size());
    batch.labels = labels.first(kept);
    batch.indices = shard_world_ > 1 ? std::span<const std::size_t>(shard_indices_).first(kept)
                                     : std::span<const std::size_t>(order_).subspan(cursor_, size);
    batch.size = kept;
    batch.channels = dataset_->channels;
    batch.height = dataset_->height;
    batch.width = dataset_->width;
    cursor_ += size;
    if (kept == 0) return std::nullopt;  // an unpadded shard's last batch had no row for this process
    return batch;
  }

  // Everything needed to continue exactly from here, as text: the configuration (checked on
  // restore), the epoch, the position in it, and the generator state at the start of the epoch
  // (to rebuild its order) and now.
  std::string state() const {
    std::ostringstream text;
    text << state_tag << ' ' << configuration() << ' ' << epoch_ << ' ' << cursor_ << '\n'
         << epoch_start_engine_ << '\n'
         << engine_ << '\n';
    return text.str();
  }

  // Restores a state() from a loader with the same dataset size and settings. Throws ctnn::Error
  // and changes nothing if the text is malformed or from a differently configured loader.
  void set_state(const std::string& saved) {
    std::istringstream text(saved);
    std::string tag;
    std::string saved_configuration;
    std::size_t saved_epoch = 0;
    std::size_t saved_cursor = 0;
    std::mt19937_64 saved_epoch_start_engine;
    std::mt19937_64 saved_engine;
    text >> tag >> saved_configuration >> saved_epoch >> saved_cursor >> saved_epoch_start_engine >> saved_engine;
    if (!text || tag != state_tag) throw Error("BatchLoader", "malformed state string");
    text >> std::ws;
    if (!text.eof()) throw Error("BatchLoader", "malformed state string: unexpected text at the end");
    if (saved_configuration != configuration()) {
      throw Error("BatchLoader", "state was saved by a loader configured as " + saved_configuration +
                                     ", this one is " + configuration());
    }
    if (saved_cursor > epoch_length() || (saved_epoch == 0 && saved_cursor != 0)) {
      throw Error("BatchLoader", "malformed state string: position " + std::to_string(saved_cursor) +
                                     " in epoch " + std::to_string(saved_epoch));
    }
    epoch_start_engine_ = saved_epoch_start_engine;
    if (saved_epoch == 0) {
      std::iota(order_.begin(), order_.end(), std::size_t{0});
    } else {
      // Replays the epoch's shuffle from the generator state it started with.
      engine_ = saved_epoch_start_engine;
      arrange_epoch_order();
    }
    engine_ = saved_engine;
    epoch_ = saved_epoch;
    cursor_ = saved_cursor;
  }

 private:
  static constexpr const char* state_tag = "ctnn.BatchLoader.v1";

  // The settings a saved state depends on, as one whitespace-free word.
  std::string configuration() const {
    return "samples=" + std::to_string(dataset_->count) + ",batch=" + std::to_string(batch_size_) +
           ",shuffle=" + std::to_string(shuffle_) + ",drop_last=" + std::to_string(drop_last_) +
           ",crop=" + std::to_string(augmentation_.random_crop) + ",padding=" +
           std::to_string(augmentation_.crop_padding) + ",flip=" + std::to_string(augmentation_.horizontal_flip);
  }

  // The epoch's order from the generator state at its start (which lets set_state() rebuild it).
  void arrange_epoch_order() { arrange_order(order_, shuffle_, engine_); }

  // Positions in an epoch: the data set, or (sharded, padded, without drop_last) the data set
  // followed by its start up to a multiple of the process count.
  std::size_t epoch_length() const {
    return shard_world_ > 1 && shard_pad_ && !drop_last_
               ? distributed::sampler_total_size(dataset_->count, shard_world_, false)
               : dataset_->count;
  }

  // A sample's random distortion: its content moves by (shift_y, shift_x), then maybe flips.
  struct Transform {
    std::ptrdiff_t shift_y = 0, shift_x = 0;
    bool flip = false;
  };
  Transform draw_transform() {
    // Cropping a window at offset o from the image padded by P moves content by o - P.
    Transform t;
    if (augmentation_.random_crop) {
      const std::uint64_t positions = 2 * augmentation_.crop_padding + 1;
      const auto padding = static_cast<std::ptrdiff_t>(augmentation_.crop_padding);
      t.shift_y = static_cast<std::ptrdiff_t>(uniform_below(engine_, positions)) - padding;
      t.shift_x = static_cast<std::ptrdiff_t>(uniform_below(engine_, positions)) - padding;
    }
    if (augmentation_.horizontal_flip) t.flip = (engine_() >> 63) != 0;
    return t;
  }

  // Normalises sample `index` into `output` (channels x height x width floats), cropped and
  // flipped as `transform` says.
  void write_sample(std::size_t index, const Transform& transform, float* output) {
    const std::uint8_t* pixels = dataset_->images.data() + index * sample_size();
    const auto height = static_cast<std::ptrdiff_t>(dataset_->height);
    const auto width = static_cast<std::ptrdiff_t>(dataset_->width);
    const std::size_t plane_size = dataset_->height * dataset_->width;

    const auto [shift_y, shift_x, flip] = transform;
    if (shift_y == 0 && shift_x == 0 && !flip) {
      for (std::size_t i = 0; i < sample_size(); ++i) output[i] = normalized_pixel_[pixels[i]];
      return;
    }
    const float background = normalized_pixel_[0];
    for (std::size_t channel = 0; channel < dataset_->channels; ++channel) {
      const std::uint8_t* source_plane = pixels + channel * plane_size;
      float* output_plane = output + channel * plane_size;
      for (std::ptrdiff_t y = 0; y < height; ++y) {
        float* output_row = output_plane + y * width;
        const std::ptrdiff_t source_y = y + shift_y;
        if (source_y < 0 || source_y >= height) {
          std::fill_n(output_row, width, background);
          continue;
        }
        const std::uint8_t* source_row = source_plane + source_y * width;
        for (std::ptrdiff_t x = 0; x < width; ++x) {
          const std::ptrdiff_t source_x = x + shift_x;
          const float value =
              (source_x < 0 || source_x >= width) ? background : normalized_pixel_[source_row[source_x]];
          output_row[flip ? width - 1 - x : x] = value;
        }
      }
    }
  }

  const Dataset* dataset_;
  std::size_t batch_size_;
  bool shuffle_;
  bool drop_last_;
  Augmentation augmentation_;
  std::array<float, 256> normalized_pixel_{};   // lookup table: byte -> normalised float
  std::mt19937_64 engine_;
  std::mt19937_64 epoch_start_engine_;           // engine_ as it was when the current epoch began
  std::vector<std::size_t> order_;               // dataset indices in this epoch's order
  std::size_t epoch_ = 0;
  std::size_t cursor_ = 0;                       // samples of this epoch already handed out
  std::vector<float> image_buffer_;
  std::vector<std::int32_t> label_buffer_;
  // Data parallelism (shard()): this process's rank among shard_world_, and its rows' indices.
  std::size_t shard_rank_ = 0, shard_world_ = 1;
  bool shard_pad_ = true;
  std::vector<std::size_t> shard_indices_;
};

}  // namespace ctnn::data
