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
//   bias     f32; the output f32 in the device layout: s32 accumulator * input scale * weight
//            scale + bias, then the fused ReLU
//
// Activations between layers stay f32, and every other layer (pooling, batch norm, Concat, ...)
// runs as in f32: each Conv and Linear quantises its input into a staging buffer with a scaled
// reorder. Where the processor lacks int8 dot products (AVX512-VNNI, AVX-VNNI, AMX), oneDNN still
// computes int8, more slowly and with 7-bit weights.

#include <algorithm>   // std::max, std::min
#include <cmath>       // std::abs
#include <cstddef>     // std::size_t
#include <limits>      // std::numeric_limits
#include <span>        // std::span

#include <dnnl.hpp>   // dnnl::memory::data_type

namespace ctnn::onednn {

// The range of one layer's input over the calibration images.
struct InputRange {
  float lo = std::numeric_limits<float>::max();
  float hi = std::numeric_limits<float>::lowest();
  std::size_t image_elements = 0;  // the input's size per image: a check that the plan matches

  void observe(std::span<const float> values) {
    for (const float v : values) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  bool seen() const { return lo <= hi; }
};

// How a layer's quantised input stands for its values: value = scale * q.
struct InputQuantisation {
  float scale = 1;
  dnnl::memory::data_type type = dnnl::memory::data_type::s8;

  static InputQuantisation of(const InputRange& r) {
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

}  // namespace ctnn::onednn
