// Tests for ctnn/io/safetensors.hpp and ctnn/io/half.hpp: round trips, files laid out as PyTorch's
// safetensors writes them, and every malformed input the reader must refuse with a clear message.

#include <doctest/doctest.h>  // TEST_CASE, CHECK, REQUIRE

#include <algorithm>         // std::ranges::equal, std::reverse, std::sort
#include <array>             // std::array
#include <bit>               // std::bit_cast
#include <cmath>             // std::isnan, std::ldexp, std::fabs
#include <cstdint>           // std::uint8_t, std::uint16_t, std::uint32_t, std::int64_t
#include <cstring>           // std::memcpy
#include <filesystem>        // std::filesystem
#include <fstream>           // std::ifstream
#include <initializer_list>  // std::initializer_list
#include <iterator>          // std::istreambuf_iterator
#include <limits>            // std::numeric_limits
#include <map>               // std::map
#include <random>            // std::random_device
#include <span>              // std::span
#include <string>            // std::string
#include <string_view>       // std::string_view
#include <utility>           // std::move
#include <vector>            // std::vector

#include "ctnn/error.hpp"            // ctnn::Error
#include "ctnn/io/half.hpp"          // float16 / bfloat16 conversions
#include "ctnn/io/safetensors.hpp"   // ctnn::safetensors

namespace {

namespace st = ctnn::safetensors;
namespace fs = std::filesystem;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr std::string_view kLabel = "bad.safetensors";

// The little-endian bytes of `values`, as stored in a safetensors data section.
template <class T>
std::vector<std::uint8_t> bytes_of(std::initializer_list<T> values) {
  std::vector<std::uint8_t> bytes(values.size() * sizeof(T));
  if (!bytes.empty()) std::memcpy(bytes.data(), values.begin(), bytes.size());
  return bytes;
}

// A file made of the 8-byte header length, `header` as given, and `data`.
std::vector<std::uint8_t> file_with_header(std::string_view header, std::vector<std::uint8_t> data = {}) {
  std::vector<std::uint8_t> file;
  const std::uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) file.push_back(static_cast<std::uint8_t>(length >> (8 * i)));
  file.insert(file.end(), header.begin(), header.end());
  file.insert(file.end(), data.begin(), data.end());
  return file;
}

// Same, with the header padded with spaces to a multiple of 8 bytes, as the reference writer does.
std::vector<std::uint8_t> padded_file(std::string header, std::vector<std::uint8_t> data = {}) {
  header.append((8 - header.size() % 8) % 8, ' ');
  return file_with_header(header, std::move(data));
}

// Runs `action`, which must throw ctnn::Error whose message contains every one of `parts`.
template <class Action>
void check_error(Action&& action, const std::vector<std::string_view>& parts) {
  try {
    action();
  } catch (const ctnn::Error& error) {
    const std::string message = error.what();
    CAPTURE(message);
    for (std::string_view part : parts) CHECK(message.find(part) != std::string::npos);
    return;
  }
  FAIL("expected a ctnn::Error, nothing was thrown");
}

// Parsing `bytes` must fail with a message naming the label and containing every one of `parts`.
void check_refused(const std::vector<std::uint8_t>& bytes, std::vector<std::string_view> parts) {
  parts.push_back(kLabel);
  check_error([&] { (void)st::Reader::from_bytes(bytes, std::string(kLabel)); }, parts);
}

// A header with one tensor entry 'w' whose body is `entry`, and `data_size` zero bytes of data: it
// must be refused with a message naming the file, the tensor and containing every one of `parts`.
void check_entry_refused(std::string_view entry, std::size_t data_size, std::vector<std::string_view> parts) {
  const std::string header = "{\"w\":" + std::string(entry) + "}";
  parts.push_back("bad.safetensors: tensor 'w': ");
  check_refused(file_with_header(header, std::vector<std::uint8_t>(data_size)), std::move(parts));
}

std::vector<std::uint8_t> read_file(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>()};
}

// A fresh directory under the system temp directory, removed with everything in it at scope exit.
struct TemporaryDirectory {
  fs::path path;
  TemporaryDirectory() {
    std::random_device entropy;
    path = fs::temp_directory_path() / ("ctnn_test_safetensors_" + std::to_string(entropy()));
    fs::create_directories(path);
  }
  ~TemporaryDirectory() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(path)) names.push_back(entry.path().filename().string());
    return names;
  }
};

std::uint32_t bits_of(float value) { return std::bit_cast<std::uint32_t>(value); }

template <class T>
std::vector<T> read_all(const st::Reader& reader, std::string_view name) {
  const st::TensorInfo* info = reader.find(name);
  REQUIRE_MESSAGE(info != nullptr, "tensor missing: ", std::string(name));
  std::vector<T> values(static_cast<std::size_t>(info->element_count()));
  reader.read_as(*info, std::span<T>(values));
  return values;
}

// The torch-generated fixture: CTNN_TEST_DATA_DIR if the build defines it, else next to this file.
fs::path fixture_path(std::string_view name) {
#if defined(CTNN_TEST_DATA_DIR)
  return fs::path(CTNN_TEST_DATA_DIR) / "safetensors" / name;
#else
  return fs::path(__FILE__).parent_path() / "data" / "safetensors" / name;
#endif
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// float16 / bfloat16 conversions

TEST_CASE("half: float16 bit patterns decode to the right float32 values") {
  static_assert(ctnn::float16_to_float(0x3C00) == 1.0f);  // usable at compile time
  static_assert(ctnn::float_to_float16(1.0f) == 0x3C00);

  CHECK(bits_of(ctnn::float16_to_float(0x0000)) == bits_of(0.0f));
  CHECK(bits_of(ctnn::float16_to_float(0x8000)) == bits_of(-0.0f));
  CHECK(ctnn::float16_to_float(0xC000) == -2.0f);
  CHECK(ctnn::float16_to_float(0x3555) == 0.333251953125f);
  CHECK(ctnn::float16_to_float(0x7BFF) == 65504.0f);                       // largest finite
  CHECK(ctnn::float16_to_float(0x0400) == std::ldexp(1.0f, -14));          // smallest normal
  CHECK(ctnn::float16_to_float(0x0001) == std::ldexp(1.0f, -24));          // smallest subnormal
  CHECK(ctnn::float16_to_float(0x03FF) == std::ldexp(1023.0f, -24));       // largest subnormal
  CHECK(ctnn::float16_to_float(0x8001) == -std::ldexp(1.0f, -24));
  CHECK(ctnn::float16_to_float(0x7C00) == kInf);
  CHECK(ctnn::float16_to_float(0xFC00) == -kInf);
  CHECK(std::isnan(ctnn::float16_to_float(0x7E00)));
  CHECK(std::isnan(ctnn::float16_to_float(0x7C01)));  // signalling NaN stays NaN
}

TEST_CASE("half: float32 to float16 rounds to nearest even, saturates to inf, keeps NaN") {
  CHECK(ctnn::float_to_float16(65504.0f) == 0x7BFF);
  CHECK(ctnn::float_to_float16(65519.0f) == 0x7BFF);         // below the halfway point
  CHECK(ctnn::float_to_float16(65520.0f) == 0x7C00);         // the tie rounds to even: infinity
  CHECK(ctnn::float_to_float16(1e6f) == 0x7C00);
  CHECK(ctnn::float_to_float16(-1e6f) == 0xFC00);
  CHECK(ctnn::float_to_float16(kInf) == 0x7C00);
  CHECK(ctnn::float_to_float16(-kInf) == 0xFC00);
  CHECK(ctnn::float_to_float16(std::ldexp(1.0f, -25)) == 0x0000);          // tie with 0: even
  CHECK(ctnn::float_to_float16(-std::ldexp(1.0f, -25)) == 0x8000);
  CHECK(ctnn::float_to_float16(std::ldexp(1.0000001f, -25)) == 0x0001);    // just above the tie
  CHECK(ctnn::float_to_float16(std::ldexp(3.0f, -25)) == 0x0002);          // 1.5 units: even
  CHECK(ctnn::float_to_float16(std::ldexp(5.0f, -25)) == 0x0002);          // 2.5 units: even
  CHECK(ctnn::float_to_float16(std::ldexp(2047.0f, -25)) == 0x0400);       // into the normals
  CHECK(ctnn::float_to_float16(1e-30f) == 0x0000);
  CHECK(ctnn::float_to_float16(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);   // tie: even (down)
  CHECK(ctnn::float_to_float16(1.0f + std::ldexp(3.0f, -11)) == 0x3C02);   // tie: even (up)
  const std::uint16_t nan = ctnn::float_to_float16(std::numeric_limits<float>::quiet_NaN());
  CHECK((nan & 0x7C00) == 0x7C00);
  CHECK((nan & 0x03FF) != 0);
  // A NaN whose payload lives only in bits float16 drops must not become infinity.
  CHECK(std::isnan(ctnn::float16_to_float(ctnn::float_to_float16(std::bit_cast<float>(0x7F800001u)))));
}

TEST_CASE("half: bfloat16 conversions") {
  CHECK(ctnn::bfloat16_to_float(0x3F80) == 1.0f);
  CHECK(ctnn::bfloat16_to_float(0xC000) == -2.0f);
  CHECK(ctnn::bfloat16_to_float(0x3EAB) == 0.333984375f);
  CHECK(ctnn::bfloat16_to_float(0x0001) == std::ldexp(1.0f, -133));  // subnormal
  CHECK(ctnn::bfloat16_to_float(0x7F80) == kInf);
  CHECK(ctnn::bfloat16_to_float(0xFF80) == -kInf);
  CHECK(std::isnan(ctnn::bfloat16_to_float(0x7FC0)));
  CHECK(bits_of(ctnn::bfloat16_to_float(0x8000)) == bits_of(-0.0f));

  CHECK(ctnn::float_to_bfloat16(1.0f + std::ldexp(1.0f, -8)) == 0x3F80);  // tie: even (down)
  CHECK(ctnn::float_to_bfloat16(1.0f + std::ldexp(3.0f, -8)) == 0x3F82);  // tie: even (up)
  CHECK(ctnn::float_to_bfloat16(std::numeric_limits<float>::max()) == 0x7F80);  // rounds to inf
  CHECK(ctnn::float_to_bfloat16(-kInf) == 0xFF80);
  CHECK(ctnn::float_to_bfloat16(std::numeric_limits<float>::denorm_min()) == 0x0000);
  CHECK(ctnn::float_to_bfloat16(std::ldexp(1.0f, -133)) == 0x0001);
  CHECK(std::isnan(ctnn::bfloat16_to_float(ctnn::float_to_bfloat16(std::bit_cast<float>(0x7F800001u)))));
}

TEST_CASE("half: every 16-bit pattern survives a round trip through float32") {
  for (std::uint32_t pattern = 0; pattern <= 0xFFFF; ++pattern) {
    const auto bits = static_cast<std::uint16_t>(pattern);
    const float half = ctnn::float16_to_float(bits);
    if (std::isnan(half)) {
      const std::uint16_t back = ctnn::float_to_float16(half);
      CHECK(std::isnan(ctnn::float16_to_float(back)));
      CHECK((back & 0x8000) == (bits & 0x8000));
    } else if (ctnn::float_to_float16(half) != bits) {
      CAPTURE(pattern);
      FAIL("float16 round trip changed the bits");
    }
    const float brain = ctnn::bfloat16_to_float(bits);
    if (std::isnan(brain)) {
      CHECK(std::isnan(ctnn::bfloat16_to_float(ctnn::float_to_bfloat16(brain))));
    } else if (ctnn::float_to_bfloat16(brain) != bits) {
      CAPTURE(pattern);
      FAIL("bfloat16 round trip changed the bits");
    }
  }
}

TEST_CASE("half: float32 -> 16 bits picks the nearest value, ties to even (sampled over all floats)") {
  // For positive finite floats in range, the chosen pattern must be at least as close as both
  // neighbours, and even when a neighbour is exactly as close. Differences are exact in double.
  const auto check_nearest = [](float value, std::uint16_t chosen, std::uint16_t largest_finite,
                                float (*decode)(std::uint16_t)) {
    const double error = std::fabs(static_cast<double>(decode(chosen)) - value);
    for (int step : {-1, 1}) {
      const int neighbour = chosen + step;
      if (neighbour < 0 || neighbour > largest_finite) continue;
      const double neighbour_error =
          std::fabs(static_cast<double>(decode(static_cast<std::uint16_t>(neighbour))) - value);
      if (neighbour_error < error || (neighbour_error == error && (chosen & 1) != 0)) {
        CAPTURE(value);
        CAPTURE(chosen);
        FAIL("not the nearest-even 16-bit value");
      }
    }
  };
  for (std::uint32_t bits = 0; bits < 0x7F800000u; bits += 4099) {
    const float value = std::bit_cast<float>(bits);
    if (value < 65504.0f) {
      check_nearest(value, ctnn::float_to_float16(value), 0x7BFF, ctnn::float16_to_float);
    }
    if (value < std::numeric_limits<float>::max() * 0.99f) {
      check_nearest(value, ctnn::float_to_bfloat16(value), 0x7F7F, ctnn::bfloat16_to_float);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Round trips

TEST_CASE("safetensors: dtype names and sizes") {
  CHECK(st::dtype_size(st::DType::F64) == 8);
  CHECK(st::dtype_size(st::DType::BF16) == 2);
  CHECK(st::dtype_size(st::DType::BOOL) == 1);
  CHECK(st::dtype_name(st::DType::BF16) == "BF16");
  CHECK(st::dtype_name(st::DType::I64) == "I64");
  for (st::DType dtype : {st::DType::F64, st::DType::F32, st::DType::F16, st::DType::BF16, st::DType::I64,
                          st::DType::I32, st::DType::I16, st::DType::I8, st::DType::U8, st::DType::BOOL}) {
    CHECK(st::dtype_from_name(st::dtype_name(dtype)) == dtype);
  }
  CHECK_FALSE(st::dtype_from_name("U16").has_value());
  CHECK_FALSE(st::dtype_from_name("f32").has_value());
}

TEST_CASE("safetensors: serialize then read back, bit-exact, all dtypes") {
  const std::vector<std::uint8_t> f32 = bytes_of<float>(
      {0.0f, -0.0f, 1.5f, -kInf, kInf, std::bit_cast<float>(0x7FA00001u) /* signalling NaN payload */,
       std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::max()});
  const std::vector<std::uint8_t> f16 = bytes_of<std::uint16_t>(
      {0x0000, 0x8000, 0x3C00, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00, 0x7E00, 0xC000, 0x3555});
  const std::vector<std::uint8_t> bf16 =
      bytes_of<std::uint16_t>({0x3F80, 0xC000, 0x0001, 0x7F80, 0xFF80, 0x7FC0, 0x3EAB, 0x8000});
  const std::vector<std::uint8_t> f64 = bytes_of<double>({1.5, -1e300, 1e-310, 0.1});
  const std::vector<std::uint8_t> i64 = bytes_of<std::int64_t>({7});
  const std::vector<std::uint8_t> i32 = bytes_of<std::int32_t>({-5, 2147483647});
  const std::vector<std::uint8_t> i16 = bytes_of<std::int16_t>({-32768, 12});
  const std::vector<std::uint8_t> i8 = bytes_of<std::int8_t>({-128, 127});
  const std::vector<std::uint8_t> u8 = bytes_of<std::uint8_t>({0, 255, 9});
  const std::vector<std::uint8_t> boolean = bytes_of<std::uint8_t>({1, 0, 2});
  const std::vector<st::TensorView> tensors = {
      {"layer.f32", st::DType::F32, {2, 4}, f32},
      {"layer.f16", st::DType::F16, {12}, f16},
      {"layer.bf16", st::DType::BF16, {2, 2, 2}, bf16},
      {"layer.f64", st::DType::F64, {4}, f64},
      {"bn.num_batches_tracked", st::DType::I64, {}, i64},  // a scalar: shape []
      {"ints.i32", st::DType::I32, {2}, i32},
      {"ints.i16", st::DType::I16, {2}, i16},
      {"ints.i8", st::DType::I8, {2}, i8},
      {"ints.u8", st::DType::U8, {3}, u8},
      {"mask", st::DType::BOOL, {3}, boolean},
      {"empty", st::DType::F32, {0, 3}, {}},
  };
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "caf\xc3\xa9 \"quoted\"\n"}};
  const std::vector<std::uint8_t> file = st::serialize(tensors, metadata);

  const st::Reader reader = st::Reader::from_bytes(file, "memory");
  CHECK(reader.label() == "memory");
  CHECK(reader.metadata() == metadata);
  REQUIRE(reader.tensors().size() == tensors.size());

  // The data section starts 8-byte aligned and every tensor is aligned to its element size.
  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | file[static_cast<std::size_t>(i)];
  CHECK(header_size % 8 == 0);
  std::uint64_t previous_end = 0;
  for (const st::TensorInfo& info : reader.tensors()) {
    CHECK(info.begin == previous_end);  // tensors() is in data order, contiguous
    previous_end = info.end;
    CHECK((8 + header_size + info.begin) % st::dtype_size(info.dtype) == 0);
  }

  for (const st::TensorView& tensor : tensors) {
    const st::TensorInfo* info = reader.find(tensor.name);
    REQUIRE(info != nullptr);
    CHECK(info->dtype == tensor.dtype);
    CHECK(info->shape == tensor.shape);
    CHECK(std::ranges::equal(reader.raw(*info), tensor.bytes));
  }
  CHECK(reader.find("absent") == nullptr);
  CHECK(reader.find("bn.num_batches_tracked")->element_count() == 1);
  CHECK(reader.find("empty")->element_count() == 0);

  // F32 comes back bit-exact, NaN payload and signed zero included.
  const std::vector<float> f32_values = read_all<float>(reader, "layer.f32");
  CHECK(std::memcmp(f32_values.data(), f32.data(), f32.size()) == 0);

  const std::vector<float> f16_values = read_all<float>(reader, "layer.f16");
  const std::array<float, 12> f16_expected = {0.0f, -0.0f, 1.0f, std::ldexp(1.0f, -24), std::ldexp(1023.0f, -24),
                                              std::ldexp(1.0f, -14), 65504.0f, kInf, -kInf, 0.0f /* NaN */,
                                              -2.0f, 0.333251953125f};
  for (std::size_t i = 0; i < f16_expected.size(); ++i) {
    CAPTURE(i);
    if (i == 9) {
      CHECK(std::isnan(f16_values[i]));
    } else {
      CHECK(bits_of(f16_values[i]) == bits_of(f16_expected[i]));
    }
  }

  const std::vector<float> bf16_values = read_all<float>(reader, "layer.bf16");
  CHECK(bf16_values[0] == 1.0f);
  CHECK(bf16_values[1] == -2.0f);
  CHECK(bf16_values[2] == std::ldexp(1.0f, -133));
  CHECK(bf16_values[3] == kInf);
  CHECK(bf16_values[4] == -kInf);
  CHECK(std::isnan(bf16_values[5]));
  CHECK(bf16_values[6] == 0.333984375f);
  CHECK(bits_of(bf16_values[7]) == bits_of(-0.0f));

  // F64 is exact as double; as float it rounds, and out-of-range values become infinities.
  const std::vector<double> f64_as_double = read_all<double>(reader, "layer.f64");
  CHECK(f64_as_double == std::vector<double>{1.5, -1e300, 1e-310, 0.1});
  const std::vector<float> f64_as_float = read_all<float>(reader, "layer.f64");
  CHECK(f64_as_float == std::vector<float>{1.5f, -kInf, 0.0f, 0.1f});
  const std::vector<double> f32_as_double = read_all<double>(reader, "layer.f32");
  CHECK(f32_as_double[2] == 1.5);
  CHECK(f32_as_double[7] == static_cast<double>(std::numeric_limits<float>::max()));
  CHECK(read_all<double>(reader, "layer.f16")[3] == std::ldexp(1.0, -24));
  CHECK(read_all<double>(reader, "layer.bf16")[6] == 0.333984375);

  CHECK(read_all<std::int64_t>(reader, "bn.num_batches_tracked") == std::vector<std::int64_t>{7});
  CHECK(read_all<std::int64_t>(reader, "ints.i32") == std::vector<std::int64_t>{-5, 2147483647});
  CHECK(read_all<std::int64_t>(reader, "ints.i16") == std::vector<std::int64_t>{-32768, 12});
  CHECK(read_all<std::int64_t>(reader, "ints.i8") == std::vector<std::int64_t>{-128, 127});
  CHECK(read_all<std::int64_t>(reader, "ints.u8") == std::vector<std::int64_t>{0, 255, 9});
  CHECK(read_all<std::int64_t>(reader, "mask") == std::vector<std::int64_t>{1, 0, 1});
  CHECK(read_all<float>(reader, "empty").empty());

  // The output does not depend on the order the tensors were given in.
  std::vector<st::TensorView> reversed = tensors;
  std::reverse(reversed.begin(), reversed.end());
  CHECK(st::serialize(reversed, metadata) == file);
}

TEST_CASE("safetensors: write then open, through a file") {
  TemporaryDirectory directory;
  const fs::path path = directory.path / "model.safetensors";
  const std::vector<std::uint8_t> weights = bytes_of<float>({1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f});
  const std::vector<st::TensorView> tensors = {{"conv1.conv.weight", st::DType::F32, {1, 1, 2, 3}, weights}};

  st::write(path, tensors, {{"format", "pt"}});
  CHECK(directory.entries() == std::vector<std::string>{"model.safetensors"});  // no temporary left
  CHECK(read_file(path) == st::serialize(tensors, {{"format", "pt"}}));

  const st::Reader reader = st::Reader::open(path);
  CHECK(reader.label() == path.string());
  CHECK(read_all<float>(reader, "conv1.conv.weight") == std::vector<float>{1, 2, 3, 4, 5, 6});

  // Writing again replaces the file.
  const std::vector<std::uint8_t> other = bytes_of<float>({9.0f});
  st::write(path, std::vector<st::TensorView>{{"x", st::DType::F32, {1}, other}});
  CHECK(st::Reader::open(path).find("x") != nullptr);
  CHECK(st::Reader::open(path).find("conv1.conv.weight") == nullptr);
  CHECK(directory.entries().size() == 1);
}

// ---------------------------------------------------------------------------------------------------
// Files as PyTorch's safetensors writes them

TEST_CASE("safetensors: output is byte-identical to the reference writer's") {
  // Expected bytes as the reference implementation (Rust/Python `safetensors`) produces them.
  const std::vector<std::uint8_t> attention = bytes_of<float>({0, 1, 2, 3, 4, 5});
  const std::string attention_header = R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})";
  REQUIRE(attention_header.size() == 64);  // already a multiple of 8: no padding
  CHECK(st::serialize(std::vector<st::TensorView>{{"attn.0", st::DType::F32, {1, 2, 3}, attention}}) ==
        file_with_header(attention_header, attention));

  const std::string shorter_header = R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})";
  CHECK(st::serialize(std::vector<st::TensorView>{{"attn0", st::DType::F32, {1, 1, 2, 3}, attention}}) ==
        file_with_header(shorter_header + "       ", attention));  // padded to 72

  CHECK(st::serialize({}) == file_with_header("{}      "));
  CHECK(st::serialize({}, {{"framework", "pt"}}) == file_with_header(R"({"__metadata__":{"framework":"pt"}}     )"));
}

TEST_CASE("safetensors: reads a PyTorch BatchNorm state dict laid out by the reference writer") {
  // What safetensors.torch.save_file(bn.state_dict(), ...) writes for a BatchNorm2d(2): I64 before
  // F32 (dtype order), then names in order, header padded with spaces.
  const std::string header =
      R"({"__metadata__":{"format":"pt"},)"
      R"("bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
      R"("bn.bias":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
      R"("bn.running_mean":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},)"
      R"("bn.running_var":{"dtype":"F32","shape":[2],"data_offsets":[24,32]},)"
      R"("bn.weight":{"dtype":"F32","shape":[2],"data_offsets":[32,40]}})";
  std::vector<std::uint8_t> data = bytes_of<std::int64_t>({7});
  for (float value : {0.25f, 0.0f, 0.125f, -3.0f, 2.0f, 0.5f, 1.5f, -0.5f}) {
    const std::vector<std::uint8_t> bytes = bytes_of<float>({value});
    data.insert(data.end(), bytes.begin(), bytes.end());
  }
  const std::vector<std::uint8_t> file = padded_file(header, data);
  const st::Reader reader = st::Reader::from_bytes(file, "bn.safetensors");
  CHECK(reader.metadata().at("format") == "pt");
  CHECK(read_all<std::int64_t>(reader, "bn.num_batches_tracked") == std::vector<std::int64_t>{7});
  CHECK(read_all<float>(reader, "bn.running_mean") == std::vector<float>{0.125f, -3.0f});
  CHECK(read_all<float>(reader, "bn.weight") == std::vector<float>{1.5f, -0.5f});

  // Writing what was read reproduces the file byte for byte.
  std::vector<st::TensorView> views;
  for (const st::TensorInfo& info : reader.tensors()) views.push_back({info.name, info.dtype, info.shape, reader.raw(info)});
  CHECK(st::serialize(views, reader.metadata()) == file);
}

TEST_CASE("safetensors: accepts any key order, pretty-printed JSON and older name-ordered layouts") {
  // Older writers ordered data by name; the header may list entries in any order and be
  // pretty-printed. tensors() still comes out in data order.
  const std::string header = "{\n  \"b\": {\"shape\": [1], \"data_offsets\": [0, 4], \"dtype\": \"F32\"},\n"
                             "  \"a\": {\"data_offsets\": [4, 6], \"dtype\": \"F16\", \"shape\": [1]},\n"
                             "  \"__metadata__\": {}\n}\n";
  std::vector<std::uint8_t> data = bytes_of<float>({2.0f});
  const std::vector<std::uint8_t> half = bytes_of<std::uint16_t>({0x3C00});
  data.insert(data.end(), half.begin(), half.end());
  const st::Reader reader = st::Reader::from_bytes(file_with_header(header, data), "old.safetensors");
  REQUIRE(reader.tensors().size() == 2);
  CHECK(reader.tensors()[0].name == "b");
  CHECK(reader.tensors()[1].name == "a");
  CHECK(read_all<float>(reader, "a") == std::vector<float>{1.0f});
  CHECK(reader.metadata().empty());
}

TEST_CASE("safetensors: valid edge cases") {
  // No tensors at all.
  CHECK(st::Reader::from_bytes(file_with_header("{}"), "x").tensors().empty());
  // Zero-sized tensors anywhere, even with huge other dimensions, and several at one offset.
  const std::string header =
      R"({"a":{"dtype":"F64","shape":[0,9223372036854775807,9223372036854775807],"data_offsets":[0,0]},)"
      R"("b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
      R"("c":{"dtype":"F32","shape":[3,0],"data_offsets":[2,2]},)"
      R"("d":{"dtype":"BOOL","shape":[0],"data_offsets":[2,2]}})";
  const st::Reader reader = st::Reader::from_bytes(file_with_header(header, {1, 2}), "x");
  CHECK(reader.tensors().size() == 4);
  CHECK(reader.find("a")->element_count() == 0);
  CHECK(reader.raw(*reader.find("a")).empty());
  // "-0" is a valid JSON integer.
  CHECK(st::Reader::from_bytes(file_with_header(R"({"z":{"dtype":"U8","shape":[-0],"data_offsets":[0,-0]}})"), "x")
            .find("z")
            ->element_count() == 0);
}

TEST_CASE("safetensors: reads the PyTorch-generated fixture and agrees with PyTorch's float16/bfloat16") {
  const fs::path path = fixture_path("torch_reference.safetensors");
  REQUIRE_MESSAGE(fs::exists(path), "missing fixture (run tools/make_safetensors_fixtures.py): ", path.string());
  const st::Reader reader = st::Reader::open(path);
  CHECK(reader.metadata().at("format") == "pt");

  const std::vector<float> conv = read_all<float>(reader, "conv.weight");
  REQUIRE(conv.size() == 8);
  CHECK(reader.find("conv.weight")->shape == std::vector<std::int64_t>{2, 1, 2, 2});
  for (std::size_t i = 0; i < conv.size(); ++i) CHECK(conv[i] == static_cast<float>(i) / 4 - 1);
  CHECK(read_all<float>(reader, "bn.weight") == std::vector<float>{1.5f, -0.5f});
  CHECK(read_all<float>(reader, "bn.bias") == std::vector<float>{0.25f, 0.0f});
  CHECK(read_all<float>(reader, "bn.running_mean") == std::vector<float>{0.125f, -3.0f});
  CHECK(read_all<float>(reader, "bn.running_var") == std::vector<float>{2.0f, 0.5f});
  const st::TensorInfo* batches = reader.find("bn.num_batches_tracked");
  REQUIRE(batches != nullptr);
  CHECK(batches->dtype == st::DType::I64);
  CHECK(batches->shape.empty());
  CHECK(read_all<std::int64_t>(reader, "bn.num_batches_tracked") == std::vector<std::int64_t>{7});

  // probe.f16 / probe.bf16 / probe.f64 hold PyTorch's conversions of probe.f32.
  const std::vector<float> probe = read_all<float>(reader, "probe.f32");
  const std::span<const std::uint8_t> f16_bytes = reader.raw(*reader.find("probe.f16"));
  const std::span<const std::uint8_t> bf16_bytes = reader.raw(*reader.find("probe.bf16"));
  const std::vector<float> f16_as_float = read_all<float>(reader, "probe.f16");
  const std::vector<float> bf16_as_float = read_all<float>(reader, "probe.bf16");
  const std::vector<double> f64 = read_all<double>(reader, "probe.f64");
  REQUIRE(probe.size() == 80);
  for (std::size_t i = 0; i < probe.size(); ++i) {
    CAPTURE(i);
    CAPTURE(probe[i]);
    std::uint16_t torch_f16 = 0, torch_bf16 = 0;
    std::memcpy(&torch_f16, f16_bytes.data() + 2 * i, 2);
    std::memcpy(&torch_bf16, bf16_bytes.data() + 2 * i, 2);
    if (std::isnan(probe[i])) {
      CHECK(std::isnan(ctnn::float16_to_float(ctnn::float_to_float16(probe[i]))));
      CHECK(std::isnan(f16_as_float[i]));
      CHECK(std::isnan(bf16_as_float[i]));
      CHECK(std::isnan(f64[i]));
      continue;
    }
    CHECK(ctnn::float_to_float16(probe[i]) == torch_f16);
    CHECK(ctnn::float_to_bfloat16(probe[i]) == torch_bf16);
    CHECK(bits_of(f16_as_float[i]) == bits_of(ctnn::float16_to_float(torch_f16)));
    CHECK(bits_of(bf16_as_float[i]) == bits_of(ctnn::bfloat16_to_float(torch_bf16)));
    CHECK(f64[i] == static_cast<double>(probe[i]));
  }

  CHECK(read_all<std::int64_t>(reader, "ints.i32") == std::vector<std::int64_t>{-1, 2147483647, -2147483648LL});
  CHECK(read_all<std::int64_t>(reader, "ints.i16") == std::vector<std::int64_t>{-32768, 32767});
  CHECK(read_all<std::int64_t>(reader, "ints.i8") == std::vector<std::int64_t>{-128, 127, 0});
  CHECK(read_all<std::int64_t>(reader, "ints.u8") == std::vector<std::int64_t>{0, 255, 7});
  CHECK(read_all<std::int64_t>(reader, "mask") == std::vector<std::int64_t>{1, 0, 1});
  CHECK(reader.find("empty")->shape == std::vector<std::int64_t>{0, 3});
  CHECK(read_all<double>(reader, "scalar") == std::vector<double>{2.5});

  // Our writer lays the same tensors out exactly as the fixture is laid out.
  std::vector<st::TensorView> views;
  for (const st::TensorInfo& info : reader.tensors()) views.push_back({info.name, info.dtype, info.shape, reader.raw(info)});
  CHECK(st::serialize(views, reader.metadata()) == read_file(path));
}

// ---------------------------------------------------------------------------------------------------
// Malformed files: each must be refused with a message naming the file, the tensor and the problem.

TEST_CASE("safetensors: refuses files too short, and header lengths beyond the file or the limit") {
  check_refused({}, {"0 bytes long", "too short"});
  check_refused({1, 2, 3, 4, 5, 6, 7}, {"7 bytes long", "too short"});

  std::vector<std::uint8_t> beyond = file_with_header("{}");
  beyond[0] = 100;
  check_refused(beyond, {"header length 100 exceeds the 2 bytes that follow it"});

  std::vector<std::uint8_t> absurd = file_with_header("{}");
  absurd[7] = 0x40;  // 2^62 + 2
  check_refused(absurd, {"header length 4611686018427387906", "limit of 100000000 bytes"});
  std::vector<std::uint8_t> huge(8, 0xFF);
  check_refused(huge, {"header length 18446744073709551615", "limit"});
  std::vector<std::uint8_t> just_over = file_with_header("{}");
  const std::uint64_t over = 100'000'001;
  for (int i = 0; i < 8; ++i) just_over[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(over >> (8 * i));
  check_refused(just_over, {"header length 100000001", "limit"});
}

TEST_CASE("safetensors: refuses headers that are not valid JSON") {
  check_refused(file_with_header(""), {"header is not valid JSON"});
  check_refused(file_with_header(R"({"a":)"), {"header is not valid JSON"});
  check_refused(file_with_header("{} x"), {"header is not valid JSON"});
  check_refused(file_with_header("{}{}"), {"header is not valid JSON"});
  check_refused(file_with_header("{\"\xff\":{}}"), {"header is not valid JSON"});  // invalid UTF-8
  check_refused(file_with_header(std::string("{\0}", 3)), {"header is not valid JSON"});
  check_refused(file_with_header("{/* comment */}"), {"header is not valid JSON"});
}

TEST_CASE("safetensors: refuses headers that are not an object") {
  check_refused(file_with_header("[]"), {"header is not a JSON object (found an array)"});
  check_refused(file_with_header(R"("text")"), {"header is not a JSON object (found a string)"});
  check_refused(file_with_header("42"), {"header is not a JSON object (found a number)"});
  check_refused(file_with_header("null"), {"header is not a JSON object (found null)"});
  check_refused(file_with_header("true"), {"header is not a JSON object (found a boolean)"});
}

TEST_CASE("safetensors: refuses entries that are not objects with exactly dtype, shape, data_offsets") {
  check_entry_refused("3", 0, {"entry must be an object", "found a number"});
  check_entry_refused("[]", 0, {"entry must be an object", "found an array"});
  check_entry_refused(R"("F32")", 0, {"entry must be an object", "found a string"});
  check_entry_refused(R"({"dtype":"F32","shape":[1]})", 4, {"entry has no 'data_offsets'"});
  check_entry_refused(R"({"dtype":"F32","data_offsets":[0,4]})", 4, {"entry has no 'shape'"});
  check_entry_refused(R"({"shape":[1],"data_offsets":[0,4]})", 4, {"entry has no 'dtype'"});
  check_entry_refused(R"({})", 0, {"entry has no 'dtype'"});
  check_entry_refused(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1})", 4,
                      {"unexpected key 'extra'"});
  check_entry_refused(R"({"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]})", 4,
                      {"key 'dtype' twice"});
  check_entry_refused(R"({"dtype":"F32","shape":[1],"shape":[1],"data_offsets":[0,4]})", 4,
                      {"key 'shape' twice"});
}

TEST_CASE("safetensors: refuses malformed dtype, shape and data_offsets values") {
  check_entry_refused(R"({"dtype":4,"shape":[1],"data_offsets":[0,4]})", 4, {"'dtype' must be a string, found a number"});
  check_entry_refused(R"({"dtype":["F32"],"shape":[1],"data_offsets":[0,4]})", 4, {"'dtype' must be a string, found an array"});
  check_entry_refused(R"({"dtype":"U16","shape":[1],"data_offsets":[0,2]})", 2, {"unknown dtype 'U16'"});
  check_entry_refused(R"({"dtype":"f32","shape":[1],"data_offsets":[0,4]})", 4, {"unknown dtype 'f32'"});

  check_entry_refused(R"({"dtype":"F32","shape":3,"data_offsets":[0,4]})", 4,
                      {"'shape' must be an array of non-negative integers, found a number"});
  check_entry_refused(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})", 4, {"'shape' has the negative dimension -1"});
  check_entry_refused(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})", 4,
                      {"'shape' must contain only non-negative integers, found a non-integer number"});
  check_entry_refused(R"({"dtype":"F32","shape":[1.0],"data_offsets":[0,4]})", 4, {"found a non-integer number"});
  check_entry_refused(R"({"dtype":"F32","shape":[1e30],"data_offsets":[0,4]})", 4, {"found a non-integer number"});
  check_entry_refused(R"({"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,4]})", 4,
                      {"found a non-integer number"});  // beyond 64 bits
  check_entry_refused(R"({"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,4]})", 4,
                      {"'shape' dimension 9223372036854775808 is too large"});
  check_entry_refused(R"({"dtype":"F32","shape":[[1]],"data_offsets":[0,4]})", 4, {"'shape' must contain only", "found an array"});
  check_entry_refused(R"({"dtype":"F32","shape":["1"],"data_offsets":[0,4]})", 4, {"'shape' must contain only", "found a string"});
  check_entry_refused(R"({"dtype":"F32","shape":[null],"data_offsets":[0,4]})", 4, {"'shape' must contain only", "found null"});

  check_entry_refused(R"({"dtype":"F32","shape":[1],"data_offsets":"0,4"})", 4,
                      {"'data_offsets' must be an array of two non-negative integers, found a string"});
  check_entry_refused(R"({"dtype":"F32","shape":[1],"data_offsets":[4]})", 4, {"'data_offsets' must have exactly two entries"});
  check_entry_refused(R"({"dtype":"F32","shape":[1],"data_offsets":[]})", 4, {"'data_offsets' must have exactly two entries"});
  check_entry_refused(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4,8]})", 8, {"'data_offsets' must have exactly two entries"});
  check_entry_refused(R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})", 4, {"'data_offsets' has the negative offset -4"});
  check_entry_refused(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4.0]})", 4,
                      {"'data_offsets' must contain only non-negative integers, found a non-integer number"});
  check_entry_refused(R"({"dtype":"F32","shape":[1],"data_offsets":[0,true]})", 4, {"found a boolean"});
}

TEST_CASE("safetensors: refuses malformed __metadata__") {
  check_refused(file_with_header(R"({"__metadata__":3})"), {"'__metadata__' must be an object of strings, found a number"});
  check_refused(file_with_header(R"({"__metadata__":["a"]})"), {"'__metadata__' must be an object of strings, found an array"});
  check_refused(file_with_header(R"({"__metadata__":{"a":1}})"), {"'__metadata__' value of 'a' must be a string, found a number"});
  check_refused(file_with_header(R"({"__metadata__":{"a":{}}})"), {"value of 'a' must be a string, found an object"});
  check_refused(file_with_header(R"({"__metadata__":{"a":null}})"), {"value of 'a' must be a string, found null"});
  check_refused(file_with_header(R"({"__metadata__":{"a":"x","a":"y"}})"), {"'__metadata__' has the key 'a' twice"});
  check_refused(file_with_header(R"({"__metadata__":{},"__metadata__":{}})"), {"header has the key '__metadata__' twice"});
}

TEST_CASE("safetensors: refuses data_offsets that are reversed, out of the data section or of the wrong size") {
  check_entry_refused(R"({"dtype":"U8","shape":[4],"data_offsets":[4,0]})", 4, {"data_offsets [4, 0] begin after they end"});
  check_entry_refused(R"({"dtype":"U8","shape":[8],"data_offsets":[0,8]})", 4,
                      {"data_offsets [0, 8] reach past the end of the data section (4 bytes)"});
  check_entry_refused(R"({"dtype":"U8","shape":[0],"data_offsets":[18446744073709551615,18446744073709551615]})", 4,
                      {"reach past the end of the data section"});
  check_entry_refused(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})", 4,
                      {"shape [2] with dtype F32 needs 8 bytes, but data_offsets [0, 4] span 4"});
  check_entry_refused(R"({"dtype":"BF16","shape":[2,3],"data_offsets":[0,14]})", 14,
                      {"shape [2, 3] with dtype BF16 needs 12 bytes"});
  check_entry_refused(R"({"dtype":"F32","shape":[],"data_offsets":[0,0]})", 0, {"shape [] with dtype F32 needs 4 bytes"});
  // Byte counts that overflow 64 bits must not wrap around to a small, matching number.
  check_entry_refused(R"({"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]})", 0,
                      {"shape [4294967296, 4294967296] has too many elements", "overflows"});
  check_entry_refused(R"({"dtype":"U8","shape":[4294967296,4294967296,2],"data_offsets":[0,0]})", 0, {"overflows"});
  check_entry_refused(R"({"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]})", 0, {"overflows"});
}

TEST_CASE("safetensors: refuses duplicate tensor names") {
  // nlohmann's DOM would silently keep the last one; the reader must notice.
  check_refused(file_with_header(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                 R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                                 {1, 2}),
                {"tensor 'a'", "tensor name appears twice in the header"});
  // The repeated name is reported even when its second entry is malformed: names are checked first.
  check_refused(file_with_header(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":3})", {1}),
                {"tensor 'a'", "appears twice"});
}

TEST_CASE("safetensors: refuses overlapping tensors and data not covered by any tensor") {
  const auto two = [](std::string_view a_offsets, std::string_view b_offsets, std::size_t data_size) {
    return file_with_header(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":)" + std::string(a_offsets) +
                                R"(},"b":{"dtype":"U8","shape":[2],"data_offsets":)" + std::string(b_offsets) + "}}",
                            std::vector<std::uint8_t>(data_size));
  };
  check_refused(two("[0,2]", "[1,3]", 3), {"tensor 'b'", "data_offsets [1, 3] overlap those of tensor 'a' [0, 2]"});
  check_refused(two("[0,2]", "[0,2]", 2), {"tensor 'b'", "overlap those of tensor 'a'"});
  check_refused(two("[0,2]", "[3,5]", 5), {"bytes [2, 3) of the data section belong to no tensor", "gap before tensor 'b'"});
  check_refused(two("[1,3]", "[3,5]", 5), {"bytes [0, 1) of the data section belong to no tensor", "tensor 'a'"});
  check_refused(two("[0,2]", "[2,4]", 6), {"bytes [4, 6) at the end of the data section belong to no tensor"});
  check_refused(file_with_header("{}", {0, 0, 0}), {"bytes [0, 3) at the end of the data section"});
  // A zero-sized tensor placed inside another one also overlaps it.
  check_refused(file_with_header(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                                 R"("z":{"dtype":"U8","shape":[0],"data_offsets":[2,2]}})",
                                 {1, 2, 3, 4}),
                {"tensor 'z'", "overlap those of tensor 'a' [0, 4]"});
}

TEST_CASE("safetensors: very long hostile names are shortened in messages") {
  const std::string name(5000, 'n');
  try {
    (void)st::Reader::from_bytes(file_with_header("{\"" + name + "\":1}"), "long.safetensors");
    FAIL("expected a ctnn::Error");
  } catch (const ctnn::Error& error) {
    const std::string message = error.what();
    CHECK(message.size() < 600);
    CHECK(message.find("(5000 bytes)") != std::string::npos);
  }
}

TEST_CASE("safetensors: read_as refuses wrong sizes and dtypes, raw refuses foreign ranges") {
  const std::vector<std::uint8_t> f32 = bytes_of<float>({1, 2, 3, 4});
  const std::vector<std::uint8_t> i64 = bytes_of<std::int64_t>({3});
  const std::vector<std::uint8_t> u8 = bytes_of<std::uint8_t>({3});
  const st::Reader reader = st::Reader::from_bytes(
      st::serialize(std::vector<st::TensorView>{{"w", st::DType::F32, {2, 2}, f32},
                                                {"count", st::DType::I64, {}, i64},
                                                {"byte", st::DType::U8, {1}, u8}}),
      "model.safetensors");
  const st::TensorInfo& weights = *reader.find("w");
  std::vector<float> three(3);
  check_error([&] { reader.read_as(weights, std::span<float>(three)); },
              {"model.safetensors: tensor 'w'", "destination holds 3 values, but the tensor has 4 elements"});
  std::vector<double> five(5);
  check_error([&] { reader.read_as(weights, std::span<double>(five)); }, {"destination holds 5 values"});
  std::vector<std::int64_t> four(4);
  check_error([&] { reader.read_as(weights, std::span<std::int64_t>(four)); },
              {"tensor 'w'", "dtype F32 cannot be read as int64"});

  std::vector<float> one(1);
  check_error([&] { reader.read_as(*reader.find("count"), std::span<float>(one)); },
              {"model.safetensors: tensor 'count'", "dtype I64 cannot be read as float32"});
  std::vector<double> one_double(1);
  check_error([&] { reader.read_as(*reader.find("byte"), std::span<double>(one_double)); },
              {"tensor 'byte'", "dtype U8 cannot be read as float64"});

  st::TensorInfo foreign = weights;
  foreign.name = "foreign";
  foreign.end = 1000;
  check_error([&] { (void)reader.raw(foreign); }, {"tensor 'foreign'", "lie outside the data section"});
  foreign.end = weights.end;
  foreign.shape = {3};
  check_error([&] { reader.read_as(foreign, std::span<float>(three)); }, {"tensor 'foreign'", "does not match its 16 bytes"});
}

// ---------------------------------------------------------------------------------------------------
// Files: missing inputs, failed writes

TEST_CASE("safetensors: opening a missing file or a directory names it") {
  TemporaryDirectory directory;
  const fs::path missing = directory.path / "missing.safetensors";
  check_error([&] { (void)st::Reader::open(missing); }, {missing.string(), "cannot read the file"});
  check_error([&] { (void)st::Reader::open(directory.path); }, {directory.path.string()});
}

TEST_CASE("safetensors: writing into a missing directory throws and leaves nothing behind") {
  TemporaryDirectory directory;
  const fs::path target = directory.path / "no_such_dir" / "model.safetensors";
  const std::vector<std::uint8_t> weights = bytes_of<float>({1.0f});
  const std::vector<st::TensorView> tensors = {{"w", st::DType::F32, {1}, weights}};
  check_error([&] { st::write(target, tensors); }, {target.string(), "cannot create the temporary file"});
  CHECK_FALSE(fs::exists(target.parent_path()));
  CHECK(directory.entries().empty());
}

TEST_CASE("safetensors: a failed write leaves no temporary file and keeps the old file") {
  TemporaryDirectory directory;
  const fs::path target = directory.path / "model.safetensors";
  const std::vector<std::uint8_t> weights = bytes_of<float>({1.0f});
  st::write(target, std::vector<st::TensorView>{{"old", st::DType::F32, {1}, weights}});
  const std::vector<std::uint8_t> before = read_file(target);

  // Invalid input is refused before anything is written.
  check_error([&] { st::write(target, std::vector<st::TensorView>{{"w", st::DType::F32, {2}, weights}}); },
              {target.string(), "tensor 'w'", "shape [2] with dtype F32 needs 8 bytes, but 4 were given"});
  CHECK(read_file(target) == before);
  CHECK(directory.entries() == std::vector<std::string>{"model.safetensors"});

  // A rename that fails (the target is a non-empty directory) removes the temporary file.
  const fs::path blocked = directory.path / "blocked.safetensors";
  fs::create_directories(blocked / "inside");
  check_error([&] { st::write(blocked, std::vector<st::TensorView>{{"w", st::DType::F32, {1}, weights}}); },
              {blocked.string(), "cannot rename the temporary file"});
  std::vector<std::string> entries = directory.entries();
  std::sort(entries.begin(), entries.end());
  CHECK(entries == std::vector<std::string>{"blocked.safetensors", "model.safetensors"});
}

TEST_CASE("safetensors: serialize refuses invalid tensors") {
  const std::vector<std::uint8_t> four = bytes_of<float>({1.0f});
  check_error([&] { (void)st::serialize(std::vector<st::TensorView>{{"a", st::DType::F32, {1}, four}, {"a", st::DType::U8, {4}, four}}); },
              {"tensor 'a'", "appears twice"});
  check_error([&] { (void)st::serialize(std::vector<st::TensorView>{{"__metadata__", st::DType::F32, {1}, four}}); },
              {"reserved"});
  check_error([&] { (void)st::serialize(std::vector<st::TensorView>{{"n", st::DType::U8, {-4}, four}}); },
              {"tensor 'n'", "negative dimension"});
  check_error([&] { (void)st::serialize(std::vector<st::TensorView>{{"o", st::DType::F64, {1LL << 32, 1LL << 32}, four}}); },
              {"tensor 'o'", "overflows"});
  check_error([&] { (void)st::serialize(std::vector<st::TensorView>{{"bad\xff", st::DType::F32, {1}, four}}); },
              {"not valid UTF-8"});
  check_error([&] { (void)st::serialize({}, {{"k", "bad\xff"}}); }, {"metadata value of 'k'", "not valid UTF-8"});
}
