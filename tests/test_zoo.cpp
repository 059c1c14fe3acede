// The model zoo against torchvision: ctnn::ResNet18, ResNet50 and MobileNetV2 (1000 classes) have
// torchvision's parameter counts and state_dict names and shapes, and give torchvision's logits
// for a batch of two 224x224 images with random weights and random batch-norm running statistics
// (the reference initialisation, seed 7), in evaluation mode and, for ResNet18 and MobileNetV2,
// in training mode (batch statistics, and ResNet18's running statistics afterwards)
// (tests/data/reference/zoo.safetensors, written by tools/make_zoo_reference.py).
//
// One translation unit for all three: each model is a heavy instantiation.

#include <doctest/doctest.h>

#include <cstdint>       // std::int64_t
#include <map>           // std::map
#include <span>          // std::span
#include <string>        // std::string
#include <type_traits>   // std::is_same_v
#include <vector>        // std::vector

#include <nlohmann/json.hpp>   // nlohmann::json (the state_dict listings in the file's metadata)

#include <ctnn/ctnn.hpp>                   // ctnn::Model, named_tensors, init, find_layer, queries
#include <ctnn/io/safetensors.hpp>         // ctnn::safetensors::Reader
#include <ctnn/models/mobilenet_v2.hpp>    // ctnn::MobileNetV2
#include <ctnn/models/resnet18.hpp>        // ctnn::ResNet18
#include <ctnn/models/resnet50.hpp>        // ctnn::ResNet50

#include "support/reference.hpp"   // ctnn::test::read_tensor, relative_error, data_path

using namespace ctnn;

namespace {

using Image = Shape<3, 224, 224>;
constexpr std::uint64_t kSeed = 7;

// What the types know, as torchvision's tables say it.
static_assert(parameter_count_v<ResNet18<>> == 11'689'512);
static_assert(parameter_count_v<ResNet50<>> == 25'557'032);
static_assert(parameter_count_v<MobileNetV2<>> == 3'504'872);
static_assert(parameter_count_v<ResNet18<10>> == 11'689'512 - 990 * 513);
static_assert(std::is_same_v<output_shape_t<ResNet18<>, Image>, Features<1000>>);
static_assert(std::is_same_v<output_shape_t<ResNet50<>, Image>, Features<1000>>);
static_assert(std::is_same_v<output_shape_t<MobileNetV2<>, Image>, Features<1000>>);
static_assert(macs_v<ResNet18<>, Image> == 1'814'073'344);   // 1.81 G
static_assert(macs_v<ResNet50<>, Image> == 4'089'184'256);   // 4.09 G
static_assert(macs_v<MobileNetV2<>, Image> == 300'774'272);  // 0.30 G
// MobileNetV2's depthwise convolutions run a direct kernel without im2col: the largest workspace
// is its stem's, 3x3x3 rows of 112x112 columns (and their gradient) per thread.
static_assert(workspace_bytes_v<MobileNetV2<>, Image> < workspace_bytes_v<ResNet18<>, Image>);

const test::ReferenceFile& zoo_file() { return test::ReferenceFile::open("reference/zoo.safetensors"); }

std::vector<float> read(const std::string& name) { return test::read_tensor<float>(zoo_file(), name); }

std::vector<float> network_input() {
  std::vector<float> x(2 * Image::size);
  const std::int64_t shape[] = {2, 3, 224, 224};
  reference_uniform_fill<float>("input", shape, 0, kSeed, std::span<float>(x));
  return x;
}

template <class Net>
void check_names_match_torchvision(const std::string& model) {
  const nlohmann::json listing = nlohmann::json::parse(zoo_file().metadata().at(model + ".state_dict"));
  std::map<std::string, std::vector<std::size_t>> expected, actual;
  for (const auto& entry : listing) expected[entry.at(0).get<std::string>()] = entry.at(1).get<std::vector<std::size_t>>();
  for (const NamedTensor& t : named_tensors<Net, Image>()) actual[t.name] = t.shape;
  CHECK(actual.size() == expected.size());
  for (const auto& entry : expected) {
    const std::string& name = entry.first;
    CAPTURE(name);
    REQUIRE(actual.count(name) == 1);
    CHECK(actual.at(name) == entry.second);
  }
}

// Evaluation logits against PyTorch's float32 ones (and, for the message, its float64 ones).
template <class Net>
void check_logits(const std::string& model) {
  Model<Net, Image> net;
  init::reference_uniform(net, kSeed);
  const double e = test::relative_error(net.forward(network_input()), std::span<const float>(read(model + ".logits")));
  const double e64 =
      test::relative_error(net.output(), std::span<const float>(read(model + ".logits.from_f64")));
  MESSAGE(model << " logits: rel. max error vs PyTorch float32 " << e << ", vs float64 " << e64);
  CHECK(e <= 1e-5);
}

// A training forward: every batch norm normalises with the batch's statistics.
template <class Net>
Model<Net, Image> check_train_logits(const std::string& model) {
  Model<Net, Image> net;
  init::reference_uniform(net, kSeed);
  net.train();
  net.disable_dropout(true);
  const double e =
      test::relative_error(net.forward(network_input()), std::span<const float>(read(model + ".train_logits")));
  MESSAGE(model << " training logits: rel. max error vs PyTorch float32 " << e);
  CHECK(e <= 1e-5);
  return net;
}

}  // namespace

TEST_CASE("ResNet18, ResNet50 and MobileNetV2 have torchvision's state_dict names and shapes") {
  check_names_match_torchvision<ResNet18<>>("resnet18");
  check_names_match_torchvision<ResNet50<>>("resnet50");
  check_names_match_torchvision<MobileNetV2<>>("mobilenet_v2");
}

TEST_CASE("the zoo's blocks are found by torchvision's paths, with their types") {
  const auto block = find_layer<ResNet50<>, Image>("layer3.0");
  REQUIRE(block);
  CHECK(block->type_name == "Bottleneck");
  CHECK(block->output_dims == std::array<std::size_t, 3>{1024, 14, 14});
  const auto depthwise = find_layer<MobileNetV2<>, Image>("features.2.conv.1.0");
  REQUIRE(depthwise);
  CHECK(depthwise->parameter_count == 96 * 3 * 3);  // weight [96, 1, 3, 3]
  CHECK(depthwise->output_dims == std::array<std::size_t, 3>{96, 56, 56});
  CHECK(find_layer<MobileNetV2<>, Image>("features.3")->type_name == "InvertedResidual");
  CHECK(find_layer<ResNet18<>, Image>("layer4.1")->type_name == "BasicBlock");
}

TEST_CASE("ResNet18's logits match torchvision's, in evaluation and training mode") {
  check_logits<ResNet18<>>("resnet18");
  const Model<ResNet18<>, Image> trained = check_train_logits<ResNet18<>>("resnet18");
  // The running statistics moved as torchvision's did.
  double worst = 0;
  std::size_t checked = 0;
  for (const NamedTensor& t : named_tensors<ResNet18<>, Image>()) {
    if (!t.name.ends_with("running_mean") && !t.name.ends_with("running_var")) continue;
    const auto actual = std::span<const float>(trained.buffers()).subspan(t.offset, t.count);
    worst = std::max(worst, test::relative_error(actual, std::span<const float>(read("resnet18.train_step." + t.name))));
    ++checked;
  }
  MESSAGE("running statistics after one training forward: worst rel. max error " << worst);
  CHECK(checked == 2 * 20);
  CHECK(worst <= 1e-5);
}

TEST_CASE("ResNet50's logits match torchvision's, in evaluation and training mode") {
  check_logits<ResNet50<>>("resnet50");
  check_train_logits<ResNet50<>>("resnet50");
}

TEST_CASE("MobileNetV2's logits match torchvision's, in evaluation and training mode") {
  check_logits<MobileNetV2<>>("mobilenet_v2");
  check_train_logits<MobileNetV2<>>("mobilenet_v2");
}
