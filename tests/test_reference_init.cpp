// Checks ctnn::reference_uniform_fill against the values tools/make_reference_data.py wrote with the
// Python implementation (tools/ctnn_reference.py): they must agree bit for bit, or the whole-network
// parity tests would compare networks with different weights.

#include <doctest/doctest.h>  // TEST_CASE, CHECK, REQUIRE

#include <array>               // std::array
#include <bit>                 // std::bit_cast
#include <cmath>               // std::sqrt
#include <cstddef>             // std::size_t
#include <cstdint>             // std::int64_t, std::uint32_t, std::uint64_t
#include <fstream>             // std::ifstream
#include <iterator>            // std::istreambuf_iterator
#include <nlohmann/json.hpp>   // nlohmann::json
#include <span>                // std::span
#include <string>              // std::string
#include <vector>              // std::vector

#include "ctnn/error.hpp"           // ctnn::Error
#include "ctnn/reference_init.hpp"  // ctnn::reference_uniform_fill

#ifndef CTNN_TEST_DATA_DIR
#define CTNN_TEST_DATA_DIR "tests/data"
#endif

namespace {

const std::string kDir = std::string(CTNN_TEST_DATA_DIR) + "/reference/";

std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The .bin file is little-endian float32; assemble each value byte by byte so the test also reads
// it correctly on a big-endian host.
std::vector<float> read_le_floats(const std::string& path) {
  const std::vector<unsigned char> bytes = read_bytes(path);
  REQUIRE(bytes.size() % 4 == 0);
  std::vector<float> values(bytes.size() / 4);
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::uint32_t bits = 0;
    for (int b = 3; b >= 0; --b) bits = (bits << 8) | bytes[4 * i + static_cast<std::size_t>(b)];
    values[i] = std::bit_cast<float>(bits);
  }
  return values;
}

nlohmann::json read_cases() {
  const std::vector<unsigned char> bytes = read_bytes(kDir + "reference_init_check.json");
  return nlohmann::json::parse(bytes.begin(), bytes.end());
}

}  // namespace

TEST_CASE("reference_uniform_fill matches the Python reference initialisation bit for bit") {
  const nlohmann::json doc = read_cases();
  const std::vector<float> expected = read_le_floats(kDir + "reference_init_check.bin");
  REQUIRE(doc.at("cases").size() > 0);

  for (const nlohmann::json& c : doc.at("cases")) {
    const auto name = c.at("name").get<std::string>();
    const auto shape = c.at("shape").get<std::vector<std::int64_t>>();
    const auto seed = c.at("seed").get<std::uint64_t>();
    const auto fan_in = c.at("bias_fan_in").get<std::int64_t>();
    const auto offset = c.at("offset").get<std::size_t>();
    const auto count = c.at("count").get<std::size_t>();
    CAPTURE(name);
    REQUIRE(offset + count <= expected.size());

    std::vector<float> f(count);
    ctnn::reference_uniform_fill<float>(name, shape, fan_in, seed, f);
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < count; ++i) {
      // Compare bit patterns: equality must be exact, signed zeros included.
      if (std::bit_cast<std::uint32_t>(f[i]) != std::bit_cast<std::uint32_t>(expected[offset + i])) {
        if (mismatches++ < 3) {
          INFO("element " << i << ": C++ " << f[i] << ", Python " << expected[offset + i]);
          CHECK(false);
        }
      }
    }
    CHECK(mismatches == 0);

    // Double storage receives the same float32 values, widened.
    std::vector<double> d(count);
    ctnn::reference_uniform_fill<double>(name, shape, fan_in, seed, d);
    bool same = true;
    for (std::size_t i = 0; i < count; ++i) same = same && d[i] == static_cast<double>(f[i]);
    CHECK(same);
  }
}

TEST_CASE("reference_uniform_fill value ranges follow the name rules") {
  // Kaiming-uniform weight bound sqrt(6 / fan_in) with fan_in = 3*3*3.
  const std::array<std::int64_t, 4> wshape{16, 3, 3, 3};
  std::vector<float> w(16 * 27);
  ctnn::reference_uniform_fill<float>("x.weight", wshape, 0, 5, w);
  const float wbound = static_cast<float>(std::sqrt(6.0 / 27.0));
  for (float v : w) CHECK((v >= -wbound && v < wbound));

  const std::array<std::int64_t, 1> cshape{64};
  std::vector<float> gamma(64), var(64), tracked(1);
  ctnn::reference_uniform_fill<float>("bn.weight", cshape, 0, 5, gamma);
  ctnn::reference_uniform_fill<float>("bn.running_var", cshape, 0, 5, var);
  for (float v : gamma) CHECK((v >= 0.75f && v < 1.25f));
  for (float v : var) CHECK((v >= 0.5f && v < 1.5f));
  ctnn::reference_uniform_fill<float>("bn.num_batches_tracked", std::span<const std::int64_t>{}, 0,
                                      5, tracked);
  CHECK(tracked[0] == 0.0f);

  // Different names or seeds give different streams.
  std::vector<float> a(8), b(8), c(8);
  const std::array<std::int64_t, 1> s8{8};
  ctnn::reference_uniform_fill<float>("input", s8, 0, 1, a);
  ctnn::reference_uniform_fill<float>("input", s8, 0, 2, b);
  ctnn::reference_uniform_fill<float>("inputs", s8, 0, 1, c);
  CHECK(a != b);
  CHECK(a != c);
}

TEST_CASE("reference_uniform_fill rejects inconsistent arguments") {
  const std::array<std::int64_t, 2> shape{3, 4};
  std::vector<float> wrong(11);
  CHECK_THROWS_AS(ctnn::reference_uniform_fill<float>("fc.weight", shape, 0, 1, wrong), ctnn::Error);

  const std::array<std::int64_t, 1> bshape{3};
  std::vector<float> bias(3);
  CHECK_THROWS_AS(ctnn::reference_uniform_fill<float>("fc.bias", bshape, 0, 1, bias), ctnn::Error);
  CHECK_NOTHROW(ctnn::reference_uniform_fill<float>("fc.bias", bshape, 4, 1, bias));

  const std::array<std::int64_t, 2> negative{-1, -2};
  std::vector<float> two(2);
  CHECK_THROWS_AS(ctnn::reference_uniform_fill<float>("x", negative, 0, 1, two), ctnn::Error);
}
