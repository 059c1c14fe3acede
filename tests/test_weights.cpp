// ctnn::load_weights / save_weights (ctnn/io/weights.hpp): PyTorch -> ctnn from files converted by
// tools/convert_to_safetensors.py (float32, float16, bfloat16), ctnn -> PyTorch checked tensor by
// tensor against PyTorch's state_dict, round trips, and every damaged or mismatched file refused
// with a clear message and the model left byte for byte as it was.
// Reference data: tests/data/weights/, written by tools/make_weights_reference.py.

#include <doctest/doctest.h>

#include <algorithm>    // std::equal, std::ranges::find
#include <array>        // std::array: SHA-256 state
#include <bit>          // std::rotr
#include <cstdint>      // std::uint8_t, std::uint32_t, std::uint64_t, std::int64_t
#include <cstdio>       // std::snprintf
#include <cstring>      // std::memcmp, std::memcpy
#include <filesystem>   // std::filesystem
#include <fstream>      // std::ifstream, std::ofstream
#include <iterator>     // std::istreambuf_iterator
#include <map>          // std::map
#include <random>       // std::random_device
#include <span>         // std::span
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <utility>      // std::as_const, std::move
#include <vector>       // std::vector

#include <nlohmann/json.hpp>   // nlohmann::ordered_json: reference listings, rewritten headers

#include <ctnn/ctnn.hpp>             // ctnn::Model, GoogLeNet, TorchvisionGoogLeNet, Inception, init
#include <ctnn/io/half.hpp>          // ctnn::float_to_float16, float16_to_float, bfloat16
#include <ctnn/io/safetensors.hpp>   // ctnn::safetensors::Reader, serialize, DType
#include <ctnn/io/weights.hpp>       // ctnn::load_weights, save_weights, LoadOptions, LoadReport

#include "support/reference.hpp"   // ctnn::test::data_path, read_tensor, relative_error

using namespace ctnn;
namespace fs = std::filesystem;
namespace st = ctnn::safetensors;
using json = nlohmann::ordered_json;

namespace {

using Image = Shape<3, 224, 224>;
using Small = Shape<8, 9, 9>;
using SeedInception = Inception<8, 4, 3, 5, 2, 3, 2>;
using TorchvisionInception = torchvision::Inception<8, 4, 3, 5, 2, 3, 2>;
using SeedModel = Model<SeedInception, Small>;
using TorchvisionModel = Model<TorchvisionInception, Small>;
constexpr std::uint64_t kSeedInceptionSeed = 11;       // tools/make_weights_reference.py
constexpr std::uint64_t kTorchvisionInceptionSeed = 12;
constexpr std::uint64_t kGoogLeNetSeed = 3;

std::string weights_path(const std::string& name) { return test::data_path("weights/" + name); }

std::vector<std::uint8_t> read_file(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>()};
}

// A fresh directory under the system temp directory, removed with everything in it at scope exit.
struct TemporaryDirectory {
  fs::path path;
  TemporaryDirectory() {
    std::random_device entropy;
    path = fs::temp_directory_path() / ("ctnn_test_weights_" + std::to_string(entropy()));
    fs::create_directories(path);
  }
  ~TemporaryDirectory() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

// The model's parameters and buffers as bytes, to prove a refused load changed nothing.
template <class M>
std::vector<std::uint8_t> state_bytes(const M& model) {
  using T = typename M::scalar;
  const auto parameters = model.parameters();
  const auto buffers = model.buffers();
  std::vector<std::uint8_t> bytes(parameters.size_bytes() + buffers.size_bytes());
  std::memcpy(bytes.data(), parameters.data(), parameters.size_bytes());
  if (!buffers.empty()) std::memcpy(bytes.data() + parameters.size_bytes(), buffers.data(), buffers.size() * sizeof(T));
  return bytes;
}

// The values of the model's tensor `name`.
template <class M>
std::span<const typename M::scalar> tensor_of(const M& model, const std::string& name) {
  for (const NamedTensor& t : named_tensors<typename M::network, typename M::input_shape>()) {
    if (t.name == name) {
      return (t.role == TensorRole::parameter ? model.parameters() : model.buffers()).subspan(t.offset, t.count);
    }
  }
  FAIL("the model has no tensor " << name);
  return {};
}

template <class M>
std::span<typename M::scalar> mutable_tensor_of(M& model, const std::string& name) {
  const auto values = tensor_of(std::as_const(model), name);
  const bool is_parameter = values.data() >= model.parameters().data() &&
                            values.data() < model.parameters().data() + model.parameters().size();
  const auto storage = is_parameter ? model.parameters() : model.buffers();
  return storage.subspan(static_cast<std::size_t>(values.data() - storage.data()), values.size());
}

// Runs `action`, which must throw ctnn::Error whose message contains every one of `parts`.
template <class Action>
std::string check_error(Action&& action, const std::vector<std::string>& parts) {
  try {
    action();
  } catch (const Error& error) {
    const std::string message = error.what();
    CAPTURE(message);
    for (const std::string& part : parts) CHECK(message.find(part) != std::string::npos);
    return message;
  }
  FAIL("expected a ctnn::Error, nothing was thrown");
  return {};
}

// A model filled with the reference initialisation of `seed`.
template <class M>
M reference_model(std::uint64_t seed) {
  M model;
  init::reference_uniform(model, seed);
  return model;
}

// Loading `bytes` into a reference-initialised model must fail with every one of `parts` in the
// message (plus the label), and leave the model's bytes as they were.
template <class M = SeedModel>
std::string check_refused(std::vector<std::uint8_t> bytes, std::vector<std::string> parts, LoadOptions options = {}) {
  M model = reference_model<M>(99);
  const std::vector<std::uint8_t> before = state_bytes(model);
  parts.push_back("bad.safetensors");
  const std::string message =
      check_error([&] { load_weights_from_memory(model, std::move(bytes), options, "bad.safetensors"); }, parts);
  CHECK(state_bytes(model) == before);
  return message;
}

// ---- files assembled by hand ---------------------------------------------------------------------

// The 8-byte header length, the header as given, then `data`.
std::vector<std::uint8_t> file_with_header(const std::string& header, const std::vector<std::uint8_t>& data) {
  std::vector<std::uint8_t> file;
  for (int i = 0; i < 8; ++i) file.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(header.size()) >> (8 * i)));
  file.insert(file.end(), header.begin(), header.end());
  file.insert(file.end(), data.begin(), data.end());
  return file;
}

// A valid file split into its header (as JSON, in file order) and data section, to damage.
struct FileParts {
  json header;
  std::vector<std::uint8_t> data;

  static FileParts of(const std::vector<std::uint8_t>& file) {
    std::uint64_t length = 0;
    for (int i = 7; i >= 0; --i) length = (length << 8) | file[static_cast<std::size_t>(i)];
    FileParts parts;
    parts.header = json::parse(file.begin() + 8, file.begin() + 8 + static_cast<std::ptrdiff_t>(length));
    parts.data.assign(file.begin() + 8 + static_cast<std::ptrdiff_t>(length), file.end());
    return parts;
  }
  std::vector<std::uint8_t> bytes() const { return file_with_header(header.dump(), data); }
};

// The seed Inception's weights as PyTorch wrote them (converted to safetensors).
std::vector<std::uint8_t> seed_inception_file() { return read_file(weights_path("seed_inception.f32.safetensors")); }

// A file holding `tensors` (name -> shape and values) and nothing else, as PyTorch writes them: F32,
// and step counters (num_batches_tracked) I64.
std::vector<std::uint8_t> file_of(const std::map<std::string, std::pair<std::vector<std::int64_t>, std::vector<float>>>& tensors) {
  std::vector<st::TensorView> views;
  std::vector<std::int64_t> counters;
  counters.reserve(tensors.size());  // no reallocation: views point into it
  for (const auto& [name, tensor] : tensors) {
    if (name.ends_with("num_batches_tracked")) {
      counters.push_back(static_cast<std::int64_t>(tensor.second.at(0)));
      views.push_back({name, st::DType::I64, tensor.first,
                       std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(&counters.back()), 8)});
      continue;
    }
    views.push_back({name, st::DType::F32, tensor.first,
                     std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(tensor.second.data()),
                                                   tensor.second.size() * sizeof(float))});
  }
  return st::serialize(views, {{"format", "pt"}});
}

// Every tensor of a model of type M as an F32 tensor view source: name -> (shape, values).
template <class M>
std::map<std::string, std::pair<std::vector<std::int64_t>, std::vector<float>>> tensors_of(const M& model) {
  std::map<std::string, std::pair<std::vector<std::int64_t>, std::vector<float>>> tensors;
  for (const NamedTensor& t : named_tensors<typename M::network, typename M::input_shape>()) {
    const auto values = tensor_of(model, t.name);
    tensors[t.name] = {std::vector<std::int64_t>(t.shape.begin(), t.shape.end()),
                       std::vector<float>(values.begin(), values.end())};
  }
  return tensors;
}

// ---- SHA-256 (FIPS 180-4), to compare tensors with the digests Python's hashlib wrote ------------

std::string sha256(std::span<const std::uint8_t> message) {
  static constexpr std::array<std::uint32_t, 64> k{
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
      0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
      0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
      0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
      0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
      0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
      0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
  std::array<std::uint32_t, 8> h{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  // The message, a 1 bit, zeros, and its length in bits (big-endian): a multiple of 64 bytes.
  std::vector<std::uint8_t> padded(message.begin(), message.end());
  padded.push_back(0x80);
  while (padded.size() % 64 != 56) padded.push_back(0);
  const std::uint64_t bits = static_cast<std::uint64_t>(message.size()) * 8;
  for (int i = 7; i >= 0; --i) padded.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));

  for (std::size_t block = 0; block < padded.size(); block += 64) {
    std::array<std::uint32_t, 64> w{};
    for (std::size_t i = 0; i < 16; ++i) {
      const std::uint8_t* p = &padded[block + 4 * i];
      w[i] = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
    }
    for (std::size_t i = 16; i < 64; ++i) {
      const std::uint32_t s0 = std::rotr(w[i - 15], 7) ^ std::rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const std::uint32_t s1 = std::rotr(w[i - 2], 17) ^ std::rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::array<std::uint32_t, 8> v = h;  // a, b, c, d, e, f, g, h
    for (std::size_t i = 0; i < 64; ++i) {
      const std::uint32_t s1 = std::rotr(v[4], 6) ^ std::rotr(v[4], 11) ^ std::rotr(v[4], 25);
      const std::uint32_t choose = (v[4] & v[5]) ^ (~v[4] & v[6]);
      const std::uint32_t t1 = v[7] + s1 + choose + k[i] + w[i];
      const std::uint32_t s0 = std::rotr(v[0], 2) ^ std::rotr(v[0], 13) ^ std::rotr(v[0], 22);
      const std::uint32_t majority = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
      const std::uint32_t t2 = s0 + majority;
      v = {t1 + t2, v[0], v[1], v[2], v[3] + t1, v[4], v[5], v[6]};
    }
    for (std::size_t i = 0; i < 8; ++i) h[i] += v[i];
  }
  std::string hex;
  for (std::uint32_t word : h) {
    char digits[9];
    std::snprintf(digits, sizeof digits, "%08x", word);
    hex += digits;
  }
  return hex;
}

}  // namespace

// =================================================================================================
// PyTorch -> ctnn
// =================================================================================================

TEST_CASE("sha256 helper matches the FIPS 180-4 examples") {
  const std::string abc = "abc";
  CHECK(sha256({reinterpret_cast<const std::uint8_t*>(abc.data()), abc.size()}) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256({}) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(sha256({reinterpret_cast<const std::uint8_t*>(two_blocks.data()), two_blocks.size()}) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("PyTorch -> ctnn: the seed's Inception converted from torch.save loads bit for bit and computes PyTorch's output") {
  SeedModel model;
  const LoadReport report = load_weights(model, fs::path(weights_path("seed_inception.f32.safetensors")));
  CHECK(report.loaded == 12);
  CHECK(report.unexpected.empty());
  CHECK(report.missing.empty());
  CHECK(report.metadata.at("format") == "pt");

  // PyTorch initialised the module with ctnn_reference.init_module(seed 11); C++ repeats it exactly.
  const SeedModel expected = reference_model<SeedModel>(kSeedInceptionSeed);
  CHECK(state_bytes(model) == state_bytes(expected));

  std::vector<float> x(2 * Small::size);
  const std::int64_t shape[] = {2, 8, 9, 9};
  reference_uniform_fill<float>("input", shape, 0, kSeedInceptionSeed, std::span<float>(x));
  const test::ReferenceFile& reference = test::ReferenceFile::open("weights/seed_inception.io.safetensors");
  const double e = test::relative_error(model.forward(x), std::span<const float>(test::read_tensor(reference, "output")));
  MESSAGE("seed Inception output vs PyTorch: rel. max error " << e);
  CHECK(e <= 2e-6);  // measured 1.3e-7: one layer's float32 rounding (tests/test_layers_forward.cpp's bound)
}

TEST_CASE("PyTorch -> ctnn: float16 and bfloat16 files load as the rounded float32 values") {
  const SeedModel f32 = reference_model<SeedModel>(kSeedInceptionSeed);
  SUBCASE("float16, converted from a whole pickled module") {
    SeedModel model;
    load_weights(model, fs::path(weights_path("seed_inception.f16.safetensors")));
    std::size_t i = 0;
    for (float value : f32.parameters()) {
      CHECK(model.parameters()[i] == float16_to_float(float_to_float16(value)));
      ++i;
    }
  }
  SUBCASE("bfloat16, converted from a checkpoint dict with DataParallel's 'module.' prefix") {
    SeedModel model;
    load_weights(model, fs::path(weights_path("seed_inception.bf16.safetensors")));
    std::size_t i = 0;
    for (float value : f32.parameters()) {
      CHECK(model.parameters()[i] == bfloat16_to_float(float_to_bfloat16(value)));
      ++i;
    }
  }
  SUBCASE("into a double model") {
    Model<SeedInception, Small, double> model;
    load_weights(model, fs::path(weights_path("seed_inception.f16.safetensors")));
    std::size_t i = 0;
    for (float value : f32.parameters()) {
      CHECK(model.parameters()[i] == static_cast<double>(float16_to_float(float_to_float16(value))));
      ++i;
    }
  }
}

TEST_CASE("PyTorch -> ctnn: torchvision's Inception with batch norm, running statistics and step counts") {
  TorchvisionModel model;
  const LoadReport report = load_weights(model, fs::path(weights_path("torchvision_inception.f32.safetensors")));
  CHECK(report.loaded == 36);
  CHECK(report.zeroed.empty());

  const auto file = st::Reader::open(weights_path("torchvision_inception.f32.safetensors"));
  const TorchvisionModel initial = reference_model<TorchvisionModel>(kTorchvisionInceptionSeed);
  std::size_t counters = 0;
  for (const NamedTensor& t : named_tensors<TorchvisionInception, Small>()) {
    CAPTURE(t.name);
    const auto loaded = tensor_of(model, t.name);
    if (t.name.ends_with("num_batches_tracked")) {
      CHECK(file.find(t.name)->dtype == st::DType::I64);
      CHECK(loaded[0] == 2.0f);  // two training steps in PyTorch
      ++counters;
    } else if (t.role == TensorRole::buffer) {
      const std::vector<float> stored = test::read_tensor(file, t.name);
      CHECK(std::equal(loaded.begin(), loaded.end(), stored.begin(), stored.end()));
    } else {  // training forwards do not change parameters: still the reference initialisation
      const auto expected = tensor_of(initial, t.name);
      CHECK(std::equal(loaded.begin(), loaded.end(), expected.begin(), expected.end()));
    }
  }
  CHECK(counters == 6);

  std::vector<float> x(2 * Small::size);
  const std::int64_t shape[] = {2, 8, 9, 9};
  reference_uniform_fill<float>("input", shape, 0, kTorchvisionInceptionSeed, std::span<float>(x));
  const test::ReferenceFile& reference = test::ReferenceFile::open("weights/torchvision_inception.io.safetensors");
  const double e = test::relative_error(model.forward(x), std::span<const float>(test::read_tensor(reference, "output")));
  MESSAGE("torchvision Inception output (eval, running statistics) vs PyTorch: rel. max error " << e);
  CHECK(e <= 2e-6);  // measured 1.1e-7: one layer's float32 rounding (tests/test_layers_forward.cpp's bound)
}

// =================================================================================================
// ctnn -> PyTorch
// =================================================================================================

TEST_CASE("ctnn -> PyTorch: save_weights of GoogLeNet<2, true> is the seed module's state_dict, tensor for tensor") {
  using Net = GoogLeNet<2, true>;
  const auto model = reference_model<Model<Net, Image>>(kGoogLeNetSeed);
  const auto reader = st::Reader::from_bytes(save_weights_to_memory(model), "saved");

  std::ifstream listing_file(weights_path("googlenet_seed_reference3.json"));
  const json listing = json::parse(listing_file);
  REQUIRE(listing.at("seed").get<std::uint64_t>() == kGoogLeNetSeed);
  const json& expected = listing.at("tensors");
  // The same names (load_state_dict(strict=True) needs exactly these), dtypes, shapes and bytes.
  CHECK(reader.tensors().size() == expected.size());
  for (const json& entry : expected) {
    const std::string name = entry.at(0).get<std::string>();
    CAPTURE(name);
    const st::TensorInfo* info = reader.find(name);
    REQUIRE(info != nullptr);
    CHECK(st::dtype_name(info->dtype) == entry.at(1).get<std::string>());
    CHECK(info->shape == entry.at(2).get<std::vector<std::int64_t>>());
    CHECK(sha256(reader.raw(*info)) == entry.at(3).get<std::string>());
  }
  CHECK(reader.metadata().at("format") == "pt");
  CHECK(reader.metadata().at("ctnn.network") == "GoogLeNet");
  CHECK(reader.metadata().at("ctnn.input_shape") == "[3, 224, 224]");
  CHECK(reader.metadata().at("ctnn.parameter_count") == "10309430");
}

TEST_CASE("ctnn -> PyTorch: batch norm buffers are saved, num_batches_tracked as an I64 scalar") {
  TorchvisionModel model = reference_model<TorchvisionModel>(5);
  mutable_tensor_of(model, "branch2.1.bn.num_batches_tracked")[0] = 1234.0f;
  const auto reader = st::Reader::from_bytes(save_weights_to_memory(model), "saved");
  CHECK(reader.tensors().size() == named_tensors<TorchvisionInception, Small>().size());
  const st::TensorInfo* counter = reader.find("branch2.1.bn.num_batches_tracked");
  REQUIRE(counter != nullptr);
  CHECK(counter->dtype == st::DType::I64);
  CHECK(counter->shape.empty());
  std::int64_t count = 0;
  reader.read_as(*counter, std::span<std::int64_t>(&count, 1));
  CHECK(count == 1234);
  CHECK(reader.find("branch1.bn.running_var")->dtype == st::DType::F32);

  // A counter that is not a whole, non-negative number cannot be saved as one.
  mutable_tensor_of(model, "branch1.bn.num_batches_tracked")[0] = 2.5f;
  check_error([&] { (void)save_weights_to_memory(model); },
              {"ctnn::save_weights: tensor 'branch1.bn.num_batches_tracked'", "holds 2.5", "not a step count"});
}

// =================================================================================================
// Round trips
// =================================================================================================

TEST_CASE("save_weights then load_weights round-trips bit for bit, through a file, atomically") {
  TemporaryDirectory directory;
  const fs::path path = directory.path / "googlenet.safetensors";
  using Net = GoogLeNet<2, true>;
  const auto saved = reference_model<Model<Net, Image>>(kGoogLeNetSeed);
  save_weights(saved, path);
  CHECK(fs::exists(path));
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(directory.path)) ++entries;
  CHECK(entries == 1);  // no temporary file left behind

  Model<Net, Image> loaded;
  const LoadReport report = load_weights(loaded, path);
  CHECK(report.loaded == named_tensors<Net, Image>().size());
  CHECK(state_bytes(loaded) == state_bytes(saved));
  CHECK(save_weights_to_memory(loaded) == read_file(path));  // and saving again gives the same file
}

TEST_CASE("save and load: double models, F16 and BF16 files") {
  const auto f32 = reference_model<TorchvisionModel>(21);
  SUBCASE("a double model saves F64 and round-trips exactly") {
    auto model = reference_model<Model<TorchvisionInception, Small, double>>(21);
    model.parameters()[0] = 0.1;  // not a float value
    const auto bytes = save_weights_to_memory(model);
    const auto reader = st::Reader::from_bytes(bytes, "saved");
    CHECK(reader.find("branch1.conv.weight")->dtype == st::DType::F64);
    CHECK(reader.find("branch1.bn.num_batches_tracked")->dtype == st::DType::I64);
    Model<TorchvisionInception, Small, double> loaded;
    load_weights_from_memory(loaded, bytes);
    CHECK(state_bytes(loaded) == state_bytes(model));
    TorchvisionModel narrowed;  // F64 into float: rounded to nearest
    load_weights_from_memory(narrowed, bytes);
    CHECK(narrowed.parameters()[0] == 0.1f);
  }
  SUBCASE("SaveOptions{.dtype = F16 | BF16} rounds to nearest even") {
    for (st::DType dtype : {st::DType::F16, st::DType::BF16}) {
      CAPTURE(st::dtype_name(dtype));
      const auto bytes = save_weights_to_memory(f32, SaveOptions{.dtype = dtype, .metadata = {{"note", "half"}}});
      const auto reader = st::Reader::from_bytes(bytes, "saved");
      CHECK(reader.find("branch1.conv.weight")->dtype == dtype);
      CHECK(reader.find("branch1.bn.num_batches_tracked")->dtype == st::DType::I64);
      CHECK(reader.metadata().at("note") == "half");
      TorchvisionModel loaded;
      load_weights_from_memory(loaded, bytes);
      for (std::size_t i = 0; i < f32.parameters().size(); ++i) {
        const float value = f32.parameters()[i];
        const float rounded = dtype == st::DType::F16 ? float16_to_float(float_to_float16(value))
                                                      : bfloat16_to_float(float_to_bfloat16(value));
        CHECK(loaded.parameters()[i] == rounded);
      }
    }
    check_error([&] { (void)save_weights_to_memory(f32, SaveOptions{.dtype = st::DType::I32}); },
                {"dtype I32 is not a floating-point type"});
  }
}

TEST_CASE("save_weights into a missing directory throws naming the file") {
  const fs::path path = fs::temp_directory_path() / "ctnn_no_such_directory_4711" / "w.safetensors";
  check_error([&] { save_weights(reference_model<SeedModel>(1), path); }, {path.string(), "cannot create the temporary file"});
}

// =================================================================================================
// Model-level validation: names, shapes, dtypes; strict and non-strict
// =================================================================================================

TEST_CASE("a tensor the model lacks: strict refuses naming file and tensor, non-strict skips and reports it") {
  auto tensors = tensors_of(reference_model<SeedModel>(kSeedInceptionSeed));
  tensors["branch5.conv.weight"] = {{2, 8, 1, 1}, std::vector<float>(16, 1.0f)};
  const auto bytes = file_of(tensors);
  check_refused(bytes, {"bad.safetensors: tensor 'branch5.conv.weight': the model has no tensor of this name"});

  SeedModel model = reference_model<SeedModel>(99);
  const LoadReport report = load_weights_from_memory(model, bytes, {.strict = false});
  CHECK(report.unexpected == std::vector<std::string>{"branch5.conv.weight"});
  CHECK(report.missing.empty());
  CHECK(report.loaded == 12);
  CHECK(state_bytes(model) == state_bytes(reference_model<SeedModel>(kSeedInceptionSeed)));
}

TEST_CASE("a tensor the model needs is missing: strict refuses, non-strict reports it and keeps its value") {
  auto tensors = tensors_of(reference_model<SeedModel>(kSeedInceptionSeed));
  tensors.erase("branch3.1.conv.bias");
  const auto bytes = file_of(tensors);
  check_refused(bytes, {"bad.safetensors: tensor 'branch3.1.conv.bias': the model's parameter [3] is not in the file"});

  SeedModel model = reference_model<SeedModel>(99);
  const std::vector<float> kept(tensor_of(model, "branch3.1.conv.bias").begin(), tensor_of(model, "branch3.1.conv.bias").end());
  const LoadReport report = load_weights_from_memory(model, bytes, {.strict = false});
  CHECK(report.missing == std::vector<std::string>{"branch3.1.conv.bias"});
  CHECK(report.loaded == 11);
  const auto bias = tensor_of(model, "branch3.1.conv.bias");
  CHECK(std::equal(bias.begin(), bias.end(), kept.begin(), kept.end()));
  const auto weight = tensor_of(model, "branch3.1.conv.weight");
  const SeedModel expected = reference_model<SeedModel>(kSeedInceptionSeed);
  CHECK(std::ranges::equal(weight, tensor_of(expected, "branch3.1.conv.weight")));
}

TEST_CASE("a shape that differs is refused in both modes, with both shapes") {
  auto tensors = tensors_of(reference_model<SeedModel>(kSeedInceptionSeed));
  tensors["branch3.1.conv.weight"] = {{3, 2, 3, 3}, std::vector<float>(54, 0.5f)};  // torchvision's 3x3
  const auto bytes = file_of(tensors);
  for (bool strict : {true, false}) {
    CAPTURE(strict);
    check_refused(bytes, {"bad.safetensors: tensor 'branch3.1.conv.weight': shape [3, 2, 5, 5] expected, file has [3, 2, 3, 3]"},
                  {.strict = strict});
  }
  // Same element count, other layout: still refused.
  tensors["branch3.1.conv.weight"] = {{3, 50}, std::vector<float>(150, 0.5f)};
  check_refused(file_of(tensors), {"shape [3, 2, 5, 5] expected, file has [3, 50]"});
}

TEST_CASE("dtypes: integer weights are refused, step counters must be integers") {
  auto file = FileParts::of(seed_inception_file());
  SUBCASE("I32 for a weight") {
    file.header["branch1.conv.bias"]["dtype"] = "I32";  // 4 bytes per element as F32: the layout stays valid
    check_refused(file.bytes(), {"tensor 'branch1.conv.bias': dtype I32 cannot be loaded into a float32 tensor",
                                 "accepted: F32, F16, BF16, F64"});
  }
  SUBCASE("U8 for a weight") {
    file.header["branch1.conv.bias"]["dtype"] = "U8";
    file.header["branch1.conv.bias"]["shape"] = json::array({16});  // its 16 bytes as 16 elements
    check_refused(file.bytes(), {"tensor 'branch1.conv.bias'", "shape [4] expected, file has [16]"});
  }
  auto tv = FileParts::of(read_file(weights_path("torchvision_inception.f32.safetensors")));
  SUBCASE("F64 for num_batches_tracked") {
    tv.header["branch1.bn.num_batches_tracked"]["dtype"] = "F64";  // 8 bytes, as I64
    check_refused<TorchvisionModel>(tv.bytes(), {"tensor 'branch1.bn.num_batches_tracked': dtype F64 for a step counter",
                                                 "expected an integer type (PyTorch stores I64)"});
  }
  SUBCASE("a negative step count") {
    const std::uint64_t begin = tv.header["branch1.bn.num_batches_tracked"]["data_offsets"][0].get<std::uint64_t>();
    const std::int64_t negative = -5;
    std::memcpy(tv.data.data() + begin, &negative, sizeof negative);
    check_refused<TorchvisionModel>(tv.bytes(), {"tensor 'branch1.bn.num_batches_tracked': the step counter holds the negative value -5"});
  }
  SUBCASE("an I32 step counter is an integer and accepted") {
    TorchvisionModel model;
    auto tensors = tensors_of(reference_model<TorchvisionModel>(3));
    std::vector<st::TensorView> views;
    const std::int32_t count32 = 17;
    for (const auto& [name, tensor] : tensors) {
      if (name.ends_with("num_batches_tracked")) {
        views.push_back({name, st::DType::I32, {}, std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(&count32), 4)});
      } else {
        views.push_back({name, st::DType::F32, tensor.first,
                         std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(tensor.second.data()),
                                                       tensor.second.size() * sizeof(float))});
      }
    }
    load_weights_from_memory(model, st::serialize(views));
    CHECK(tensor_of(model, "branch4.1.bn.num_batches_tracked")[0] == 17.0f);
  }
}

TEST_CASE("optional_modules: the auxiliary heads may be in the file, in the model, or in both") {
  using WithAux = Model<GoogLeNet<2, true>, Image>;
  using WithoutAux = Model<GoogLeNet<2, false>, Image>;
  const LoadOptions aux_optional{.strict = true, .optional_modules = {"aux1", "aux2"}};
  const auto with_aux = save_weights_to_memory(reference_model<WithAux>(kGoogLeNetSeed));
  const auto without_aux = save_weights_to_memory(reference_model<WithoutAux>(kGoogLeNetSeed));
  const std::size_t aux_tensors = 2 * 6;  // conv.conv.{weight, bias}, fc1.*, fc2.* per head

  SUBCASE("a file with the heads into a model without them") {
    check_refused<WithoutAux>(with_aux, {"tensor 'aux1.conv.conv.weight': the model has no tensor of this name"});
    WithoutAux model;
    const LoadReport report = load_weights_from_memory(model, with_aux, aux_optional);
    CHECK(report.unexpected.size() == aux_tensors);
    CHECK(report.missing.empty());
    CHECK(state_bytes(model) == state_bytes(reference_model<WithoutAux>(kGoogLeNetSeed)));
  }
  SUBCASE("a file without the heads into a model with them: the heads keep their values") {
    check_refused<WithAux>(without_aux, {"the model's parameter [128, 512, 1, 1] is not in the file"});
    WithAux model = reference_model<WithAux>(99);
    const std::vector<float> head(tensor_of(model, "aux2.fc2.weight").begin(), tensor_of(model, "aux2.fc2.weight").end());
    const LoadReport report = load_weights_from_memory(model, without_aux, aux_optional);
    CHECK(report.missing.size() == aux_tensors);
    CHECK(std::ranges::equal(tensor_of(model, "aux2.fc2.weight"), head));
    CHECK(std::ranges::equal(tensor_of(model, "fc.weight"), tensor_of(reference_model<WithAux>(kGoogLeNetSeed), "fc.weight")));
  }
  SUBCASE("only those modules: anything else is still refused") {
    auto tensors = tensors_of(reference_model<SeedModel>(kSeedInceptionSeed));
    tensors.erase("branch2.0.conv.weight");
    tensors["aux1.extra"] = {{1}, {1}};
    tensors["aux10.weight"] = {{1}, {1}};  // "aux1" names a module, not a prefix of characters
    const std::string message =
        check_refused(file_of(tensors), {"(2 problems)", "tensor 'branch2.0.conv.weight': the model's parameter",
                                         "tensor 'aux10.weight': the model has no tensor"},
                      aux_optional);
    CHECK(message.find("'aux1.extra'") == std::string::npos);
  }
}

TEST_CASE("a missing num_batches_tracked is set to 0, as PyTorch does for a state dict without versions") {
  auto tensors = tensors_of(reference_model<TorchvisionModel>(3));
  tensors.erase("branch2.0.bn.num_batches_tracked");
  TorchvisionModel model = reference_model<TorchvisionModel>(4);
  mutable_tensor_of(model, "branch2.0.bn.num_batches_tracked")[0] = 9.0f;
  const LoadReport report = load_weights_from_memory(model, file_of(tensors));
  CHECK(report.zeroed == std::vector<std::string>{"branch2.0.bn.num_batches_tracked"});
  CHECK(report.missing.empty());
  CHECK(tensor_of(model, "branch2.0.bn.num_batches_tracked")[0] == 0.0f);
}

TEST_CASE("several problems are reported together, and nothing is loaded") {
  auto tensors = tensors_of(reference_model<SeedModel>(kSeedInceptionSeed));
  tensors.erase("branch1.conv.weight");
  tensors["branch4.1.conv.bias"] = {{3}, {1, 2, 3}};
  tensors["extra"] = {{1}, {1}};
  const std::string message =
      check_refused(file_of(tensors), {"bad.safetensors: the weights do not fit the model (3 problems)",
                                       "\n  tensor 'branch4.1.conv.bias': shape [2] expected, file has [3]",
                                       "\n  tensor 'branch1.conv.weight': the model's parameter [4, 8, 1, 1] is not in the file",
                                       "\n  tensor 'extra': the model has no tensor of this name"});
}

TEST_CASE("wholesale mismatches get a hint: DataParallel's prefix, or another network's weights") {
  auto tensors = tensors_of(reference_model<SeedModel>(kSeedInceptionSeed));
  std::map<std::string, std::pair<std::vector<std::int64_t>, std::vector<float>>> prefixed;
  for (auto& [name, tensor] : tensors) prefixed["module." + name] = tensor;
  check_refused(file_of(prefixed), {"the file's names carry the prefix 'module.' of nn.DataParallel",
                                    "tools/convert_to_safetensors.py strips it", "(24 problems)"});

  // Weights of an unrelated network: no name in common.
  const auto unrelated = file_of({{"features.0.weight", {{4, 8, 1, 1}, std::vector<float>(32)}},
                                  {"classifier.bias", {{2}, {0, 0}}}});
  check_refused(unrelated, {"none of the file's 2 tensors has the name of one of the model's 12",
                            "are these the weights of another network?"});
  // Non-strict does not make that acceptable: nothing would be loaded.
  check_refused(unrelated, {"none of the file's 2 tensors", "tensor 'branch1.conv.weight': is not in the file"},
                {.strict = false});

  // torchvision's Inception into the seed's: the names overlap, so every difference is listed.
  const auto torchvision_file = read_file(weights_path("torchvision_inception.f32.safetensors"));
  check_refused(torchvision_file, {"the weights do not fit the model (37 problems)",
                                   "tensor 'branch3.1.conv.weight': shape [3, 2, 5, 5] expected, file has [3, 2, 3, 3]",
                                   "tensor 'branch1.conv.bias': the model's parameter [4] is not in the file",
                                   "... and 25 more"});
}

TEST_CASE("a failure after many good tensors leaves the model untouched (staging)") {
  // Every tensor fine except the last one in file order: nothing may have been copied.
  auto file = FileParts::of(seed_inception_file());
  std::string last;
  std::uint64_t last_begin = 0;
  for (const auto& [name, entry] : file.header.items()) {
    if (name == "__metadata__") continue;
    const std::uint64_t begin = entry["data_offsets"][0].get<std::uint64_t>();
    if (last.empty() || begin >= last_begin) last = name, last_begin = begin;
  }
  file.header[last]["dtype"] = "I32";
  check_refused(file.bytes(), {"tensor '" + last + "': dtype I32"});
}

// =================================================================================================
// Damaged and hostile files: every safetensors validation case, through load_weights
// =================================================================================================

TEST_CASE("damaged files are refused with the safetensors reader's message; the model is untouched") {
  const std::vector<std::uint8_t> good = seed_inception_file();
  {
    SeedModel model;  // the undamaged file loads
    CHECK(load_weights_from_memory(model, good).loaded == 12);
  }
  const auto header_length = [&] {
    std::uint64_t length = 0;
    for (int i = 7; i >= 0; --i) length = (length << 8) | good[static_cast<std::size_t>(i)];
    return length;
  }();

  SUBCASE("empty and too short") {
    check_refused({}, {"0 bytes long", "too short"});
    check_refused({1, 2, 3}, {"3 bytes long", "too short"});
  }
  SUBCASE("truncated: the data section ends early") {
    std::vector<std::uint8_t> truncated(good.begin(), good.end() - 100);
    check_refused(truncated, {"reach past the end of the data section"});
  }
  SUBCASE("truncated inside the header") {
    std::vector<std::uint8_t> truncated(good.begin(), good.begin() + 40);
    check_refused(truncated, {"header length " + std::to_string(header_length) + " exceeds the 32 bytes that follow it"});
  }
  SUBCASE("a header length beyond any limit") {
    std::vector<std::uint8_t> absurd = good;
    absurd[7] = 0x7F;
    check_refused(absurd, {"exceeds the limit of 100000000 bytes"});
  }
  SUBCASE("extra bytes after the data") {
    std::vector<std::uint8_t> longer = good;
    longer.push_back(0);
    check_refused(longer, {"at the end of the data section belong to no tensor"});
  }
  SUBCASE("a damaged header byte") {
    std::vector<std::uint8_t> damaged = good;
    damaged[8] = 'x';  // the opening brace
    check_refused(damaged, {"header is not valid JSON"});
  }
  SUBCASE("not a safetensors file at all") {
    const std::string text = "PK\x03\x04 this is a zip file, e.g. a torch.save checkpoint";
    check_refused(std::vector<std::uint8_t>(text.begin(), text.end()), {"header length", "not a safetensors file"});
  }
  SUBCASE("a header that is not an object") {
    check_refused(file_with_header("[1, 2]", {}), {"header is not a JSON object (found an array)"});
  }
  SUBCASE("entries with a missing or extra field") {
    auto file = FileParts::of(good);
    file.header["branch1.conv.weight"].erase("dtype");
    check_refused(file.bytes(), {"tensor 'branch1.conv.weight': entry has no 'dtype'"});
    file = FileParts::of(good);
    file.header["branch1.conv.weight"]["checksum"] = 0;
    check_refused(file.bytes(), {"tensor 'branch1.conv.weight': entry has the unexpected key 'checksum'"});
  }
  SUBCASE("an unknown dtype, a negative or non-integer dimension") {
    auto file = FileParts::of(good);
    file.header["branch1.conv.weight"]["dtype"] = "F8_E4M3";
    check_refused(file.bytes(), {"tensor 'branch1.conv.weight': unknown dtype 'F8_E4M3'"});
    file = FileParts::of(good);
    file.header["branch1.conv.weight"]["shape"][0] = -4;
    check_refused(file.bytes(), {"'shape' has the negative dimension -4"});
    file = FileParts::of(good);
    file.header["branch1.conv.weight"]["shape"][0] = 4.5;
    check_refused(file.bytes(), {"'shape' must contain only non-negative integers"});
  }
  SUBCASE("a shape whose byte count overflows or does not match the offsets") {
    auto file = FileParts::of(good);
    file.header["branch1.conv.weight"]["shape"] = json::array({4611686018427387904LL, 2});
    check_refused(file.bytes(), {"has too many elements", "overflows 64 bits"});
    file = FileParts::of(good);
    file.header["branch1.conv.weight"]["shape"] = json::array({4, 8, 1, 2});
    check_refused(file.bytes(), {"tensor 'branch1.conv.weight': shape [4, 8, 1, 2] with dtype F32 needs 256 bytes"});
  }
  SUBCASE("data_offsets reversed, outside the data, overlapping, leaving a gap") {
    auto file = FileParts::of(good);
    auto& offsets = file.header["branch1.conv.weight"]["data_offsets"];
    const std::uint64_t begin = offsets[0].get<std::uint64_t>(), end = offsets[1].get<std::uint64_t>();
    offsets = json::array({end, begin});
    check_refused(file.bytes(), {"begin after they end"});
    offsets = json::array({begin + 1000000, end + 1000000});
    check_refused(file.bytes(), {"reach past the end of the data section"});
    offsets = json::array({18446744073709551615ULL, 18446744073709551615ULL});
    check_refused(file.bytes(), {"reach past the end of the data section"});
    // Move the weight 8 bytes down, into the bias stored before it: they overlap.
    file = FileParts::of(good);
    REQUIRE(file.header["branch1.conv.bias"]["data_offsets"] == json::array({0, 16}));
    file.header["branch1.conv.weight"]["data_offsets"] = json::array({8, 8 + 128});
    check_refused(file.bytes(), {"tensor 'branch1.conv.weight': data_offsets [8, 136] overlap those of tensor 'branch1.conv.bias' [0, 16]"});
    // Move it 8 bytes up instead: a gap before it.
    file.header["branch1.conv.weight"]["data_offsets"] = json::array({24, 24 + 128});
    check_refused(file.bytes(), {"bytes [16, 24) of the data section belong to no tensor"});
  }
  SUBCASE("a duplicate tensor name") {
    const std::string header(good.begin() + 8, good.begin() + 8 + static_cast<std::ptrdiff_t>(header_length));
    std::string duplicated = header;
    const std::size_t at = duplicated.find("\"branch1.conv.bias\"");
    REQUIRE(at != std::string::npos);
    duplicated.insert(at, "\"branch1.conv.bias\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},");
    check_refused(file_with_header(duplicated, FileParts::of(good).data), {"tensor 'branch1.conv.bias'", "appears twice"});
  }
  SUBCASE("malformed metadata") {
    auto file = FileParts::of(good);
    file.header["__metadata__"]["format"] = 1;
    check_refused(file.bytes(), {"'__metadata__' value of 'format' must be a string, found a number"});
  }
  SUBCASE("a hostile, enormous name is shortened in the message") {
    auto tensors = tensors_of(reference_model<SeedModel>(1));
    tensors[std::string(10000, 'x')] = {{1}, {1}};
    const std::string message = check_refused(file_of(tensors), {"(10000 bytes)"});
    CHECK(message.size() < 1000);
  }
}

TEST_CASE("files on disk: a missing file, a directory, a damaged file name their path") {
  TemporaryDirectory directory;
  SeedModel model = reference_model<SeedModel>(99);
  const std::vector<std::uint8_t> before = state_bytes(model);
  check_error([&] { load_weights(model, directory.path / "missing.safetensors"); },
              {(directory.path / "missing.safetensors").string(), "cannot read the file"});
  check_error([&] { load_weights(model, directory.path); }, {directory.path.string()});
  const fs::path damaged = directory.path / "damaged.safetensors";
  {
    const auto good = seed_inception_file();
    std::ofstream out(damaged, std::ios::binary);
    out.write(reinterpret_cast<const char*>(good.data()), static_cast<std::streamsize>(good.size() - 7));
  }
  check_error([&] { load_weights(model, damaged); }, {damaged.string() + ":", "reach past the end of the data section"});
  CHECK(state_bytes(model) == before);
}

// =================================================================================================
// torchvision's GoogLeNet: converted weights give torchvision's logits
// =================================================================================================

TEST_CASE("TorchvisionGoogLeNet: saved weights have torchvision's names, load back and give torchvision's logits") {
  using Net = TorchvisionGoogLeNet<1000>;
  constexpr std::uint64_t kNetworkSeed = 7;  // tools/make_torchvision_reference.py
  const test::ReferenceFile& reference = test::ReferenceFile::open("reference/torchvision_googlenet.safetensors");

  TemporaryDirectory directory;
  const fs::path path = directory.path / "torchvision_googlenet.safetensors";
  save_weights(reference_model<Model<Net, Image>>(kNetworkSeed), path);

  // The file holds exactly torchvision's state_dict (names and shapes listed by PyTorch).
  const auto file = st::Reader::open(path);
  const json listing = json::parse(reference.metadata().at("state_dict"));
  CHECK(file.tensors().size() == listing.size());
  for (const json& entry : listing) {
    const std::string name = entry.at(0).get<std::string>();
    CAPTURE(name);
    const st::TensorInfo* info = file.find(name);
    REQUIRE(info != nullptr);
    CHECK(info->shape == entry.at(1).get<std::vector<std::int64_t>>());
    CHECK(info->dtype == (name.ends_with("num_batches_tracked") ? st::DType::I64 : st::DType::F32));
  }

  Model<Net, Image> model;
  const LoadReport report = load_weights(model, path);
  CHECK(report.loaded == listing.size());
  std::vector<float> x(2 * Image::size);
  const std::int64_t shape[] = {2, 3, 224, 224};
  reference_uniform_fill<float>("input", shape, 0, kNetworkSeed, std::span<float>(x));
  const double e = test::relative_error(model.forward(x), std::span<const float>(test::read_tensor(reference, "logits")));
  MESSAGE("TorchvisionGoogLeNet logits from loaded weights vs torchvision: rel. max error " << e);
  CHECK(e <= 1e-5);  // measured 7.7e-7; torchvision's own float32 logits are 7.4e-7 off its float64 ones
}
