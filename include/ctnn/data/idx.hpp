#pragma once
// Reading IDX files, the container format of MNIST and Fashion-MNIST, either gzip-compressed
// (as they are distributed) or uncompressed.
//
// An IDX file is a big-endian header followed by row-major data:
//   bytes 0-1  zero
//   byte  2    element type (0x08 = unsigned byte, the only type these data sets use)
//   byte  3    number of dimensions
//   then one 32-bit size per dimension, then the elements.
//
// Every defect (missing file, corrupt gzip stream, wrong magic number, sizes that disagree with
// the file length, absurd sizes) is thrown as ctnn::Error(file path, reason); nothing is returned
// partially.

#include <zlib.h>   // gzdopen, gzbuffer, gzread, gzdirect, gzerror, gzclose

#include <algorithm>      // std::min, std::max
#include <array>          // std::array
#include <cstddef>        // std::size_t
#include <cstdint>        // std::uint8_t, std::uint32_t
#include <filesystem>     // std::filesystem::path
#include <memory>         // std::unique_ptr
#include <string>         // std::string, std::to_string
#include <vector>         // std::vector

#include "ctnn/error.hpp"     // ctnn::Error
#include "ctnn/io/file.hpp"   // ctnn::io::InputFile

namespace ctnn::data {

// The most data an IDX file may declare. Guards against corrupt or hostile headers that would
// otherwise make us allocate (or overflow computing) a huge size; the biggest real file,
// Fashion-MNIST's training images, holds 47 MB.
inline constexpr std::size_t idx_max_data_bytes = 1'000'000'000;

// Element-type code of unsigned bytes, byte 2 of the magic number.
inline constexpr std::uint8_t idx_type_unsigned_byte = 0x08;

// The magic number of an unsigned-byte IDX file with `rank` dimensions.
constexpr std::uint32_t idx_unsigned_byte_magic(std::uint8_t rank) {
  return (std::uint32_t{idx_type_unsigned_byte} << 8) | rank;
}
inline constexpr std::uint32_t idx_images_magic = idx_unsigned_byte_magic(3);   // 0x00000803
inline constexpr std::uint32_t idx_labels_magic = idx_unsigned_byte_magic(1);   // 0x00000801

// The contents of an unsigned-byte IDX file.
struct IdxArray {
  std::vector<std::size_t> dimensions;   // as declared in the header, outermost first
  std::vector<std::uint8_t> values;      // row-major, product of `dimensions` elements
};

namespace detail {

inline std::string hex32(std::uint32_t value) {
  constexpr char digits[] = "0123456789abcdef";
  std::string text = "0x00000000";
  // Fill the eight digits after "0x" from the least significant one.
  for (std::size_t position = text.size() - 1; position >= 2; --position, value >>= 4) {
    text[position] = digits[value & 0xF];
  }
  return text;
}

inline std::string hex_bytes(const unsigned char* bytes, std::size_t count) {
  constexpr char digits[] = "0123456789abcdef";
  std::string text;
  for (std::size_t i = 0; i < count; ++i) {
    if (i != 0) text += ' ';
    text += digits[bytes[i] >> 4];
    text += digits[bytes[i] & 0xF];
  }
  return text;
}

inline std::string format_dimensions(const std::vector<std::size_t>& dimensions) {
  std::string text = "[";
  for (std::size_t i = 0; i < dimensions.size(); ++i) {
    if (i != 0) text += ", ";
    text += std::to_string(dimensions[i]);
  }
  return text + "]";
}

inline std::uint32_t read_big_endian_32(const unsigned char* bytes) {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
         (std::uint32_t{bytes[2]} << 8) | std::uint32_t{bytes[3]};
}

inline std::string idx_type_name(std::uint8_t type_code) {
  switch (type_code) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "16-bit integer";
    case 0x0C: return "32-bit integer";
    case 0x0D: return "32-bit float";
    case 0x0E: return "64-bit float";
    default: return "unknown type";
  }
}

// A file opened through zlib, which reads gzip streams and, transparently, uncompressed files.
// Every read error becomes a ctnn::Error naming the file.
class GzipInput {
 public:
  explicit GzipInput(const std::filesystem::path& file) : path_(file.string()) {
    // Only a regular file: a FIFO would block, a device would never end (ctnn/io/file.hpp).
    io::InputFile input = io::InputFile::open(file);
    handle_.reset(gzdopen(input.descriptor(), "rb"));
    if (!handle_) throw Error(path_, "cannot open: zlib could not allocate its state");
    input.release();  // gzclose closes it now
    // A larger buffer than zlib's 8 KiB default cuts the number of read() system calls.
    gzbuffer(handle_.get(), 1u << 20);
  }

  // Reads up to `size` bytes; returns fewer only at the end of the data. Throws on a corrupt or
  // cut-off gzip stream.
  std::size_t read(void* destination, std::size_t size) {
    auto* bytes = static_cast<unsigned char*>(destination);
    std::size_t total = 0;
    while (total < size) {
      // gzread takes an unsigned and returns an int, so read at most 1 GiB per call.
      const auto request = static_cast<unsigned>(std::min<std::size_t>(size - total, std::size_t{1} << 30));
      const int got = gzread(handle_.get(), bytes + total, request);
      if (got < 0) throw_zlib_error("corrupt gzip stream");
      if (got == 0) break;
      total += static_cast<std::size_t>(got);
    }
    if (total < size) {
      // At the end of input, Z_BUF_ERROR means the file ended in the middle of a gzip stream.
      int error_number = Z_OK;
      gzerror(handle_.get(), &error_number);
      if (error_number == Z_BUF_ERROR) throw_zlib_error("gzip stream is cut off");
      if (error_number != Z_OK) throw_zlib_error("corrupt gzip stream");
    }
    return total;
  }

  // False for a file zlib passes through uncompressed. Meaningful after the first read.
  bool is_compressed() { return gzdirect(handle_.get()) == 0; }

  const std::string& path() const { return path_; }

 private:
  [[noreturn]] void throw_zlib_error(const std::string& what) {
    int error_number = Z_OK;
    std::string message = gzerror(handle_.get(), &error_number);
    // zlib prefixes its message with what it was given, "<fd:3>: " for gzdopen; the Error names the file.
    if (const std::size_t colon = message.find(": "); message.starts_with("<fd:") && colon != std::string::npos)
      message.erase(0, colon + 2);
    throw Error(path_, what + ": " + message + " (zlib)");
  }

  struct GzipCloser {
    void operator()(gzFile file) const { gzclose(file); }
  };
  std::string path_;
  std::unique_ptr<gzFile_s, GzipCloser> handle_;
};

}  // namespace detail

// Reads an unsigned-byte IDX file with `expected_rank` dimensions, gzip-compressed or not.
// Throws ctnn::Error(file, reason) unless the file is exactly such an IDX file declaring at
// most `max_data_bytes` of data.
inline IdxArray read_idx_ubyte(const std::filesystem::path& file, std::size_t expected_rank,
                               std::size_t max_data_bytes = idx_max_data_bytes) {
  // The rank travels in one byte of the magic number.
  if (expected_rank == 0 || expected_rank > 0xFF) {
    throw Error(file.string(), "cannot read an IDX file of " + std::to_string(expected_rank) + " dimensions");
  }
  detail::GzipInput input(file);
  const std::string& path = input.path();

  std::array<unsigned char, 4> magic_bytes{};
  const std::size_t magic_read = input.read(magic_bytes.data(), magic_bytes.size());
  const bool compressed = input.is_compressed();
  if (magic_read == 0) throw Error(path, compressed ? "gzip stream holds no data" : "file is empty");
  // Every IDX file starts with two zero bytes; an uncompressed file that does not is neither
  // gzip nor IDX (a zip archive, a text file, an HTML error page saved by a failed download...).
  if (!compressed && (magic_bytes[0] != 0 || (magic_read > 1 && magic_bytes[1] != 0))) {
    throw Error(path, "neither gzip-compressed nor an IDX file: it starts with bytes " +
                          detail::hex_bytes(magic_bytes.data(), magic_read));
  }
  if (magic_read < magic_bytes.size()) {
    throw Error(path, "truncated: data ends after " + std::to_string(magic_read) +
                          " bytes, inside the 4-byte IDX magic number");
  }

  const std::uint32_t magic = detail::read_big_endian_32(magic_bytes.data());
  const std::uint32_t expected_magic = idx_unsigned_byte_magic(static_cast<std::uint8_t>(expected_rank));
  if (magic != expected_magic) {
    const std::string mismatch =
        "wrong magic number " + detail::hex32(magic) + ", expected " + detail::hex32(expected_magic);
    const auto type_code = static_cast<std::uint8_t>(magic >> 8);
    const auto rank = static_cast<std::uint8_t>(magic);
    if ((magic >> 16) != 0) throw Error(path, mismatch + ": not an IDX file");
    if (type_code != idx_type_unsigned_byte) {
      throw Error(path, mismatch + ": elements are " + detail::idx_type_name(type_code) +
                            ", expected unsigned byte");
    }
    throw Error(path, mismatch + ": the file has " + std::to_string(rank) + (rank == 1 ? " dimension" : " dimensions") +
                          ", expected " + std::to_string(expected_rank));
  }

  std::vector<unsigned char> size_bytes(4 * expected_rank);
  const std::size_t sizes_read = input.read(size_bytes.data(), size_bytes.size());
  if (sizes_read < size_bytes.size()) {
    throw Error(path, "truncated: the header ends after " + std::to_string(sizes_read) + " of its " +
                          std::to_string(size_bytes.size()) + " dimension-size bytes");
  }

  IdxArray array;
  array.dimensions.resize(expected_rank);
  for (std::size_t axis = 0; axis < expected_rank; ++axis) {
    array.dimensions[axis] = detail::read_big_endian_32(size_bytes.data() + 4 * axis);
  }
  // Multiply with a check against the cap, which also rules out overflow of std::size_t.
  std::size_t data_bytes = 1;
  for (const std::size_t extent : array.dimensions) {
    if (extent != 0 && data_bytes > max_data_bytes / extent) {
      throw Error(path, "absurd dimensions " + detail::format_dimensions(array.dimensions) +
                            ": they declare more than the limit of " + std::to_string(max_data_bytes) +
                            " bytes");
    }
    data_bytes *= extent;
  }

  // Grow the buffer as data actually arrives, so a header that lies about the size costs at most
  // twice the real data rather than the declared amount.
  std::size_t bytes_read = 0;
  while (bytes_read < data_bytes) {
    const std::size_t chunk = std::min(data_bytes - bytes_read, std::max(bytes_read, std::size_t{1} << 24));
    array.values.resize(bytes_read + chunk);
    const std::size_t got = input.read(array.values.data() + bytes_read, chunk);
    bytes_read += got;
    if (got < chunk) break;
  }
  if (bytes_read < data_bytes) {
    throw Error(path, "truncated: dimensions " + detail::format_dimensions(array.dimensions) + " declare " +
                          std::to_string(data_bytes) + " data bytes, the file holds only " +
                          std::to_string(bytes_read));
  }

  // Reading past the declared data also makes zlib verify the gzip checksum at the stream's end.
  constexpr std::size_t trailing_count_limit = std::size_t{1} << 20;
  std::array<unsigned char, 4096> scratch{};
  std::size_t trailing_bytes = 0;
  while (trailing_bytes <= trailing_count_limit) {
    const std::size_t got = input.read(scratch.data(), scratch.size());
    trailing_bytes += got;
    if (got < scratch.size()) break;
  }
  if (trailing_bytes != 0) {
    const std::string amount = trailing_bytes > trailing_count_limit
                                   ? "more than " + std::to_string(trailing_count_limit)
                                   : std::to_string(trailing_bytes);
    throw Error(path, "sizes do not match the file length: " + amount + " trailing bytes after the " +
                          std::to_string(data_bytes) + " data bytes declared by dimensions " +
                          detail::format_dimensions(array.dimensions));
  }
  return array;
}

// An IDX image file: magic 0x00000803, dimensions [count, height, width].
inline IdxArray read_idx_images(const std::filesystem::path& file, std::size_t max_data_bytes = idx_max_data_bytes) {
  return read_idx_ubyte(file, 3, max_data_bytes);
}

// An IDX label file: magic 0x00000801, dimensions [count].
inline IdxArray read_idx_labels(const std::filesystem::path& file, std::size_t max_data_bytes = idx_max_data_bytes) {
  return read_idx_ubyte(file, 1, max_data_bytes);
}

}  // namespace ctnn::data
