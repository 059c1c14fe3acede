// The whole GoogLeNet against PyTorch's reference model (tools/reference_model/googlenet_seed.py)
// with the same weights and input: the reference initialisation regenerates both on each side,
// and tests/data/reference/googlenet.safetensors holds PyTorch's logits (in float32, and in
// float64 as "<name>.from_f64"), every stage's sums, and the training-mode aux logits.
//
// Tolerances. PyTorch's own float32 logits are 5.5e-7 .. 1.6e-6 (relative max error) off its
// float64 ones (tools/make_reference_data.py prints them); ctnn's float32 logits are measured at
// 8.4e-7 .. 1.2e-6 from PyTorch's float32 ones and 5.3e-7 .. 6.4e-7 from its float64 ones. The
// bound 1e-5 leaves a margin of 8 over the worst of these.

#include <doctest/doctest.h>

#include <cmath>     // std::sqrt
#include <cstdint>   // std::int64_t, std::uint64_t
#include <string>    // std::string
#include <vector>    // std::vector

#include <ctnn/ctnn.hpp>   // ctnn::GoogLeNet, ctnn::Model, ctnn::init, ctnn::features_of

#include "support/reference.hpp"   // ctnn::test::ReferenceFile, read_tensor, relative_error

using namespace ctnn;
using Image = Shape<3, 224, 224>;

namespace {

constexpr double kLogitsTolerance = 1e-5;  // see the file comment: measured <= 1.2e-6

const test::ReferenceFile& googlenet_file() { return test::ReferenceFile::open("reference/googlenet.safetensors"); }

template <ShapeType In = Image>
std::vector<float> reference_input(std::uint64_t seed, std::size_t batch = 2) {
  std::vector<float> input(batch * In::size);
  const std::int64_t shape[] = {static_cast<std::int64_t>(batch), 3, In::height, In::width};
  reference_uniform_fill<float>("input", shape, 0, seed, input);
  return input;
}

// The logits against PyTorch's float32 "<key>" and float64 "<key>.from_f64".
void check_logits(std::span<const float> logits, const std::string& key) {
  const double error = test::relative_error(logits, test::read_tensor(googlenet_file(), key));
  const double error64 = test::relative_error(logits, test::read_tensor(googlenet_file(), key + ".from_f64"));
  MESSAGE(key << ": relative max error against PyTorch float32 " << error << ", float64 " << error64);
  CHECK(error <= kLogitsTolerance);
  CHECK(error64 <= kLogitsTolerance);
}

}  // namespace

TEST_CASE("GoogLeNet<1000, false> gives PyTorch's logits") {
  Model<GoogLeNet<1000, false>, Image> model;
  init::reference_uniform(model, 7);
  check_logits(model.forward(reference_input(7)), "logits_1000_noaux");

  SUBCASE("one image at a time gives the same logits") {
    const auto input = reference_input(7);
    const auto first = model.forward(std::span<const float>(input).first(Image::size));
    const auto expected = test::read_tensor(googlenet_file(), "logits_1000_noaux");
    CHECK(test::relative_error(first, std::span<const float>(expected).first(1000)) <= kLogitsTolerance);
  }
  SUBCASE("one thread gives the same logits") {
    model.set_threads(1);
    check_logits(model.forward(reference_input(7)), "logits_1000_noaux");
  }
}

TEST_CASE("GoogLeNet<1000, false>'s every stage gives PyTorch's sums") {
  // stage.<name> = [sum, sum of squares] of a top-level layer's output, in float64 from PyTorch's
  // float32 run. A sum is compared relative to sqrt(n * sum of squares) >= |sum| (it may cancel
  // to little). PyTorch's float32 sums of squares are at most 3e-8 off its float64 ones; ctnn's
  // are measured at most 1.8e-8 (sum) and 8.1e-8 (sum of squares) off PyTorch's. The bound 1e-6
  // leaves a margin of 12.
  constexpr double tolerance = 1e-6;
  Model<GoogLeNet<1000, false>, Image> model;
  init::reference_uniform(model, 7);
  const std::vector<float> input = reference_input(7);
  double worst_sum = 0, worst_squares = 0;
  std::string stages = googlenet_file().metadata().at("stages");
  std::size_t checked = 0;
  for (std::size_t begin = 0; begin < stages.size();) {
    const std::size_t end = std::min(stages.find(", ", begin), stages.size());
    const std::string stage = stages.substr(begin, end - begin);
    begin = end + 2;
    CAPTURE(stage);
    const std::span<const float> output = features_of(model, stage, input);
    double sum = 0, squares = 0;
    for (float v : output) {
      sum += v;
      squares += double(v) * v;
    }
    const std::vector<double> expected = test::read_tensor<double>(googlenet_file(), "stage." + stage);
    const double sum_error = test::scalar_error(sum, expected[0], std::sqrt(double(output.size()) * expected[1]));
    const double squares_error = test::scalar_error(squares, expected[1], expected[1]);
    CHECK(sum_error <= tolerance);
    CHECK(squares_error <= tolerance);
    worst_sum = test::worse(worst_sum, sum_error);
    worst_squares = test::worse(worst_squares, squares_error);
    ++checked;
  }
  MESSAGE(checked << " stages: worst error of a sum " << worst_sum << ", of a sum of squares " << worst_squares);
  CHECK(checked == 18);
}

TEST_CASE("GoogLeNet<1000, false> on a non-square 163x187 image gives PyTorch's logits") {
  // Along the height max pools 1 and 3 add a ceil-mode window, along the width pools 1 and 4.
  using Wide = Shape<3, 163, 187>;
  Model<GoogLeNet<1000, false>, Wide> model;
  init::reference_uniform(model, 7);
  check_logits(model.forward(reference_input<Wide>(7, 1)), "logits_1000_noaux_163x187");
}

TEST_CASE("GoogLeNet<2, true> in evaluation mode runs no aux head and gives PyTorch's logits") {
  Model<GoogLeNet<2, true>, Image> model;
  init::reference_uniform(model, 11);
  const auto expected = test::read_tensor(googlenet_file(), "logits_2_aux_eval");
  const double error = test::relative_error(model.forward(reference_input(11)), expected);
  MESSAGE("logits_2_aux_eval: relative max error " << error);
  CHECK(error <= kLogitsTolerance);
  CHECK(model.aux_output_count() == 0);
}

TEST_CASE("GoogLeNet<2, true> in training mode also outputs aux1 and aux2, as PyTorch") {
  // PyTorch ran in train mode with every dropout off and returned (main, aux2, aux1); its own
  // float32 aux logits are 1.0e-6 (aux1) and 1.6e-6 (aux2) off its float64 ones, ctnn's are
  // measured at 9.8e-7 (aux1) and 1.2e-6 (aux2) off PyTorch's.
  Model<GoogLeNet<2, true>, Image> model;
  init::reference_uniform(model, 11);
  model.train();
  model.disable_dropout(true);
  const auto logits = model.forward(reference_input(11));
  CHECK(logits.size() == 4);
  REQUIRE(model.aux_output_count() == 2);
  const double main = test::relative_error(logits, test::read_tensor(googlenet_file(), "train_logits_2_aux.main"));
  const double aux1 = test::relative_error(model.aux_output(0), test::read_tensor(googlenet_file(), "train_logits_2_aux.aux1"));
  const double aux2 = test::relative_error(model.aux_output(1), test::read_tensor(googlenet_file(), "train_logits_2_aux.aux2"));
  MESSAGE("training-mode logits: relative max error main " << main << ", aux1 " << aux1 << ", aux2 " << aux2);
  CHECK(main <= kLogitsTolerance);
  CHECK(aux1 <= kLogitsTolerance);
  CHECK(aux2 <= kLogitsTolerance);
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
