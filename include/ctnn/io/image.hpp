#pragma once
// ctnn::image: load JPEG/PNG files and turn them into the float tensors ctnn's example classifiers
// expect, reproducing the PIL + torchvision evaluation transforms the models were trained with:
//
//   imagenet_preprocess  = Image.open(p).convert("RGB") -> Resize(256) -> CenterCrop(224)
//                          -> ToTensor() -> Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
//   grayscale_preprocess = Image.open(p).convert("L") -> Resize((28, 28)) -> ToTensor()
//                          -> Normalize([0.2860], [0.3530])                          (Fashion-MNIST)
//
// Every step reproduces PIL's integer arithmetic, so the tensors equal torchvision's (measured: 0.0
// difference on the test images, tests/test_image.cpp):
//   * decoding: stb_image parses PNG and JPEG; PNG is lossless, and for JPEG the inverse DCT, chroma
//     upsampling and YCbCr -> RGB conversion are redone the way libjpeg-turbo (PIL's decoder) does
//     them (stb's own differ by up to 3 levels at colour edges);
//   * resizing: Pillow's bilinear ImagingResample (Resample.c), with its antialiasing (the filter
//     widens with the downscale factor), 22-bit fixed-point weights and the uint8 rounding between
//     the horizontal and the vertical pass;
//   * colour conversions: Pillow's Image.convert formulas.
//
// Decoding failures are ctnn::Error with the file path as subject, e.g.
//   ctnn: photos/cat.jpg: truncated JPEG: the data ends before the end-of-image marker (FF D9)

#include <algorithm>    // std::max, std::min, std::clamp, std::fill
#include <array>        // std::array: normalisation constants, per-channel accumulators
#include <cmath>        // std::ceil: filter tap count
#include <cstddef>      // std::size_t, std::ptrdiff_t
#include <cstdint>      // std::uint8_t, std::int32_t, std::int64_t
#include <filesystem>   // std::filesystem::path, std::filesystem::status
#include <fstream>      // std::ifstream: reading the file into memory
#include <limits>       // std::numeric_limits: stb takes the byte count as int
#include <memory>       // std::unique_ptr: stb's pixel buffer, the JPEG decoder state
#include <optional>     // std::optional: JPEG layouts left to stb
#include <span>         // std::span: byte and constant views
#include <string>       // std::string, std::to_string: error messages
#include <system_error> // std::error_code: std::filesystem::status without throwing
#include <utility>      // std::move
#include <vector>       // std::vector: pixel and tensor storage

#include "ctnn/error.hpp"  // ctnn::Error

// ---------------------------------------------------------------------------------------------
// stb_image, compiled into this header as a private copy.
//
// STB_IMAGE_STATIC gives every stb function internal linkage, so any number of translation units can
// include this header without duplicate symbols, and the namespace keeps the names away from a copy
// of stb_image the application may use itself (before or after this header). stb's configuration
// macros are saved and restored around the include so such a copy sees exactly what it would have
// seen without us. The C headers stb includes are included first, at global scope, so that their
// include guards keep them out of the namespace.
#include <limits.h>    // stb: INT_MAX
#include <stdarg.h>    // stb: va_list (included by stb unconditionally)
#include <stddef.h>    // stb: ptrdiff_t
#include <stdint.h>    // stb: uint16_t, uint32_t
#include <stdlib.h>    // stb: malloc, realloc, free, abs
#include <string.h>    // stb: memcpy, memset
#include <cassert>     // assert: stb's STBI_ASSERT
#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>  // stb: SSE2 IDCT and colour conversion
#endif
#if defined(_MSC_VER)
#include <intrin.h>  // stb: __cpuid
#endif

#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Weverything"
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"  // static stb functions ctnn does not call
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wuseless-cast"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wzero-as-null-pointer-constant"
#pragma GCC diagnostic ignored "-Wduplicated-branches"
#pragma GCC diagnostic ignored "-Wpedantic"
#elif defined(_MSC_VER)
#pragma warning(push, 0)
#endif

#pragma push_macro("STBI_INCLUDE_STB_IMAGE_H")
#pragma push_macro("STB_IMAGE_IMPLEMENTATION")
#pragma push_macro("STB_IMAGE_STATIC")
#pragma push_macro("STBIDEF")
#pragma push_macro("STBI_ONLY_JPEG")
#pragma push_macro("STBI_ONLY_PNG")
#pragma push_macro("STBI_NO_JPEG")
#pragma push_macro("STBI_NO_PNG")
#pragma push_macro("STBI_NO_BMP")
#pragma push_macro("STBI_NO_PSD")
#pragma push_macro("STBI_NO_TGA")
#pragma push_macro("STBI_NO_GIF")
#pragma push_macro("STBI_NO_HDR")
#pragma push_macro("STBI_NO_PIC")
#pragma push_macro("STBI_NO_PNM")
#pragma push_macro("STBI_NO_ZLIB")
#pragma push_macro("STBI_NO_STDIO")
#pragma push_macro("STBI_NO_LINEAR")
#pragma push_macro("STBI_NEON")
#pragma push_macro("STBI_ASSERT")
#pragma push_macro("STBI_NO_FAILURE_STRINGS")
#pragma push_macro("STBI_FAILURE_USERMSG")
#pragma push_macro("STBI_MAX_DIMENSIONS")
#pragma push_macro("STBI_MALLOC")  // an application allocator, if defined, serves this copy too
#pragma push_macro("STBI_REALLOC")
#pragma push_macro("STBI_REALLOC_SIZED")
#pragma push_macro("STBI_FREE")
// Function-like and renaming macros of stb's implementation: an application copy of the
// implementation in the same translation unit, before or after this one, must not see ours.
#pragma push_macro("stbi__err")
#pragma push_macro("stbi__errpf")
#pragma push_macro("stbi__errpuc")
#pragma push_macro("stbi__vertically_flip_on_load")
#pragma push_macro("stbi__unpremultiply_on_load")
#pragma push_macro("stbi__de_iphone_flag")
#undef STBI_INCLUDE_STB_IMAGE_H  // an application copy may already have been included
#undef STBIDEF
#undef STBI_NO_JPEG
#undef STBI_NO_PNG
#undef STBI_NO_ZLIB
#undef STBI_NEON  // would include <arm_neon.h> inside the namespace
#undef STBI_NO_FAILURE_STRINGS  // ctnn reports stb's reasons ("bad huffman code", "bad zlib header", ...)
#undef STBI_FAILURE_USERMSG
#undef STBI_MAX_DIMENSIONS  // stb's default, 1 << 24 per side; ctnn adds its own pixel-count limit
#undef STBI_ASSERT
#undef stbi__err
#undef stbi__errpf
#undef stbi__errpuc
#undef stbi__vertically_flip_on_load
#undef stbi__unpremultiply_on_load
#undef stbi__de_iphone_flag
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_JPEG        // the two formats ctnn reads; the other decoders are not compiled
#define STBI_ONLY_PNG
#define STBI_NO_STDIO         // ctnn reads the file itself (std::filesystem paths, precise errors)
#define STBI_NO_LINEAR        // no float (HDR-style) loading
#define STBI_ASSERT(condition) assert(condition)

namespace ctnn::image::detail::stb {
#include <stb/stb_image.h>  // stbi_load_from_memory, stbi_failure_reason, the JPEG decoder (stbi__jpeg)
}  // namespace ctnn::image::detail::stb

#pragma pop_macro("stbi__de_iphone_flag")
#pragma pop_macro("stbi__unpremultiply_on_load")
#pragma pop_macro("stbi__vertically_flip_on_load")
#pragma pop_macro("stbi__errpuc")
#pragma pop_macro("stbi__errpf")
#pragma pop_macro("stbi__err")
#pragma pop_macro("STBI_FREE")
#pragma pop_macro("STBI_REALLOC_SIZED")
#pragma pop_macro("STBI_REALLOC")
#pragma pop_macro("STBI_MALLOC")
#pragma pop_macro("STBI_MAX_DIMENSIONS")
#pragma pop_macro("STBI_FAILURE_USERMSG")
#pragma pop_macro("STBI_NO_FAILURE_STRINGS")
#pragma pop_macro("STBI_ASSERT")
#pragma pop_macro("STBI_NEON")
#pragma pop_macro("STBI_NO_LINEAR")
#pragma pop_macro("STBI_NO_STDIO")
#pragma pop_macro("STBI_NO_ZLIB")
#pragma pop_macro("STBI_NO_PNM")
#pragma pop_macro("STBI_NO_PIC")
#pragma pop_macro("STBI_NO_HDR")
#pragma pop_macro("STBI_NO_GIF")
#pragma pop_macro("STBI_NO_TGA")
#pragma pop_macro("STBI_NO_PSD")
#pragma pop_macro("STBI_NO_BMP")
#pragma pop_macro("STBI_NO_PNG")
#pragma pop_macro("STBI_NO_JPEG")
#pragma pop_macro("STBI_ONLY_PNG")
#pragma pop_macro("STBI_ONLY_JPEG")
#pragma pop_macro("STBIDEF")
#pragma pop_macro("STB_IMAGE_STATIC")
#pragma pop_macro("STB_IMAGE_IMPLEMENTATION")
#pragma pop_macro("STBI_INCLUDE_STB_IMAGE_H")

#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#elif defined(_MSC_VER)
#pragma warning(pop)
#endif
// ---------------------------------------------------------------------------------------------

namespace ctnn::image {

// A decoded 8-bit image, rows top to bottom, channels interleaved per pixel (HWC):
// pixels[(y * width + x) * channels + c]. channels: 1 = grey, 2 = grey + alpha, 3 = RGB, 4 = RGBA.
struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<std::uint8_t> pixels;
};

// Image dimensions in pixels.
struct Size {
  int width = 0;
  int height = 0;
};

// Largest image (width * height) decoded or produced by a resize: 2^28 pixels = 768 MiB as RGB.
// Anything bigger in a header is corrupt or hostile (a "decompression bomb"), not a photo to classify.
inline constexpr std::int64_t max_pixels = std::int64_t{1} << 28;

// torchvision's ImageNet statistics, per RGB channel.
inline constexpr std::array<float, 3> imagenet_mean{0.485f, 0.456f, 0.406f};
inline constexpr std::array<float, 3> imagenet_std{0.229f, 0.224f, 0.225f};

namespace detail {

inline std::string stb_reason() {
  const char* reason = stb::stbi_failure_reason();
  return reason != nullptr ? reason : "unknown decoder error";
}

inline std::string dimensions_text(std::int64_t width, std::int64_t height) {
  return std::to_string(width) + " x " + std::to_string(height);
}

inline bool starts_with(std::span<const std::uint8_t> bytes, std::span<const std::uint8_t> prefix) {
  return bytes.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), bytes.begin());
}

inline constexpr std::array<std::uint8_t, 2> jpeg_signature{0xFF, 0xD8};  // SOI marker
inline constexpr std::array<std::uint8_t, 8> png_signature{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

// What ctnn checks in a file's container before decoding: whether it is complete and the pixel
// dimensions its header declares, so that truncated files, zero-size images and absurd dimensions
// are reported precisely (stb_image decodes a JPEG cut short without complaint, the missing blocks
// coming out grey, and reports most header problems as "unknown image type").
struct ContainerInfo {
  bool complete = false;     // the end marker (JPEG EOI) or chunk (PNG IEND) is present in full
  bool has_header = false;   // a JPEG frame header (SOFn) or PNG IHDR chunk was found
  bool valid_tables = true;  // JPEG: every Huffman table (DHT) is well-formed
  std::int64_t width = 0;
  std::int64_t height = 0;
};

// A 2- or 4-byte big-endian unsigned integer at bytes[pos]; the caller checks the bounds.
inline std::uint32_t read_big_endian(std::span<const std::uint8_t> bytes, std::size_t pos, std::size_t byte_count) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < byte_count; ++i) value = (value << 8) | bytes[pos + i];
  return value;
}

// Checks the Huffman tables of a DHT segment, bytes [begin, end): each is a class/id byte (class 0
// or 1, id 0 to 3), 16 code counts per length and then as many symbols, at most 256. stb_image 2.27
// checks neither the symbol total nor the segment length and writes past its 256-entry tables on
// such a file, so ctnn rejects it before stb parses it.
inline bool huffman_tables_are_valid(std::span<const std::uint8_t> bytes, std::size_t begin, std::size_t end) {
  std::size_t pos = begin;
  while (pos < end) {
    if (end - pos < 17) return false;
    const std::uint8_t table_class = bytes[pos] >> 4;
    const std::uint8_t table_id = bytes[pos] & 15;
    if (table_class > 1 || table_id > 3) return false;
    std::size_t symbol_count = 0;
    for (std::size_t length = 1; length <= 16; ++length) symbol_count += bytes[pos + length];
    if (symbol_count > 256 || end - pos - 17 < symbol_count) return false;
    pos += 17 + symbol_count;
  }
  return true;
}

// Walks the marker segments from SOI to the EOI marker (FF D9). Segment lengths are followed rather
// than searching for FF D9, because an EXIF thumbnail embedded in APP1 carries its own EOI, and data
// appended after the EOI (as some phone cameras do) is harmless.
inline ContainerInfo inspect_jpeg(std::span<const std::uint8_t> bytes) {
  ContainerInfo info;
  const std::size_t size = bytes.size();
  std::size_t pos = jpeg_signature.size();
  while (pos < size) {
    if (bytes[pos] != 0xFF) {  // stray byte between segments: skipped, as libjpeg does
      ++pos;
      continue;
    }
    while (pos < size && bytes[pos] == 0xFF) ++pos;  // 0xFF fill bytes may precede a marker code
    if (pos >= size) return info;
    const std::uint8_t code = bytes[pos++];
    if (code == 0xD9) {  // EOI
      info.complete = true;
      return info;
    }
    if (code == 0x00 || code == 0x01 || (code >= 0xD0 && code <= 0xD8)) continue;  // no length field
    if (pos + 2 > size) return info;
    const std::size_t segment_length = read_big_endian(bytes, pos, 2);  // counts its own two bytes
    if (segment_length < 2) return info;
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): precision (1 byte), height (2), width (2).
    const bool frame_header = code >= 0xC0 && code <= 0xCF && code != 0xC4 && code != 0xC8 && code != 0xCC;
    if (frame_header && !info.has_header && pos + 7 <= size) {
      info.has_header = true;
      info.height = read_big_endian(bytes, pos + 3, 2);
      info.width = read_big_endian(bytes, pos + 5, 2);
    }
    if (code == 0xC4 && !huffman_tables_are_valid(bytes, pos + 2, std::min(size, pos + segment_length))) {
      info.valid_tables = false;
    }
    pos += segment_length;
    if (code == 0xDA) {  // SOS: entropy-coded data runs to the next marker that is not FF 00 or RSTn
      while (pos + 1 < size &&
             !(bytes[pos] == 0xFF && bytes[pos + 1] != 0x00 && (bytes[pos + 1] < 0xD0 || bytes[pos + 1] > 0xD7))) {
        ++pos;
      }
      if (pos + 1 >= size) return info;
    }
  }
  return info;
}

// Walks the chunks after the signature (4-byte big-endian data length, 4-byte type, data, 4-byte
// CRC) to the IEND chunk. The first chunk, IHDR, starts with the width and height (4 bytes each).
inline ContainerInfo inspect_png(std::span<const std::uint8_t> bytes) {
  ContainerInfo info;
  const std::size_t size = bytes.size();
  std::size_t pos = png_signature.size();
  auto type_is = [&](const char* type) { return std::equal(type, type + 4, bytes.begin() + static_cast<std::ptrdiff_t>(pos + 4)); };
  while (pos + 12 <= size) {  // a chunk takes at least 12 bytes: length, type and CRC
    const std::size_t data_length = read_big_endian(bytes, pos, 4);
    if (data_length > size - pos - 12) return info;  // (written so that it cannot overflow)
    if (pos == png_signature.size() && type_is("IHDR") && data_length >= 8) {
      info.has_header = true;
      info.width = read_big_endian(bytes, pos + 8, 4);
      info.height = read_big_endian(bytes, pos + 12, 4);
    }
    if (type_is("IEND")) {
      info.complete = true;
      return info;
    }
    pos += 12 + data_length;
  }
  return info;
}

// Throws unless `image` is a well-formed Image; `subject` names the caller in the error.
inline void check_image(const Image& image, const char* subject) {
  if (image.width <= 0 || image.height <= 0) {
    throw Error(subject, "image has zero size (" + dimensions_text(image.width, image.height) + ")");
  }
  if (image.channels < 1 || image.channels > 4) {
    throw Error(subject, "image has " + std::to_string(image.channels) + " channels, expected 1 to 4");
  }
  const std::size_t expected = static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height) *
                               static_cast<std::size_t>(image.channels);
  if (image.pixels.size() != expected) {
    throw Error(subject, "image of " + dimensions_text(image.width, image.height) + " x " +
                             std::to_string(image.channels) + " channels holds " + std::to_string(image.pixels.size()) +
                             " bytes, expected " + std::to_string(expected));
  }
}

inline void check_target_size(std::int64_t width, std::int64_t height, const char* subject) {
  if (width <= 0 || height <= 0) {
    throw Error(subject, "target size must be positive, got " + dimensions_text(width, height));
  }
  if (width * height > max_pixels) {
    throw Error(subject, "target size " + dimensions_text(width, height) + " exceeds the limit of " +
                             std::to_string(max_pixels) + " pixels");
  }
}

// ---- Pillow's resampling (libImaging/Resample.c), bilinear filter -------------------------------

// Weights are fixed point with 22 fractional bits: 8 bits of pixel value + 22 + 2 spare bits for
// sign and overshoot fill a 32-bit accumulator (Pillow's PRECISION_BITS = 32 - 8 - 2).
inline constexpr int resample_precision_bits = 22;

// For each output position along one axis: the first input index it reads, how many it reads and
// their fixed-point weights (max_taps slots per output, unused slots zero).
struct ResampleTaps {
  int max_taps = 0;
  std::vector<int> first_input;
  std::vector<int> tap_count;
  std::vector<std::int32_t> weights;
};

inline double triangle_filter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for in0 = 0, in1 = input_size. The operation
// order is kept exactly, since a weight one ulp either side of a rounding boundary changes a pixel.
inline ResampleTaps bilinear_taps(int input_size, int output_size) {
  // Output pixel o covers input [o * scale, (o + 1) * scale); its centre maps to (o + 0.5) * scale.
  // E.g. 300 -> 256 columns: scale = 300 / 256 = 1.171875, so the triangle spans +-1.17 input pixels
  // and each output pixel blends 2 or 3 inputs; 240 -> 256: scale 0.9375, plain linear interpolation.
  const double scale = static_cast<double>(static_cast<float>(input_size)) / output_size;  // Pillow: float box
  // Downscaling by s stretches the triangle to half-width s, so every input pixel contributes (this
  // is PIL's antialiasing); upscaling keeps half-width 1, i.e. plain linear interpolation.
  const double filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;  // bilinear filter support 1.0, times the stretch
  const double inverse_filter_scale = 1.0 / filter_scale;

  ResampleTaps taps;
  taps.max_taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  taps.first_input.resize(static_cast<std::size_t>(output_size));
  taps.tap_count.resize(static_cast<std::size_t>(output_size));
  taps.weights.assign(static_cast<std::size_t>(output_size) * static_cast<std::size_t>(taps.max_taps), 0);
  std::vector<double> real_weights(static_cast<std::size_t>(taps.max_taps));

  for (int out = 0; out < output_size; ++out) {
    const double center = (out + 0.5) * scale;
    // (int)(v + 0.5): Pillow's rounding, truncating toward zero (negative values clamp to 0 anyway).
    const int first = std::max(static_cast<int>(center - support + 0.5), 0);
    const int end = std::min(static_cast<int>(center + support + 0.5), input_size);
    const int count = end - first;
    double weight_sum = 0.0;
    for (int tap = 0; tap < count; ++tap) {
      // Distance from the filter centre to input pixel (first + tap)'s centre, in filter units.
      const double weight = triangle_filter((static_cast<double>(tap + first) - center + 0.5) * inverse_filter_scale);
      real_weights[static_cast<std::size_t>(tap)] = weight;
      weight_sum += weight;
    }
    const std::size_t row = static_cast<std::size_t>(out) * static_cast<std::size_t>(taps.max_taps);
    for (int tap = 0; tap < count; ++tap) {
      double weight = real_weights[static_cast<std::size_t>(tap)];
      if (weight_sum != 0.0) weight /= weight_sum;  // weights sum to 1, also at the borders
      // Round to Q22 (triangle weights are never negative): (int)(0.5 + w * 2^22).
      taps.weights[row + static_cast<std::size_t>(tap)] =
          static_cast<std::int32_t>(0.5 + weight * (1 << resample_precision_bits));
    }
    taps.first_input[static_cast<std::size_t>(out)] = first;
    taps.tap_count[static_cast<std::size_t>(out)] = count;
  }
  return taps;
}

// Accumulators start at 2^21 (one half in Q22) so the shift rounds to nearest; results clamp to
// 0..255 (Pillow's clip8 lookup table).
inline constexpr std::int32_t resample_rounding = std::int32_t{1} << (resample_precision_bits - 1);

inline std::uint8_t clip_to_uint8(std::int32_t accumulator) {
  return static_cast<std::uint8_t>(std::clamp(accumulator >> resample_precision_bits, 0, 255));
}

// Horizontal pass over input rows [row_begin, row_end): output is new_width x (row_end - row_begin).
inline Image resample_horizontal(const Image& input, int row_begin, int row_end, const ResampleTaps& taps,
                                 int new_width) {
  const std::size_t channels = static_cast<std::size_t>(input.channels);
  Image output{new_width, row_end - row_begin, input.channels, {}};
  output.pixels.resize(static_cast<std::size_t>(output.width) * static_cast<std::size_t>(output.height) * channels);
  std::uint8_t* out = output.pixels.data();
  for (int y = row_begin; y < row_end; ++y) {
    const std::uint8_t* input_row =
        input.pixels.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(input.width) * channels;
    for (int x = 0; x < new_width; ++x) {
      const std::uint8_t* source = input_row + static_cast<std::size_t>(taps.first_input[static_cast<std::size_t>(x)]) * channels;
      const std::int32_t* weights = &taps.weights[static_cast<std::size_t>(x) * static_cast<std::size_t>(taps.max_taps)];
      const int count = taps.tap_count[static_cast<std::size_t>(x)];
      std::array<std::int32_t, 4> sums;
      sums.fill(resample_rounding);
      for (int tap = 0; tap < count; ++tap) {
        for (std::size_t c = 0; c < channels; ++c) sums[c] += std::int32_t{source[c]} * weights[tap];
        source += channels;
      }
      for (std::size_t c = 0; c < channels; ++c) *out++ = clip_to_uint8(sums[c]);
    }
  }
  return output;
}

// Vertical pass: output row y reads input rows taps.first_input[y] - row_offset onwards.
inline Image resample_vertical(const Image& input, int row_offset, const ResampleTaps& taps, int new_height) {
  const std::size_t channels = static_cast<std::size_t>(input.channels);
  const std::size_t row_bytes = static_cast<std::size_t>(input.width) * channels;
  Image output{input.width, new_height, input.channels, {}};
  output.pixels.resize(row_bytes * static_cast<std::size_t>(new_height));
  std::vector<std::int32_t> sums(row_bytes);
  for (int y = 0; y < new_height; ++y) {
    const std::size_t first_row = static_cast<std::size_t>(taps.first_input[static_cast<std::size_t>(y)] - row_offset);
    const std::int32_t* weights = &taps.weights[static_cast<std::size_t>(y) * static_cast<std::size_t>(taps.max_taps)];
    const int count = taps.tap_count[static_cast<std::size_t>(y)];
    std::fill(sums.begin(), sums.end(), resample_rounding);
    for (int tap = 0; tap < count; ++tap) {  // whole rows at a time: contiguous, vectorisable
      const std::uint8_t* source = input.pixels.data() + (first_row + static_cast<std::size_t>(tap)) * row_bytes;
      const std::int32_t weight = weights[tap];
      for (std::size_t i = 0; i < row_bytes; ++i) sums[i] += std::int32_t{source[i]} * weight;
    }
    std::uint8_t* out = output.pixels.data() + static_cast<std::size_t>(y) * row_bytes;
    for (std::size_t i = 0; i < row_bytes; ++i) out[i] = clip_to_uint8(sums[i]);
  }
  return output;
}

// torchvision CenterCrop offset along one axis: int(round((size - crop) / 2.0)) with Python's
// round-half-to-even; for a crop larger than the image, torchvision first pads (crop - size) // 2
// zeros before the image, which is a negative offset.
inline int center_crop_offset(int size, int crop) {
  if (crop > size) return -((crop - size) / 2);
  const int difference = size - crop;
  const int half = difference / 2;
  if (difference % 2 == 0) return half;
  return half % 2 == 0 ? half : half + 1;  // (difference / 2) ends in .5: ties go to the even integer
}

// ---- JPEG pixels as libjpeg-turbo computes them ----------------------------------------------------
//
// PIL decodes JPEG with libjpeg(-turbo). stb_image's own IDCT (12-bit instead of 13-bit constants),
// chroma upsampling (always rounding half up) and YCbCr conversion each differ from libjpeg by a
// level here and there, which adds up to 3 levels at saturated colour edges and 2 levels after
// preprocessing. So ctnn lets stb parse the file and entropy-decode the DCT coefficients (exact
// integers either way) and redoes the arithmetic that follows the way libjpeg-turbo does it:
//   * the inverse DCT: jidctint.c (JDCT_ISLOW, libjpeg's and PIL's default), hooked in through
//     stb's idct_block_kernel, so it also serves progressive files;
//   * chroma upsampling: jdsample.c "fancy" upsampling (triangle filter, libjpeg's alternating
//     rounding biases, edge rows and columns replicated);
//   * colour conversion: jdcolor.c ycc_rgb_convert (16-bit fixed-point tables).
// For every layout with integer sampling ratios (4:4:4, 4:2:2, 4:2:0, 4:4:0, 4:1:1, greyscale, ...),
// baseline or progressive, the pixels equal PIL's (checked on ~900 generated files and some photos).

// jidctint.c: CONST_BITS = 13 fractional bits in the constants FIX(x) = round(x * 2^13); the column
// pass keeps PASS1_BITS = 2 extra bits, removed with the IDCT's factor 8 (3 bits) in the row pass.
inline constexpr int idct_const_bits = 13;
inline constexpr int idct_pass1_bits = 2;
inline constexpr std::int64_t fix_0_298631336 = 2446;
inline constexpr std::int64_t fix_0_390180644 = 3196;
inline constexpr std::int64_t fix_0_541196100 = 4433;
inline constexpr std::int64_t fix_0_765366865 = 6270;
inline constexpr std::int64_t fix_0_899976223 = 7373;
inline constexpr std::int64_t fix_1_175875602 = 9633;
inline constexpr std::int64_t fix_1_501321110 = 12299;
inline constexpr std::int64_t fix_1_847759065 = 15137;
inline constexpr std::int64_t fix_1_961570560 = 16069;
inline constexpr std::int64_t fix_2_053119869 = 16819;
inline constexpr std::int64_t fix_2_562915447 = 20995;
inline constexpr std::int64_t fix_3_072711026 = 25172;

// libjpeg's DESCALE: divide by 2^bits, rounding half up (>> on a negative value floors, as in C).
inline constexpr std::int64_t descale(std::int64_t value, int bits) {
  return (value + (std::int64_t{1} << (bits - 1))) >> bits;
}

// libjpeg's post-IDCT range limit: the table lookup range_limit[x & 1023] maps x in [-128, 127] to
// x + 128, saturates x in [128, 511] to 255 and [-512, -129] to 0, and wraps beyond (corrupt data).
inline std::uint8_t idct_range_limit(std::int64_t centered) {
  const int index = static_cast<int>(centered & 1023);
  if (index < 128) return static_cast<std::uint8_t>(index + 128);
  if (index < 512) return 255;
  if (index < 896) return 0;
  return static_cast<std::uint8_t>(index - 896);
}

// One 1-D 8-point IDCT (Loeffler-Ligtenberg-Moschytz, as in jidctint.c) of the 8 inputs in[0..7];
// returns the 8 outputs before descaling.
inline std::array<std::int64_t, 8> idct_1d(const std::array<std::int64_t, 8>& in) {
  // Even part: the rotator is sqrt(2) * c(-6).
  const std::int64_t z1 = (in[2] + in[6]) * fix_0_541196100;
  const std::int64_t even2 = z1 + in[6] * -fix_1_847759065;
  const std::int64_t even3 = z1 + in[2] * fix_0_765366865;
  const std::int64_t even0 = (in[0] + in[4]) * (std::int64_t{1} << idct_const_bits);
  const std::int64_t even1 = (in[0] - in[4]) * (std::int64_t{1} << idct_const_bits);
  const std::int64_t tmp10 = even0 + even3;
  const std::int64_t tmp13 = even0 - even3;
  const std::int64_t tmp11 = even1 + even2;
  const std::int64_t tmp12 = even1 - even2;
  // Odd part.
  const std::int64_t odd_z1 = in[7] + in[1];
  const std::int64_t odd_z2 = in[5] + in[3];
  const std::int64_t odd_z3 = in[7] + in[3];
  const std::int64_t odd_z4 = in[5] + in[1];
  const std::int64_t z5 = (odd_z3 + odd_z4) * fix_1_175875602;                // sqrt(2) * c3
  const std::int64_t scaled_z1 = odd_z1 * -fix_0_899976223;                    // sqrt(2) * (c7 - c3)
  const std::int64_t scaled_z2 = odd_z2 * -fix_2_562915447;                    // sqrt(2) * (-c1 - c3)
  const std::int64_t scaled_z3 = odd_z3 * -fix_1_961570560 + z5;               // sqrt(2) * (-c3 - c5)
  const std::int64_t scaled_z4 = odd_z4 * -fix_0_390180644 + z5;               // sqrt(2) * (c5 - c3)
  const std::int64_t odd0 = in[7] * fix_0_298631336 + scaled_z1 + scaled_z3;  // sqrt(2) * (-c1 + c3 + c5 - c7)
  const std::int64_t odd1 = in[5] * fix_2_053119869 + scaled_z2 + scaled_z4;  // sqrt(2) * (c1 + c3 - c5 + c7)
  const std::int64_t odd2 = in[3] * fix_3_072711026 + scaled_z2 + scaled_z3;  // sqrt(2) * (c1 + c3 + c5 - c7)
  const std::int64_t odd3 = in[1] * fix_1_501321110 + scaled_z1 + scaled_z4;  // sqrt(2) * (c1 + c3 - c5 - c7)
  return {tmp10 + odd3, tmp11 + odd2, tmp12 + odd1, tmp13 + odd0,
          tmp13 - odd0, tmp12 - odd1, tmp11 - odd2, tmp10 - odd3};
}

// jpeg_idct_islow for one 8x8 block of dequantized coefficients (natural order), writing 8 rows of
// 8 samples `out_stride` bytes apart: stb's idct_block_kernel signature. (jidctint.c's shortcuts for
// all-zero AC terms give the same numbers as the full computation, so they are not repeated here.)
inline void libjpeg_islow_idct(stb::stbi_uc* out, int out_stride, short coefficients[64]) {
  std::array<std::int64_t, 64> workspace{};
  for (int column = 0; column < 8; ++column) {  // pass 1: columns, results scaled by 2^PASS1_BITS
    std::array<std::int64_t, 8> in{};
    for (int k = 0; k < 8; ++k) in[static_cast<std::size_t>(k)] = coefficients[k * 8 + column];
    const std::array<std::int64_t, 8> result = idct_1d(in);
    for (int k = 0; k < 8; ++k) {
      // (int) cast of the descaled value, as libjpeg stores the workspace in int
      workspace[static_cast<std::size_t>(k * 8 + column)] =
          static_cast<int>(descale(result[static_cast<std::size_t>(k)], idct_const_bits - idct_pass1_bits));
    }
  }
  for (int row = 0; row < 8; ++row) {  // pass 2: rows, removing PASS1_BITS and the factor 8
    std::array<std::int64_t, 8> in{};
    for (int k = 0; k < 8; ++k) in[static_cast<std::size_t>(k)] = workspace[static_cast<std::size_t>(row * 8 + k)];
    const std::array<std::int64_t, 8> result = idct_1d(in);
    stb::stbi_uc* out_row = out + static_cast<std::ptrdiff_t>(row) * out_stride;
    for (int k = 0; k < 8; ++k) {
      out_row[k] = idct_range_limit(descale(result[static_cast<std::size_t>(k)], idct_const_bits + idct_pass1_bits + 3));
    }
  }
}

// A decoded component plane as stb leaves it: `width` x `height` real samples (libjpeg's
// downsampled_width/height = ceil(image size * sampling factor / max factor)), rows `stride` apart.
struct JpegPlane {
  const std::uint8_t* samples = nullptr;
  int stride = 0;
  int width = 0;
  int height = 0;
  int horizontal_expansion = 1;  // max_h_samp_factor / h_samp_factor
  int vertical_expansion = 1;
};

// jdsample.c for one component, producing image_width x image_height samples. libjpeg's "fancy"
// upsampling places output samples 1/4 and 3/4 of the way between input centres: 3/4 nearer + 1/4
// further sample per upsampled axis, with rounding biases alternating between neighbouring outputs
// (an ordered dither, so .5 does not always round up). Image edges replicate the edge sample.
inline std::vector<std::uint8_t> upsample_like_libjpeg(const JpegPlane& plane, int image_width, int image_height) {
  const std::size_t out_width = static_cast<std::size_t>(image_width);
  std::vector<std::uint8_t> out(out_width * static_cast<std::size_t>(image_height));
  auto sample = [&](int x, int y) -> int {
    x = std::clamp(x, 0, plane.width - 1);
    y = std::clamp(y, 0, plane.height - 1);
    return plane.samples[static_cast<std::ptrdiff_t>(y) * plane.stride + x];
  };
  auto store = [&](int x, int y, int value) {
    if (x < image_width) out[static_cast<std::size_t>(y) * out_width + static_cast<std::size_t>(x)] = static_cast<std::uint8_t>(value);
  };
  const int h = plane.horizontal_expansion;
  const int v = plane.vertical_expansion;
  // libjpeg uses the fancy filters for 2x horizontal only when there are more than 2 input columns.
  const bool fancy_horizontal = h == 2 && plane.width > 2;
  for (int y = 0; y < image_height; ++y) {
    if (h == 2 && v == 1 && fancy_horizontal) {  // h2v1_fancy_upsample (4:2:2)
      for (int x = 0; x < plane.width; ++x) {
        const int nearer = 3 * sample(x, y);
        store(2 * x, y, (nearer + sample(x - 1, y) + 1) >> 2);
        store(2 * x + 1, y, (nearer + sample(x + 1, y) + 2) >> 2);
      }
    } else if (h == 2 && v == 2 && fancy_horizontal) {  // h2v2_fancy_upsample (4:2:0)
      const int near_row = y / 2;
      const int far_row = y % 2 == 0 ? near_row - 1 : near_row + 1;  // upper output row: row above
      auto column_sum = [&](int x) { return 3 * sample(x, near_row) + sample(x, far_row); };
      for (int x = 0; x < plane.width; ++x) {
        const int nearer = 3 * column_sum(x);
        store(2 * x, y, (nearer + column_sum(x - 1) + 8) >> 4);
        store(2 * x + 1, y, (nearer + column_sum(x + 1) + 7) >> 4);
      }
    } else if (h == 1 && v == 2) {  // h1v2_fancy_upsample (4:4:0)
      const int near_row = y / 2;
      const bool upper = y % 2 == 0;
      const int far_row = upper ? near_row - 1 : near_row + 1;
      for (int x = 0; x < plane.width; ++x) {
        store(x, y, (3 * sample(x, near_row) + sample(x, far_row) + (upper ? 1 : 2)) >> 2);
      }
    } else {  // full size, or int_upsample / h2v1_upsample / h2v2_upsample: replication
      for (int x = 0; x < image_width; ++x) store(x, y, sample(x / h, y / v));
    }
  }
  return out;
}

// jdcolor.c build_ycc_rgb_table: R = Y + 1.40200 Cr, G = Y - 0.34414 Cb - 0.71414 Cr,
// B = Y + 1.77200 Cb (Cb, Cr centred on 128), with 16-bit fixed-point constants FIX(x) = round(x * 2^16).
struct YccToRgbTables {
  std::array<int, 256> cr_to_r{};
  std::array<int, 256> cb_to_b{};
  std::array<std::int64_t, 256> cr_to_g{};  // still scaled by 2^16
  std::array<std::int64_t, 256> cb_to_g{};  // still scaled by 2^16, plus one half for rounding
};

inline const YccToRgbTables& ycc_to_rgb_tables() {
  static const YccToRgbTables tables = [] {
    constexpr int scale_bits = 16;
    constexpr std::int64_t one_half = std::int64_t{1} << (scale_bits - 1);
    auto fix = [](double x) { return static_cast<std::int64_t>(x * (1 << scale_bits) + 0.5); };
    YccToRgbTables result;
    for (int i = 0; i < 256; ++i) {
      const std::int64_t centered = i - 128;
      const std::size_t index = static_cast<std::size_t>(i);
      result.cr_to_r[index] = static_cast<int>((fix(1.40200) * centered + one_half) >> scale_bits);
      result.cb_to_b[index] = static_cast<int>((fix(1.77200) * centered + one_half) >> scale_bits);
      result.cr_to_g[index] = -fix(0.71414) * centered;
      result.cb_to_g[index] = -fix(0.34414) * centered + one_half;
    }
    return result;
  }();
  return tables;
}

inline std::uint8_t clamp_to_uint8(std::int64_t value) {
  return static_cast<std::uint8_t>(std::clamp<std::int64_t>(value, 0, 255));
}

// Frees stb's component buffers however decoding ends.
struct JpegDecoderCleanup {
  explicit JpegDecoderCleanup(stb::stbi__jpeg* jpeg_decoder) : decoder(jpeg_decoder) {}
  ~JpegDecoderCleanup() { stb::stbi__cleanup_jpeg(decoder); }
  JpegDecoderCleanup(const JpegDecoderCleanup&) = delete;
  JpegDecoderCleanup& operator=(const JpegDecoderCleanup&) = delete;
  stb::stbi__jpeg* decoder;
};

// Decodes a (complete) JPEG into grey or RGB pixels exactly as libjpeg-turbo does. Returns nothing
// for the rare files this does not cover, which then go through stb's own conversion: 4-component
// (CMYK / YCCK) files and sampling factors that are not integer multiples of each other.
inline std::optional<Image> decode_jpeg_like_libjpeg(std::span<const std::uint8_t> bytes, const std::string& name) {
  stb::stbi__context context{};
  stb::stbi__start_mem(&context, bytes.data(), static_cast<int>(bytes.size()));
  const auto decoder = std::make_unique<stb::stbi__jpeg>();  // ~20 KB of tables: not on the stack
  decoder->s = &context;
  stb::stbi__setup_jpeg(decoder.get());
  decoder->idct_block_kernel = &libjpeg_islow_idct;
  context.img_n = 0;  // stbi__cleanup_jpeg frees img_n components
  const JpegDecoderCleanup cleanup{decoder.get()};
  if (stb::stbi__decode_jpeg_image(decoder.get()) == 0) throw Error(name, "cannot decode JPEG: " + stb_reason());

  const int components = context.img_n;
  if (components != 1 && components != 3) return std::nullopt;
  const int width = static_cast<int>(context.img_x);
  const int height = static_cast<int>(context.img_y);
  std::array<std::vector<std::uint8_t>, 3> planes;
  for (int k = 0; k < components; ++k) {
    const auto& component = decoder->img_comp[k];
    if (decoder->img_h_max % component.h != 0 || decoder->img_v_max % component.v != 0) return std::nullopt;
    const JpegPlane plane{component.data, component.w2, component.x, component.y,
                          decoder->img_h_max / component.h, decoder->img_v_max / component.v};
    planes[static_cast<std::size_t>(k)] = upsample_like_libjpeg(plane, width, height);
  }
  if (components == 1) return Image{width, height, 1, std::move(planes[0])};

  // stb's rule for components stored as RGB: component ids 'R', 'G', 'B', or an Adobe marker saying
  // "no transform" without a JFIF marker.
  const bool stored_as_rgb = decoder->rgb == 3 || (decoder->app14_color_transform == 0 && decoder->jfif == 0);
  const std::size_t pixel_count = static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
  Image image{width, height, 3, std::vector<std::uint8_t>(pixel_count * 3)};
  const YccToRgbTables& tables = ycc_to_rgb_tables();
  for (std::size_t i = 0; i < pixel_count; ++i) {
    std::uint8_t* rgb = &image.pixels[i * 3];
    if (stored_as_rgb) {
      rgb[0] = planes[0][i];
      rgb[1] = planes[1][i];
      rgb[2] = planes[2][i];
      continue;
    }
    const std::int64_t luma = planes[0][i];
    const std::size_t cb = planes[1][i];
    const std::size_t cr = planes[2][i];
    rgb[0] = clamp_to_uint8(luma + tables.cr_to_r[cr]);
    rgb[1] = clamp_to_uint8(luma + ((tables.cb_to_g[cb] + tables.cr_to_g[cr]) >> 16));
    rgb[2] = clamp_to_uint8(luma + tables.cb_to_b[cb]);
  }
  return image;
}

}  // namespace detail

// ---- Pixel conversions (PIL's Image.convert) ----------------------------------------------------

// PIL convert("RGB"): grey is replicated into R, G and B; alpha is dropped (not blended).
inline Image to_rgb(const Image& image) {
  detail::check_image(image, "ctnn::image::to_rgb");
  if (image.channels == 3) return image;
  const std::size_t pixel_count = static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height);
  const std::size_t channels = static_cast<std::size_t>(image.channels);
  Image rgb{image.width, image.height, 3, std::vector<std::uint8_t>(pixel_count * 3)};
  for (std::size_t i = 0; i < pixel_count; ++i) {
    const std::uint8_t* source = &image.pixels[i * channels];
    std::uint8_t* target = &rgb.pixels[i * 3];
    if (channels <= 2) {
      target[0] = target[1] = target[2] = source[0];
    } else {
      target[0] = source[0];
      target[1] = source[1];
      target[2] = source[2];
    }
  }
  return rgb;
}

// PIL convert("L"): ITU-R 601-2 luma L = 0.299 R + 0.587 G + 0.114 B in Pillow's 16-bit fixed point,
// (19595 R + 38470 G + 7471 B + 2^15) >> 16, with 19595 / 2^16 = 0.29900, 38470 / 2^16 = 0.58701,
// 7471 / 2^16 = 0.11400; the weights sum to 2^16, so grey stays grey. Alpha is dropped.
inline Image to_grayscale(const Image& image) {
  detail::check_image(image, "ctnn::image::to_grayscale");
  if (image.channels == 1) return image;
  const std::size_t pixel_count = static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height);
  const std::size_t channels = static_cast<std::size_t>(image.channels);
  Image gray{image.width, image.height, 1, std::vector<std::uint8_t>(pixel_count)};
  for (std::size_t i = 0; i < pixel_count; ++i) {
    const std::uint8_t* source = &image.pixels[i * channels];
    if (channels == 2) {
      gray.pixels[i] = source[0];
    } else {
      const std::uint32_t luma = 19595u * source[0] + 38470u * source[1] + 7471u * source[2] + 0x8000u;
      gray.pixels[i] = static_cast<std::uint8_t>(luma >> 16);
    }
  }
  return gray;
}

// PIL convert to "L" (1), "LA" (2), "RGB" (3) or "RGBA" (4): colour or grey via to_rgb / to_grayscale,
// alpha kept where the image has one and 255 (opaque) where it has none.
inline Image convert_channels(const Image& image, int channels) {
  detail::check_image(image, "ctnn::image::convert_channels");
  if (channels < 1 || channels > 4) {
    throw Error("ctnn::image::convert_channels", "channels must be 1 to 4, got " + std::to_string(channels));
  }
  if (channels == image.channels) return image;
  if (channels == 1) return to_grayscale(image);
  if (channels == 3) return to_rgb(image);
  const Image color = channels == 2 ? to_grayscale(image) : to_rgb(image);
  const bool has_alpha = image.channels == 2 || image.channels == 4;
  const std::size_t pixel_count = static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height);
  const std::size_t color_channels = static_cast<std::size_t>(channels - 1);
  Image result{image.width, image.height, channels, std::vector<std::uint8_t>(pixel_count * static_cast<std::size_t>(channels))};
  for (std::size_t i = 0; i < pixel_count; ++i) {
    std::uint8_t* target = &result.pixels[i * static_cast<std::size_t>(channels)];
    std::copy_n(&color.pixels[i * color_channels], color_channels, target);
    target[color_channels] =
        has_alpha ? image.pixels[(i + 1) * static_cast<std::size_t>(image.channels) - 1] : std::uint8_t{255};
  }
  return result;
}

// ---- Loading ------------------------------------------------------------------------------------

// Decodes a JPEG or PNG held in memory; `name` is the subject of any error (a path, a URL, ...).
// desired_channels: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA, converted like PIL's Image.convert (see
// convert_channels), or 0 for the channels stored in the file. JPEG pixels are computed as libjpeg-turbo
// (and so PIL) computes them; 16-bit PNGs are reduced to 8 bits (value >> 8).
inline Image decode(std::span<const std::uint8_t> bytes, const std::string& name, int desired_channels = 3) {
  if (desired_channels < 0 || desired_channels > 4) {
    throw Error(name, "desired_channels must be 0 (as stored) or 1 to 4, got " + std::to_string(desired_channels));
  }
  if (bytes.empty()) throw Error(name, "file is empty (0 bytes), not an image");
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw Error(name, "file of " + std::to_string(bytes.size()) + " bytes is too large to decode");
  }
  const int byte_count = static_cast<int>(bytes.size());

  const bool is_jpeg = detail::starts_with(bytes, detail::jpeg_signature);
  const bool is_png = detail::starts_with(bytes, detail::png_signature);
  if (!is_jpeg && !is_png) throw Error(name, "not a JPEG or PNG file (unrecognised signature)");
  const detail::ContainerInfo container = is_jpeg ? detail::inspect_jpeg(bytes) : detail::inspect_png(bytes);
  if (!container.complete) {
    throw Error(name, is_jpeg ? "truncated JPEG: the data ends before the end-of-image marker (FF D9)"
                              : "truncated PNG: the data ends before the IEND chunk");
  }
  if (!container.valid_tables) throw Error(name, "corrupt JPEG: invalid Huffman table (DHT segment)");
  if (!container.has_header) {
    throw Error(name, is_jpeg ? "corrupt JPEG: no frame header (SOF marker)" : "corrupt PNG: IHDR is not the first chunk");
  }
  if (container.width <= 0 || container.height <= 0) {
    throw Error(name, "image has zero size (" + detail::dimensions_text(container.width, container.height) + ")");
  }
  if (container.width * container.height > max_pixels) {
    throw Error(name, "image dimensions " + detail::dimensions_text(container.width, container.height) +
                          " exceed the limit of " + std::to_string(max_pixels) + " pixels (corrupt or hostile header?)");
  }

  std::optional<Image> image;
  if (is_jpeg) image = detail::decode_jpeg_like_libjpeg(bytes, name);
  if (!image) {  // PNG, or one of the rare JPEG layouts left to stb
    int width = 0;
    int height = 0;
    int stored_channels = 0;
    std::unique_ptr<detail::stb::stbi_uc, decltype(&detail::stb::stbi_image_free)> decoded(
        detail::stb::stbi_load_from_memory(bytes.data(), byte_count, &width, &height, &stored_channels, 0),
        &detail::stb::stbi_image_free);
    if (decoded == nullptr) throw Error(name, "cannot decode image: " + detail::stb_reason());
    // With 0 requested, stb returns the stored channel count (4 for a palette PNG with transparency).
    const std::size_t byte_size = static_cast<std::size_t>(width) * static_cast<std::size_t>(height) *
                                  static_cast<std::size_t>(stored_channels);
    image = Image{width, height, stored_channels, std::vector<std::uint8_t>(decoded.get(), decoded.get() + byte_size)};
  }
  if (desired_channels == 0 || desired_channels == image->channels) return std::move(*image);
  return convert_channels(*image, desired_channels);
}

// Reads and decodes a JPEG or PNG file (see decode for desired_channels). Every failure, from a
// missing file to a truncated one, is a ctnn::Error whose subject is the path.
inline Image load(const std::filesystem::path& path, int desired_channels = 3) {
  const std::string name = path.string();
  std::error_code status_error;
  const std::filesystem::file_status status = std::filesystem::status(path, status_error);
  if (status.type() == std::filesystem::file_type::not_found) throw Error(name, "file not found");
  if (status_error) throw Error(name, "cannot access the file: " + status_error.message());
  if (std::filesystem::is_directory(status)) throw Error(name, "is a directory, not an image file");

  std::ifstream file(path, std::ios::binary | std::ios::ate);  // opened at the end to learn the size
  if (!file) throw Error(name, "cannot open file for reading");
  const std::streamoff file_size = file.tellg();
  if (file_size < 0) throw Error(name, "cannot determine the file size");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(file_size));
  file.seekg(0);
  if (!file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()))) {
    throw Error(name, "read error after " + std::to_string(file.gcount()) + " of " + std::to_string(bytes.size()) +
                          " bytes");
  }
  return decode(bytes, name, desired_channels);
}

// ---- Geometry -----------------------------------------------------------------------------------

// PIL Image.resize(size, Image.BILINEAR), bit-exact for "L" and "RGB": separable triangle filter
// widened by the downscale factor (antialiasing), horizontal pass first, rounded to uint8 between the
// passes. Channels are filtered independently (PIL premultiplies alpha for "RGBA"; this does not).
inline Image resize_bilinear(const Image& image, int new_width, int new_height) {
  detail::check_image(image, "ctnn::image::resize_bilinear");
  detail::check_target_size(new_width, new_height, "ctnn::image::resize_bilinear");
  if (new_width == image.width && new_height == image.height) return image;  // PIL returns a copy
  if (new_height == image.height) {
    return detail::resample_horizontal(image, 0, image.height, detail::bilinear_taps(image.width, new_width),
                                       new_width);
  }
  const detail::ResampleTaps vertical = detail::bilinear_taps(image.height, new_height);
  if (new_width == image.width) return detail::resample_vertical(image, 0, vertical, new_height);
  // Like Pillow, the horizontal pass only produces the rows the vertical pass reads.
  const int first_row = vertical.first_input.front();
  const int end_row = vertical.first_input.back() + vertical.tap_count.back();
  const Image rows = detail::resample_horizontal(image, first_row, end_row, detail::bilinear_taps(image.width, new_width),
                                                 new_width);
  return detail::resample_vertical(rows, first_row, vertical, new_height);
}

// torchvision Resize(int): the shorter side becomes `shorter_side`, the longer one
// int(shorter_side * long / short), truncated (e.g. 320 x 240 -> int(256 * 320 / 240) = int(341.33) = 341 x 256).
inline Size resized_to_shorter_side(int width, int height, int shorter_side) {
  constexpr const char* subject = "ctnn::image::resized_to_shorter_side";
  if (width <= 0 || height <= 0) {
    throw Error(subject, "image has zero size (" + detail::dimensions_text(width, height) + ")");
  }
  if (shorter_side <= 0) throw Error(subject, "shorter side must be positive, got " + std::to_string(shorter_side));
  const bool width_is_shorter = width <= height;
  const int short_side = width_is_shorter ? width : height;
  const int long_side = width_is_shorter ? height : width;
  // Python: int(a * b / c) with an exact integer product a * b and a correctly rounded true division.
  const double new_long = static_cast<double>(std::int64_t{shorter_side} * long_side) / short_side;
  if (new_long * shorter_side > static_cast<double>(max_pixels)) {
    throw Error(subject, "resizing " + detail::dimensions_text(width, height) + " to shorter side " +
                             std::to_string(shorter_side) + " exceeds the limit of " + std::to_string(max_pixels) +
                             " pixels");
  }
  const int new_long_side = static_cast<int>(new_long);  // truncation toward zero, as Python's int()
  return width_is_shorter ? Size{shorter_side, new_long_side} : Size{new_long_side, shorter_side};
}

// torchvision CenterCrop((crop_height, crop_width)): top = int(round((height - crop_height) / 2.0)),
// left likewise, Python rounding (half to even, e.g. (341 - 224) / 2 = 58.5 -> 58). Where the crop is
// larger than the image, the missing border is zero, as torchvision pads with 0 before cropping.
inline Image center_crop(const Image& image, int crop_width, int crop_height) {
  detail::check_image(image, "ctnn::image::center_crop");
  detail::check_target_size(crop_width, crop_height, "ctnn::image::center_crop");
  const int left = detail::center_crop_offset(image.width, crop_width);
  const int top = detail::center_crop_offset(image.height, crop_height);
  const std::size_t channels = static_cast<std::size_t>(image.channels);
  Image cropped{crop_width, crop_height, image.channels,
                std::vector<std::uint8_t>(static_cast<std::size_t>(crop_width) * static_cast<std::size_t>(crop_height) *
                                          channels, 0)};
  // Output columns [x_begin, x_end) map to image columns x + left inside [0, width).
  const int x_begin = std::max(0, -left);
  const int x_end = std::min(crop_width, image.width - left);
  if (x_end <= x_begin) return cropped;
  for (int y = 0; y < crop_height; ++y) {
    const int source_y = y + top;
    if (source_y < 0 || source_y >= image.height) continue;
    const std::uint8_t* source =
        &image.pixels[(static_cast<std::size_t>(source_y) * static_cast<std::size_t>(image.width) +
                       static_cast<std::size_t>(x_begin + left)) * channels];
    std::uint8_t* target =
        &cropped.pixels[(static_cast<std::size_t>(y) * static_cast<std::size_t>(crop_width) + static_cast<std::size_t>(x_begin)) *
                        channels];
    std::copy(source, source + static_cast<std::size_t>(x_end - x_begin) * channels, target);
  }
  return cropped;
}

// ---- Tensors ------------------------------------------------------------------------------------

// torchvision ToTensor() + Normalize(mean, std): CHW float32, value = (pixel / 255 - mean[c]) / stddev[c],
// in float arithmetic as torch does it.
inline std::vector<float> to_normalized_chw(const Image& image, std::span<const float> mean,
                                            std::span<const float> stddev) {
  detail::check_image(image, "ctnn::image::to_normalized_chw");
  const std::size_t channels = static_cast<std::size_t>(image.channels);
  if (mean.size() != channels || stddev.size() != channels) {
    throw Error("ctnn::image::to_normalized_chw", "image has " + std::to_string(channels) + " channels but mean has " +
                                                      std::to_string(mean.size()) + " and stddev " +
                                                      std::to_string(stddev.size()) + " values");
  }
  for (const float deviation : stddev) {
    if (!(deviation != 0.0f)) throw Error("ctnn::image::to_normalized_chw", "stddev must be non-zero");
  }
  const std::size_t plane = static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height);
  std::vector<float> tensor(plane * channels);
  for (std::size_t c = 0; c < channels; ++c) {
    float* out = &tensor[c * plane];
    for (std::size_t i = 0; i < plane; ++i) {
      const float unit = static_cast<float>(image.pixels[i * channels + c]) / 255.0f;  // ToTensor: [0, 1]
      out[i] = (unit - mean[c]) / stddev[c];
    }
  }
  return tensor;
}

// The ImageNet evaluation transform on an image of any channel count (converted like PIL's
// convert("RGB")): Resize(resize_shorter) -> CenterCrop(crop) -> ToTensor -> Normalize(ImageNet).
// Returns 3 x crop x crop floats, CHW.
inline std::vector<float> imagenet_preprocess(const Image& image, int resize_shorter = 256, int crop = 224) {
  const Image rgb = to_rgb(image);
  const Size resized_size = resized_to_shorter_side(rgb.width, rgb.height, resize_shorter);
  const Image resized = resize_bilinear(rgb, resized_size.width, resized_size.height);
  return to_normalized_chw(center_crop(resized, crop, crop), imagenet_mean, imagenet_std);
}

// Fashion-MNIST style input: convert("L") -> Resize((size, size)) (aspect ratio not kept) -> ToTensor
// -> Normalize([mean], [stddev]). Returns 1 x size x size floats.
inline std::vector<float> grayscale_preprocess(const Image& image, int size = 28, float mean = 0.2860f,
                                               float stddev = 0.3530f) {
  const Image gray = resize_bilinear(to_grayscale(image), size, size);
  const std::array<float, 1> means{mean};
  const std::array<float, 1> deviations{stddev};
  return to_normalized_chw(gray, means, deviations);
}

}  // namespace ctnn::image
