#pragma once
// int8 inference on the oneDNN device by post-training quantisation.
//
//   model.calibrate(images);                             // f32 forward passes over the images
//   model.set_precision(ctnn::onednn::Precision::int8);  // throws until calibrated
//
// What is quantised: the input and the weights of every Conv (fused ReLU, grouped and depthwise
// included) and Linear. A value is scale * q:
//
//   input    one scale per layer from calibration, which records the range of the layer's input
//            over the calibration images (max |x|: no calibration value is clipped); u8 (q in
//            0..255, scale = max / 255) where calibration never saw a negative input (after a
//            ReLU), s8 (q in -127..127, scale = max |x| / 127) otherwise
//   weights  s8, one scale per output channel: max |w[o, ...]| / 127, computed whenever the f32
//            parameters are packed (again after they change: Context::parameter_version); / 63
//            where the processor lacks int8 dot products (has_int8_dot_product): there oneDNN
//            sums pairs of u8 x s8 products in 16 bits, and 255 * 127 * 2 > 32767 saturates
//   bias     f32; s32 accumulator * input scale * weight scale + bias, then the fused activation
//
// Hand-offs in u8. A Conv whose fused activation leaves no negative value (ReLU, ReLU6; a batch
// norm between them folded into the Conv: conv.hpp) writes its output as u8, scaled by the range
// calibration saw there, and the layers after it read those bytes as they are: a Conv or Linear
// as its quantised input, a max pooling as u8 (the scale unchanged: max commutes with it), a
// Concat copying u8 branches into one u8 tensor (each branch written with the scale of the
// Concat's calibrated output), a Sum + ReLU ending a ResNet block adding its identity shortcut
// from u8 and writing u8 itself (residual_relu.hpp). So GoogLeNet's Inceptions run from Conv to
// Conv in bytes, with no quantising pass between them, and ResNet's blocks hand bytes from block
// to block. Every other reader (batch norm, average pooling, the Eigen fallback, a copy, the
// recorded layer, ...) takes f32: it makes the producer write f32 instead, found while planning
// (QuantisedHandOffs below).
// Elsewhere activations stay f32 and a quantised layer quantises its input into staging with a
// scaled reorder. Where the processor lacks int8 dot products (AVX512-VNNI, AVX-VNNI, AMX),
// oneDNN still computes int8, more slowly and with 7-bit weights.

#include <algorithm>   // std::max, std::min
#include <cmath>       // std::abs
#include <cstddef>     // std::size_t
#include <limits>      // std::numeric_limits
#include <optional>    // std::optional
#include <set>         // std::set
#include <span>        // std::span
#include <vector>      // std::vector

#include <dnnl.hpp>   // dnnl::memory::data_type

namespace ctnn::onednn {

// The range of the values one tensor held over the calibration images (a layer's input or output).
struct ValueRange {
  float lo = std::numeric_limits<float>::max();
  float hi = std::numeric_limits<float>::lowest();
  std::size_t image_elements = 0;  // the tensor's size per image: a check that the plan matches

  void observe(std::span<const float> values) {
    for (const float v : values) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  bool seen() const { return lo <= hi; }
};

// How a quantised tensor stands for its values: value = scale * q.
struct Quantisation {
  float scale = 1;
  dnnl::memory::data_type type = dnnl::memory::data_type::s8;

  static Quantisation of(const ValueRange& r) {
    const bool non_negative = r.lo >= 0;
    const float largest = non_negative ? r.hi : std::max(std::abs(r.lo), std::abs(r.hi));
    const float codes = non_negative ? 255.f : 127.f;
    return {largest > 0 ? largest / codes : 1.f,
            non_negative ? dnnl::memory::data_type::u8 : dnnl::memory::data_type::s8};
  }
};

// Per-output-channel weight scales: `weights` holds scales.size() channels one after another
// (OIHW, goihw, [out, in]); scale[o] = max |w[o, ...]| / largest_code (1 for an all-zero channel).
inline void weight_scales(std::span<const float> weights, std::span<float> scales, float largest_code) {
  const std::size_t per_channel = weights.size() / scales.size();
  for (std::size_t o = 0; o < scales.size(); ++o) {
    float largest = 0;
    for (const float w : weights.subspan(o * per_channel, per_channel)) largest = std::max(largest, std::abs(w));
    scales[o] = largest > 0 ? largest / largest_code : 1.f;
  }
}

// Which activation buffers hold u8 while an int8 pass is planned. The plan is made by running the
// network once (Context::planning); each layer states here what it writes and what it reads:
//
//   a u8 producer (Conv + ReLU, max pooling of u8, Concat of u8 branches, Sum + ReLU) takes an
//       id, in the order planning meets it, and records its output buffer with its scale
//       (wrote_quantised);
//   any other writer forgets what the buffer held (wrote_floats);
//   a reader that takes f32 (reads_floats) finds a u8 buffer's producer and marks it to write
//       f32, and the network is planned again (replan), until no reader finds u8 it cannot read.
//
// Ids and buffers are the same in every planning of one batch and mode, so the marks hold from
// one planning to the next (a producer that writes f32 only ever makes fewer u8 buffers).
class QuantisedHandOffs {
 public:
  struct Entry {
    const void* data = nullptr;
    Quantisation quantisation;
    std::size_t producer = 0;
  };

  // Before a new plan (a batch, mode or calibration the marks were not made for).
  void reset() {
    float_producers_.clear();
    begin_planning();
  }
  // Before each planning of the same plan.
  void begin_planning() {
    entries_.clear();
    requests_.clear();
    next_producer_ = 0;
    replan_ = false;
  }
  std::size_t new_producer() { return next_producer_++; }
  std::size_t producers() const { return next_producer_; }
  bool may_quantise(std::size_t producer) const { return !float_producers_.contains(producer); }
  void write_floats_from(std::size_t producer) {
    if (float_producers_.insert(producer).second) replan_ = true;
  }
  bool replan() const { return replan_; }
  std::size_t float_producers() const { return float_producers_.size(); }

  std::optional<Entry> find(const void* data) const {
    for (const Entry& e : entries_)
      if (e.data == data) return e;
    return std::nullopt;
  }
  void wrote_quantised(const void* data, Quantisation q, std::size_t producer) {
    wrote_floats(data);
    entries_.push_back({data, q, producer});
  }
  void wrote_floats(const void* data) { std::erase_if(entries_, [&](const Entry& e) { return e.data == data; }); }
  void reads_floats(const void* data) {
    if (const auto e = find(data)) write_floats_from(e->producer);
  }

  // A Concat asks the branch that writes `data` to write it with `q` (its own output's).
  void request(const void* data, Quantisation q) { requests_.push_back({data, q, 0}); }
  void drop_request(const void* data) { std::erase_if(requests_, [&](const Entry& e) { return e.data == data; }); }
  std::optional<Quantisation> requested(const void* data) const {
    for (const Entry& e : requests_)
      if (e.data == data) return e.quantisation;
    return std::nullopt;
  }
  // The u8 quantisation a producer writes `data` with: the one a Concat asks of it, or else by
  // ranges[k], what calibration saw there (none where it did not see it for `image_elements`
  // values an image, or saw a negative value: the producer writes f32).
  std::optional<Quantisation> output_quantisation(const void* data, const std::vector<ValueRange>& ranges,
                                                  std::size_t k, std::size_t image_elements) const {
    if (const auto q = requested(data)) return q;
    if (k >= ranges.size()) return std::nullopt;
    const ValueRange& range = ranges[k];
    if (!range.seen() || range.image_elements != image_elements || range.lo < 0) return std::nullopt;
    return Quantisation::of(range);
  }

 private:
  std::vector<Entry> entries_, requests_;
  std::set<std::size_t> float_producers_;
  std::size_t next_producer_ = 0;
  bool replan_ = false;
};

}  // namespace ctnn::onednn
