// The whole GoogLeNet against PyTorch's reference model (tools/reference_model/googlenet_seed.py)
// with the same weights and input: the reference initialisation regenerates both on each side,
// and tests/data/reference/googlenet.safetensors holds PyTorch's logits.

#include <doctest/doctest.h>

#include <ctnn/ctnn.hpp>             // ctnn::GoogLeNet, ctnn::Model, ctnn::init
#include <ctnn/io/safetensors.hpp>   // ctnn::safetensors::Reader

#include "support/reference.hpp"   // ctnn::test::read_tensor, relative_error

using namespace ctnn;
using Image = Shape<3, 224, 224>;

namespace {
const safetensors::Reader& googlenet_file() {
  static const safetensors::Reader file = safetensors::Reader::open(test::data_path("reference/googlenet.safetensors"));
  return file;
}
std::vector<float> reference_input(std::uint64_t seed) {
  std::vector<float> input(2 * Image::size);
  const std::int64_t shape[] = {2, 3, 224, 224};
  reference_uniform_fill<float>("input", shape, 0, seed, input);
  return input;
}
}  // namespace

TEST_CASE("GoogLeNet<1000, false> gives PyTorch's logits") {
  Model<GoogLeNet<1000, false>, Image> model;
  init::reference_uniform(model, 7);
  const auto expected = test::read_tensor(googlenet_file(), "logits_1000_noaux");
  const auto logits = model.forward(reference_input(7));
  const double error = test::relative_error(logits, std::span<const float>(expected));
  MESSAGE("relative error of the logits: " << error);
  CHECK(error <= 1e-4);

  SUBCASE("one image at a time gives the same logits") {
    const auto input = reference_input(7);
    const auto first = model.forward(std::span<const float>(input).first(Image::size));
    CHECK(test::relative_error(first, std::span<const float>(expected).first(1000)) <= 1e-4);
  }
  SUBCASE("one thread gives the same logits") {
    model.set_threads(1);
    CHECK(test::relative_error(model.forward(reference_input(7)), std::span<const float>(expected)) <= 1e-4);
  }
}

TEST_CASE("GoogLeNet<2, true> in evaluation mode runs no aux head and gives PyTorch's logits") {
  Model<GoogLeNet<2, true>, Image> model;
  init::reference_uniform(model, 11);
  const auto expected = test::read_tensor(googlenet_file(), "logits_2_aux_eval");
  CHECK(test::relative_error(model.forward(reference_input(11)), std::span<const float>(expected)) <= 1e-4);
  CHECK(model.aux_output_count() == 0);
}

TEST_CASE("GoogLeNet<2, true> in training mode also outputs aux1 and aux2") {
  Model<GoogLeNet<2, true>, Image> model;
  init::reference_uniform(model, 11);
  model.train();
  const auto logits = model.forward(reference_input(11));
  CHECK(logits.size() == 4);
  REQUIRE(model.aux_output_count() == 2);
  CHECK(model.aux_output(0).size() == 4);
  CHECK(model.aux_output(1).size() == 4);
  CHECK_THROWS_AS(model.aux_output(2), Error);
}

TEST_CASE("the parameter names are the reference model's state_dict keys") {
  const auto tensors = named_tensors<GoogLeNet<2, true>, Image>();
  CHECK(tensors.front().name == "conv1.conv.weight");
  CHECK(tensors.back().name == "fc.bias");
  std::size_t total = 0;
  bool has_aux = false, has_branch = false;
  for (const auto& t : tensors) {
    total += t.count;
    has_aux = has_aux || t.name == "aux1.fc1.weight";
    has_branch = has_branch || t.name == "inception3a.branch2.1.conv.bias";
  }
  CHECK(has_aux);
  CHECK(has_branch);
  CHECK(total == parameter_count_v<GoogLeNet<2, true>>);
  CHECK(tensors.size() == 2 * (57 + 2 * 3) + 2);  // 57 convs + 2 heads (conv, fc1, fc2) + fc
}
