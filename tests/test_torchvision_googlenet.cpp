// torchvision's GoogLeNet (ctnn::TorchvisionGoogLeNet) and its BatchNorm against PyTorch:
// tensor names and counts, logits in evaluation mode, batch-norm statistics after a training
// forward, and ctnn::BatchNorm's forward and backward in both modes
// (tests/data/reference/torchvision_googlenet.safetensors and batchnorm_train.safetensors, written
// by tools/make_torchvision_reference.py).

#include <doctest/doctest.h>

#include <algorithm>   // std::copy, std::all_of
#include <array>       // std::array
#include <cmath>       // std::abs, std::sqrt
#include <cstdint>     // std::int64_t
#include <map>         // std::map
#include <ratio>       // std::ratio
#include <string>      // std::string
#include <vector>      // std::vector

#include <nlohmann/json.hpp>   // nlohmann::json (the state_dict listings in the file's metadata)

#include <ctnn/ctnn.hpp>             // ctnn::TorchvisionGoogLeNet, ctnn::BatchNorm, ctnn::Model, ...
#include <ctnn/io/safetensors.hpp>   // ctnn::safetensors::Reader

#include "support/reference.hpp"   // ctnn::test::read_tensor, relative_error, data_path

using namespace ctnn;

namespace {

using Image = Shape<3, 224, 224>;
using Net = TorchvisionGoogLeNet<1000>;
using NetTransformed = TorchvisionGoogLeNet<1000, false, true>;
using NetWithAux = TorchvisionGoogLeNet<1000, true>;
constexpr std::uint64_t kNetworkSeed = 7;
// One layer against PyTorch in float32 (outputs, gradients, running statistics): measured at most
// 4.9e-7 (the Inception block's parameter gradients), 1.7e-7 for a batch norm. Margin 4.
constexpr double kLayerTolerance = 2e-6;

static_assert(parameter_count_v<Net> == 6'624'904);           // torchvision's num_params
static_assert(parameter_count_v<NetTransformed> == 6'624'904);
static_assert(buffer_count_v<Net> == 14'617);                  // 57 batch norms: 2C + 1 each
static_assert(parameter_count_v<NetWithAux> == 13'004'888);
static_assert(std::is_same_v<output_shape_t<Net, Image>, Features<1000>>);

const test::ReferenceFile& network_file() {
  return test::ReferenceFile::open("reference/torchvision_googlenet.safetensors");
}

const test::ReferenceFile& batchnorm_file() { return test::ReferenceFile::open("reference/batchnorm_train.safetensors"); }

std::vector<float> read(const test::ReferenceFile& file, const std::string& name) {
  return test::read_tensor<float>(file, name);
}

double error(std::span<const float> actual, const std::vector<float>& expected) {
  return test::relative_error(actual, std::span<const float>(expected));
}

// Every parameter and buffer of `model` from "<prefix><name><suffix>" (num_batches_tracked is I64).
template <class Model>
void load_state(Model& model, const test::ReferenceFile& file, const std::string& prefix) {
  for (const NamedTensor& t : named_tensors<typename Model::network, typename Model::input_shape>()) {
    auto destination = (t.role == TensorRole::parameter ? model.parameters() : model.buffers()).subspan(t.offset, t.count);
    const safetensors::TensorInfo* info = file.find(prefix + t.name);
    REQUIRE_MESSAGE(info, prefix << t.name << " is missing");
    if (t.name.ends_with("num_batches_tracked")) {
      std::int64_t count = 0;
      file.read_as(*info, std::span<std::int64_t>(&count, 1));
      destination[0] = static_cast<float>(count);
    } else {
      file.read_as(*info, destination);
    }
  }
}

// The buffers of `model` against "<prefix><name>.after": running statistics to kLayerTolerance of their
// scale, step counts exactly.
template <class Model>
void check_buffers_after(Model& model, const test::ReferenceFile& file, const std::string& prefix) {
  for (const NamedTensor& t : named_tensors<typename Model::network, typename Model::input_shape>()) {
    if (t.role != TensorRole::buffer) continue;
    CAPTURE(t.name);
    const auto actual = std::span<const float>(model.buffers()).subspan(t.offset, t.count);
    if (t.name.ends_with("num_batches_tracked")) {
      const std::vector<std::int64_t> expected = test::read_tensor<std::int64_t>(file, prefix + t.name + ".after");
      CHECK(actual[0] == static_cast<float>(expected[0]));
    } else {
      CHECK(error(actual, read(file, prefix + t.name + ".after")) <= kLayerTolerance);
    }
  }
}

// A batch norm's kernels called directly, for what Model does not expose (input gradients,
// evaluation-mode backward).
template <class Layer, ShapeType In>
struct DirectLayer {
  using Eval = Evaluator<Layer, Cpu, float>;
  cpu::Context<float> ctx;
  std::vector<float> parameters = std::vector<float>(Layer::parameter_count);
  std::vector<float> gradients = std::vector<float>(Layer::parameter_count);
  std::vector<float> buffers = std::vector<float>(Layer::buffer_count);
  std::vector<float> saved, output;

  DirectLayer(const test::ReferenceFile& file, const std::string& prefix) {
    ctx.threads = 2;
    ctx.blocking.resize(2);
    for (const TensorSpec& spec : Layer::tensors) {
      const std::string name = prefix + std::string(spec.name);
      float* destination = (spec.role == TensorRole::parameter ? parameters.data() : buffers.data()) + spec.offset;
      if (spec.name == "num_batches_tracked") {
        const std::vector<std::int64_t> count = test::read_tensor<std::int64_t>(file, name);
        *destination = static_cast<float>(count[0]);
      } else {
        const std::vector<float> values = read(file, name);
        std::copy(values.begin(), values.end(), destination);
      }
    }
  }
  ParamSpan<float> params() { return {parameters.data(), gradients.data(), buffers.data()}; }

  std::span<const float> forward(const std::vector<float>& x, Mode mode) {
    ctx.batch = x.size() / In::size;
    ctx.mode = mode;
    saved.assign(ctx.batch * Layer::template saved_elements<In>, 0.0f);
    output.assign(x.size(), 0.0f);
    Eval::template forward<In>(ctx, {params(), {x.data(), In::size}, {output.data(), In::size}, saved.data(), nullptr});
    return output;
  }
  // After forward on the same x: the input gradient, and the parameter gradients in `gradients`.
  std::vector<float> backward(const std::vector<float>& x, const std::vector<float>& dy) {
    std::vector<float> dx(x.size());
    Eval::template backward<In>(ctx, {params(), {x.data(), In::size}, {output.data(), In::size}, {dy.data(), In::size},
                                      {dx.data(), In::size}, false, saved.data(), nullptr});
    return dx;
  }
  std::span<const float> weight_gradient() const { return std::span<const float>(gradients).first(Layer::channels); }
  std::span<const float> bias_gradient() const { return std::span<const float>(gradients).subspan(Layer::channels); }
};

// The [[name, shape], ...] listing in the file's metadata, as name -> shape.
std::map<std::string, std::vector<std::size_t>> torchvision_state_dict(const std::string& key) {
  const nlohmann::json listing = nlohmann::json::parse(network_file().metadata().at(key));
  std::map<std::string, std::vector<std::size_t>> tensors;
  for (const auto& entry : listing) tensors[entry.at(0).get<std::string>()] = entry.at(1).get<std::vector<std::size_t>>();
  return tensors;
}

template <class Network>
void check_names_match_torchvision(const std::string& key) {
  const auto expected = torchvision_state_dict(key);
  std::map<std::string, std::vector<std::size_t>> actual;
  for (const NamedTensor& t : named_tensors<Network, Image>()) actual[t.name] = t.shape;
  CHECK(actual.size() == expected.size());
  for (const auto& entry : expected) {  // not a structured binding: clang 14 cannot CAPTURE one
    const std::string& name = entry.first;
    CAPTURE(name);
    REQUIRE(actual.count(name) == 1);
    CHECK(actual.at(name) == entry.second);
  }
}

std::vector<float> network_input() {
  std::vector<float> x(2 * Image::size);
  const std::int64_t shape[] = {2, 3, 224, 224};
  reference_uniform_fill<float>("input", shape, 0, kNetworkSeed, std::span<float>(x));
  return x;
}

}  // namespace

TEST_CASE("TorchvisionGoogLeNet has torchvision's state_dict names and shapes") {
  check_names_match_torchvision<Net>("state_dict");
  check_names_match_torchvision<NetWithAux>("state_dict_aux_logits");
  const auto tensors = named_tensors<Net, Image>();
  CHECK(tensors[0].name == "conv1.conv.weight");
  CHECK(tensors[1].name == "conv1.bn.weight");
  CHECK(tensors[5].name == "conv1.bn.num_batches_tracked");
  CHECK(tensors[5].role == TensorRole::buffer);
  CHECK(tensors[5].shape.empty());
}

TEST_CASE("init::reference_uniform fills batch-norm buffers by their names") {
  Model<Net, Image> model;
  init::reference_uniform(model, kNetworkSeed);
  for (const NamedTensor& t : named_tensors<Net, Image>()) {
    if (t.name != "inception4c.branch3.1.bn.running_var" && t.name != "inception4c.branch3.1.bn.running_mean" &&
        t.name != "inception4c.branch3.1.bn.num_batches_tracked")
      continue;
    CAPTURE(t.name);
    const auto actual = model.buffers().subspan(t.offset, t.count);
    std::vector<float> expected(t.count);
    std::vector<std::int64_t> shape(t.shape.begin(), t.shape.end());
    reference_uniform_fill<float>(t.name, shape, 0, kNetworkSeed, std::span<float>(expected));
    CHECK(std::equal(actual.begin(), actual.end(), expected.begin()));
    if (t.name.ends_with("running_var"))
      CHECK(std::all_of(actual.begin(), actual.end(), [](float v) { return v >= 0.5f && v < 1.5f; }));
    if (t.name.ends_with("num_batches_tracked")) CHECK(actual[0] == 0.0f);
  }
}

TEST_CASE("TorchvisionGoogLeNet's logits match torchvision in evaluation mode") {
  // torchvision's own float32 logits are 7.4e-7 (8.3e-7 with transform_input) off its float64
  // ones; ctnn's are measured at 7.7e-7 (1.2e-6) off PyTorch's float32 ones and 5.1e-7 (5.9e-7)
  // off its float64 ones. 1e-5 leaves a margin of 8.
  const std::vector<float> x = network_input();
  const auto check = [](std::span<const float> logits, const std::string& key) {
    const double e = error(logits, read(network_file(), key));
    const double e64 = error(logits, read(network_file(), key + ".from_f64"));
    MESSAGE(key << ": rel. max error vs PyTorch float32 " << e << ", vs float64 " << e64);
    CHECK(e <= 1e-5);
    CHECK(e64 <= 1e-5);
  };
  SUBCASE("transform_input=False") {
    Model<Net, Image> model;
    init::reference_uniform(model, kNetworkSeed);
    check(model.forward(x), "logits");
  }
  SUBCASE("transform_input=True") {
    Model<NetTransformed, Image> model;
    init::reference_uniform(model, kNetworkSeed);
    check(model.forward(x), "logits_transform_input");
  }
}

TEST_CASE("a training forward moves every batch norm's running statistics as torchvision's does") {
  Model<Net, Image> model;
  init::reference_uniform(model, kNetworkSeed);
  model.train();
  model.forward(network_input());
  double worst = 0;
  std::size_t checked = 0;
  for (const NamedTensor& t : named_tensors<Net, Image>()) {
    if (t.role != TensorRole::buffer) continue;
    const auto actual = std::span<const float>(model.buffers()).subspan(t.offset, t.count);
    if (t.name.ends_with("num_batches_tracked")) {
      CHECK(actual[0] == 1.0f);
      continue;
    }
    worst = test::worse(worst, error(actual, read(network_file(), "train_step." + t.name)));
    ++checked;
  }
  // Measured 2.4e-6 (accumulated over 57 batch norms); margin 8.
  MESSAGE("running statistics after one training step: worst rel. max error " << worst << " over " << checked
                                                                             << " tensors");
  CHECK(checked == 2 * 57);
  CHECK(worst <= 2e-5);

}

TEST_CASE("a training backward through the whole TorchvisionGoogLeNet matches torchvision's") {
  // backward.<f32|f64>.<name>: [sum, sum of squares, sum of |.|, probe . g] of each parameter's
  // gradient and of the input's, PyTorch in float32 and float64, after one training forward
  // (batch statistics, dropout off) and dL/dlogits = 1/2000. Against the float64 values, per
  // tensor: the sum relative to the sum of |.|, the sum of squares relative to itself, and the
  // projection as an estimate of the norm-wise error, sqrt(n) |p.(g - g64)| / (||p|| ||g64||).
  // Float32 puts a few ReLU inputs and max-pool near-ties on the other side of their kink, which
  // moves gradients beneath by ~1e-3: PyTorch's own float32 gradients are up to 3.8e-2 off (worst
  // tensor), ctnn's are measured at up to 2.0e-2. Every tensor must be within 4 times PyTorch's
  // worst (a wrong kernel is off by O(1)).
  Model<Net, Image> model;
  init::reference_uniform(model, kNetworkSeed);
  model.train();
  model.disable_dropout(true);
  model.compute_input_gradient(true);
  const std::vector<float> x = network_input();
  model.forward(x);
  model.backward(std::vector<float>(model.output().size(), 1.0f / 2000));

  struct Summary {
    std::array<double, 4> values{};  // sum, sum of squares, sum of |.|, probe . g
    double probe_norm = 0;
    std::size_t count = 0;
  };
  const auto summarise = [](const std::string& name, std::span<const float> g, const std::vector<std::size_t>& shape) {
    Summary s;
    std::vector<double> probe(g.size());
    const std::vector<std::int64_t> dims(shape.begin(), shape.end());
    reference_uniform_fill<double>("probe." + name, dims, 1, kNetworkSeed, std::span<double>(probe));
    for (std::size_t i = 0; i < g.size(); ++i) {
      s.values[0] += g[i];
      s.values[1] += double(g[i]) * g[i];
      s.values[2] += std::abs(double(g[i]));
      s.values[3] += probe[i] * g[i];
      s.probe_norm += probe[i] * probe[i];
    }
    s.probe_norm = std::sqrt(s.probe_norm);
    s.count = g.size();
    return s;
  };
  // The worst of the three errors of `actual` against the float64 reference `expected`.
  const auto summary_error = [](const std::array<double, 4>& actual, const std::vector<double>& expected,
                                const Summary& s) {
    const double sum = test::scalar_error(actual[0], expected[0], expected[2]);
    const double squares = test::scalar_error(actual[1], expected[1], expected[1]);
    const double projection = test::scalar_error(actual[3], expected[3], s.probe_norm * std::sqrt(expected[1])) *
                              std::sqrt(double(s.count));
    return test::worse(test::worse(sum, squares), projection);
  };

  struct Compared {
    std::string name;
    double ctnn = 0, torch = 0;
  };
  std::vector<Compared> compared;
  const auto compare = [&](const std::string& name, std::span<const float> g, const std::vector<std::size_t>& shape) {
    const Summary ours = summarise(name, g, shape);
    const std::vector<double> f64 = test::read_tensor<double>(network_file(), "backward.f64." + name);
    const std::vector<double> f32 = test::read_tensor<double>(network_file(), "backward.f32." + name);
    std::array<double, 4> torch{};
    std::copy(f32.begin(), f32.end(), torch.begin());
    compared.push_back({name, summary_error(ours.values, f64, ours), summary_error(torch, f64, ours)});
  };
  for (const NamedTensor& t : named_tensors<Net, Image>())
    if (t.role == TensorRole::parameter)
      compare(t.name, std::span<const float>(model.gradients()).subspan(t.offset, t.count), t.shape);
  compare("input", model.input_gradient(), {2, 3, 224, 224});

  double ctnn_worst = 0, torch_worst = 0;
  std::string ctnn_worst_name;
  for (const Compared& c : compared) {
    if (!(c.ctnn <= ctnn_worst)) ctnn_worst_name = c.name;
    ctnn_worst = test::worse(ctnn_worst, c.ctnn);
    torch_worst = test::worse(torch_worst, c.torch);
  }
  MESSAGE(compared.size() << " gradients against PyTorch float64: ctnn float32 worst " << ctnn_worst << " ("
                          << ctnn_worst_name << "), PyTorch float32 worst " << torch_worst);
  CHECK(compared.size() == 57 * 3 + 2 + 1);  // 57 convolutions' weight, bn.weight, bn.bias; fc; the input
  for (const Compared& c : compared) {
    CAPTURE(c.name);
    CHECK(c.ctnn <= 4 * torch_worst);
  }
}

TEST_CASE("BatchNorm matches nn.BatchNorm2d in evaluation mode") {
  using BN = BatchNorm<6, std::ratio<1, 1000>>;
  using In = Shape<6, 5, 5>;
  static_assert(BN::parameter_count == 12 && BN::buffer_count == 13);
  // layers.safetensors' case, through a Model (in place on its input where the plan allows).
  const test::ReferenceFile& layers = test::ReferenceFile::open("reference/layers.safetensors");
  Model<BN, In> model;
  for (const NamedTensor& t : named_tensors<BN, In>()) {
    auto destination = (t.role == TensorRole::parameter ? model.parameters() : model.buffers()).subspan(t.offset, t.count);
    if (t.name == "num_batches_tracked") continue;  // not stored; unused in evaluation
    layers.read_as(*layers.find("batchnorm." + t.name), destination);
  }
  const std::vector<float> x = read(layers, "batchnorm.input");
  const double e = error(model.forward(x), read(layers, "batchnorm.output"));
  MESSAGE("BatchNorm eval forward: rel. max error " << e);
  CHECK(e <= kLayerTolerance);

  // Its backward with the running statistics as constants (the same input, stored again).
  DirectLayer<BN, In> layer(batchnorm_file(), "batchnorm_eval.");
  CHECK(read(batchnorm_file(), "batchnorm_eval.input") == x);
  CHECK(error(layer.forward(x, Mode::eval), read(batchnorm_file(), "batchnorm_eval.output")) <= kLayerTolerance);
  const std::vector<float> dx = layer.backward(x, read(batchnorm_file(), "batchnorm_eval.output_gradient"));
  CHECK(error(dx, read(batchnorm_file(), "batchnorm_eval.input_gradient")) <= kLayerTolerance);
  CHECK(error(layer.weight_gradient(), read(batchnorm_file(), "batchnorm_eval.weight.grad")) <= kLayerTolerance);
  CHECK(error(layer.bias_gradient(), read(batchnorm_file(), "batchnorm_eval.bias.grad")) <= kLayerTolerance);
}

TEST_CASE("BatchNorm matches nn.BatchNorm2d in training mode: batch statistics, running statistics, gradients") {
  using BN = BatchNorm<6, std::ratio<1, 1000>>;
  using In = Shape<6, 5, 5>;
  const auto& file = batchnorm_file();
  const std::string p = "batchnorm_train.";
  DirectLayer<BN, In> layer(file, p);
  const std::vector<float> x0 = read(file, p + "input.0"), x1 = read(file, p + "input.1");
  const double e0 = error(layer.forward(x0, Mode::train), read(file, p + "output.0"));
  const double e1 = error(layer.forward(x1, Mode::train), read(file, p + "output.1"));
  const std::vector<float> dx = layer.backward(x1, read(file, p + "output_gradient"));
  const double e_dx = error(dx, read(file, p + "input_gradient"));
  const double e_dw = error(layer.weight_gradient(), read(file, p + "weight.grad"));
  const double e_db = error(layer.bias_gradient(), read(file, p + "bias.grad"));
  const std::span<const float> buffers(layer.buffers);
  const double e_mean = error(buffers.first(6), read(file, p + "running_mean.after"));
  const double e_var = error(buffers.subspan(6, 6), read(file, p + "running_var.after"));
  MESSAGE("BatchNorm train: outputs " << e0 << ", " << e1 << "; dx " << e_dx << ", dweight " << e_dw << ", dbias "
                                      << e_db << "; running mean " << e_mean << ", running var " << e_var);
  CHECK(e0 <= kLayerTolerance);
  CHECK(e1 <= kLayerTolerance);
  CHECK(e_dx <= kLayerTolerance);
  CHECK(e_dw <= kLayerTolerance);
  CHECK(e_db <= kLayerTolerance);
  CHECK(e_mean <= 1e-6);
  CHECK(e_var <= 1e-6);
  CHECK(buffers[12] == 2.0f);  // num_batches_tracked after two steps
  CHECK(test::read_tensor<std::int64_t>(file, p + "num_batches_tracked.after") == std::vector<std::int64_t>{2});
}

TEST_CASE("BatchNorm refuses to train on one value per channel, as PyTorch does") {
  DirectLayer<BatchNorm<6>, Features<6>> layer(batchnorm_file(), "batchnorm_train.");
  CHECK_THROWS_WITH_AS(layer.forward(std::vector<float>(6, 1.0f), Mode::train),
                       doctest::Contains("more than one value per channel"), Error);
}

TEST_CASE("BatchNorm's momentum is a std::ratio") {
  using BN = BatchNorm<5, std::ratio<1, 100000>, std::ratio<3, 10>>;
  static_assert(BN::momentum == 0.3 && BN::epsilon == 1e-5);
  using In = Shape<5, 4, 4>;
  Model<BN, In> model;
  load_state(model, batchnorm_file(), "batchnorm_momentum.");
  model.train();
  const double e = error(model.forward(read(batchnorm_file(), "batchnorm_momentum.input")),
                         read(batchnorm_file(), "batchnorm_momentum.output"));
  CHECK(e <= kLayerTolerance);
  check_buffers_after(model, batchnorm_file(), "batchnorm_momentum.");
}

TEST_CASE("torchvision's Inception block trains as in PyTorch: output, parameter gradients, running statistics") {
  using Block = torchvision::Inception<8, 4, 3, 5, 2, 3, 2>;
  using In = Shape<8, 9, 9>;
  const auto& file = batchnorm_file();
  const std::string p = "inception_train.";
  Model<Block, In> model;
  load_state(model, file, p);
  model.compute_input_gradient(true);
  model.train();
  const double e = error(model.forward(read(file, p + "input")), read(file, p + "output"));
  MESSAGE("Inception train forward: rel. max error " << e);
  CHECK(e <= kLayerTolerance);
  model.backward(read(file, p + "output_gradient"));
  const double e_dx = error(model.input_gradient(), read(file, p + "input_gradient"));
  MESSAGE("Inception input gradient (the sum of the four branches' dx): rel. max error " << e_dx);
  CHECK(e_dx <= kLayerTolerance);
  double worst = 0;
  for (const NamedTensor& t : named_tensors<Block, In>()) {
    if (t.role != TensorRole::parameter) continue;
    CAPTURE(t.name);
    const double g = error(std::span<const float>(model.gradients()).subspan(t.offset, t.count),
                           read(file, p + t.name + ".grad"));
    worst = test::worse(worst, g);
    CHECK(g <= kLayerTolerance);
  }
  MESSAGE("Inception parameter gradients: worst rel. max error " << worst);
  check_buffers_after(model, file, p);
}
