#pragma once
// Reading and writing the safetensors format (https://github.com/huggingface/safetensors).
//
// Layout of a file:
//   8 bytes   N, the header length, unsigned little-endian
//   N bytes   JSON header, optionally padded with spaces:
//               {"__metadata__": {"format": "pt"},
//                "conv1.weight": {"dtype": "F32", "shape": [64, 3, 7, 7], "data_offsets": [0, 37632]}, ...}
//   the rest  data section; data_offsets are [begin, end) byte offsets relative to its start, and the
//             tensors must cover it exactly (no gaps, no overlaps).
//
// Files are untrusted input. Reader checks every field of the header, and that every byte of the data
// section belongs to exactly one tensor, before handing out any tensor; anything wrong is reported as
// ctnn::Error naming the file (and the tensor, where there is one) and saying what is wrong.
//
// Writing does what the reference implementation (the Rust/Python `safetensors` package) does, so
// the files are byte-for-byte what `safetensors.torch.save_file` writes (up to the order of several
// metadata keys, which the reference leaves to a hash map and we sort): compact JSON with
// __metadata__ first, the header padded with spaces to a multiple of 8 bytes, and tensors ordered by
// dtype, largest elements first, then by name, which keeps every tensor naturally aligned.

#include <algorithm>    // std::sort, std::copy, std::min
#include <bit>          // std::endian
#include <cstddef>      // std::size_t
#include <cstdint>      // std::uint8_t, std::uint16_t, std::int64_t, std::uint64_t
#include <cstring>      // std::memcpy
#include <filesystem>   // std::filesystem::path
#include <functional>   // std::less<> (lookup by string_view)
#include <limits>       // std::numeric_limits
#include <map>          // std::map
#include <optional>     // std::optional
#include <set>          // std::set
#include <span>         // std::span
#include <string>       // std::string, std::to_string
#include <string_view>  // std::string_view
#include <utility>      // std::move
#include <vector>       // std::vector

#include <nlohmann/json.hpp>  // nlohmann::json::sax_parse (header parsing), dump (string quoting)

#include "ctnn/error.hpp"    // ctnn::Error
#include "ctnn/io/file.hpp"  // ctnn::io::read_regular_file, write_file_atomically
#include "ctnn/io/half.hpp"  // float16_to_float, bfloat16_to_float

namespace ctnn::safetensors {

// Tensor data is stored little-endian; the reader and writer copy it as-is.
static_assert(std::endian::native == std::endian::little,
              "ctnn::safetensors assumes a little-endian host");

// The element types ctnn understands, named as in the safetensors header ("F32", "BF16", ...).
enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

// Bytes per element; 0 for a value outside the enumeration.
constexpr std::size_t dtype_size(DType dtype) noexcept {
  switch (dtype) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    case DType::I8: case DType::U8: case DType::BOOL: return 1;
  }
  return 0;
}

// The header spelling of the dtype; "?" for a value outside the enumeration.
constexpr std::string_view dtype_name(DType dtype) noexcept {
  switch (dtype) {
    case DType::F64: return "F64";
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::BOOL: return "BOOL";
  }
  return "?";
}

// Parses a header dtype string; nullopt for anything ctnn does not support (e.g. "U16", "F8_E4M3").
constexpr std::optional<DType> dtype_from_name(std::string_view name) noexcept {
  for (DType dtype : {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32,
                      DType::I16, DType::I8, DType::U8, DType::BOOL}) {
    if (dtype_name(dtype) == name) return dtype;
  }
  return std::nullopt;
}

// One header entry, as validated by Reader.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;  // [] is a scalar (one element)
  std::uint64_t begin = 0;          // byte offsets relative to the start of the data section
  std::uint64_t end = 0;

  // Product of the shape (1 for a scalar). Reader guarantees it does not overflow.
  std::uint64_t element_count() const noexcept {
    std::uint64_t count = 1;
    for (std::int64_t dim : shape) count *= static_cast<std::uint64_t>(dim);
    return count;
  }
  std::uint64_t byte_count() const noexcept { return end - begin; }
};

// A tensor to write: its bytes must already be in the dtype's little-endian layout.
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::span<const std::uint8_t> bytes;
};

namespace detail {

// The reference implementation refuses headers above 100 MB; so do we, before allocating anything.
inline constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

// Names come from untrusted files: quote them, and cut absurdly long ones so error messages stay
// readable. The cut backs off to a UTF-8 character boundary.
// (These helpers append to a std::string rather than write "'" + text: GCC 12 at -O3 gives false
// -Wrestrict warnings for `const char* + std::string&&`.)
inline std::string quote_name(std::string_view text) {
  constexpr std::size_t kMaxShown = 200;
  std::string quoted(1, '\'');
  if (text.size() <= kMaxShown) {
    quoted += text;
    quoted += '\'';
    return quoted;
  }
  std::size_t cut = kMaxShown;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0u) == 0x80u) --cut;
  quoted += text.substr(0, cut);
  quoted += "...' (";
  quoted += std::to_string(text.size());
  quoted += " bytes)";
  return quoted;
}

// The Error subject for a tensor: "file: tensor 'name'" (just "tensor 'name'" without a file).
inline std::string tensor_subject(const std::string& label, std::string_view tensor_name) {
  std::string subject = label.empty() ? std::string() : label + ": ";
  return subject + "tensor " + quote_name(tensor_name);
}

inline std::string format_shape(std::span<const std::int64_t> shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

inline std::string format_range(std::uint64_t begin, std::uint64_t end) {
  std::string text(1, '[');
  text += std::to_string(begin);
  text += ", ";
  text += std::to_string(end);
  text += ']';
  return text;
}

// product(shape) * dtype_size, or nullopt if a dimension is negative or the product does not fit in
// 64 bits (checked with the GCC/Clang builtin). A zero dimension makes the tensor empty whatever the
// other dimensions are.
inline std::optional<std::uint64_t> checked_byte_count(std::span<const std::int64_t> shape,
                                                       DType dtype) {
  for (std::int64_t dim : shape) {
    if (dim < 0) return std::nullopt;
    if (dim == 0) return 0;
  }
  std::uint64_t bytes = dtype_size(dtype);
  for (std::int64_t dim : shape) {
    if (__builtin_mul_overflow(bytes, static_cast<std::uint64_t>(dim), &bytes)) return std::nullopt;
  }
  return bytes;
}

// double -> float rounding to nearest even, like static_cast, but defined for finite values beyond
// float's range (a plain cast of those is undefined behaviour): they become infinities.
inline float double_to_float(double value) noexcept {
  constexpr double kRoundsToInfinity = 0x1.ffffffp127;  // largest float plus half an ulp
  if (value >= kRoundsToInfinity) return std::numeric_limits<float>::infinity();
  if (value <= -kRoundsToInfinity) return -std::numeric_limits<float>::infinity();
  return static_cast<float>(value);
}

// A validation failure found while parsing the header: reason, and the tensor it concerns (if any).
struct HeaderFailure {
  std::optional<std::string> tensor;
  std::string reason;
};

// nlohmann SAX handler that checks the header's structure event by event, without building a DOM:
//   { "__metadata__": { string: string, ... },  "<name>": { "dtype": string,
//     "shape": [non-negative integers], "data_offsets": [two non-negative integers] }, ... }
// Because it rejects anything nested deeper than that as soon as it starts, hostile inputs cannot
// make it recurse or allocate much; and because it sees every key, it catches duplicate keys that
// nlohmann's DOM parser would silently collapse to the last one.
class HeaderHandler {
 public:
  using json = nlohmann::json;

  std::vector<TensorInfo> tensors;
  std::map<std::string, std::string> metadata;
  std::optional<HeaderFailure> failure;

  bool null() { return unexpected_value("null"); }
  bool boolean(bool) { return unexpected_value("a boolean"); }
  bool number_float(json::number_float_t, const json::string_t&) {
    return unexpected_value("a non-integer number");
  }
  bool binary(json::binary_t&) { return unexpected_value("binary data"); }

  bool number_integer(json::number_integer_t value) {
    // JSON text only reports negative integers (and "-0") here; non-negative ones arrive unsigned.
    if (value >= 0) return number_unsigned(static_cast<json::number_unsigned_t>(value));
    if (place_ == Place::Shape) {
      return fail_tensor("'shape' has the negative dimension " + std::to_string(value));
    }
    if (place_ == Place::Offsets) {
      return fail_tensor("'data_offsets' has the negative offset " + std::to_string(value));
    }
    return unexpected_value("a number");
  }

  bool number_unsigned(json::number_unsigned_t value) {
    if (place_ == Place::Shape) {
      if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return fail_tensor("'shape' dimension " + std::to_string(value) + " is too large");
      }
      entry_.shape.push_back(static_cast<std::int64_t>(value));
      return true;
    }
    if (place_ == Place::Offsets) {
      if (offsets_.size() == 2) return fail_tensor("'data_offsets' must have exactly two entries");
      offsets_.push_back(value);
      return true;
    }
    return unexpected_value("a number");
  }

  bool string(json::string_t& value) {
    if (place_ == Place::Metadata) {
      metadata.emplace(metadata_key_, std::move(value));
      return true;
    }
    if (place_ == Place::Entry && field_ == Field::DType) {
      const std::optional<DType> dtype = dtype_from_name(value);
      if (!dtype) return fail_tensor("unknown dtype " + quote_name(value));
      entry_.dtype = *dtype;
      return true;
    }
    return unexpected_value("a string");
  }

  bool start_object(std::size_t) {
    switch (place_) {
      case Place::Start: place_ = Place::Root; return true;
      case Place::Root:
        if (pending_is_metadata_) {
          place_ = Place::Metadata;
        } else {
          place_ = Place::Entry;
          seen_dtype_ = seen_shape_ = seen_offsets_ = false;
        }
        return true;
      default: return unexpected_value("an object");
    }
  }

  bool key(json::string_t& key) {
    switch (place_) {
      case Place::Root:
        if (key == "__metadata__") {
          if (seen_metadata_) return fail("header has the key '__metadata__' twice");
          seen_metadata_ = true;
          pending_is_metadata_ = true;
          return true;
        }
        pending_is_metadata_ = false;
        if (!names_.insert(key).second) {
          entry_.name = key;
          return fail_tensor("tensor name appears twice in the header");
        }
        entry_ = TensorInfo{};
        entry_.name = key;
        return true;
      case Place::Metadata:
        if (metadata.contains(key)) return fail("'__metadata__' has the key " + quote_name(key) + " twice");
        metadata_key_ = key;
        return true;
      case Place::Entry: return entry_key(key);
      default: return fail("unexpected key " + quote_name(key));  // not reachable for JSON text
    }
  }

  bool end_object() {
    switch (place_) {
      case Place::Root: place_ = Place::Done; return true;
      case Place::Metadata: place_ = Place::Root; return true;
      case Place::Entry:
        if (!seen_dtype_) return fail_tensor("entry has no 'dtype'");
        if (!seen_shape_) return fail_tensor("entry has no 'shape'");
        if (!seen_offsets_) return fail_tensor("entry has no 'data_offsets'");
        tensors.push_back(std::move(entry_));
        entry_ = TensorInfo{};
        place_ = Place::Root;
        return true;
      default: return fail("unbalanced JSON object");  // not reachable for JSON text
    }
  }

  bool start_array(std::size_t) {
    if (place_ == Place::Entry && field_ == Field::Shape) {
      place_ = Place::Shape;
      return true;
    }
    if (place_ == Place::Entry && field_ == Field::Offsets) {
      place_ = Place::Offsets;
      offsets_.clear();
      return true;
    }
    return unexpected_value("an array");
  }

  bool end_array() {
    if (place_ == Place::Shape) {
      place_ = Place::Entry;
      return true;
    }
    if (place_ == Place::Offsets) {
      if (offsets_.size() != 2) return fail_tensor("'data_offsets' must have exactly two entries");
      entry_.begin = offsets_[0];
      entry_.end = offsets_[1];
      place_ = Place::Entry;
      return true;
    }
    return fail("unbalanced JSON array");  // not reachable for JSON text
  }

  bool parse_error(std::size_t, const std::string&, const json::exception& error) {
    return fail(std::string("header is not valid JSON: ") + error.what());
  }

 private:
  enum class Place { Start, Root, Metadata, Entry, Shape, Offsets, Done };
  enum class Field { DType, Shape, Offsets };

  bool entry_key(const std::string& key) {
    bool* seen = nullptr;
    if (key == "dtype") {
      field_ = Field::DType;
      seen = &seen_dtype_;
    } else if (key == "shape") {
      field_ = Field::Shape;
      seen = &seen_shape_;
    } else if (key == "data_offsets") {
      field_ = Field::Offsets;
      seen = &seen_offsets_;
    } else {
      return fail_tensor("entry has the unexpected key " + quote_name(key) +
                         " (allowed: 'dtype', 'shape', 'data_offsets')");
    }
    if (*seen) return fail_tensor("entry has the key " + quote_name(key) + " twice");
    *seen = true;
    return true;
  }

  // A value of the wrong kind where `place_` expects something else; `found` names its kind.
  bool unexpected_value(const std::string& found) {
    switch (place_) {
      case Place::Start: return fail("header is not a JSON object (found " + found + ")");
      case Place::Root:
        if (pending_is_metadata_) {
          return fail("'__metadata__' must be an object of strings, found " + found);
        }
        return fail_tensor("entry must be an object with 'dtype', 'shape' and 'data_offsets', found " +
                           found);
      case Place::Metadata:
        return fail("'__metadata__' value of " + quote_name(metadata_key_) +
                    " must be a string, found " + found);
      case Place::Entry:
        switch (field_) {
          case Field::DType: return fail_tensor("'dtype' must be a string, found " + found);
          case Field::Shape:
            return fail_tensor("'shape' must be an array of non-negative integers, found " + found);
          case Field::Offsets:
            return fail_tensor("'data_offsets' must be an array of two non-negative integers, found " +
                               found);
        }
        break;
      case Place::Shape:
        return fail_tensor("'shape' must contain only non-negative integers, found " + found);
      case Place::Offsets:
        return fail_tensor("'data_offsets' must contain only non-negative integers, found " + found);
      case Place::Done: break;
    }
    return fail("unexpected " + found);  // not reachable for JSON text
  }

  bool fail(std::string reason) {
    if (!failure) failure = HeaderFailure{std::nullopt, std::move(reason)};
    return false;  // stops the parser
  }
  bool fail_tensor(std::string reason) {
    if (!failure) failure = HeaderFailure{entry_.name, std::move(reason)};
    return false;
  }

  Place place_ = Place::Start;
  Field field_ = Field::DType;
  TensorInfo entry_;
  std::vector<std::uint64_t> offsets_;
  std::set<std::string, std::less<>> names_;
  std::string metadata_key_;
  bool pending_is_metadata_ = false;
  bool seen_metadata_ = false;
  bool seen_dtype_ = false, seen_shape_ = false, seen_offsets_ = false;
};

// Copies `count` elements stored as `Stored` (little-endian, possibly unaligned) into `out`,
// converting each with `convert`.
template <class Stored, class Out, class Convert>
void convert_elements(std::span<const std::uint8_t> bytes, std::span<Out> out, Convert convert) {
  for (std::size_t i = 0; i < out.size(); ++i) {
    Stored stored;
    std::memcpy(&stored, bytes.data() + i * sizeof(Stored), sizeof(Stored));
    out[i] = convert(stored);
  }
}

}  // namespace detail

class Reader {
 public:
  // Reads the whole file into memory and validates it. The file path is the label in errors. Only
  // a regular file is read (a FIFO or a device is refused: see ctnn/io/file.hpp).
  static Reader open(const std::filesystem::path& file) {
    std::vector<std::uint8_t> bytes;
    try {
      bytes = io::read_regular_file(file);
    } catch (const Error& error) {
      throw Error(file.string(), "cannot read the file: " + error.reason());
    }
    return from_bytes(std::move(bytes), file.string());
  }

  // Validates a file already in memory; `label` stands for the file in error messages.
  static Reader from_bytes(std::vector<std::uint8_t> bytes, std::string label) {
    Reader reader;
    reader.bytes_ = std::move(bytes);
    reader.label_ = std::move(label);
    reader.parse();
    return reader;
  }

  // All tensors, ordered by their offset in the data section.
  const std::vector<TensorInfo>& tensors() const noexcept { return tensors_; }

  // The tensor called `name`, or nullptr.
  const TensorInfo* find(std::string_view name) const {
    const auto found = index_by_name_.find(name);
    return found == index_by_name_.end() ? nullptr : &tensors_[found->second];
  }

  // The "__metadata__" entries (empty if the header has none).
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }

  // The tensor's bytes as stored: little-endian, and not necessarily aligned for its dtype.
  std::span<const std::uint8_t> raw(const TensorInfo& info) const {
    // `info` normally comes from tensors(); check anyway, it is a public value type.
    if (info.begin > info.end || info.end > data_size()) {
      throw Error(detail::tensor_subject(label_, info.name),
                  "data_offsets " + detail::format_range(info.begin, info.end) +
                      " lie outside the data section of " + std::to_string(data_size()) + " bytes");
    }
    return std::span<const std::uint8_t>(bytes_).subspan(
        static_cast<std::size_t>(data_begin_ + info.begin),
        static_cast<std::size_t>(info.end - info.begin));
  }

  // F32, F64, F16 and BF16 tensors as float32. out.size() must equal the element count.
  void read_as(const TensorInfo& info, std::span<float> out) const {
    if (!is_floating(info.dtype)) throw wrong_dtype(info, "float32", "F32, F64, F16 or BF16");
    const std::span<const std::uint8_t> bytes = checked_source(info, out.size());
    switch (info.dtype) {
      case DType::F32: copy_bytes(bytes, out); return;
      case DType::F64: detail::convert_elements<double>(bytes, out, detail::double_to_float); return;
      case DType::F16:
        detail::convert_elements<std::uint16_t>(bytes, out, float16_to_float);
        return;
      case DType::BF16:
        detail::convert_elements<std::uint16_t>(bytes, out, bfloat16_to_float);
        return;
      default: throw wrong_dtype(info, "float32", "F32, F64, F16 or BF16");
    }
  }

  // F64, F32, F16 and BF16 tensors as float64. out.size() must equal the element count.
  void read_as(const TensorInfo& info, std::span<double> out) const {
    if (!is_floating(info.dtype)) throw wrong_dtype(info, "float64", "F64, F32, F16 or BF16");
    const std::span<const std::uint8_t> bytes = checked_source(info, out.size());
    switch (info.dtype) {
      case DType::F64: copy_bytes(bytes, out); return;
      case DType::F32:
        detail::convert_elements<float>(bytes, out, [](float v) { return static_cast<double>(v); });
        return;
      case DType::F16:
        detail::convert_elements<std::uint16_t>(
            bytes, out, [](std::uint16_t v) { return static_cast<double>(float16_to_float(v)); });
        return;
      case DType::BF16:
        detail::convert_elements<std::uint16_t>(
            bytes, out, [](std::uint16_t v) { return static_cast<double>(bfloat16_to_float(v)); });
        return;
      default: throw wrong_dtype(info, "float64", "F64, F32, F16 or BF16");
    }
  }

  // Integer tensors (I64, and losslessly widened I32, I16, I8, U8, BOOL) as int64, e.g. PyTorch's
  // BatchNorm num_batches_tracked. out.size() must equal the element count.
  void read_as(const TensorInfo& info, std::span<std::int64_t> out) const {
    if (is_floating(info.dtype)) throw wrong_dtype(info, "int64", "I64, I32, I16, I8, U8 or BOOL");
    const std::span<const std::uint8_t> bytes = checked_source(info, out.size());
    const auto widen = [](auto v) { return static_cast<std::int64_t>(v); };
    switch (info.dtype) {
      case DType::I64: copy_bytes(bytes, out); return;
      case DType::I32: detail::convert_elements<std::int32_t>(bytes, out, widen); return;
      case DType::I16: detail::convert_elements<std::int16_t>(bytes, out, widen); return;
      case DType::I8: detail::convert_elements<std::int8_t>(bytes, out, widen); return;
      case DType::U8: detail::convert_elements<std::uint8_t>(bytes, out, widen); return;
      case DType::BOOL:
        detail::convert_elements<std::uint8_t>(
            bytes, out, [](std::uint8_t v) { return static_cast<std::int64_t>(v != 0); });
        return;
      default: throw wrong_dtype(info, "int64", "I64, I32, I16, I8, U8 or BOOL");
    }
  }

  // The file path (or from_bytes label) used in error messages.
  const std::string& label() const noexcept { return label_; }

 private:
  Reader() = default;

  static constexpr bool is_floating(DType dtype) noexcept {
    return dtype == DType::F64 || dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16;
  }

  std::uint64_t data_size() const noexcept { return bytes_.size() - data_begin_; }

  [[noreturn]] void fail(std::string reason) const { throw Error(label_, std::move(reason)); }
  [[noreturn]] void fail_tensor(std::string_view tensor_name, std::string reason) const {
    throw Error(detail::tensor_subject(label_, tensor_name), std::move(reason));
  }

  void parse() {
    const std::uint64_t file_size = bytes_.size();
    if (file_size < 8) {
      fail("the file is " + std::to_string(file_size) +
           " bytes long, too short for the 8-byte header length of a safetensors file");
    }
    std::uint64_t header_size = 0;
    for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | bytes_[static_cast<std::size_t>(i)];
    if (header_size > detail::kMaxHeaderBytes) {
      fail("header length " + std::to_string(header_size) + " exceeds the limit of " +
           std::to_string(detail::kMaxHeaderBytes) + " bytes (corrupt or not a safetensors file)");
    }
    if (header_size > file_size - 8) {
      fail("header length " + std::to_string(header_size) + " exceeds the " +
           std::to_string(file_size - 8) + " bytes that follow it (truncated or not a safetensors file)");
    }
    data_begin_ = 8 + header_size;
    parse_header(bytes_.data() + 8, bytes_.data() + data_begin_);
    check_entries();
    check_coverage();
    for (std::size_t i = 0; i < tensors_.size(); ++i) index_by_name_.emplace(tensors_[i].name, i);
  }

  void parse_header(const std::uint8_t* begin, const std::uint8_t* end) {
    detail::HeaderHandler handler;
    bool parsed = false;
    try {
      parsed = nlohmann::json::sax_parse(begin, end, &handler);
    } catch (const nlohmann::json::exception& error) {
      // sax_parse reports syntax errors through the handler; this is a safety net so that no
      // nlohmann exception ever leaves the reader.
      fail(std::string("header is not valid JSON: ") + error.what());
    }
    if (handler.failure) {
      if (handler.failure->tensor) fail_tensor(*handler.failure->tensor, handler.failure->reason);
      fail(handler.failure->reason);
    }
    if (!parsed) fail("header is not valid JSON");
    tensors_ = std::move(handler.tensors);
    metadata_ = std::move(handler.metadata);
  }

  // Per-entry checks: offsets ordered and inside the data section, byte length matching the shape.
  void check_entries() const {
    for (const TensorInfo& info : tensors_) {
      const std::string range = detail::format_range(info.begin, info.end);
      if (info.begin > info.end) {
        fail_tensor(info.name, "data_offsets " + range + " begin after they end");
      }
      if (info.end > data_size()) {
        fail_tensor(info.name, "data_offsets " + range + " reach past the end of the data section (" +
                                   std::to_string(data_size()) + " bytes)");
      }
      const std::optional<std::uint64_t> expected = detail::checked_byte_count(info.shape, info.dtype);
      if (!expected) {
        fail_tensor(info.name, "shape " + detail::format_shape(info.shape) +
                                   " has too many elements (the byte count overflows 64 bits)");
      }
      if (*expected != info.end - info.begin) {
        fail_tensor(info.name, "shape " + detail::format_shape(info.shape) + " with dtype " +
                                   std::string(dtype_name(info.dtype)) + " needs " +
                                   std::to_string(*expected) + " bytes, but data_offsets " + range +
                                   " span " + std::to_string(info.end - info.begin));
      }
    }
  }

  // Sorts the tensors by offset and checks they tile the data section: no overlap, no gap.
  void check_coverage() {
    std::sort(tensors_.begin(), tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
      if (a.begin != b.begin) return a.begin < b.begin;
      if (a.end != b.end) return a.end < b.end;
      return a.name < b.name;
    });
    std::uint64_t covered_to = 0;
    const TensorInfo* last_owner = nullptr;  // the tensor ending at covered_to
    for (const TensorInfo& info : tensors_) {
      if (info.begin < covered_to) {
        fail_tensor(info.name, "data_offsets " + detail::format_range(info.begin, info.end) +
                                   " overlap those of tensor " + detail::quote_name(last_owner->name) + " " +
                                   detail::format_range(last_owner->begin, last_owner->end));
      }
      if (info.begin > covered_to) {
        fail("bytes [" + std::to_string(covered_to) + ", " + std::to_string(info.begin) + ")" +
             " of the data section belong to no tensor (gap before tensor " +
             detail::quote_name(info.name) + ")");
      }
      if (info.end > covered_to || last_owner == nullptr) {
        covered_to = info.end;
        last_owner = &info;
      }
    }
    if (covered_to != data_size()) {
      fail("bytes [" + std::to_string(covered_to) + ", " + std::to_string(data_size()) + ")" +
           " at the end of the data section belong to no tensor");
    }
  }

  // The tensor's bytes, after checking the destination size and that the entry is self-consistent.
  std::span<const std::uint8_t> checked_source(const TensorInfo& info, std::size_t out_size) const {
    const std::span<const std::uint8_t> bytes = raw(info);
    const std::optional<std::uint64_t> expected = detail::checked_byte_count(info.shape, info.dtype);
    if (!expected || *expected != bytes.size()) {
      fail_tensor(info.name, "shape " + detail::format_shape(info.shape) + " with dtype " +
                                 std::string(dtype_name(info.dtype)) + " does not match its " +
                                 std::to_string(bytes.size()) + " bytes");
    }
    if (info.element_count() != out_size) {
      fail_tensor(info.name, "destination holds " + std::to_string(out_size) +
                                 " values, but the tensor has " +
                                 std::to_string(info.element_count()) + " elements");
    }
    return bytes;
  }

  template <class T>
  static void copy_bytes(std::span<const std::uint8_t> bytes, std::span<T> out) {
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size_bytes());
  }

  Error wrong_dtype(const TensorInfo& info, const char* target, const char* accepted) const {
    return Error(detail::tensor_subject(label_, info.name),
                 "dtype " + std::string(dtype_name(info.dtype)) + " cannot be read as " + target +
                     " (accepted: " + accepted + ")");
  }

  std::vector<std::uint8_t> bytes_;
  std::string label_;
  std::uint64_t data_begin_ = 0;  // offset of the data section in bytes_
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_by_name_;
  std::map<std::string, std::string> metadata_;
};

namespace detail {

// The validated layout of a file to write: the 8-byte length and padded header, then the tensors'
// bytes in `order`.
struct WritePlan {
  std::string prefix_and_header;
  std::vector<const TensorView*> order;
  std::uint64_t data_size = 0;
};

// The position of the dtype in the reference implementation's Dtype enumeration (which lists dtypes
// by increasing alignment); its writer orders tensors by it, and so does ours, to write identical files.
constexpr int reference_write_rank(DType dtype) noexcept {
  switch (dtype) {
    case DType::BOOL: return 0;
    case DType::U8: return 1;
    case DType::I8: return 2;
    case DType::I16: return 5;
    case DType::F16: return 7;
    case DType::BF16: return 8;
    case DType::I32: return 9;
    case DType::F32: return 11;
    case DType::F64: return 12;
    case DType::I64: return 13;
  }
  return -1;
}

// JSON string literal for `text`; `subject` names what it is if it is not valid UTF-8.
inline std::string json_quote(const std::string& text, const std::string& subject) {
  try {
    return nlohmann::json(text).dump();
  } catch (const nlohmann::json::exception&) {
    throw Error(subject, "is not valid UTF-8 and cannot be stored in a safetensors header");
  }
}

// `label` is the file being written ("" for serialize); it prefixes error subjects.
inline WritePlan plan_write(std::span<const TensorView> tensors,
                            const std::map<std::string, std::string>& metadata,
                            const std::string& label) {
  WritePlan plan;
  for (const TensorView& tensor : tensors) {
    const std::string subject = tensor_subject(label, tensor.name);
    if (tensor.name == "__metadata__") {
      throw Error(subject, "the name '__metadata__' is reserved for the header's metadata");
    }
    if (dtype_size(tensor.dtype) == 0) {
      throw Error(subject, "invalid dtype value " + std::to_string(static_cast<int>(tensor.dtype)));
    }
    for (std::int64_t dim : tensor.shape) {
      if (dim < 0) throw Error(subject, "shape " + format_shape(tensor.shape) + " has a negative dimension");
    }
    const std::optional<std::uint64_t> expected = checked_byte_count(tensor.shape, tensor.dtype);
    if (!expected) {
      throw Error(subject, "shape " + format_shape(tensor.shape) +
                               " has too many elements (the byte count overflows 64 bits)");
    }
    if (*expected != tensor.bytes.size()) {
      throw Error(subject, "shape " + format_shape(tensor.shape) + " with dtype " +
                               std::string(dtype_name(tensor.dtype)) + " needs " +
                               std::to_string(*expected) + " bytes, but " +
                               std::to_string(tensor.bytes.size()) + " were given");
    }
    plan.order.push_back(&tensor);
  }

  // The reference writer's order: by dtype rank, descending, then by name. Element sizes never grow
  // along it, so with the data section starting 8-byte aligned every tensor is naturally aligned.
  std::sort(plan.order.begin(), plan.order.end(), [](const TensorView* a, const TensorView* b) {
    const int rank_a = reference_write_rank(a->dtype), rank_b = reference_write_rank(b->dtype);
    if (rank_a != rank_b) return rank_a > rank_b;
    return a->name < b->name;
  });
  // Duplicates may differ in dtype, so they need not be neighbours in that order: use a set.
  std::set<std::string_view> names;
  for (const TensorView* tensor : plan.order) {
    if (!names.insert(tensor->name).second) {
      throw Error(tensor_subject(label, tensor->name), "tensor name appears twice in the input");
    }
  }

  const std::string header_subject = label.empty() ? std::string("safetensors header") : label;
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      if (!first) header += ',';
      first = false;
      header += json_quote(key, header_subject + ": metadata key " + quote_name(key));
      header += ':';
      header += json_quote(value, header_subject + ": metadata value of " + quote_name(key));
    }
    header += '}';
  }
  for (const TensorView* tensor : plan.order) {
    if (header.size() > 1) header += ',';
    const std::uint64_t begin = plan.data_size;
    plan.data_size += tensor->bytes.size();
    header += json_quote(tensor->name, tensor_subject(label, tensor->name) + ": name");
    header += ":{\"dtype\":\"";
    header += dtype_name(tensor->dtype);
    header += "\",\"shape\":[";
    for (std::size_t i = 0; i < tensor->shape.size(); ++i) {
      if (i > 0) header += ',';
      header += std::to_string(tensor->shape[i]);
    }
    header += "],\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(plan.data_size) + "]}";
  }
  header += '}';
  // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
  header.append((8 - header.size() % 8) % 8, ' ');
  if (header.size() > kMaxHeaderBytes) {
    throw Error(header_subject, "header would be " + std::to_string(header.size()) +
                                    " bytes, above the " + std::to_string(kMaxHeaderBytes) +
                                    "-byte limit readers accept");
  }

  plan.prefix_and_header.reserve(8 + header.size());
  for (int i = 0; i < 8; ++i) {
    plan.prefix_and_header += static_cast<char>((static_cast<std::uint64_t>(header.size()) >> (8 * i)) & 0xFFu);
  }
  plan.prefix_and_header += header;
  return plan;
}

}  // namespace detail

// The file's bytes in memory: what write() would put on disk.
inline std::vector<std::uint8_t> serialize(std::span<const TensorView> tensors,
                                           const std::map<std::string, std::string>& metadata = {}) {
  const detail::WritePlan plan = detail::plan_write(tensors, metadata, "");
  std::vector<std::uint8_t> bytes;
  bytes.reserve(plan.prefix_and_header.size() + static_cast<std::size_t>(plan.data_size));
  bytes.insert(bytes.end(), plan.prefix_and_header.begin(), plan.prefix_and_header.end());
  for (const TensorView* tensor : plan.order) {
    bytes.insert(bytes.end(), tensor->bytes.begin(), tensor->bytes.end());
  }
  return bytes;
}

// Writes a safetensors file atomically and durably (io::write_file_atomically): into
// "<file>.tmp-<random>" next to it, synced to disk, then renamed over `file`, so readers never see a
// half-written file. On failure the temporary file is removed and ctnn::Error names `file`; an
// existing `file` is left untouched.
inline void write(const std::filesystem::path& file, std::span<const TensorView> tensors,
                  const std::map<std::string, std::string>& metadata = {}) {
  const detail::WritePlan plan = detail::plan_write(tensors, metadata, file.string());
  std::vector<std::span<const std::uint8_t>> parts;
  parts.reserve(plan.order.size() + 1);
  parts.emplace_back(reinterpret_cast<const std::uint8_t*>(plan.prefix_and_header.data()), plan.prefix_and_header.size());
  for (const TensorView* tensor : plan.order) parts.push_back(tensor->bytes);
  io::write_file_atomically(file, parts);
}

}  // namespace ctnn::safetensors
