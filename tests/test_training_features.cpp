// Training features of ctnn::Model on a small named network: freezing a prefix by layer name
// (ctnn/freeze.hpp: no gradients there, and backward skips what nothing needs), recording a
// named layer's output (Model::record_output_of, ctnn::features_of), switching dropout off at
// run time, and the input gradient.

#include <doctest/doctest.h>

#include <algorithm>   // std::max, std::fill, std::copy
#include <array>       // std::array
#include <cmath>       // std::abs, std::isnan, std::sqrt
#include <cstddef>     // std::size_t
#include <cstdint>     // std::int64_t
#include <limits>      // std::numeric_limits
#include <span>        // std::span
#include <string>      // std::string
#include <string_view> // std::string_view
#include <type_traits> // std::is_same_v
#include <vector>      // std::vector

#include <ctnn/cpu/conv.hpp>               // Evaluator<Conv, Cpu>
#include <ctnn/cpu/elementwise.hpp>        // Evaluator<ReLU | Dropout | Flatten | Identity, Cpu>
#include <ctnn/cpu/linear.hpp>             // Evaluator<Linear, Cpu>
#include <ctnn/cpu/pooling.hpp>            // Evaluator<MaxPool | AdaptiveAvgPool, Cpu>
#include <ctnn/error.hpp>                  // ctnn::Error
#include <ctnn/features.hpp>               // ctnn::features_of
#include <ctnn/find_layer.hpp>             // ctnn::find_layer, ctnn::layer_infos
#include <ctnn/freeze.hpp>                 // ctnn::freeze_up_to, ctnn::unfreeze
#include <ctnn/init.hpp>                   // ctnn::init::reference_uniform
#include <ctnn/layers/aux_output.hpp>      // ctnn::AuxOutput
#include <ctnn/layers/basic_conv.hpp>      // ctnn::BasicConv2d
#include <ctnn/layers/googlenet.hpp>       // ctnn::GoogLeNet
#include <ctnn/layers/inception.hpp>       // ctnn::Inception
#include <ctnn/model.hpp>                  // ctnn::Model
#include <ctnn/optim/sgd.hpp>              // ctnn::optim::SGD
#include <ctnn/reference_init.hpp>         // ctnn::reference_uniform_fill

#include "support/compare.hpp"   // ctnn::test::max_difference

using namespace ctnn;

namespace {

// The identity, counting its backward calls: shows which layers backward skips.
struct CountBackward : Layer {
  static constexpr std::string_view type_name = "CountBackward";
  static constexpr bool backward_reads_input = false;
  static constexpr bool backward_reads_output = false;
  template <ShapeType In>
  using output_shape = In;
  static inline int calls = 0;
};

}  // namespace

template <class T>
struct ctnn::Evaluator<CountBackward, Cpu, T> {
  template <ShapeType In>
  static void forward(cpu::Context<T>& ctx, const ForwardArgs<T>& a) {
    cpu::copy_images(ctx, a.x, a.y, In::size, false);
  }
  template <ShapeType In>
  static void backward(cpu::Context<T>& ctx, const BackwardArgs<T>& a) {
    ++CountBackward::calls;
    if (a.dx) cpu::copy_images(ctx, a.dy, a.dx, In::size, a.accumulate_dx);
  }
};

namespace {

using Net = Sequential<Named<"stem", BasicConv2d<3, 4, 3, 1, 1>>, Named<"count", CountBackward>,
                       Named<"pool", MaxPool<2>>, Named<"block", Inception<4, 2, 2, 2, 2, 2, 2>>,
                       Named<"aux", AuxOutput<Sequential<AdaptiveAvgPool<1>, Flatten, Named<"fc", Linear<8, 3>>>>>,
                       Named<"head", BasicConv2d<8, 4, 1>>, Named<"avgpool", AdaptiveAvgPool<1>>, Flatten,
                       Named<"dropout", Dropout<50>>, Named<"fc", Linear<4, 5>>>;
using In = Shape<3, 8, 8>;
using M = Model<Net, In, double>;
constexpr std::size_t kBatch = 2;

std::vector<double> reference_values(const std::string& name, std::size_t count) {
  std::vector<double> values(count);
  const std::vector<std::int64_t> shape{static_cast<std::int64_t>(count)};
  reference_uniform_fill<double>(name, shape, 0, 4, values);
  return values;
}

const std::vector<double> kImages = reference_values("input", kBatch * In::size);
const std::vector<double> kOutputGradient = reference_values("dy", kBatch * 5);
const std::vector<double> kAuxGradient = reference_values("daux", kBatch * 3);

void forward_backward(M& model) {
  model.seed(1);
  model.forward(kImages);
  const std::vector<std::span<const double>> aux{kAuxGradient};
  model.backward(kOutputGradient, aux);
}

double max_difference(std::span<const double> a, std::span<const double> b) {
  REQUIRE(a.size() == b.size());
  return test::max_difference(a, b);
}

}  // namespace

TEST_CASE("find_layer numbers layers in walk order with their parameter ranges") {
  const auto layers = layer_infos<Net, In>();
  REQUIRE(layers.size() == Net::node_count);
  CHECK(layers.back().path.empty());
  const auto block = find_layer<Net, In>("block");
  REQUIRE(block);
  CHECK(block->type_name == "Inception");
  CHECK(block->output_dims == std::array<std::size_t, 3>{8, 4, 4});
  const auto aux = find_layer<Net, In>("aux");
  REQUIRE(aux);
  CHECK(aux->in_aux_output);
  CHECK(aux->output_size == 3);
  CHECK(find_layer<Net, In>("aux.fc")->parameter_offset == aux->parameter_offset);
  CHECK_FALSE(find_layer<Net, In>("nope"));

  // GoogLeNet: the evaluators' numbering (node_count) is walk's.
  using G = GoogLeNet<10, true>;
  using Image = Shape<3, 224, 224>;
  CHECK(layer_infos<G, Image>().size() == G::node_count);
  const auto avgpool = find_layer<G, Image>("avgpool");
  REQUIRE(avgpool);
  CHECK(avgpool->ordinal == 242);
  CHECK(avgpool->parameter_offset == 10'323'780);
  CHECK(avgpool->output_size == 1024);
  CHECK(find_layer<G, Image>("aux2.fc2")->output_size == 10);
}

TEST_CASE("freeze_up_to: no gradients for the frozen prefix, the rest unchanged, frozen layers skipped") {
  M reference_model;
  init::reference_uniform(reference_model, 2);
  reference_model.train();
  forward_backward(reference_model);

  M model;
  init::reference_uniform(model, 2);
  model.train();
  const std::size_t frozen = freeze_up_to(model, "block");
  CHECK(frozen == find_layer<Net, In>("block")->parameter_offset + find_layer<Net, In>("block")->parameter_count);
  CHECK(model.trainable_from() == frozen);

  CountBackward::calls = 0;
  forward_backward(model);
  CHECK(CountBackward::calls == 0);  // stem, count, pool and block are not run backward
  const auto gradients = model.gradients();
  for (std::size_t i = 0; i < frozen; ++i) REQUIRE(gradients[i] == 0.0);
  CHECK(max_difference(gradients.subspan(frozen), reference_model.gradients().subspan(frozen)) == 0.0);

  // SGD stepping the model leaves the frozen prefix as it was.
  const std::vector<double> before(model.parameters().begin(), model.parameters().end());
  optim::SGD<double> sgd(M::parameter_count, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01});
  sgd.step(model);
  for (std::size_t i = 0; i < frozen; ++i) REQUIRE(model.parameters()[i] == before[i]);
  CHECK(model.parameters()[frozen] != before[frozen]);

  // With the input gradient wanted, frozen layers run backward (for dx) but still write no
  // parameter gradient; dx is the unfrozen model's.
  reference_model.compute_input_gradient(true);
  forward_backward(reference_model);
  model.compute_input_gradient(true);
  std::copy(reference_model.parameters().begin(), reference_model.parameters().end(), model.parameters().begin());
  std::fill(model.gradients().begin(), model.gradients().end(), std::numeric_limits<double>::quiet_NaN());
  CountBackward::calls = 0;
  forward_backward(model);
  CHECK(CountBackward::calls == 1);
  for (std::size_t i = 0; i < frozen; ++i) REQUIRE(std::isnan(model.gradients()[i]));
  CHECK(max_difference(model.gradients().subspan(frozen), reference_model.gradients().subspan(frozen)) == 0.0);
  CHECK(max_difference(model.input_gradient(), reference_model.input_gradient()) == 0.0);

  // Frozen through "pool" only: block runs backward but nothing below it does.
  model.compute_input_gradient(false);
  freeze_up_to(model, "pool");
  CountBackward::calls = 0;
  forward_backward(model);
  CHECK(CountBackward::calls == 0);

  unfreeze(model);
  CHECK(model.trainable_from() == 0);
  forward_backward(model);
  CHECK(CountBackward::calls == 1);

  CHECK_THROWS_AS(freeze_up_to(model, "inception4e"), Error);
  CHECK_THROWS_AS(model.set_trainable_from(M::parameter_count + 1), Error);
}

TEST_CASE("record_output_of and features_of read a named layer's output") {
  M model;
  init::reference_uniform(model, 2);

  // avgpool's 4 features per image: fc(features) is the network's output (dropout is off in eval).
  const std::span<const double> features = features_of(model, "avgpool", kImages);
  REQUIRE(features.size() == kBatch * 4);
  const auto fc = find_layer<Net, In>("fc");
  const std::span<const double> w = model.parameters().subspan(fc->parameter_offset, 20);
  const std::span<const double> b = model.parameters().subspan(fc->parameter_offset + 20, 5);
  for (std::size_t n = 0; n < kBatch; ++n)
    for (std::size_t o = 0; o < 5; ++o) {
      double y = b[o];
      for (std::size_t i = 0; i < 4; ++i) y += w[o * 4 + i] * features[n * 4 + i];
      CHECK(model.output()[n * 5 + o] == doctest::Approx(y).epsilon(1e-14));
    }

  // The root and the last layer are the output.
  model.record_output_of("fc");
  model.forward(kImages);
  CHECK(max_difference(model.recorded_output(), model.output()) == 0.0);

  // A convolution recorded before the in-place ReLU that follows it overwrites its output.
  model.record_output_of("stem.conv");
  model.forward(kImages);
  const std::vector<double> conv(model.recorded_output().begin(), model.recorded_output().end());
  model.record_output_of("stem");
  model.forward(kImages);
  const std::span<const double> relu = model.recorded_output();
  REQUIRE(relu.size() == conv.size());
  bool any_negative = false;
  for (std::size_t i = 0; i < conv.size(); ++i) {
    any_negative = any_negative || conv[i] < 0;
    REQUIRE(relu[i] == std::max(conv[i], 0.0));
  }
  CHECK(any_negative);

  // A branch of the Inception block is its channel slice of the block's output.
  model.record_output_of("block");
  model.forward(kImages);
  const std::vector<double> block(model.recorded_output().begin(), model.recorded_output().end());
  model.record_output_of("block.branch2");
  model.forward(kImages);
  const std::span<const double> branch = model.recorded_output();
  REQUIRE(branch.size() == kBatch * 2 * 16);
  for (std::size_t n = 0; n < kBatch; ++n)
    for (std::size_t i = 0; i < 32; ++i) REQUIRE(branch[n * 32 + i] == block[n * 128 + 32 + i]);

  // The auxiliary head runs in training mode only.
  model.record_output_of("aux");
  model.forward(kImages);
  CHECK_THROWS_AS(model.recorded_output(), Error);
  model.train();
  model.forward(kImages);
  CHECK(max_difference(model.recorded_output(), model.aux_output(0)) == 0.0);

  // Recording stops, and unknown layers are reported.
  model.record_output_of("");
  model.forward(kImages);
  CHECK_THROWS_AS(model.recorded_output(), Error);
  CHECK_THROWS_AS(model.record_output_of("inception4e"), Error);
}

TEST_CASE("disable_dropout: training without dropout is evaluation's forward and Identity's backward") {
  using WithDropout = Sequential<Linear<6, 5>, ReLU, Dropout<50>, Linear<5, 3>>;
  using WithoutDropout = Sequential<Linear<6, 5>, ReLU, Identity, Linear<5, 3>>;
  Model<WithDropout, Features<6>, double> a;
  Model<WithoutDropout, Features<6>, double> b;
  init::reference_uniform(a, 8);
  init::reference_uniform(b, 8);
  const std::vector<double> x = reference_values("x", 4 * 6), dy = reference_values("dy3", 4 * 3);

  a.train();
  const std::span<const double> first = a.forward(x);
  const std::vector<double> dropped(first.begin(), first.end());
  a.disable_dropout(true);
  CHECK(a.dropout_disabled());
  a.compute_input_gradient(true);
  a.forward(x);
  a.backward(dy);
  b.train();
  b.compute_input_gradient(true);
  const std::span<const double> kept = b.forward(x);
  CHECK(max_difference(a.output(), kept) == 0.0);
  CHECK(max_difference(a.output(), dropped) > 0.0);  // the first forward did drop
  b.backward(dy);
  CHECK(max_difference(a.gradients(), b.gradients()) == 0.0);
  CHECK(max_difference(a.input_gradient(), b.input_gradient()) == 0.0);
}

TEST_CASE("input_gradient needs compute_input_gradient before the training forward") {
  M model;
  init::reference_uniform(model, 2);
  model.train();
  forward_backward(model);
  CHECK_THROWS_AS(model.input_gradient(), Error);
  model.compute_input_gradient(true);
  forward_backward(model);
  CHECK(model.input_gradient().size() == kImages.size());
}

TEST_CASE("backward follows the forward's dropout, whatever disable_dropout says in between") {
  using Drop = Model<Dropout<50>, Shape<1, 4, 4>, double>;
  Drop model;
  model.train();
  model.compute_input_gradient(true);
  model.seed(9);
  const std::vector<double> ones(2 * 16, 1.0);
  const std::span<const double> dropped = model.forward(ones);  // the mask times 1 / (1 - p)
  const std::vector<double> mask(dropped.begin(), dropped.end());
  model.disable_dropout(true);
  model.backward(ones);
  CHECK(max_difference(model.input_gradient(), mask) == 0.0);  // the forward dropped: the mask
  model.forward(ones);
  model.disable_dropout(false);
  model.backward(ones);
  CHECK(max_difference(model.input_gradient(), ones) == 0.0);  // the forward passed through
}

TEST_CASE("Dropout in training drops a binomial fraction p, scales what it keeps by 1/(1 - p), and backward uses that mask") {
  // Every element is dropped independently with probability p: the dropped count of n elements
  // is Binomial(n, p), mean n p, standard deviation sqrt(n p (1 - p)) (~89 of 32768 at p = 0.4).
  // Five standard deviations: a correct kernel fails with probability below 1e-6 (and the seeds
  // are fixed); a wrong rate, or a scale other than 1/(1 - p), fails every time.
  const auto check = [&]<std::size_t Percent, class T>(std::uint64_t seed) {
    using In = Shape<4, 32, 32>;
    const double p = Percent / 100.0;
    CAPTURE(Percent);
    CAPTURE(seed);
    Model<Dropout<Percent>, In, T> model;
    model.train();
    model.compute_input_gradient(true);
    model.seed(seed);
    const std::vector<T> x(8 * In::size, T(1));
    const std::span<const T> y = model.forward(x);
    std::size_t dropped = 0;
    for (const T v : y) {
      if (v == T(0)) {
        ++dropped;
      } else {
        REQUIRE(v == doctest::Approx(1.0 / (1.0 - p)).epsilon(std::is_same_v<T, float> ? 1e-6 : 1e-14));
      }
    }
    const double n = static_cast<double>(y.size());
    const double sigma = std::sqrt(n * p * (1 - p));
    MESSAGE("Dropout<" << Percent << ">: dropped " << dropped << " of " << y.size() << ", expected " << n * p << " +- "
                       << sigma);
    CHECK(std::abs(static_cast<double>(dropped) - n * p) <= 5 * sigma);
    // dL/dx = dL/dy * mask: with dy = 1 the input gradient is the output itself.
    const std::vector<T> output(y.begin(), y.end());
    model.backward(std::vector<T>(output.size(), T(1)));
    CHECK(max_difference(std::vector<double>(model.input_gradient().begin(), model.input_gradient().end()),
                         std::vector<double>(output.begin(), output.end())) == 0.0);
    // The next forward draws a new mask; reseeding repeats the first.
    const std::span<const T> next = model.forward(x);
    const std::vector<T> second(next.begin(), next.end());
    CHECK(second != output);
    model.seed(seed);
    const std::span<const T> again = model.forward(x);
    CHECK(std::vector<T>(again.begin(), again.end()) == output);
  };
  check.template operator()<40, float>(123);
  check.template operator()<40, float>(9);
  check.template operator()<20, float>(5);
  check.template operator()<70, double>(77);
}
