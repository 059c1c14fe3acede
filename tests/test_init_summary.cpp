// Initialisers (the reference model's _initialize_weights and PyTorch's defaults) and the
// summary table produced from the type.

#include <doctest/doctest.h>

#include <algorithm>   // std::ranges::all_of, std::equal
#include <cmath>    // std::sqrt
#include <string>   // std::string

#include <ctnn/ctnn.hpp>   // ctnn::GoogLeNet, ctnn::Model, ctnn::init, ctnn::summary

using namespace ctnn;
using Image = Shape<3, 224, 224>;
using Net = GoogLeNet<2, true>;

namespace {
struct Moments {
  double mean = 0, std = 0;
};
Moments moments(std::span<const float> values) {
  double sum = 0, squares = 0;
  for (float v : values) sum += v, squares += double(v) * v;
  const double n = static_cast<double>(values.size());
  return {sum / n, std::sqrt(squares / n - (sum / n) * (sum / n))};
}
const NamedTensor& tensor(const std::vector<NamedTensor>& tensors, const std::string& name) {
  for (const auto& t : tensors)
    if (t.name == name) return t;
  FAIL("no tensor " << name);
  return tensors.front();
}
}  // namespace

TEST_CASE("googlenet_seed: Kaiming normal (fan_out) convolutions, normal(0, 0.01) linear, zero biases") {
  Model<Net, Image> model;
  init::googlenet_seed(model, 1);
  const auto tensors = named_tensors<Net, Image>();
  const auto values = [&](const std::string& name) {
    const auto& t = tensor(tensors, name);
    return std::span<const float>(model.parameters()).subspan(t.offset, t.count);
  };
  // conv3: 192 x 64 x 3 x 3, fan_out = 192 * 9, std = sqrt(2 / 1728) = 0.0340
  const Moments conv3 = moments(values("conv3.conv.weight"));
  CHECK(conv3.mean == doctest::Approx(0).epsilon(0.002));
  CHECK(conv3.std == doctest::Approx(std::sqrt(2.0 / 1728)).epsilon(0.02));
  const Moments fc1 = moments(values("aux1.fc1.weight"));
  CHECK(fc1.std == doctest::Approx(0.01).epsilon(0.01));
  const auto is_zero = [](float v) { return v == 0.0f; };
  CHECK(std::ranges::all_of(values("inception4e.branch3.1.conv.bias"), is_zero));
  CHECK(std::ranges::all_of(values("fc.bias"), is_zero));

  SUBCASE("the same seed gives the same weights, another seed others") {
    Model<Net, Image> same, other;
    init::googlenet_seed(same, 1);
    init::googlenet_seed(other, 2);
    CHECK(std::equal(same.parameters().begin(), same.parameters().end(), model.parameters().begin()));
    CHECK_FALSE(std::equal(other.parameters().begin(), other.parameters().end(), model.parameters().begin()));
  }
}

TEST_CASE("pytorch_default: uniform(+-1/sqrt(fan_in)) for weights and biases") {
  Model<Net, Image> model;
  init::pytorch_default(model, 3);
  const auto tensors = named_tensors<Net, Image>();
  const auto& weight = tensor(tensors, "conv1.conv.weight");  // fan_in = 3 * 7 * 7
  const auto& bias = tensor(tensors, "conv1.conv.bias");
  const double bound = 1.0 / std::sqrt(147.0);
  const auto within = [&](float v) { return std::abs(v) <= bound; };
  CHECK(std::ranges::all_of(std::span<const float>(model.parameters()).subspan(weight.offset, weight.count), within));
  CHECK(std::ranges::all_of(std::span<const float>(model.parameters()).subspan(bias.offset, bias.count), within));
  // Uniform on [-b, b] has standard deviation b / sqrt(3).
  CHECK(moments(std::span<const float>(model.parameters()).subspan(weight.offset, weight.count)).std ==
        doctest::Approx(bound / std::sqrt(3.0)).epsilon(0.05));
}

TEST_CASE("summary: every layer with its PyTorch path, output shape and parameters, then totals") {
  const std::string table = summary<Net, Image>();
  CHECK(table.find("Conv2d-1") != std::string::npos);
  CHECK(table.find("conv1.conv") != std::string::npos);
  CHECK(table.find("[-1, 64, 112, 112]") != std::string::npos);
  CHECK(table.find("9,472") != std::string::npos);                   // conv1: 64*3*7*7 + 64
  CHECK(table.find("inception5b") != std::string::npos);
  CHECK(table.find("[-1, 1024, 7, 7]") != std::string::npos);
  CHECK(table.find("aux1 (train)") != std::string::npos);
  CHECK(table.find("Total params: 10,309,430") != std::string::npos);
  CHECK(table.find("Multiply-accumulates per image") != std::string::npos);
  CHECK(table.find("Params size (MB): 39.33") != std::string::npos);  // 10,309,430 * 4 bytes
}
