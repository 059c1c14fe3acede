// GoogLeNet on the GPU: its logits against PyTorch's reference model and the CPU backend, and
// the torchvision variant's logits and batch-norm statistics against torchvision. One training
// step is tests/cuda/test_training_step.cpp.

#include "support/device.hpp"   // skips without a device; ctnn::test::BothBackends

#include <doctest/doctest.h>   // TEST_CASE, SUBCASE, CHECK, MESSAGE

#include <algorithm>   // std::all_of, std::max
#include <cmath>       // std::isfinite
#include <cstdint>     // std::int32_t, std::int64_t
#include <map>         // std::map
#include <string>      // std::string
#include <utility>     // std::as_const
#include <vector>      // std::vector

#include <ctnn/io/safetensors.hpp>   // ctnn::safetensors::Reader

using namespace ctnn;

namespace {

using Image = Shape<3, 224, 224>;

template <class T>
std::vector<T> copy(std::span<const T> values) {
  return std::vector<T>(values.begin(), values.end());
}

const test::ReferenceFile& file(const std::string& name) { return test::ReferenceFile::open("reference/" + name); }

template <class T = float>
std::vector<T> reference_input(std::uint64_t seed, std::size_t batch = 2) {
  std::vector<T> input(batch * Image::size);
  const std::int64_t shape[] = {static_cast<std::int64_t>(batch), 3, 224, 224};
  reference_uniform_fill<T>("input", shape, 0, seed, input);
  return input;
}

double error(std::span<const float> actual, const std::vector<float>& expected) {
  return test::relative_error(actual, std::span<const float>(expected));
}

}  // namespace

TEST_CASE("GoogLeNet<1000, false> on the GPU gives PyTorch's logits") {
  Model<GoogLeNet<1000, false>, Image, float, Cuda> model;
  init::reference_uniform(model, 7);
  const auto expected = test::read_tensor(file("googlenet.safetensors"), "logits_1000_noaux");
  const auto input = reference_input(7);

  SUBCASE("full float32 (TF32 off): as close as the CPU backend") {
    model.allow_tf32(false);
    const double eager = error(model.forward(input), expected);
    model.forward(input);  // captured
    const double replayed = error(model.forward(input), expected);
    MESSAGE("logits rel. max error: eager " << eager << ", replayed graph " << replayed);
    CHECK(model.replayed_graph());
    CHECK(eager <= 1e-4);
    CHECK(replayed <= 1e-4);
    const double single = error(model.forward(std::span<const float>(input).first(Image::size)),
                                std::vector<float>(expected.begin(), expected.begin() + 1000));
    CHECK(single <= 1e-4);
  }
  SUBCASE("TF32 tensor cores (the default, as PyTorch's cuDNN default)") {
    const double e = error(model.forward(input), expected);
    MESSAGE("logits rel. max error with TF32 convolutions: " << e);
    CHECK(e <= 2e-2);
  }
  SUBCASE("the heuristic algorithm choice gives the same logits") {
    model.allow_tf32(false);
    model.set_algorithm_search(cuda::AlgorithmSearch::heuristic);
    CHECK(error(model.forward(input), expected) <= 1e-4);
  }
}

TEST_CASE("GoogLeNet<2, true> on the GPU: evaluation logits, and training outputs as the CPU's") {
  test::BothBackends<GoogLeNet<2, true>, Image> both(11);
  const auto input = reference_input(11);
  const auto expected = test::read_tensor(file("googlenet.safetensors"), "logits_2_aux_eval");
  CHECK(error(both.gpu.forward(input), expected) <= 1e-4);
  CHECK(both.gpu.aux_output_count() == 0);

  both.train(true);
  both.cpu.disable_dropout(true);
  both.gpu.disable_dropout(true);
  const auto cpu = copy(both.cpu.forward(input));
  CHECK(test::relative_error(copy(both.gpu.forward(input)), cpu) <= 1e-4);
  REQUIRE(both.gpu.aux_output_count() == 2);
  for (std::size_t k = 0; k < 2; ++k)
    CHECK(test::relative_error(copy(both.gpu.aux_output(k)), copy(both.cpu.aux_output(k))) <= 1e-4);
}

namespace {
using TorchvisionNet = TorchvisionGoogLeNet<1000>;
}  // namespace

TEST_CASE("the torchvision GoogLeNet on the GPU gives torchvision's logits and batch-norm statistics") {
  const auto& reference = file("torchvision_googlenet.safetensors");
  std::vector<float> input(2 * Image::size);
  const std::int64_t shape[] = {2, 3, 224, 224};
  reference_uniform_fill<float>("input", shape, 0, 7, std::span<float>(input));

  SUBCASE("transform_input=False, evaluation") {
    Model<TorchvisionNet, Image, float, Cuda> model;
    init::reference_uniform(model, 7);
    model.allow_tf32(false);
    const double e = error(model.forward(input), test::read_tensor(reference, "logits"));
    MESSAGE("torchvision logits: rel. max error " << e);
    CHECK(e <= 1e-4);
  }
  SUBCASE("transform_input=True, evaluation") {
    Model<TorchvisionGoogLeNet<1000, false, true>, Image, float, Cuda> model;
    init::reference_uniform(model, 7);
    model.allow_tf32(false);
    CHECK(error(model.forward(input), test::read_tensor(reference, "logits_transform_input")) <= 1e-4);
  }
  SUBCASE("a training forward moves every running statistic as torchvision's does") {
    Model<TorchvisionNet, Image, float, Cuda> model;
    init::reference_uniform(model, 7);
    model.allow_tf32(false);
    model.train();
    model.forward(input);
    double worst = 0;
    for (const NamedTensor& t : named_tensors<TorchvisionNet, Image>()) {
      if (t.role != TensorRole::buffer) continue;
      const auto actual = std::as_const(model).buffers().subspan(t.offset, t.count);
      if (t.name.ends_with("num_batches_tracked")) {
        CHECK(actual[0] == 1.0f);
        continue;
      }
      worst = test::worse(worst, error(actual, test::read_tensor(reference, "train_step." + t.name)));
    }
    MESSAGE("running statistics: worst rel. max error " << worst);
    CHECK(worst <= 1e-4);
    std::vector<float> output_gradient(model.output().size(), 1.0f / 2000);
    model.backward(output_gradient);
    const auto gradients = std::as_const(model).gradients();
    CHECK(std::all_of(gradients.begin(), gradients.end(), [](float g) { return std::isfinite(g); }));
  }
}
