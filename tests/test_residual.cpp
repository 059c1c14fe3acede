// Skip connections. ctnn::Sum and ctnn::Residual against PyTorch — a sum of four branches and
// torchvision's ResNet BasicBlock with and without its downsampling shortcut
// (tests/data/reference/residual.safetensors, written by tools/make_reference_data.py) — in
// evaluation and training mode; and a small ResNet's parameters through everything that reaches
// them by name or offset: named tensors, initialisers, the summary, find_layer, freezing,
// recorded outputs, weights files and the gradient hook. Their gradients are checked against
// finite differences in tests/test_gradients.cpp.

#include <doctest/doctest.h>

#include <algorithm>   // std::sort, std::any_of, std::equal, std::find_if
#include <array>       // std::array
#include <cstddef>     // std::size_t, std::ptrdiff_t
#include <cstdint>     // std::uint8_t
#include <span>        // std::span
#include <string>      // std::string
#include <utility>     // std::pair, std::as_const
#include <vector>      // std::vector

#include <ctnn/ctnn.hpp>             // layers, ctnn::Model, named_tensors, init, summary, freeze_up_to
#include <ctnn/io/weights.hpp>       // ctnn::save_weights_to_memory, ctnn::load_weights_from_memory

#include "support/reference.hpp"   // ctnn::test::read_tensor, relative_error, load_parameters

using namespace ctnn;

namespace {

// torchvision.models.resnet.BasicBlock(In, Out, stride=S, downsample=Shortcut), with its names.
template <std::size_t In, std::size_t Out, std::size_t S = 1, class Shortcut = Identity>
using BasicBlock = Sequential<
    Inline<Residual<Sequential<Named<"conv1", Conv<In, Out, 3, S, 1, false>>, Named<"bn1", BatchNorm<Out>>,
                               Named<"relu", ReLU>, Named<"conv2", Conv<Out, Out, 3, 1, 1, false>>,
                               Named<"bn2", BatchNorm<Out>>>,
                    Shortcut>>,
    Named<"relu", ReLU>>;
template <std::size_t In, std::size_t Out, std::size_t S>
using Downsample = Named<"downsample", Sequential<Conv<In, Out, 1, S, 0, false>, BatchNorm<Out>>>;

const test::ReferenceFile& residual_file() { return test::ReferenceFile::open("reference/residual.safetensors"); }

// The case's block on the reference input, in both modes (training: the batch's statistics).
template <class Net, ShapeType In>
void check_against_pytorch(const std::string& name) {
  for (const Mode mode : {Mode::eval, Mode::train}) {
    CAPTURE(name);
    CAPTURE(mode == Mode::train);
    Model<Net, In> model;
    test::load_parameters(model, residual_file(), name + ".");
    model.train(mode == Mode::train);
    const std::vector<float> input = test::read_tensor(residual_file(), name + ".input");
    const std::vector<float> expected =
        test::read_tensor(residual_file(), name + (mode == Mode::train ? ".train_output" : ".output"));
    const std::span<const float> output = model.forward(input);
    REQUIRE(output.size() == expected.size());
    CHECK(test::relative_error(output, std::span<const float>(expected)) <= 1e-5);
  }
}

// A small ResNet: a stem, a stage of two blocks, a stage that downsamples, the head.
using ResNet = Sequential<Named<"conv1", Conv<3, 8, 3, 1, 1, false>>, Named<"bn1", BatchNorm<8>>, Named<"relu", ReLU>,
                          Named<"layer1", Sequential<BasicBlock<8, 8>, BasicBlock<8, 8>>>,
                          Named<"layer2", Sequential<BasicBlock<8, 16, 2, Downsample<8, 16, 2>>, BasicBlock<16, 16>>>,
                          Named<"avgpool", AdaptiveAvgPool<1>>, Flatten, Named<"fc", Linear<16, 5>>>;
using Image = Shape<3, 8, 8>;
using M = Model<ResNet, Image>;

std::vector<float> images(std::size_t batch) {
  std::vector<float> x(batch * Image::size);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7919) % 101) / 50.0f - 1.0f;
  return x;
}

}  // namespace

TEST_CASE("Sum and Residual match PyTorch: a sum of branches and torchvision's BasicBlock") {
  check_against_pytorch<Sum<Conv<4, 4, 1>, Sequential<Conv<4, 4, 3, 1, 1>, ReLU>, MaxPool<3, 1, 1>, Identity>,
                        Shape<4, 6, 6>>("sum");
  check_against_pytorch<BasicBlock<8, 8>, Shape<8, 6, 6>>("basic_block");
  check_against_pytorch<BasicBlock<4, 8, 2, Downsample<4, 8, 2>>, Shape<4, 8, 8>>("basic_block_downsample");
}

TEST_CASE("an identity shortcut is added in place: the block keeps no more than its body") {
  using Body = Sequential<Conv<8, 8, 3, 1, 1>, ReLU, Conv<8, 8, 3, 1, 1>>;
  using In = Shape<8, 6, 6>;
  // Evaluation: the body writes the output, x is added to it; nothing beyond the body's scratch.
  static_assert(Residual<Body>::scratch_elements<In> == Body::scratch_elements<In>);
  // Training: the body's last layer does not read its output, so the sum keeps nothing either.
  static_assert(Residual<Body>::saved_elements<In> == Body::saved_elements<In>);
  static_assert(!Residual<Body>::backward_reads_output);
}

TEST_CASE("a residual network's tensors carry torchvision's names, in the order of its buffers") {
  const std::vector<NamedTensor> tensors = named_tensors<ResNet, Image>();
  auto find = [&](const std::string& name) {
    return std::find_if(tensors.begin(), tensors.end(), [&](const NamedTensor& t) { return t.name == name; });
  };
  for (const char* name : {"conv1.weight", "bn1.running_var", "layer1.0.conv1.weight", "layer1.1.bn2.bias",
                           "layer2.0.conv1.weight", "layer2.0.downsample.0.weight", "layer2.0.downsample.1.weight",
                           "layer2.0.downsample.1.num_batches_tracked", "layer2.1.conv2.weight", "fc.bias"}) {
    CAPTURE(name);
    CHECK(find(name) != tensors.end());
  }
  CHECK(find("layer2.0.downsample.0.weight")->shape == std::vector<std::size_t>{16, 8, 1, 1});
  CHECK(find("layer2.0.conv1.weight")->shape == std::vector<std::size_t>{16, 8, 3, 3});
  // The parameters tile the flat buffer in order, as do the buffers.
  std::size_t parameters = 0, buffers = 0;
  for (const NamedTensor& t : tensors) {
    std::size_t& next = t.role == TensorRole::parameter ? parameters : buffers;
    CHECK(t.offset == next);
    next += t.count;
  }
  CHECK(parameters == parameter_count_v<ResNet>);
  CHECK(buffers == buffer_count_v<ResNet>);
}

TEST_CASE("initialisers reach every tensor of a residual network") {
  auto nonzero = [](std::span<const float> values) {
    return std::any_of(values.begin(), values.end(), [](float v) { return v != 0.0f; });
  };
  M reference, pytorch;
  init::reference_uniform(reference, 3);
  init::pytorch_default(pytorch, 3);
  for (const NamedTensor& t : named_tensors<ResNet, Image>()) {
    CAPTURE(t.name);
    if (t.name.ends_with("num_batches_tracked")) continue;
    const bool parameter = t.role == TensorRole::parameter;
    CHECK(nonzero((parameter ? std::as_const(reference).parameters() : std::as_const(reference).buffers())
                      .subspan(t.offset, t.count)));
    // PyTorch's defaults: weights random, BatchNorm's weight and running variance 1.
    const auto values = (parameter ? std::as_const(pytorch).parameters() : std::as_const(pytorch).buffers())
                            .subspan(t.offset, t.count);
    if (t.shape.size() >= 2) CHECK(nonzero(values));
    if (t.name.ends_with("bn1.weight") || t.name.ends_with("running_var")) CHECK(values[0] == 1.0f);
  }
}

TEST_CASE("the summary shows the blocks and their shortcut, and find_layer finds them") {
  const std::string table = summary<ResNet, Image>();
  CHECK(table.find("layer2.0.downsample.0") != std::string::npos);
  CHECK(table.find("layer1.1.conv2") != std::string::npos);
  // The Inline residual is the block's own: one row per block, under the block's path.
  CHECK(table.find("Residual") == std::string::npos);
  CHECK(summary<Residual<Sequential<Conv<3, 3, 3, 1, 1>, ReLU>>, Image>().find("Residual") == std::string::npos);
  CHECK(summary<Sequential<Residual<Sequential<Conv<3, 3, 3, 1, 1>, ReLU>>>, Image>().find("Residual-") !=
        std::string::npos);
  CHECK(table.find("Total params: " + detail::with_thousands(parameter_count_v<ResNet>)) != std::string::npos);
  const auto block = find_layer<ResNet, Image>("layer2.0");
  REQUIRE(block);
  CHECK(block->output_dims == std::array<std::size_t, 3>{16, 4, 4});
  const auto downsample = find_layer<ResNet, Image>("layer2.0.downsample");
  REQUIRE(downsample);
  CHECK(downsample->parameter_count == 16 * 8 + 2 * 16);
  CHECK_FALSE(find_layer<ResNet, Image>("layer2.0.0"));  // the body is the block's, not a child
}

TEST_CASE("freezing a residual network's first stage leaves its gradients at zero") {
  M model;
  init::pytorch_default(model, 4);
  const std::size_t frozen = freeze_up_to(model, "layer1");
  CHECK(frozen == find_layer<ResNet, Image>("layer1")->parameter_offset + find_layer<ResNet, Image>("layer1")->parameter_count);
  model.train();
  model.forward(images(2));
  model.backward(std::vector<float>(2 * 5, 0.25f));
  const auto gradients = model.gradients();
  for (std::size_t i = 0; i < frozen; ++i) REQUIRE(gradients[i] == 0.0f);
  CHECK(std::any_of(gradients.begin() + static_cast<std::ptrdiff_t>(frozen), gradients.end(),
                    [](float g) { return g != 0.0f; }));
}

TEST_CASE("a residual network's weights go out and back in by name") {
  M model;
  init::reference_uniform(model, 5);
  const std::vector<std::uint8_t> file = save_weights_to_memory(model);
  M loaded;
  load_weights_from_memory(loaded, file);
  CHECK(std::equal(model.parameters().begin(), model.parameters().end(), loaded.parameters().begin()));
  CHECK(std::equal(model.buffers().begin(), model.buffers().end(), loaded.buffers().begin()));
  const std::vector<float> expected(model.forward(images(3)).begin(), model.forward(images(3)).end());
  CHECK(test::relative_error(loaded.forward(images(3)), std::span<const float>(expected)) == 0.0);
}

TEST_CASE("a shortcut's output can be recorded, and backward reports every gradient once") {
  M model;
  init::pytorch_default(model, 6);
  model.record_output_of("layer2.0.downsample");
  model.train();
  model.forward(images(2));
  CHECK(model.recorded_output().size() == 2 * 16 * 4 * 4);

  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  const GradientReadyHook hook{[](void* user, std::size_t begin, std::size_t end) {
                                 static_cast<std::vector<std::pair<std::size_t, std::size_t>>*>(user)->push_back({begin, end});
                               },
                               &ranges};
  model.set_gradient_ready_hook(hook);
  model.backward(std::vector<float>(2 * 5, 0.25f));
  REQUIRE_FALSE(ranges.empty());
  CHECK(ranges.front().second == parameter_count_v<ResNet>);  // backward starts with fc
  std::sort(ranges.begin(), ranges.end());
  std::size_t next = 0;
  for (const auto& [begin, end] : ranges) {
    CHECK(begin == next);
    next = end;
  }
  CHECK(next == parameter_count_v<ResNet>);
}
