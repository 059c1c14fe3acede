// The GPU model as a whole: no device allocation once a batch size has run, CUDA graph replay
// for inference, host mirrors that transfer only when used, device inputs without copies, and
// errors that name what failed.

#include "support/device.hpp"   // skips without a device; ctnn::test::BothBackends

#include <doctest/doctest.h>   // TEST_CASE, CHECK, REQUIRE, MESSAGE

#include <cstdint>   // std::int32_t
#include <string>    // std::string
#include <vector>    // std::vector

using namespace ctnn;

namespace {

// A small network with every kind of memory a pass needs: concatenated branches, saved pooling
// indices, a flatten into a linear layer.
using Net = Sequential<Named<"stem", BasicConv2d<3, 8, 3, 1, 1>>, Named<"block", Inception<8, 4, 3, 5, 2, 3, 2>>,
                       Named<"pool", MaxPool<3, 2, 0, Rounding::ceil>>, AdaptiveAvgPool<2>, Flatten,
                       Named<"fc", Linear<56, 5>>>;
using In = Shape<3, 16, 16>;

template <class T>
std::vector<T> copy(std::span<const T> values) {
  return std::vector<T>(values.begin(), values.end());
}

std::size_t free_device_memory() {
  std::size_t free = 0, total = 0;
  CTNN_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return free;
}

}  // namespace

TEST_CASE("after the first pass at a batch size, training and inference allocate no device memory") {
  Model<Net, In, float, Cuda> model;
  init::pytorch_default(model, 1);
  cuda::optim::SGD<float> sgd(Net::parameter_count, {.lr = 0.01, .momentum = 0.9});
  cuda::ClassificationObjective<float> objective;
  const auto images = model.to_device(test::uniform_values(16 * In::size, 2));
  const std::vector<std::int32_t> labels(16, 3);
  const auto device_labels = cuda::to_device(std::span<const std::int32_t>(labels));
  auto step = [&] {
    model.train();
    model.forward(cuda::DeviceSpan<const float>(images.span()));
    objective.backward(model, cuda::DeviceSpan<const std::int32_t>(device_labels.span()));
    sgd.step(model);
    model.eval();
    model.forward(cuda::DeviceSpan<const float>(images.span()));
    model.forward(cuda::DeviceSpan<const float>(images.span()));
    model.synchronize();
  };
  step();
  step();
  const std::size_t arena = model.arena_bytes(), workspace = model.workspace_bytes(), plans = model.plan_count();
  const std::size_t free = free_device_memory();
  for (int i = 0; i < 5; ++i) step();
  CHECK(free_device_memory() == free);
  CHECK(model.arena_bytes() == arena);
  CHECK(model.workspace_bytes() == workspace);
  CHECK(model.plan_count() == plans);
  MESSAGE("arena " << arena << " bytes, workspace " << workspace << " bytes, " << plans << " cuDNN plans");
}

TEST_CASE("inference replays a captured CUDA graph from the second forward at a batch size") {
  test::BothBackends<Net, In> both(3);
  const auto x = test::uniform_values(4 * In::size, 1);
  const auto expected = copy(both.cpu.forward(x));
  CHECK(test::relative_error(copy(both.gpu.forward(x)), expected) <= 1e-5);
  CHECK_FALSE(both.gpu.replayed_graph());  // the first runs directly
  for (int i = 0; i < 3; ++i) {
    CHECK(test::relative_error(copy(both.gpu.forward(x)), expected) <= 1e-5);
    CHECK(both.gpu.replayed_graph());
  }
  CHECK(both.gpu.graph_error() == "");
  // New parameters are read by the same graph (it holds their address, not their values).
  both.cpu.parameters()[0] += 1.0f;
  both.gpu.parameters()[0] += 1.0f;
  CHECK(test::relative_error(copy(both.gpu.forward(x)), copy(both.cpu.forward(x))) <= 1e-5);
  CHECK(both.gpu.replayed_graph());
  // Training never replays; another batch size captures anew.
  both.train(true);
  both.gpu.forward(x);
  CHECK_FALSE(both.gpu.replayed_graph());
  both.train(false);
  const auto x2 = test::uniform_values(2 * In::size, 5);
  both.gpu.forward(x2);
  CHECK(test::relative_error(copy(both.gpu.forward(x2)), copy(both.cpu.forward(x2))) <= 1e-5);
  CHECK(both.gpu.replayed_graph());
  both.gpu.use_cuda_graphs(false);
  both.gpu.forward(x2);
  CHECK_FALSE(both.gpu.replayed_graph());
}

TEST_CASE("host mirrors: written parameters reach the device, device updates reach the host") {
  Model<Net, In, float, Cuda> model;
  init::reference_uniform(model, 4);
  const auto initial = copy(std::as_const(model).parameters());
  const auto x = test::uniform_values(2 * In::size, 1);
  model.train();
  model.forward(x);
  model.backward(test::uniform_values(2 * 5, 2));
  const auto gradients = copy(std::as_const(model).gradients());
  cuda::optim::SGD<float> sgd(Net::parameter_count, {.lr = 0.5});
  sgd.step(model);  // on the device only
  const auto updated = copy(std::as_const(model).parameters());
  for (std::size_t i = 0; i < updated.size(); i += 97)
    REQUIRE(updated[i] == doctest::Approx(initial[i] - 0.5f * gradients[i]).epsilon(1e-6));
  // A host write is seen by the next forward.
  model.eval();
  const auto before = copy(model.forward(x));
  for (float& v : model.parameters()) v = 0.0f;
  const auto zeroed = copy(model.forward(x));
  for (float v : zeroed) CHECK(v == 0.0f);
  CHECK(before != zeroed);
}

TEST_CASE("device inputs: written into input_buffer() they are used in place") {
  test::BothBackends<Net, In> both(8);
  const auto x = test::uniform_values(3 * In::size, 1);
  const cuda::DeviceSpan<float> input = both.gpu.input_buffer(3);
  cuda::copy_to_device<float>(x, input, both.gpu.stream());
  const cuda::DeviceSpan<const float> output = both.gpu.forward(cuda::DeviceSpan<const float>(input));
  CHECK(test::relative_error(both.gpu.to_host(output), copy(both.cpu.forward(x))) <= 1e-5);
}

TEST_CASE("the GPU model refuses what the CPU model refuses, with the same messages") {
  Model<Net, In, float, Cuda> model;
  CHECK_THROWS_WITH_AS(model.forward(std::vector<float>(In::size + 1)), doctest::Contains("not a whole number"), Error);
  CHECK_THROWS_WITH_AS(model.backward(std::vector<float>(5)), doctest::Contains("needs a forward in training mode"),
                       Error);
  model.train();
  model.forward(std::vector<float>(In::size));
  CHECK_THROWS_WITH_AS(model.backward(std::vector<float>(6)), doctest::Contains("the output has 5"), Error);
  CHECK_THROWS_WITH_AS(model.record_output_of("nope"), doctest::Contains("no layer 'nope'"), Error);
  CHECK_THROWS_WITH_AS(model.aux_output(0), doctest::Contains("index 0 of 0"), Error);
}

TEST_CASE("running out of device memory names the bytes asked for") {
  Model<GoogLeNet<1000, false>, Shape<3, 224, 224>, float, Cuda> model;
  try {
    model.prepare(1'000'000, Mode::train);
    FAIL("no exception");
  } catch (const Error& e) {
    const std::string message = e.what();
    MESSAGE(message);
    CHECK(e.subject() == "cudaMalloc");
    CHECK(message.find("out of device memory") != std::string::npos);
    CHECK(message.find(" bytes (") != std::string::npos);
    CHECK(message.find("activation arena (batch 1000000)") != std::string::npos);
  }
  // The model is still usable at a batch size that fits.
  model.eval();
  CHECK(model.forward(std::vector<float>(3 * 224 * 224)).size() == 1000);
}

TEST_CASE("the device objective matches ctnn::ClassificationObjective, and reports a bad label") {
  test::BothBackends<Net, In> both(9);
  both.train(true);
  const auto x = test::uniform_values(4 * In::size, 1);
  const std::vector<std::int32_t> labels{0, 4, 2, 1};
  both.cpu.forward(x);
  both.gpu.forward(x);
  ClassificationObjective<float> cpu;
  cuda::ClassificationObjective<float> gpu;
  const auto expected = cpu.backward(both.cpu, labels);
  gpu.backward(both.gpu, std::span<const std::int32_t>(labels));
  CHECK(gpu.loss().total == doctest::Approx(expected.total).epsilon(1e-5));
  CHECK(test::relative_error(copy(std::as_const(both.gpu).gradients()), copy(std::as_const(both.cpu).gradients())) <=
        1e-4);
  const std::vector<std::int32_t> bad{0, 7, 2, 1};
  CHECK_THROWS_WITH_AS(gpu.backward(both.gpu, std::span<const std::int32_t>(bad)),
                       doctest::Contains("label 7 of example 1"), Error);
  both.gpu.forward(x);
  const auto device_bad = cuda::to_device(std::span<const std::int32_t>(bad));
  gpu.backward(both.gpu, cuda::DeviceSpan<const std::int32_t>(device_bad.span()));
  CHECK_THROWS_WITH_AS(gpu.loss(), doctest::Contains("label 7 of example 1"), Error);
}

TEST_CASE("the GPU model moves, as the CPU model does, and keeps computing after the move") {
  test::BothBackends<Net, In> both(10);
  const auto x = test::uniform_values(2 * In::size, 1);
  const auto expected = copy(both.cpu.forward(x));
  both.gpu.forward(x);
  Model<Net, In, float, Cuda> moved(std::move(both.gpu));
  CHECK(test::relative_error(copy(moved.forward(x)), expected) <= 1e-5);
  CHECK(test::relative_error(copy(moved.forward(x)), expected) <= 1e-5);  // a replayed graph
  Model<Net, In, float, Cuda> assigned;
  assigned = std::move(moved);
  CHECK(test::relative_error(copy(assigned.forward(x)), expected) <= 1e-5);
}
