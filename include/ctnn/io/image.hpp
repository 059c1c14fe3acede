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
//   * decoding: libjpeg-turbo, PIL's own JPEG decoder, with PIL's settings (integer IDCT, fancy
//     upsampling), and libpng; PNG is lossless;
//   * resizing: Pillow's bilinear ImagingResample (Resample.c), with its antialiasing (the filter
//     widens with the downscale factor), 22-bit fixed-point weights and the uint8 rounding between
//     the horizontal and the vertical pass;
//   * colour conversions: Pillow's Image.convert formulas.
//
// Files are untrusted, and decoding is strict where PIL is lenient: a JPEG whose data ends early or
// contradicts its headers (libjpeg would fill the rest with grey and warn) and a PNG with a wrong
// chunk CRC are errors. The dimensions are read from the header and checked against max_pixels
// before the decoder allocates anything for the pixels, and the pixel buffer grows with the data
// actually decoded, so a header that claims a huge image costs nothing. Decoding failures are
// ctnn::Error with the file path as subject, e.g.
//   ctnn: photos/cat.jpg: truncated JPEG: the data ends before the end-of-image marker (FF D9)
//   ctnn: photos/dog.jpg: corrupt JPEG: premature end of data segment (libjpeg-turbo)
//
// Includes <jpeglib.h> (with its macros, e.g. TRUE, GLOBAL, METHODDEF) and <png.h>.

#include <algorithm>    // std::max, std::min, std::clamp, std::fill
#include <array>        // std::array: normalisation constants, per-channel accumulators
#include <cmath>        // std::ceil: filter tap count
#include <csetjmp>      // std::jmp_buf, setjmp, std::longjmp: libjpeg's and libpng's error exits
#include <cstddef>      // std::size_t, std::ptrdiff_t
#include <cstdint>      // std::uint8_t, std::int32_t, std::int64_t
#include <cstdio>       // std::snprintf; FILE, which <jpeglib.h> needs declared
#include <cstring>      // std::memcpy
#include <filesystem>   // std::filesystem::path
#include <span>         // std::span: byte and constant views
#include <string>       // std::string, std::to_string: error messages
#include <string_view>  // std::string_view
#include <utility>      // std::move
#include <vector>       // std::vector: pixel and tensor storage

#include <jerror.h>    // JWRN_JFIF_MAJOR, JWRN_ADOBE_XFORM: libjpeg's message codes
#include <jpeglib.h>   // jpeg_decompress_struct, jpeg_read_header, jpeg_read_scanlines (libjpeg-turbo)
#include <png.h>       // png_create_read_struct, png_read_info, png_read_row (libpng 1.6)

#include "ctnn/error.hpp"    // ctnn::Error
#include "ctnn/io/file.hpp"  // ctnn::io::read_regular_file

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

// Largest image file read: 2 GiB.
inline constexpr std::uint64_t max_file_bytes = std::uint64_t{1} << 31;

// torchvision's ImageNet statistics, per RGB channel.
inline constexpr std::array<float, 3> imagenet_mean{0.485f, 0.456f, 0.406f};
inline constexpr std::array<float, 3> imagenet_std{0.229f, 0.224f, 0.225f};

namespace detail {

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
// are reported precisely, before a decoder runs.
struct ContainerInfo {
  bool complete = false;     // the end marker (JPEG EOI) or chunk (PNG IEND) is present in full
  bool has_header = false;   // a JPEG frame header (SOFn) or PNG IHDR chunk was found
  std::int64_t width = 0;
  std::int64_t height = 0;
  std::uint64_t compressed_bytes = 0;  // PNG: the data of all IDAT chunks
};

// A 2- or 4-byte big-endian unsigned integer at bytes[pos]; the caller checks the bounds.
inline std::uint32_t read_big_endian(std::span<const std::uint8_t> bytes, std::size_t pos, std::size_t byte_count) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < byte_count; ++i) value = (value << 8) | bytes[pos + i];
  return value;
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
    if (type_is("IDAT")) info.compressed_bytes += data_length;
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

// ---- Strict decoding with libjpeg-turbo and libpng -----------------------------------------------
//
// Both libraries report an error through a callback that must not return: it saves the message
// and jumps back to the setjmp of the decoding function, which throws it as a ctnn::Error. Such a
// function creates every C++ object it needs before its setjmp, so the jump skips no destructor.

struct DecoderFailure {
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {};
};

// The largest amount of memory libjpeg may take for its own buffers: a progressive file keeps all
// its DCT coefficients (2 bytes per sample) until the last scan, 4 components at most.
inline constexpr long jpeg_memory_limit = static_cast<long>(max_pixels * 4 * 2 + (std::int64_t{64} << 20));

struct JpegErrors {
  jpeg_error_mgr manager;  // first member: libjpeg hands its address to the callbacks
  DecoderFailure failure;
};

inline void jpeg_fail(j_common_ptr decoder) {
  auto* errors = reinterpret_cast<JpegErrors*>(decoder->err);
  decoder->err->format_message(decoder, errors->failure.message);
  std::longjmp(errors->failure.jump, 1);
}

// libjpeg's warnings are corrupt data it papers over (missing data comes out grey, a wrong marker is
// skipped): strict decoding makes them errors. Two concern metadata only and leave the pixels sound.
inline void jpeg_message(j_common_ptr decoder, int level) {
  if (level >= 0) return;  // trace output
  const int code = decoder->err->msg_code;
  if (code == JWRN_JFIF_MAJOR || code == JWRN_ADOBE_XFORM) return;
  jpeg_fail(decoder);
}

// "Corrupt JPEG data: premature end of data segment" -> "premature end of data segment".
inline std::string libjpeg_reason(const char* message) {
  std::string reason = message;
  constexpr std::string_view prefix = "Corrupt JPEG data: ";
  if (reason.starts_with(prefix)) reason.erase(0, prefix.size());
  if (!reason.empty() && reason[0] >= 'A' && reason[0] <= 'Z') reason[0] = static_cast<char>(reason[0] - 'A' + 'a');
  return reason;
}

inline void check_pixel_count(std::int64_t width, std::int64_t height, const std::string& name) {
  if (width <= 0 || height <= 0) throw Error(name, "image has zero size (" + dimensions_text(width, height) + ")");
  if (width > max_pixels || height > max_pixels || width * height > max_pixels) {  // (no overflow: each side <= 2^28)
    throw Error(name, "image dimensions " + dimensions_text(width, height) + " exceed the limit of " +
                          std::to_string(max_pixels) + " pixels (corrupt or hostile header?)");
  }
}

struct JpegDecoder {
  jpeg_decompress_struct state{};
  JpegErrors errors{};
  bool created = false;
  JpegDecoder() = default;
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;
  ~JpegDecoder() {
    if (created) jpeg_destroy_decompress(&state);
  }
};

// PIL reads every CMYK JPEG as Adobe writes them, inverted ("CMYK;I"), and Image.convert("RGB")
// then computes R = (255 - K) - C * (255 - K) / 255 per channel, rounded as Pillow's MULDIV255.
inline void cmyk_to_rgb_like_pil(Image& image) {
  const std::size_t pixel_count = static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height);
  for (std::size_t i = 0; i < pixel_count; ++i) {
    const std::uint8_t* cmyk = &image.pixels[i * 4];
    const int not_black = cmyk[3];  // 255 - K with K inverted
    std::uint8_t* rgb = &image.pixels[i * 3];  // writes never overtake the reads: 3 * i <= 4 * i
    for (int c = 0; c < 3; ++c) {
      const int product = (255 - cmyk[c]) * not_black + 128;
      rgb[c] = static_cast<std::uint8_t>(std::clamp(not_black - (((product >> 8) + product) >> 8), 0, 255));
    }
  }
  image.pixels.resize(pixel_count * 3);
  image.channels = 3;
}

// Decodes a complete JPEG into grey (1 channel) or RGB (3 channels) as PIL does.
inline Image decode_jpeg(std::span<const std::uint8_t> bytes, const std::string& name) {
  JpegDecoder decoder;
  Image image;
  decoder.state.err = jpeg_std_error(&decoder.errors.manager);
  decoder.errors.manager.error_exit = &jpeg_fail;
  decoder.errors.manager.emit_message = &jpeg_message;
  if (setjmp(decoder.errors.failure.jump) != 0) {
    throw Error(name, "corrupt JPEG: " + libjpeg_reason(decoder.errors.failure.message) + " (libjpeg-turbo)");
  }
  jpeg_create_decompress(&decoder.state);
  decoder.created = true;
  jpeg_mem_src(&decoder.state, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&decoder.state, TRUE);
  check_pixel_count(decoder.state.image_width, decoder.state.image_height, name);
  switch (decoder.state.jpeg_color_space) {
    case JCS_GRAYSCALE: decoder.state.out_color_space = JCS_GRAYSCALE; break;
    case JCS_YCbCr:
    case JCS_RGB: decoder.state.out_color_space = JCS_RGB; break;
    case JCS_CMYK:
    case JCS_YCCK: decoder.state.out_color_space = JCS_CMYK; break;
    default:
      throw Error(name, "unsupported JPEG colour space (" + std::to_string(decoder.state.num_components) + " components)");
  }
  decoder.state.mem->max_memory_to_use = jpeg_memory_limit;
  jpeg_start_decompress(&decoder.state);
  image.width = static_cast<int>(decoder.state.output_width);
  image.height = static_cast<int>(decoder.state.output_height);
  image.channels = decoder.state.output_components;
  while (decoder.state.output_scanline < decoder.state.output_height) {
    // One row more at a time: a file whose data ends early fails before its claimed size is allocated.
    const std::size_t row_bytes = static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.channels);
    image.pixels.resize(image.pixels.size() + row_bytes);
    JSAMPROW row = image.pixels.data() + image.pixels.size() - row_bytes;
    jpeg_read_scanlines(&decoder.state, &row, 1);
  }
  jpeg_finish_decompress(&decoder.state);  // reads on to the end-of-image marker: corrupt data there fails too
  if (decoder.state.out_color_space == JCS_CMYK) cmyk_to_rgb_like_pil(image);
  return image;
}

// The bytes libpng reads, from memory.
struct PngSource {
  std::span<const std::uint8_t> bytes;
  std::size_t position = 0;
};

inline void png_fail(png_structp png, png_const_charp message) {
  auto* failure = static_cast<DecoderFailure*>(png_get_error_ptr(png));
  std::snprintf(failure->message, sizeof failure->message, "%s", message);
  std::longjmp(failure->jump, 1);
}

// libpng's warnings concern ancillary chunks (colour profiles, text): the pixels are sound.
inline void png_ignore_warning(png_structp, png_const_charp) {}

inline void png_read_from_memory(png_structp png, png_bytep out, png_size_t count) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (source->bytes.size() - source->position < count) png_error(png, "the data ends inside a chunk (truncated file)");
  std::memcpy(out, source->bytes.data() + source->position, count);
  source->position += count;
}

struct PngDecoder {
  png_structp png = nullptr;
  png_infop info = nullptr;
  PngDecoder() = default;
  PngDecoder(const PngDecoder&) = delete;
  PngDecoder& operator=(const PngDecoder&) = delete;
  ~PngDecoder() {
    if (png != nullptr) png_destroy_read_struct(&png, info != nullptr ? &info : nullptr, nullptr);
  }
};

// Deflate encodes at most 258 bytes in 2 bits: no stream expands by more than 1032 to 1.
inline constexpr std::uint64_t deflate_max_ratio = 1032;

// Decodes a complete PNG into 1 to 4 channels (grey, grey + alpha, RGB, RGBA; palettes expanded,
// transparency as alpha, 16 bits reduced to 8 by value >> 8). Every chunk's CRC is checked.
inline Image decode_png(std::span<const std::uint8_t> bytes, const std::string& name, std::uint64_t compressed_bytes) {
  DecoderFailure failure;
  PngSource source{bytes};
  PngDecoder decoder;
  Image image;
  decoder.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &failure, &png_fail, &png_ignore_warning);
  if (decoder.png != nullptr) decoder.info = png_create_info_struct(decoder.png);
  if (decoder.info == nullptr) throw Error(name, "libpng could not allocate its state");
  if (setjmp(failure.jump) != 0) throw Error(name, "corrupt PNG: " + std::string(failure.message) + " (libpng)");
  png_set_read_fn(decoder.png, &source, &png_read_from_memory);
  png_set_crc_action(decoder.png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);  // critical chunks already fail by default
  png_read_info(decoder.png, decoder.info);
  const std::int64_t width = png_get_image_width(decoder.png, decoder.info);
  const std::int64_t height = png_get_image_height(decoder.png, decoder.info);
  check_pixel_count(width, height, name);
  const std::uint64_t bits = static_cast<std::uint64_t>(width * height) * png_get_bit_depth(decoder.png, decoder.info) *
                             png_get_channels(decoder.png, decoder.info);
  if (compressed_bytes * deflate_max_ratio < bits / 8) {
    throw Error(name, "corrupt PNG: " + std::to_string(compressed_bytes) + " bytes of compressed data cannot hold a " +
                          dimensions_text(width, height) + " image");
  }
  const int color_type = png_get_color_type(decoder.png, decoder.info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(decoder.png);
  if (color_type == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(decoder.png, decoder.info) < 8) png_set_expand_gray_1_2_4_to_8(decoder.png);
  if (png_get_valid(decoder.png, decoder.info, PNG_INFO_tRNS) != 0) png_set_tRNS_to_alpha(decoder.png);
  png_set_strip_16(decoder.png);
  const int passes = png_set_interlace_handling(decoder.png);
  png_read_update_info(decoder.png, decoder.info);
  image.width = static_cast<int>(width);
  image.height = static_cast<int>(height);
  image.channels = png_get_channels(decoder.png, decoder.info);
  if (passes == 1) {
    while (image.pixels.size() < static_cast<std::size_t>(width * height) * static_cast<std::size_t>(image.channels)) {
      // One row more at a time, as for JPEG.
      const std::size_t row_bytes = static_cast<std::size_t>(width) * static_cast<std::size_t>(image.channels);
      image.pixels.resize(image.pixels.size() + row_bytes);
      png_read_row(decoder.png, image.pixels.data() + image.pixels.size() - row_bytes, nullptr);
    }
  } else {  // Adam7: every pass updates every row (the compressed size was checked above)
    image.pixels.resize(static_cast<std::size_t>(width * height) * static_cast<std::size_t>(image.channels));
    for (int pass = 0; pass < passes; ++pass) {
      for (std::int64_t y = 0; y < height; ++y) {
        png_read_row(decoder.png, image.pixels.data() + static_cast<std::size_t>(y * width) * static_cast<std::size_t>(image.channels), nullptr);
      }
    }
  }
  png_read_end(decoder.png, nullptr);  // the chunks after the image, to IEND, CRCs included
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
// convert_channels), or 0 for the channels stored in the file (a CMYK JPEG is RGB, as PIL converts
// it). JPEG pixels are libjpeg-turbo's, as in PIL; 16-bit PNGs are reduced to 8 bits (value >> 8).
inline Image decode(std::span<const std::uint8_t> bytes, const std::string& name, int desired_channels = 3) {
  if (desired_channels < 0 || desired_channels > 4) {
    throw Error(name, "desired_channels must be 0 (as stored) or 1 to 4, got " + std::to_string(desired_channels));
  }
  if (bytes.empty()) throw Error(name, "file is empty (0 bytes), not an image");
  const bool is_jpeg = detail::starts_with(bytes, detail::jpeg_signature);
  const bool is_png = detail::starts_with(bytes, detail::png_signature);
  if (!is_jpeg && !is_png) throw Error(name, "not a JPEG or PNG file (unrecognised signature)");
  const detail::ContainerInfo container = is_jpeg ? detail::inspect_jpeg(bytes) : detail::inspect_png(bytes);
  if (!container.complete) {
    throw Error(name, is_jpeg ? "truncated JPEG: the data ends before the end-of-image marker (FF D9)"
                              : "truncated PNG: the data ends before the IEND chunk");
  }
  if (!container.has_header) {
    throw Error(name, is_jpeg ? "corrupt JPEG: no frame header (SOF marker)" : "corrupt PNG: IHDR is not the first chunk");
  }
  detail::check_pixel_count(container.width, container.height, name);  // before any decoder allocates

  Image image = is_jpeg ? detail::decode_jpeg(bytes, name) : detail::decode_png(bytes, name, container.compressed_bytes);
  if (desired_channels == 0 || desired_channels == image.channels) return image;
  return convert_channels(image, desired_channels);
}

// Reads and decodes a JPEG or PNG file (see decode for desired_channels). Only a regular file is
// read (ctnn/io/file.hpp: a FIFO or a device is refused, not waited on). Every failure, from a
// missing file to a truncated one, is a ctnn::Error whose subject is the path.
inline Image load(const std::filesystem::path& path, int desired_channels = 3) {
  return decode(io::read_regular_file(path, max_file_bytes), path.string(), desired_channels);
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
