// Tests for ctnn/io/image.hpp: decoding, malformed-file errors and the ImageNet / Fashion-MNIST
// preprocessing against tensors produced by PIL + torchvision (tools/make_image_reference.py).

#include <doctest/doctest.h>  // TEST_CASE, SUBCASE, CHECK, REQUIRE, CAPTURE, MESSAGE

#include <array>        // std::array: per-channel std
#include <bit>          // std::bit_cast: little-endian float32 reference files
#include <cstddef>      // std::size_t
#include <cstdint>      // std::uint8_t, std::uint32_t
#include <filesystem>   // std::filesystem::path
#include <fstream>      // std::ifstream
#include <iterator>     // std::istreambuf_iterator
#include <span>         // std::span
#include <string>       // std::string
#include <vector>       // std::vector

#include "ctnn/error.hpp"     // ctnn::Error
#include "ctnn/io/image.hpp"  // ctnn::image::*

#include "support/compare.hpp"   // ctnn::test::scalar_error, worse

#ifndef CTNN_TEST_DATA_DIR
#define CTNN_TEST_DATA_DIR "tests/data"
#endif

namespace {

namespace fs = std::filesystem;
using ctnn::image::Image;

fs::path image_data(const std::string& name) { return fs::path(CTNN_TEST_DATA_DIR) / "images" / name; }

std::vector<std::uint8_t> read_bytes(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  REQUIRE_MESSAGE(file.good(), "cannot open test data ", path.string());
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// A reference tensor written by tools/make_image_reference.py: raw little-endian float32, CHW.
std::vector<float> read_reference(const std::string& name, std::size_t expected_count) {
  const std::vector<std::uint8_t> bytes = read_bytes(image_data(name));
  REQUIRE_MESSAGE(bytes.size() == expected_count * 4, name, ": ", bytes.size(), " bytes, expected ",
                  expected_count * 4);
  std::vector<float> values(expected_count);
  for (std::size_t i = 0; i < expected_count; ++i) {
    const std::uint32_t bits = std::uint32_t{bytes[4 * i]} | (std::uint32_t{bytes[4 * i + 1]} << 8) |
                               (std::uint32_t{bytes[4 * i + 2]} << 16) | (std::uint32_t{bytes[4 * i + 3]} << 24);
    values[i] = std::bit_cast<float>(bits);
  }
  return values;
}

// Largest difference between two CHW tensors in 8-bit levels before normalisation:
// value = (level / 255 - mean) / std, so levels = |difference| * std * 255.
double max_level_difference(const std::vector<float>& ours, const std::vector<float>& reference,
                            std::span<const float> stddev) {
  REQUIRE(ours.size() == reference.size());
  const std::size_t plane = ours.size() / stddev.size();
  double worst = 0.0;
  for (std::size_t i = 0; i < ours.size(); ++i) {
    // |difference|, or +infinity when either value is not finite.
    const double difference = ctnn::test::scalar_error(ours[i], reference[i], 1.0);
    worst = ctnn::test::worse(worst, difference * static_cast<double>(stddev[i / plane]) * 255.0);
  }
  return worst;
}

// The acceptance bound: |difference| * std <= 1/255 + 1e-6 for every element (a NaN on either
// side is not within it).
bool within_one_level(const std::vector<float>& ours, const std::vector<float>& reference,
                      std::span<const float> stddev) {
  return max_level_difference(ours, reference, stddev) <= 1.0 + 255e-6;
}

// ctnn decodes to the same pixels as PIL (PNG is lossless; JPEG follows libjpeg-turbo's integer
// arithmetic) and its resize is Pillow's, so the tensors differ from torchvision's only by float
// rounding, far below a level. Exactly so where both compute the resize weights without fused
// multiply-add, as on x86-64; elsewhere a weight may round differently and move a pixel by a level,
// which the one-level bound above still covers.
constexpr double float_rounding_levels = 1e-3;
#if defined(__x86_64__) || defined(_M_X64)
constexpr bool expect_bit_exact_resize = true;
#else
constexpr bool expect_bit_exact_resize = false;
#endif

// Loads `path` expecting a ctnn::Error whose subject is the path; returns the reason.
std::string load_error_reason(const fs::path& path) {
  try {
    (void)ctnn::image::load(path);
  } catch (const ctnn::Error& error) {
    CHECK(error.subject() == path.string());
    CHECK(std::string(error.what()).find(path.string()) != std::string::npos);
    return error.reason();
  }
  FAIL("no ctnn::Error for ", path.string());
  return {};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

Image filled_image(int width, int height, int channels) {
  Image image{width, height, channels, std::vector<std::uint8_t>(static_cast<std::size_t>(width * height * channels))};
  for (std::size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<std::uint8_t>(i * 37 % 251);
  return image;
}

}  // namespace

TEST_CASE("image::load decodes JPEG and PNG with their dimensions and requested channels") {
  SUBCASE("RGB JPEG") {
    const Image image = ctnn::image::load(image_data("synthetic_320x240.jpg"));
    CHECK(image.width == 320);
    CHECK(image.height == 240);
    CHECK(image.channels == 3);
    CHECK(image.pixels.size() == 320u * 240u * 3u);
  }
  SUBCASE("RGB PNG, portrait") {
    const Image image = ctnn::image::load(image_data("synthetic_300x400.png"));
    CHECK(image.width == 300);
    CHECK(image.height == 400);
    CHECK(image.channels == 3);
    CHECK(image.pixels.size() == 300u * 400u * 3u);
  }
  SUBCASE("grey PNG: stored as 1 channel, replicated when 3 are asked for") {
    const Image stored = ctnn::image::load(image_data("gray_40x30.png"), 0);
    CHECK(stored.channels == 1);
    const Image rgb = ctnn::image::load(image_data("gray_40x30.png"));
    REQUIRE(rgb.channels == 3);
    REQUIRE(rgb.pixels.size() == 40u * 30u * 3u);
    for (std::size_t i = 0; i < stored.pixels.size(); ++i) {
      REQUIRE(rgb.pixels[3 * i] == stored.pixels[i]);
      REQUIRE(rgb.pixels[3 * i + 1] == stored.pixels[i]);
      REQUIRE(rgb.pixels[3 * i + 2] == stored.pixels[i]);
    }
  }
  SUBCASE("RGBA PNG: alpha kept when stored channels are asked for, dropped for 3") {
    const Image rgba = ctnn::image::load(image_data("rgba_64x48.png"), 0);
    CHECK(rgba.channels == 4);
    const Image rgb = ctnn::image::load(image_data("rgba_64x48.png"), 3);
    REQUIRE(rgb.channels == 3);
    CHECK(rgb.pixels == ctnn::image::to_rgb(rgba).pixels);
  }
  SUBCASE("channel conversions follow PIL's convert") {
    const Image rgb = ctnn::image::load(image_data("synthetic_320x240.jpg"), 3);
    CHECK(ctnn::image::load(image_data("synthetic_320x240.jpg"), 1).pixels == ctnn::image::to_grayscale(rgb).pixels);
    const Image rgba = ctnn::image::load(image_data("synthetic_320x240.jpg"), 4);
    REQUIRE(rgba.channels == 4);
    CHECK(rgba.pixels[3] == 255);  // no alpha in the file: opaque
    CHECK(rgba.pixels[0] == rgb.pixels[0]);
    const Image gray_alpha = ctnn::image::load(image_data("rgba_64x48.png"), 2);
    const Image stored = ctnn::image::load(image_data("rgba_64x48.png"), 0);
    REQUIRE(gray_alpha.channels == 2);
    CHECK(gray_alpha.pixels[0] == ctnn::image::to_grayscale(stored).pixels[0]);
    CHECK(gray_alpha.pixels[gray_alpha.pixels.size() - 1] == stored.pixels[stored.pixels.size() - 1]);  // alpha kept
  }
  SUBCASE("decode from memory equals load") {
    const std::vector<std::uint8_t> bytes = read_bytes(image_data("synthetic_320x240.jpg"));
    CHECK(ctnn::image::decode(bytes, "in-memory").pixels ==
          ctnn::image::load(image_data("synthetic_320x240.jpg")).pixels);
  }
}

TEST_CASE("image::load decodes JPEG to the same pixels as PIL (libjpeg-turbo)") {
  struct Case {
    std::string image;
    int width;
    int height;
    int channels;
  };
  const Case cases[] = {
      {"jpeg_422_progressive_61x47.jpg", 61, 47, 3},  // 4:2:2 chroma, progressive scans
      {"jpeg_444_37x29.jpg", 37, 29, 3},              // no chroma subsampling
      {"jpeg_gray_45x23.jpg", 45, 23, 1},             // one component
      {"jpeg_420_3x5.jpg", 3, 5, 3},                  // 2 chroma columns: replicated, not interpolated
  };
  for (const Case& test : cases) {
    CAPTURE(test.image);
    const Image image = ctnn::image::load(image_data(test.image), 0);
    CHECK(image.width == test.width);
    CHECK(image.height == test.height);
    REQUIRE(image.channels == test.channels);
    const std::string pixel_file = test.image.substr(0, test.image.size() - 4) + ".pixels.bin";
    CHECK(image.pixels == read_bytes(image_data(pixel_file)));  // integer arithmetic: exact everywhere
  }
}

TEST_CASE("image::imagenet_preprocess matches torchvision Resize/CenterCrop/ToTensor/Normalize") {
  struct Case {
    std::string image;
    int resize_shorter;
    int crop;
    std::string reference;
  };
  const Case cases[] = {
      {"synthetic_320x240.jpg", 256, 224, "synthetic_320x240.imagenet_256_224.bin"},  // upscale 240 -> 256
      {"synthetic_300x400.png", 256, 224, "synthetic_300x400.imagenet_256_224.bin"},  // antialiased downscale
      {"synthetic_300x400.png", 64, 80, "synthetic_300x400.imagenet_64_80.bin"},      // crop > image: padding
      {"gray_40x30.png", 96, 80, "gray_40x30.imagenet_96_80.bin"},                    // grey -> RGB
      {"rgba_64x48.png", 40, 36, "rgba_64x48.imagenet_40_36.bin"},                    // alpha dropped
  };
  for (const Case& test : cases) {
    CAPTURE(test.reference);
    const Image image = ctnn::image::load(image_data(test.image));
    const std::vector<float> ours = ctnn::image::imagenet_preprocess(image, test.resize_shorter, test.crop);
    const std::size_t expected_count = 3u * static_cast<std::size_t>(test.crop * test.crop);
    REQUIRE(ours.size() == expected_count);
    const std::vector<float> reference = read_reference(test.reference, expected_count);
    const double levels = max_level_difference(ours, reference, ctnn::image::imagenet_std);
    MESSAGE(test.reference, ": max difference ", levels, " levels of 255");
    CHECK(within_one_level(ours, reference, ctnn::image::imagenet_std));
    if (expect_bit_exact_resize) CHECK(levels < float_rounding_levels);
  }
}

TEST_CASE("image::imagenet_preprocess uses the default 256 / 224 geometry") {
  const Image image = ctnn::image::load(image_data("synthetic_320x240.jpg"));
  CHECK(ctnn::image::imagenet_preprocess(image) == ctnn::image::imagenet_preprocess(image, 256, 224));
  CHECK(ctnn::image::imagenet_preprocess(image).size() == 3u * 224u * 224u);
}

TEST_CASE("image::grayscale_preprocess matches torchvision convert('L')/Resize/ToTensor/Normalize") {
  struct Case {
    std::string image;
    int size;
    float mean;
    float stddev;
    std::string reference;
  };
  const Case cases[] = {
      {"synthetic_320x240.jpg", 28, 0.2860f, 0.3530f, "synthetic_320x240.grayscale_28.bin"},
      {"synthetic_300x400.png", 28, 0.2860f, 0.3530f, "synthetic_300x400.grayscale_28.bin"},
      {"gray_40x30.png", 28, 0.2860f, 0.3530f, "gray_40x30.grayscale_28.bin"},
      {"rgba_64x48.png", 20, 0.5f, 0.25f, "rgba_64x48.grayscale_20.bin"},
  };
  for (const Case& test : cases) {
    CAPTURE(test.reference);
    const Image image = ctnn::image::load(image_data(test.image), 0);  // any channel count is accepted
    const std::vector<float> ours = ctnn::image::grayscale_preprocess(image, test.size, test.mean, test.stddev);
    const std::size_t expected_count = static_cast<std::size_t>(test.size * test.size);
    REQUIRE(ours.size() == expected_count);
    const std::vector<float> reference = read_reference(test.reference, expected_count);
    const std::array<float, 1> stddev{test.stddev};
    const double levels = max_level_difference(ours, reference, stddev);
    MESSAGE(test.reference, ": max difference ", levels, " levels of 255");
    CHECK(within_one_level(ours, reference, stddev));
    if (expect_bit_exact_resize) CHECK(levels < float_rounding_levels);
  }
  const Image image = ctnn::image::load(image_data("synthetic_300x400.png"));
  CHECK(ctnn::image::grayscale_preprocess(image) == ctnn::image::grayscale_preprocess(image, 28, 0.2860f, 0.3530f));
}

TEST_CASE("image::load reports every malformed file as ctnn::Error naming the file") {
  CHECK(contains(load_error_reason(image_data("does_not_exist.png")), "not found"));
  CHECK(contains(load_error_reason(image_data("")), "directory"));
  CHECK(contains(load_error_reason(image_data("not_an_image.jpg")), "not a JPEG or PNG file"));
  CHECK(contains(load_error_reason(image_data("empty.png")), "empty"));
  CHECK(contains(load_error_reason(image_data("truncated.jpg")), "truncated JPEG"));
  CHECK(contains(load_error_reason(image_data("truncated.png")), "truncated PNG"));
  CHECK(contains(load_error_reason(image_data("zero_width.png")), "zero size (0 x 16)"));
  CHECK(contains(load_error_reason(image_data("huge_dimensions.png")), "200000 x 200000"));
}

TEST_CASE("image::decode: JPEG completeness follows the markers, not the last two bytes") {
  const std::vector<std::uint8_t> jpeg = read_bytes(image_data("synthetic_320x240.jpg"));
  REQUIRE(jpeg.size() > 4);
  SUBCASE("data appended after the end-of-image marker is ignored") {
    std::vector<std::uint8_t> padded = jpeg;
    padded.insert(padded.end(), {'t', 'r', 'a', 'i', 'l', 'e', 'r', 0xFF, 0xD8});
    CHECK(ctnn::image::decode(padded, "padded.jpg").pixels == ctnn::image::decode(jpeg, "original.jpg").pixels);
  }
  SUBCASE("losing only the end-of-image marker is reported") {
    const std::vector<std::uint8_t> cut(jpeg.begin(), jpeg.end() - 2);
    CHECK_THROWS_WITH_AS(ctnn::image::decode(cut, "cut.jpg"), doctest::Contains("cut.jpg: truncated JPEG"),
                         ctnn::Error);
  }
  SUBCASE("an end-of-image marker inside an embedded thumbnail does not count") {
    // APP1 segment (FF E1, length 8 including itself) holding a miniature "JPEG": FF D8 FF D9 00 00.
    std::vector<std::uint8_t> with_thumbnail(jpeg.begin(), jpeg.begin() + 2);
    with_thumbnail.insert(with_thumbnail.end(), {0xFF, 0xE1, 0x00, 0x08, 0xFF, 0xD8, 0xFF, 0xD9, 0x00, 0x00});
    with_thumbnail.insert(with_thumbnail.end(), jpeg.begin() + 2, jpeg.end());
    CHECK(ctnn::image::decode(with_thumbnail, "thumb.jpg").pixels == ctnn::image::decode(jpeg, "original.jpg").pixels);
    const std::vector<std::uint8_t> cut(with_thumbnail.begin(), with_thumbnail.end() - 2);
    CHECK_THROWS_WITH_AS(ctnn::image::decode(cut, "thumb-cut.jpg"), doctest::Contains("truncated JPEG"), ctnn::Error);
  }
  SUBCASE("desired_channels outside 0..4 is rejected") {
    CHECK_THROWS_AS(ctnn::image::decode(jpeg, "x.jpg", 5), ctnn::Error);
    CHECK_THROWS_AS(ctnn::image::decode(jpeg, "x.jpg", -1), ctnn::Error);
  }
}

TEST_CASE("image geometry follows torchvision's rules") {
  SUBCASE("Resize(int): shorter side to the target, longer one truncated") {
    const ctnn::image::Size landscape = ctnn::image::resized_to_shorter_side(320, 240, 256);  // 256*320/240 = 341.3
    CHECK(landscape.width == 341);
    CHECK(landscape.height == 256);
    const ctnn::image::Size portrait = ctnn::image::resized_to_shorter_side(300, 400, 256);  // 256*400/300 = 341.3
    CHECK(portrait.width == 256);
    CHECK(portrait.height == 341);
    const ctnn::image::Size square = ctnn::image::resized_to_shorter_side(500, 500, 256);
    CHECK(square.width == 256);
    CHECK(square.height == 256);
  }
  SUBCASE("CenterCrop rounds half offsets to even") {
    const Image image = filled_image(7, 6, 1);
    // left = round((7 - 2) / 2) = round(2.5) = 2, top = round((6 - 3) / 2) = round(1.5) = 2
    const Image cropped = ctnn::image::center_crop(image, 2, 3);
    REQUIRE(cropped.pixels.size() == 6u);
    for (int y = 0; y < 3; ++y) {
      for (int x = 0; x < 2; ++x) {
        CHECK(cropped.pixels[static_cast<std::size_t>(y * 2 + x)] ==
              image.pixels[static_cast<std::size_t>((y + 2) * 7 + (x + 2))]);
      }
    }
  }
  SUBCASE("CenterCrop larger than the image pads with zeros, (crop - size) // 2 before") {
    const Image image = filled_image(2, 1, 3);
    const Image cropped = ctnn::image::center_crop(image, 5, 4);  // pad left 1, right 2, top 1, bottom 2
    REQUIRE(cropped.pixels.size() == 5u * 4u * 3u);
    for (int y = 0; y < 4; ++y) {
      for (int x = 0; x < 5; ++x) {
        for (int c = 0; c < 3; ++c) {
          const std::uint8_t value = cropped.pixels[static_cast<std::size_t>((y * 5 + x) * 3 + c)];
          const bool inside = y == 1 && (x == 1 || x == 2);
          CHECK(value == (inside ? image.pixels[static_cast<std::size_t>((x - 1) * 3 + c)] : 0));
        }
      }
    }
  }
  SUBCASE("resizing to the same size is the identity") {
    const Image image = filled_image(9, 5, 3);
    CHECK(ctnn::image::resize_bilinear(image, 9, 5).pixels == image.pixels);
  }
  SUBCASE("a constant image stays constant at any scale") {
    Image image{13, 7, 3, std::vector<std::uint8_t>(13u * 7u * 3u, 200)};
    for (const auto [width, height] : {std::array{4, 3}, std::array{31, 17}, std::array{13, 2}, std::array{1, 1}}) {
      const Image resized = ctnn::image::resize_bilinear(image, width, height);
      CHECK(resized.pixels == std::vector<std::uint8_t>(static_cast<std::size_t>(width * height * 3), 200));
    }
  }
}

TEST_CASE("image::to_grayscale uses Pillow's fixed-point ITU-R 601-2 luma") {
  // (19595 R + 38470 G + 7471 B + 32768) >> 16
  const Image rgb{4, 1, 3, {255, 0, 0, 0, 255, 0, 0, 0, 255, 37, 37, 37}};
  const Image gray = ctnn::image::to_grayscale(rgb);
  CHECK(gray.channels == 1);
  CHECK(gray.pixels == std::vector<std::uint8_t>{76, 150, 29, 37});
}

TEST_CASE("image preprocessing rejects malformed images and arguments") {
  const Image good = filled_image(8, 8, 3);
  Image short_buffer = good;
  short_buffer.pixels.pop_back();
  CHECK_THROWS_AS(ctnn::image::imagenet_preprocess(short_buffer), ctnn::Error);
  CHECK_THROWS_AS(ctnn::image::imagenet_preprocess(Image{}), ctnn::Error);
  CHECK_THROWS_AS(ctnn::image::imagenet_preprocess(Image{1, 1, 5, std::vector<std::uint8_t>(5)}), ctnn::Error);
  CHECK_THROWS_AS(ctnn::image::imagenet_preprocess(good, 0, 224), ctnn::Error);
  CHECK_THROWS_AS(ctnn::image::imagenet_preprocess(good, 256, -1), ctnn::Error);
  CHECK_THROWS_AS(ctnn::image::grayscale_preprocess(good, 28, 0.5f, 0.0f), ctnn::Error);
  CHECK_THROWS_AS(ctnn::image::resize_bilinear(good, 1 << 20, 1 << 20), ctnn::Error);  // beyond max_pixels
  CHECK_THROWS_WITH_AS(ctnn::image::imagenet_preprocess(filled_image(1, 100, 3), 1 << 12, 8),  // 4096 x 409600
                       doctest::Contains("exceeds the limit"), ctnn::Error);
}
