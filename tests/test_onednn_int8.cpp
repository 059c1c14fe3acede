// int8 inference on the oneDNN backend: post-training quantisation calibrated on images, layer by
// layer against the Eigen reference's f32 (Conv, ConvTranspose2d, Linear, u8 hand-offs through
// pooling and Inception's Concat, folded batch norms), the errors of a model not calibrated or in
// training, and on Fashion-MNIST: FashionInception's test accuracy, and torchvision's GoogLeNet,
// trained here for a few hundred steps, keeping its top-1 on the shipped example images. (GoogLeNet
// with the reference's random weights, against PyTorch, is in test_onednn.cpp.)
//
// Without oneDNN (not found at configure time) the test says so and exits 77, before doctest
// starts (support/onednn_skip.hpp).

#include <doctest/doctest.h>

#include "support/onednn_skip.hpp"   // exits 77 (skipped) without oneDNN
#if defined(CTNN_WITH_ONEDNN)

#include <cmath>        // std::abs, std::floor
#include <cstdint>      // std::int64_t, std::uint64_t, std::uint8_t
#include <filesystem>   // std::filesystem::path
#include <limits>       // std::numeric_limits
#include <random>       // std::mt19937
#include <span>         // std::span
#include <string>       // std::string
#include <vector>       // std::vector

#include <ctnn/ctnn.hpp>                       // layers, ctnn::Model, named_tensors, count_correct, predicted_classes
#include <ctnn/data/batcher.hpp>               // ctnn::data::BatchLoader
#include <ctnn/data/fashion_mnist.hpp>         // ctnn::data::load_fashion_mnist
#include <ctnn/io/image.hpp>                   // ctnn::image::load, grayscale_preprocess
#include <ctnn/io/weights.hpp>                 // ctnn::load_weights
#include <ctnn/models/fashion_inception.hpp>   // ctnn::FashionInception
#include <ctnn/models/resnet.hpp>              // ctnn::torchvision::BasicBlock
#include <ctnn/onednn.hpp>                     // ctnn::OneDnn
#include <ctnn/optim/sgd.hpp>                  // ctnn::optim::SGD

#include "support/onednn_pair.hpp"   // ctnn::test::Pair, FastModel
#include "support/reference.hpp"     // ctnn::test::relative_error, normwise_error
#include "support/skip.hpp"          // ctnn::test::dataset_available

using namespace ctnn;
using onednn::Precision;
using test::FastModel;
using test::Pair;

namespace {
// Conv + ReLU (u8 input after it), a depthwise Conv with bias, a grouped Conv (s8 inputs: no
// ReLU before them), Flatten, Linear.
using QuantisedNet = Sequential<Conv<3, 8, 3, 1, 1>, ReLU, Conv<8, 8, 3, 1, 1, true, 8>, Conv<8, 8, 1, 1, 0, true, 2>,
                                Flatten, Linear<8 * 8 * 8, 5>>;
using QuantisedIn = Shape<3, 8, 8>;
std::vector<float> random_images(std::size_t count, std::uint64_t seed) {
  std::vector<float> images(count * QuantisedIn::size);
  const std::int64_t shape[] = {static_cast<std::int64_t>(count), 3, 8, 8};
  reference_uniform_fill<float>("input", shape, 0, seed, images);
  return images;
}
// The reference's f32 output on `images`; then the fast model calibrated on them (`batch` at a
// time), set to int8 and checked against it: within 4% normwise, and not equal (it did quantise).
template <class Net, class In = QuantisedIn>
std::vector<float> int8_follows_f32(Pair<Net, In>& pair, const std::vector<float>& images, const char* what,
                                    std::size_t batch = 64) {
  const auto out = pair.reference.forward(images);
  std::vector<float> expected(out.begin(), out.end());
  pair.fast.calibrate(images, batch);
  CHECK(pair.fast.precision() == Precision::f32);
  REQUIRE(pair.fast.set_precision(Precision::int8) == Precision::int8);
  const std::span<const float> output = pair.fast.forward(images);
  const double error = test::normwise_error(output, std::span<const float>(expected));
  MESSAGE(std::string(what) << " against f32: normwise error " << error << ", largest difference "
               << test::relative_error(output, std::span<const float>(expected)) << " of the largest");
  CHECK(error <= 4e-2);
  CHECK(error > 0);
  return expected;
}
}  // namespace

TEST_CASE("int8: Conv (fused ReLU, depthwise, grouped) and Linear calibrated on random images follow f32") {
  Pair<QuantisedNet, QuantisedIn> pair(5);
  const std::vector<float> images = random_images(32, 5);
  // Each quantised layer adds about 0.5% of noise (a step of max / 127 or / 255 on its input and
  // of max |w| / 127 on each weight), about 1% without int8 dot products (7-bit weights); four of
  // them here: 2% and 3% measured.
  const std::vector<float> expected = int8_follows_f32(pair, images, "int8", 12);  // batches of 12, 12 and 8
  CHECK(std::string(onednn::precision_name(pair.fast.precision())) == "int8");

  SUBCASE("weights changed after calibration are quantised again") {
    // The Linear's weights, scaled per output: its input's range is unchanged.
    constexpr std::size_t linear = QuantisedNet::parameter_count - (8 * 8 * 8 + 1) * 5;
    for (std::size_t i = linear; i < linear + 8 * 8 * 8 * 5; ++i) {
      const float factor = i < linear + 8 * 8 * 8 ? -3.0f : 0.5f;
      pair.reference.parameters()[i] *= factor;
      pair.fast.parameters()[i] *= factor;
    }
    CHECK(test::normwise_error(pair.fast.forward(images), pair.reference.forward(images)) <= 4e-2);
  }
  SUBCASE("and back to f32") {
    pair.fast.set_precision(Precision::f32);
    CHECK(test::relative_error(pair.fast.forward(images), std::span<const float>(expected)) <= 1e-5);
  }
}

TEST_CASE("int8: ConvTranspose2d (deconvolution, u8 input after a ReLU, s8 without) calibrated on random images follows f32") {
  // 8x8 -> 16x16 -> 31x31; three quantised layers.
  using Net = Sequential<Conv<3, 8, 3, 1, 1>, ReLU, ConvTranspose2d<8, 4, 4, 2, 1>, ConvTranspose2d<4, 3, 3, 2, 1, 0, false>>;
  Pair<Net, QuantisedIn> pair(6);
  const std::vector<float> images = random_images(16, 6);
  int8_follows_f32(pair, images, "int8 ConvTranspose2d");
}

TEST_CASE("int8: u8 hand-offs from Conv + ReLU through max pooling and Inception's Concat follow f32") {
  // 8x8 -> conv 16 -> pool 4x4 -> Inception (40) -> pool 2x2 -> Inception (40) -> average -> Linear.
  using Net = Sequential<BasicConv2d<3, 16, 3, 1, 1>, MaxPool<2, 2>, Inception<16, 8, 8, 16, 4, 8, 8>, MaxPool<2, 2>,
                         Inception<40, 8, 8, 16, 4, 8, 8>, AdaptiveAvgPool<1>, Flatten, Linear<40, 5>>;
  Pair<Net, QuantisedIn> pair(7);
  const std::vector<float> images = random_images(32, 7);
  const std::vector<float> expected = int8_follows_f32(pair, images, "int8 with u8 hand-offs");
  // u8 out: the first conv and pool; the first Inception's six convs, its branch pool and its
  // Concat; the pool after it; the second Inception's two reducing convs and its branch pool. The
  // average pooling reads f32, so the second Concat writes f32, and so do the four convs that end
  // its branches.
  CHECK(pair.fast.quantised_hand_offs() == 14);

  SUBCASE("a recorded layer's output is written in f32") {
    pair.reference.record_output_of("2.branch2");
    pair.fast.record_output_of("2.branch2");
    pair.reference.forward(images);
    CHECK(test::normwise_error(pair.fast.forward(images), std::span<const float>(expected)) <= 4e-2);
    // The recorded branch writes f32, so its Concat does and then every branch of that Inception;
    // the pool after it reads f32. u8 out: conv, pool, the first Inception's two reducing convs
    // and branch pool, the second's two reducing convs.
    CHECK(pair.fast.quantised_hand_offs() == 7);
    CHECK(test::normwise_error(pair.fast.recorded_output(), pair.reference.recorded_output()) <= 4e-2);
  }
  SUBCASE("one image at a time, and back to f32") {
    CHECK(test::normwise_error(pair.fast.forward(std::span<const float>(images).first(QuantisedIn::size)),
                               std::span<const float>(expected).first(5)) <= 4e-2);
    pair.fast.set_precision(Precision::f32);
    CHECK(test::relative_error(pair.fast.forward(images), std::span<const float>(expected)) <= 1e-5);
    CHECK(pair.fast.quantised_hand_offs() == 0);
  }
}

TEST_CASE("int8: a Conv + ReLU read by layers that take f32 (batch norm, Flatten of an image) writes f32") {
  using Net = Sequential<BasicConv2d<3, 8, 3, 1, 1>, BatchNorm<8>, ReLU, BasicConv2d<8, 8, 3, 1, 1>, Flatten,
                         Linear<8 * 8 * 8, 5>>;
  Pair<Net, QuantisedIn> pair(8);
  const std::vector<float> images = random_images(16, 8);
  int8_follows_f32(pair, images, "int8");
  CHECK(pair.fast.quantised_hand_offs() == 0);
}

// A Sum's first branch writes the sum's output, to which the others are added in f32: a Conv +
// ReLU ending that branch must write f32 there, not a u8 hand-off. The second Sum's ReLU after
// it runs in the same pass as its last addition (residual_relu.hpp).
TEST_CASE("int8: a Sum whose first branch ends in Conv + ReLU, with and without a ReLU after it, follows f32") {
  using Branch = Sequential<Conv<8, 8, 3, 1, 1>, ReLU>;
  using Net = Sequential<Conv<3, 8, 3, 1, 1>, Sum<Branch, Identity>, Sum<Branch, Identity>, ReLU, Flatten,
                         Linear<8 * 8 * 8, 5>>;
  Pair<Net, QuantisedIn> pair(9);
  const std::vector<float> images = random_images(16, 9);
  int8_follows_f32(pair, images, "int8 Sum");
  CHECK(pair.fast.quantised_hand_offs() == 0);
  CHECK(pair.fast.fused_sum_relus() == 1);
}

// ResNet's blocks: each ends in a Residual + ReLU in one pass (residual_relu.hpp), whose output is
// a u8 hand-off read by the next block's convolutions and added from by its identity shortcut.
// 32x32 images, so a block's output (16 images of 8 x 32 x 32 values) is converted to u8 in place
// over several ranges run on all threads (add_relu_int8).
TEST_CASE("int8: ResNet's blocks hand u8 from block to block, the residual added from u8, and follow f32") {
  using Net = Sequential<torchvision::BasicConv2d<3, 8, 3, 1, 1>, torchvision::BasicBlock<8, 8, 1>,
                         torchvision::BasicBlock<8, 16, 2>, torchvision::BasicBlock<16, 16, 1>, AdaptiveAvgPool<1>,
                         Flatten, Linear<16, 5>>;
  using In = Shape<3, 32, 32>;
  Pair<Net, In> pair(11);
  test::scale_running_variances(pair, 1.7f);
  std::vector<float> images(16 * In::size);
  const std::int64_t shape[] = {16, 3, 32, 32};
  reference_uniform_fill<float>("input", shape, 0, 11, images);
  int8_follows_f32(pair, images, "int8 ResNet blocks");
  CHECK(pair.fast.fused_sum_relus() == 3);
  // u8 out: the stem; each block's first convolution; the first two blocks' sums + ReLU (the
  // third's is read by the average pooling, in f32). The stem's output is the first block's
  // identity shortcut, the first block's the second's downsampling convolution's input, the
  // second's the third's identity shortcut.
  CHECK(pair.fast.quantised_hand_offs() == 6);
  SUBCASE("one image at a time (a single range)") {
    const auto expected = pair.reference.forward(std::span<const float>(images).first(In::size));
    CHECK(test::normwise_error(pair.fast.forward(std::span<const float>(images).first(In::size)), expected) <= 4e-2);
  }
}

// The sum + ReLU written as u8 codes: AVX-512, where it runs, gives the scalar loop's codes
// (round to nearest even, saturated at 255, negative and NaN to 0), also in place over the f32
// input's own bytes.
TEST_CASE("int8: a sum + ReLU's u8 codes are the same with AVX-512 and without, in place too") {
  constexpr std::size_t count = 1000;
  std::vector<float> body(count);
  std::vector<std::uint8_t> shortcut(count);
  std::mt19937 generator(12);
  std::uniform_real_distribution<float> uniform(-40.f, 300.f);
  for (std::size_t i = 0; i < count; ++i) {
    body[i] = i % 7 == 0 ? std::floor(uniform(generator)) + 0.5f : uniform(generator);  // ties at .5
    shortcut[i] = static_cast<std::uint8_t>(generator() % 256);
  }
  body[3] = std::numeric_limits<float>::quiet_NaN();
  body[4] = std::numeric_limits<float>::infinity();
  body[5] = -std::numeric_limits<float>::infinity();
  const float shortcut_scale = 0.25f, inverse_scale = 2.0f;
  std::vector<std::uint8_t> scalar(count), vector(count);
  for (std::size_t i = 0; i < count; ++i)
    scalar[i] = onednn::detail::u8_code(onednn::detail::sum_relu_value(body[i], shortcut[i], shortcut_scale), inverse_scale);
  CHECK(scalar[3] == 0);
  CHECK(scalar[4] == 255);
  CHECK(scalar[5] == 0);
  onednn::detail::sum_relu_u8(body.data(), shortcut.data(), shortcut_scale, inverse_scale, vector.data(), 0, count);
  CHECK(vector == scalar);
  std::vector<float> in_place = body;
  auto* codes = reinterpret_cast<std::uint8_t*>(in_place.data());
  onednn::detail::sum_relu_u8(in_place.data(), shortcut.data(), shortcut_scale, inverse_scale, codes, 0, count);
  CHECK(std::vector<std::uint8_t>(codes, codes + count) == scalar);
  MESSAGE("AVX-512 kernels: " << std::string(onednn::avx512_kernels_supported() ? "yes" : "no (the scalar loop only)"));
}

TEST_CASE("Conv + BatchNorm + ReLU (torchvision's BasicConv2d) fold into one convolution in evaluation, and in int8 hand u8 on") {
  // 8x8 -> BasicConv2d 16 -> pool 4x4 -> Inception (40) -> average -> Linear: seven triples.
  using Net = Sequential<torchvision::BasicConv2d<3, 16, 3, 1, 1>, MaxPool<2, 2>, torchvision::Inception<16, 8, 8, 16, 4, 8, 8>,
                         AdaptiveAvgPool<1>, Flatten, Linear<40, 5>>;
  Pair<Net, QuantisedIn> pair(9);
  // Running statistics and affine parameters far from the identity, alike in both models.
  std::mt19937 generator(9);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  for (const NamedTensor& t : named_tensors<Net, QuantisedIn>()) {
    const bool mean = t.name.ends_with("running_mean"), var = t.name.ends_with("running_var");
    const bool gamma = t.name.ends_with("bn.weight"), beta = t.name.ends_with("bn.bias");
    if (!mean && !var && !gamma && !beta) continue;
    std::span<float> fast = t.role == TensorRole::buffer ? pair.fast.buffers() : pair.fast.parameters();
    std::span<float> reference = t.role == TensorRole::buffer ? pair.reference.buffers() : pair.reference.parameters();
    for (std::size_t i = t.offset; i < t.offset + t.count; ++i)
      reference[i] = fast[i] = var ? 0.2f + 2.0f * uniform(generator) : gamma ? 0.5f + uniform(generator) : uniform(generator) - 0.5f;
  }
  const std::vector<float> images = random_images(16, 9);
  const auto f32_error = [&] {
    return test::relative_error(pair.fast.forward(images), pair.reference.forward(images));
  };
  CHECK(f32_error() <= 1e-5);
  CHECK(pair.fast.folded_batch_norms() == 7);

  SUBCASE("running statistics written on the host are folded again") {
    test::scale_running_variances(pair, 3.0f);
    CHECK(f32_error() <= 1e-5);
  }
  SUBCASE("a recorded Conv output keeps its triple apart") {
    pair.reference.record_output_of("2.branch2.1.conv");
    pair.fast.record_output_of("2.branch2.1.conv");
    CHECK(f32_error() <= 1e-5);
    CHECK(pair.fast.folded_batch_norms() == 6);
    CHECK(test::relative_error(pair.fast.recorded_output(), pair.reference.recorded_output()) <= 1e-5);
  }
  SUBCASE("a recorded batch norm output: its Conv + BatchNorm still fold (that is its output), the ReLU apart") {
    pair.reference.record_output_of("2.branch2.1.bn");
    pair.fast.record_output_of("2.branch2.1.bn");
    CHECK(f32_error() <= 1e-5);
    CHECK(pair.fast.folded_batch_norms() == 7);
    CHECK(test::relative_error(pair.fast.recorded_output(), pair.reference.recorded_output()) <= 1e-5);
  }
  SUBCASE("training normalises with the batch's statistics: nothing folds") {
    pair.reference.train();
    pair.fast.train();
    CHECK(f32_error() <= 1e-5);
    CHECK(pair.fast.folded_batch_norms() == 0);
  }
  SUBCASE("int8: each folded convolution writes u8 for the max pooling, Concat or Conv after it") {
    int8_follows_f32(pair, images, "int8 with folded batch norms");
    // u8 out: the stem and its pool; the Inception's six convs, its branch pool and its Concat
    // would, but the average pooling reads f32: its Concat and the four convs ending its branches
    // write f32. Left: the stem, the pool, the two reducing convs and the branch pool.
    CHECK(pair.fast.quantised_hand_offs() == 5);
  }
}

TEST_CASE("int8: without calibration, and in training, a clear error and nothing changes") {
  FastModel<QuantisedNet, QuantisedIn> model;
  init::reference_uniform(model, 3);
  const std::vector<float> images = random_images(4, 3);
  CHECK_THROWS_WITH_AS(model.set_precision(Precision::int8), doctest::Contains("calibrate first"), Error);
  CHECK(model.precision() == Precision::f32);
  CHECK(!model.calibrated());
  std::vector<float> wrong(QuantisedIn::size + 1);
  CHECK_THROWS_AS(model.calibrate(wrong), Error);
  CHECK(!model.calibrated());

  model.calibrate(images);
  CHECK(model.calibrated());
  REQUIRE(model.set_precision(Precision::int8) == Precision::int8);
  const std::vector<float> logits = [&] {
    const auto out = model.forward(images);
    return std::vector<float>(out.begin(), out.end());
  }();
  model.train();
  CHECK_THROWS_WITH_AS(model.forward(images), doctest::Contains("int8 is for inference only"), Error);
  model.eval();
  CHECK(test::relative_error(model.forward(images), std::span<const float>(logits)) == 0);

  // A training forward in f32, then int8: its backward is refused too.
  model.set_precision(Precision::f32);
  model.train();
  model.forward(images);
  model.set_precision(Precision::int8);
  const std::vector<float> gradient(4 * 5, 0.1f);
  CHECK_THROWS_WITH_AS(model.backward(gradient), doctest::Contains("int8 is for inference only"), Error);
  CHECK(model.precision() == Precision::int8);
}

TEST_CASE("int8: FashionInception's shipped weights keep their Fashion-MNIST test accuracy within 0.5 point" *
          doctest::test_suite("dataset")) {
  const std::filesystem::path directory = data::default_fashion_mnist_directory();
  if (!test::dataset_available(directory, "dataset-fashion-mnist")) return;
  FastModel<FashionInception, FashionInput> model;
  load_weights(model, std::filesystem::path(CTNN_SOURCE_DIR) / "examples/data/fashion_inception.safetensors");
  model.eval();
  const data::Dataset test_set = data::load_fashion_mnist(directory, data::Split::test);
  const auto accuracy = [&] {
    data::BatchLoader loader(test_set, 500, /*shuffle=*/false, 0);
    std::size_t correct = 0;
    while (auto batch = loader.next()) correct += count_correct(model.forward(batch->images), batch->labels, 10);
    return 100.0 * static_cast<double>(correct) / static_cast<double>(test_set.count);
  };
  const double f32 = accuracy();
  // Calibrated on 512 training images, in the order of the file.
  const data::Dataset train_set = data::load_fashion_mnist(directory, data::Split::train);
  data::BatchLoader calibration(train_set, 512, /*shuffle=*/false, 0);
  model.calibrate(calibration.next()->images);
  REQUIRE(model.set_precision(Precision::int8) == Precision::int8);
  const double int8 = accuracy();
  MESSAGE("Fashion-MNIST test accuracy: f32 " << f32 << "%, int8 " << int8 << "% (" << onednn::isa_name() << ")");
  CHECK(f32 > 91.0);
  CHECK(std::abs(int8 - f32) <= 0.5);
}

namespace {
// torchvision's GoogLeNet on Fashion-MNIST: 32x32 is the smallest square image its pools take
// (maxpool4 gets 2x2). A normalised 28x28 image goes in the middle, 2 pixels of background
// around it, the same in each of the 3 channels.
using FashionGoogLeNet = TorchvisionGoogLeNet<10, false, false>;
using FashionGoogLeNetInput = Shape<3, 32, 32>;
std::vector<float> googlenet_input(std::span<const float> images_28x28, float background) {
  constexpr std::size_t side = 28, pad = 2, wide = FashionGoogLeNetInput::width;
  const std::size_t count = images_28x28.size() / (side * side);
  std::vector<float> wider(count * FashionGoogLeNetInput::size, background);
  for (std::size_t n = 0; n < count; ++n)
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t y = 0; y < side; ++y)
        for (std::size_t x = 0; x < side; ++x)
          wider[n * FashionGoogLeNetInput::size + (c * wide + y + pad) * wide + x + pad] =
              images_28x28[(n * side + y) * side + x];
  return wider;
}
}  // namespace

// No GoogLeNet trained on ImageNet can be fetched where these tests run, and random weights give
// no top-1 worth keeping on these images; so the test trains one: 300 steps of 64 images (about
// 30 s on 2 cores), enough for about 80% on the test set and confident logits.
TEST_CASE("int8: GoogLeNet (torchvision's) trained on Fashion-MNIST keeps its top-1 on the shipped images, and its test "
          "accuracy within 0.5 point" *
          doctest::test_suite("dataset")) {
  const std::filesystem::path directory = data::default_fashion_mnist_directory();
  if (!test::dataset_available(directory, "dataset-fashion-mnist")) return;
  const data::Dataset train_set = data::load_fashion_mnist(directory, data::Split::train);
  const data::Dataset test_set = data::load_fashion_mnist(directory, data::Split::test);
  const float background = data::Normalization{}(0);

  FastModel<FashionGoogLeNet, FashionGoogLeNetInput> model;
  init::pytorch_default(model, 1);
  // The learning rate falls linearly to 0: the last steps settle the weights and batch norm's
  // running statistics, so that the result varies little with the CPU's rounding (measured 78-80%
  // with oneDNN on AVX-512 and on AVX2, where a constant 0.05 gave 77% and 63%).
  constexpr int steps = 300;
  constexpr double learning_rate = 0.02;
  optim::SGD<float> sgd(model.parameter_count, {.lr = learning_rate, .momentum = 0.9});
  data::BatchLoader loader(train_set, 64, /*shuffle=*/true, 7, data::Augmentation::none(), /*drop_last=*/true);
  model.train();
  std::vector<float> dlogits;
  for (int step = 0; step < steps; ++step) {
    const auto batch = loader.next();
    REQUIRE(batch);
    const std::span<const float> logits = model.forward(googlenet_input(batch->images, background));
    dlogits.resize(logits.size());
    cross_entropy<float>(logits, batch->labels, 10, dlogits);
    model.backward(dlogits);
    sgd.set_learning_rate(learning_rate * (1.0 - static_cast<double>(step) / steps));
    sgd.step(model);
  }
  model.eval();

  const auto accuracy = [&] {
    data::BatchLoader test_loader(test_set, 500, /*shuffle=*/false, 0);
    std::size_t correct = 0;
    while (auto batch = test_loader.next())
      correct += count_correct(model.forward(googlenet_input(batch->images, background)), batch->labels, 10);
    return 100.0 * static_cast<double>(correct) / static_cast<double>(test_set.count);
  };
  // The shipped images as ctnn-classify reads them (examples/classify/fashion_mnist.cpp).
  const std::filesystem::path examples = std::filesystem::path(CTNN_SOURCE_DIR) / "examples/data";
  std::vector<float> shipped;
  for (const char* file : {"fashion_mnist_0_ankle_boot.png", "fashion_mnist_1_pullover.png",
                           "fashion_mnist_2_trouser.png", "fashion_mnist_9_sneaker.png"}) {
    const std::vector<float> image = image::grayscale_preprocess(image::load(examples / file, 0), 28, 0.2860f, 0.3530f);
    shipped.insert(shipped.end(), image.begin(), image.end());
  }
  const std::vector<float> shipped_input = googlenet_input(shipped, background);
  // They are test images 0, 1, 2 and 9 (ankle boot, pullover, trouser, sneaker).
  const std::vector<std::int32_t> true_labels = {test_set.labels[0], test_set.labels[1], test_set.labels[2],
                                                 test_set.labels[9]};

  const double f32 = accuracy();
  const std::span<const float> f32_logits = model.forward(shipped_input);
  const std::vector<std::int32_t> f32_top1 = predicted_classes(f32_logits, 10);
  const std::vector<float> f32_shipped(f32_logits.begin(), f32_logits.end());

  data::BatchLoader calibration(train_set, 512, /*shuffle=*/false, 0);
  model.calibrate(googlenet_input(calibration.next()->images, background));
  REQUIRE(model.set_precision(Precision::int8) == Precision::int8);
  const double int8 = accuracy();
  const std::span<const float> int8_logits = model.forward(shipped_input);
  MESSAGE("GoogLeNet on Fashion-MNIST after " << steps << " steps: test accuracy f32 " << f32 << "%, int8 " << int8
          << "%; the shipped images' labels " << true_labels[0] << " " << true_labels[1] << " " << true_labels[2] << " "
          << true_labels[3] << ", f32 top-1 " << f32_top1[0] << " " << f32_top1[1] << " " << f32_top1[2] << " "
          << f32_top1[3] << "; int8 logits against f32: normwise error "
          << test::normwise_error(int8_logits, std::span<const float>(f32_shipped)) << " (" << onednn::isa_name() << ")");
  CHECK(f32 > 70.0);   // trained: the top-1 it keeps means something
  CHECK(count_correct(std::span<const float>(f32_shipped), true_labels, 10) >= 3);
  CHECK(count_correct(int8_logits, f32_top1, 10) == 4);
  CHECK(std::abs(int8 - f32) <= 0.5);
  CHECK(model.quantised_hand_offs() > 0);
}

#endif
