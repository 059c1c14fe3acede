// ctnn-classify on every ImageNet model it knows, against PyTorch: random-weight ResNet18 (10
// classes), ResNet50 (1000), MobileNetV2 (100), the seed's GoogLeNet (1000) and torchvision's
// GoogLeNet (2) classify the images shipped in examples/data/ as tools/predict_pytorch.py does
// with the same weights converted by tools/convert_to_safetensors.py
// (tests/data/classify/zoo.json, written by tools/make_classify_reference.py). The weights are
// the reference initialisation (seed 7) of each model's state_dict, written here from the file's
// listing of torchvision's names and shapes: the initialisation is bit-exact in C++, so no weights
// are stored. A class count the program is not built for is refused, naming the supported ones.
//
// The program's path comes from CMake (CTNN_CLASSIFY).

#include <doctest/doctest.h>   // TEST_CASE, CHECK, REQUIRE, CAPTURE

#include <algorithm>    // std::max, std::min, std::stable_sort
#include <cmath>        // std::abs, std::exp
#include <cstdint>      // std::int64_t, std::uint8_t
#include <cstring>      // std::memcpy
#include <filesystem>   // std::filesystem
#include <map>          // std::map
#include <numeric>      // std::iota
#include <regex>        // std::regex, std::regex_match
#include <sstream>      // std::istringstream
#include <string>       // std::string
#include <vector>       // std::vector

#include <nlohmann/json.hpp>   // nlohmann::json

#include <ctnn/io/safetensors.hpp>   // ctnn::safetensors::write, TensorView
#include <ctnn/reference_init.hpp>   // ctnn::reference_uniform_fill

#include "../support/files.hpp"         // ctnn::test::TemporaryDirectory, file_bytes
#include "../support/run_program.hpp"   // ctnn::test::run

#ifndef CTNN_TEST_DATA_DIR
#define CTNN_TEST_DATA_DIR "tests/data"
#endif

namespace fs = std::filesystem;
namespace st = ctnn::safetensors;
using nlohmann::json;

namespace {

const fs::path classify_program = CTNN_CLASSIFY;
const fs::path source_dir = CTNN_SOURCE_DIR;

const json& expectations() {
  static const json file = [] {
    const ctnn::test::Bytes bytes = ctnn::test::file_bytes(fs::path(CTNN_TEST_DATA_DIR) / "classify" / "zoo.json");
    return json::parse(bytes.begin(), bytes.end());
  }();
  return file;
}

// A safetensors file of `tensors` ([name, shape] of a state_dict) as ctnn_reference.init_module
// fills them: F32 values from the reference initialisation (a bias's fan-in from its sibling
// weight), num_batches_tracked an I64 zero.
void write_reference_weights(const fs::path& path, const json& tensors, std::uint64_t seed) {
  std::vector<std::vector<std::uint8_t>> storage;
  std::vector<st::TensorView> views;
  storage.reserve(tensors.size());
  for (const json& entry : tensors) {
    const std::string name = entry.at(0).get<std::string>();
    const std::vector<std::int64_t> shape = entry.at(1).get<std::vector<std::int64_t>>();
    std::int64_t fan_in = 0, count = 1;
    for (std::int64_t d : shape) count *= d;
    if (name.ends_with(".bias")) {
      const std::string weight = name.substr(0, name.size() - 4) + "weight";
      for (const json& other : tensors)
        if (other.at(0) == weight) {
          fan_in = 1;
          const auto dims = other.at(1).get<std::vector<std::int64_t>>();
          for (std::size_t i = 1; i < dims.size(); ++i) fan_in *= dims[i];
        }
    }
    std::vector<std::uint8_t>& bytes = storage.emplace_back();
    if (name.ends_with("num_batches_tracked")) {
      bytes.assign(sizeof(std::int64_t), 0);
      views.push_back({name, st::DType::I64, shape, bytes});
      continue;
    }
    std::vector<float> values(static_cast<std::size_t>(count));
    ctnn::reference_uniform_fill<float>(name, shape, fan_in, seed, values);
    bytes.resize(values.size() * sizeof(float));
    std::memcpy(bytes.data(), values.data(), bytes.size());
    views.push_back({name, st::DType::F32, shape, bytes});
  }
  st::write(path, views);
}

// ctnn-classify's labels: ImageNet's for 1000 classes, else "class <i>".
std::vector<std::string> class_names(std::size_t classes) {
  std::vector<std::string> names;
  if (classes == 1000) {
    const ctnn::test::Bytes bytes = ctnn::test::file_bytes(source_dir / "examples" / "data" / "imagenet_labels.txt");
    std::istringstream lines(std::string(bytes.begin(), bytes.end()));
    for (std::string line; std::getline(lines, line);) names.push_back(line);
  } else {
    for (std::size_t i = 0; i < classes; ++i) names.push_back("class " + std::to_string(i));
  }
  return names;
}

// PyTorch's logits of one image: the classes by decreasing logit (ties by index, as ctnn-classify
// ranks them), their softmax probabilities and the largest magnitude. (predict_pytorch.py's own
// ranking is by probability, in which every class past the first may be a tie at 0.)
struct Expected {
  std::vector<std::size_t> order;
  std::vector<double> probabilities;
  double scale = 0;
};

Expected ranked(const std::vector<double>& logits) {
  Expected e;
  e.order.resize(logits.size());
  std::iota(e.order.begin(), e.order.end(), std::size_t{0});
  std::stable_sort(e.order.begin(), e.order.end(), [&](std::size_t a, std::size_t b) { return logits[a] > logits[b]; });
  double sum = 0;
  for (double v : logits) {
    sum += std::exp(v - logits[e.order[0]]);
    e.scale = std::max(e.scale, std::abs(v));
  }
  for (double v : logits) e.probabilities.push_back(std::exp(v - logits[e.order[0]]) / sum);
  return e;
}

struct Ranked {
  std::string label;
  double percent;
};

// image file name -> its ranked labels, from ctnn-classify's output.
std::map<std::string, std::vector<Ranked>> parse(const std::string& output) {
  std::map<std::string, std::vector<Ranked>> predictions;
  const std::regex entry(R"(\s+\d+\. (.*\S)\s+([0-9.]+)%)");
  std::istringstream lines(output);
  std::string image;
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (std::regex_match(line, match, entry))
      predictions[image].push_back({match[1].str(), std::stod(match[2].str())});
    else if (!line.empty() && line[0] != ' ' && !line.starts_with("ctnn-classify:"))
      image = fs::path(line).filename().string();
  }
  return predictions;
}

}  // namespace

TEST_CASE("ctnn-classify gives PyTorch's predictions for ResNet18, ResNet50, MobileNetV2 and both GoogLeNets") {
  ctnn::test::TemporaryDirectory scratch("classify_zoo");
  for (const json& expected : expectations().at("cases")) {
    const std::string model = expected.at("model").get<std::string>();
    CAPTURE(model);
    const fs::path weights = scratch.path() / (model + ".safetensors");
    write_reference_weights(weights, expected.at("state_dict"), expected.at("seed").get<std::uint64_t>());

    const json& predictions = expected.at("predictions");
    const std::vector<std::string> labels = class_names(expected.at("classes").get<std::size_t>());
    std::vector<std::string> arguments{"--model", model, "--top", "5", "--weights", weights.string()};
    for (const json& image : predictions.at("images")) arguments.push_back((source_dir / image.get<std::string>()).string());
    const ctnn::test::Run result = ctnn::test::run(classify_program, arguments, {.timeout_s = 600});
    INFO(result.output.substr(0, 3000));
    REQUIRE(result.exit_code == 0);
    const auto actual = parse(result.output);
    REQUIRE(actual.size() == predictions.at("images").size());

    for (std::size_t n = 0; n < predictions.at("images").size(); ++n) {
      const std::string image = fs::path(predictions.at("images")[n].get<std::string>()).filename().string();
      CAPTURE(image);
      const std::vector<double> logits = predictions.at("logits")[n].get<std::vector<double>>();
      const Expected pytorch = ranked(logits);
      CHECK(pytorch.order[0] == predictions.at("top")[n][0].at(0).get<std::size_t>());
      REQUIRE(actual.at(image).size() == std::min<std::size_t>(5, logits.size()));
      for (std::size_t rank = 0; rank < actual.at(image).size(); ++rank) {
        CAPTURE(rank);
        const Ranked& got = actual.at(image)[rank];
        const std::size_t index = pytorch.order[rank];
        // The probability as printed (two decimals).
        CHECK(std::abs(got.percent - 100 * pytorch.probabilities[index]) <= 0.011);
        // The class: PyTorch's, or one whose logit ties with it to the logits' precision (ImageNet
        // names a few classes twice, e.g. "crane").
        bool same = false;
        for (std::size_t i = 0; i < logits.size() && !same; ++i)
          same = labels[i] == got.label && (i == index || std::abs(logits[i] - logits[index]) <= 1e-5 * pytorch.scale);
        CHECK_MESSAGE(same, "ctnn: " << got.label << ", PyTorch: " << labels[index]);
      }
    }
  }
}

TEST_CASE("ctnn-classify refuses a class count it is not built for, naming the ones it is") {
  ctnn::test::TemporaryDirectory scratch("classify_zoo_count");
  const fs::path weights = scratch.path() / "seven.safetensors";
  write_reference_weights(weights, json::parse(R"([["fc.weight", [7, 512]], ["fc.bias", [7]]])"), 1);
  const ctnn::test::Run result = ctnn::test::run(
      classify_program, {"--model", "resnet18", "--weights", weights.string(),
                         (source_dir / "examples" / "data" / "fashion_mnist_0_ankle_boot.png").string()});
  CHECK(result.exit_code == 1);
  CHECK(result.output.find("--model resnet18 with 7 classes (fc.weight [7, 512])") != std::string::npos);
  CHECK(result.output.find("built for 2, 10, 100 and 1000 classes") != std::string::npos);
  CHECK(result.output.find("loaded") == std::string::npos);  // refused before anything is loaded
}
