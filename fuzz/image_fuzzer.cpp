// libFuzzer target for ctnn::image::decode (see fuzz/README.md for building and running).
//
// Every input is decoded as an image file. The decoder may refuse it only by throwing ctnn::Error;
// any other exception, crash or sanitizer report is a bug. Inputs it accepts must give a well-formed
// image within the pixel limit, the same image whatever channel count is asked for, and one that
// the preprocessing accepts.

#include <cstddef>   // std::size_t
#include <cstdint>   // std::uint8_t, std::int64_t
#include <cstdio>    // std::fprintf
#include <cstdlib>   // std::abort
#include <span>      // std::span

#include "ctnn/error.hpp"     // ctnn::Error
#include "ctnn/io/image.hpp"  // ctnn::image::decode, grayscale_preprocess, max_pixels

namespace {

// A broken invariant: report it and crash so libFuzzer saves the input.
void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "image_fuzzer: invariant broken: %s\n", what);
    std::abort();
  }
}

bool well_formed(const ctnn::image::Image& image, int channels) {
  return image.width > 0 && image.height > 0 && image.channels == channels &&
         std::int64_t{image.width} * image.height <= ctnn::image::max_pixels &&
         image.pixels.size() == std::size_t(image.width) * std::size_t(image.height) * std::size_t(channels);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  ctnn::image::Image stored;
  try {
    stored = ctnn::image::decode(bytes, "fuzz-input", 0);
  } catch (const ctnn::Error&) {
    return 0;  // refused cleanly: fine
  }
  require(stored.channels >= 1 && stored.channels <= 4, "stored channel count outside 1..4");
  require(well_formed(stored, stored.channels), "malformed image");
  for (int channels = 1; channels <= 4; ++channels) {
    const ctnn::image::Image converted = ctnn::image::decode(bytes, "fuzz-input", channels);  // must not throw now
    require(well_formed(converted, channels), "malformed converted image");
    require(converted.width == stored.width && converted.height == stored.height, "size depends on the channels asked for");
  }
  if (std::int64_t{stored.width} * stored.height <= 4096 * 4096) {  // keep each input fast
    require(ctnn::image::grayscale_preprocess(stored, 8).size() == 64, "preprocessing gives the wrong size");
  }
  return 0;
}
