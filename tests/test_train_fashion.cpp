// Training infrastructure of ctnn-train-fashion-mnist (ctnn/train/*.hpp) and the FashionInception
// network:
//   * the network's static shape facts, and its shipped weights (examples/data/) on real test images
//   * resume is bit-exact: 2 epochs straight == 1 epoch + resume, and == a run stopped after every
//     batch and resumed each time
//   * a NaN loss stops the run and keeps the last good checkpoint, byte for byte
//   * checkpoints are written atomically: a failed write leaves the previous file
//   * a corrupt or missing data set file gives an error naming the file
//   * metrics CSV round trip, PNG plot, progress lines
// The training runs use a tiny Inception network on synthetic 28x28 images, so they take seconds.

#include <doctest/doctest.h>   // TEST_CASE, CHECK, REQUIRE, SUBCASE

#include <atomic>        // std::atomic
#include <algorithm>     // std::count
#include <cmath>         // std::isnan, std::isfinite
#include <csignal>       // std::signal, SIGXFSZ, SIG_IGN
#include <cstdint>       // std::uint8_t, std::uint64_t
#include <cstdio>        // std::tmpfile, std::fread, std::rewind
#include <cstring>       // std::memcmp
#include <filesystem>    // std::filesystem
#include <fstream>       // std::ifstream, std::ofstream
#include <iterator>      // std::istreambuf_iterator
#include <limits>        // std::numeric_limits
#include <random>        // std::mt19937_64
#include <span>          // std::span
#include <string>        // std::string
#include <type_traits>   // std::is_same_v
#include <vector>        // std::vector

#include <sys/resource.h>   // getrlimit, setrlimit, RLIMIT_FSIZE: simulating a full disk
#include <unistd.h>         // getpid

#include <ctnn/ctnn.hpp>                      // ctnn::Model, layers, CPU kernels
#include <ctnn/data/fashion_mnist.hpp>        // ctnn::data::Dataset, load_fashion_mnist
#include <ctnn/io/weights.hpp>                // ctnn::load_weights
#include <ctnn/models/fashion_inception.hpp>  // ctnn::FashionInception, ctnn::FashionInput
#include <ctnn/train/checkpoint.hpp>          // save_checkpoint, load_checkpoint
#include <ctnn/train/plot.hpp>                // plot_panels, encode_png
#include <ctnn/train/progress.hpp>            // ProgressBar, format_duration
#include <ctnn/train/trainer.hpp>             // Trainer

#include "support/skip.hpp"            // ctnn::test::dataset_available
#include "support/synthetic_set.hpp"   // ctnn::test::synthetic_set

using namespace ctnn;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp directory, removed with its contents at scope exit.
class TemporaryDirectory {
 public:
  explicit TemporaryDirectory(const std::string& name)
      : path_(fs::temp_directory_path() / ("ctnn_train_" + name + "_" + std::to_string(getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TemporaryDirectory() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<std::uint8_t> file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// An Inception network small enough to train in milliseconds, with batch norm and dropout (whose
// generator a resume must restore).
struct TinyInception
    : Composed<Sequential<Named<"conv1", torchvision::BasicConv2d<1, 8, 3, 2, 1>>,       // 8 x 14 x 14
                          Named<"maxpool1", MaxPool<2, 2>>,                                // 8 x 7 x 7
                          Named<"inception", torchvision::Inception<8, 4, 4, 8, 2, 4, 4>>, // 20 x 7 x 7
                          Named<"avgpool", AdaptiveAvgPool<1, 1>>, Flatten, Named<"dropout", Dropout<30>>,
                          Named<"fc", Linear<20, 10>>>> {
  static constexpr std::string_view type_name = "TinyInception";
};
using TinyModel = Model<TinyInception, FashionInput>;

// Noise images whose brightness is their class, so the tiny network learns something (and its
// global average pooling can see it).
data::Dataset synthetic_dataset(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  return test::synthetic_set(
      count, [&](std::size_t) { return generator() % 10; },
      [&](std::size_t, std::uint8_t label, std::span<std::uint8_t, 784> image) {
        for (std::uint8_t& pixel : image) pixel = static_cast<std::uint8_t>(20 * label + generator() % 64);
      });
}

train::TrainerOptions tiny_options(const fs::path& out) {
  train::TrainerOptions options;
  options.epochs = 2;
  options.batch = 32;
  options.lr = 0.1;
  options.warmup_epochs = 0.5;
  options.seed = 7;
  options.eval_batch = 100;
  options.out = out;
  options.log = nullptr;  // silent
  return options;
}

bool same_bits(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The network
// ---------------------------------------------------------------------------------------------

TEST_CASE("FashionInception: static shape facts") {
  static_assert(std::is_same_v<output_shape_t<FashionInception, FashionInput>, Features<10>>);
  static_assert(std::is_same_v<FashionInput, Shape<1, 28, 28>>);
  static_assert(parameter_count_v<FashionInception> == 280'418);
  static_assert(macs_v<FashionInception, FashionInput> == 15'695'744);
  // The stages: 28x28 -> conv2 /2 -> 14x14 -> maxpool1 -> 7x7, where the Inception blocks work.
  using Conv2Out = output_shape_t<torchvision::BasicConv2d<24, 64, 3, 2, 1>, Shape<24, 28, 28>>;
  static_assert(std::is_same_v<Conv2Out, Shape<64, 14, 14>>);
  static_assert(std::is_same_v<output_shape_t<torchvision::Inception<64, 64, 64, 96, 16, 32, 32>, Shape<64, 7, 7>>, Shape<224, 7, 7>>);
  static_assert(std::is_same_v<output_shape_t<torchvision::Inception<224, 96, 96, 144, 24, 48, 32>, Shape<224, 7, 7>>, Shape<320, 7, 7>>);
  CHECK(fashion_inception_labels.size() == 10);
  CHECK(fashion_inception_labels[9] == "Ankle boot");

  const std::vector<NamedTensor> tensors = named_tensors<FashionInception, FashionInput>();
  REQUIRE(!tensors.empty());
  CHECK(tensors.front().name == "conv1.conv.weight");
  CHECK(tensors.front().shape == std::vector<std::size_t>{24, 1, 3, 3});
  bool has_fc = false, has_branch = false;
  for (const NamedTensor& t : tensors) {
    has_fc = has_fc || (t.name == "fc.weight" && t.shape == std::vector<std::size_t>{10, 320});
    has_branch = has_branch || t.name == "inception3b.branch2.1.bn.running_var";
  }
  CHECK(has_fc);
  CHECK(has_branch);
}

TEST_CASE("FashionInception: a forward pass gives 10 scores per image") {
  Model<FashionInception, FashionInput> model;
  init::googlenet_seed(model, 1);
  model.eval();
  std::vector<float> images(3 * FashionInput::size, 0.5f);
  const auto logits = model.forward(images);
  REQUIRE(logits.size() == 30);
  for (float v : logits) CHECK(std::isfinite(v));
}

TEST_CASE("FashionInception: the shipped weights classify the real test set" * doctest::test_suite("dataset")) {
  const fs::path weights = fs::path(CTNN_SOURCE_DIR) / "examples/data/fashion_inception.safetensors";
  const fs::path data_directory = data::default_fashion_mnist_directory();
  if (!test::dataset_available(data_directory, "dataset-fashion-mnist")) return;
  Model<FashionInception, FashionInput> model;
  const LoadReport report = load_weights(model, weights);
  CHECK(report.metadata.at("ctnn.network") == "FashionInception");
  data::Dataset test = data::load_fashion_mnist(data_directory, data::Split::test);
  test.count = 2000;  // the first 2000 images keep the test quick
  test.images.resize(test.count * test.image_size());
  test.labels.resize(test.count);
  const auto [loss, accuracy] = train::evaluate(model, test);
  MESSAGE("shipped weights: accuracy " << 100 * accuracy << "% on the first 2000 test images, loss " << loss);
  CHECK(accuracy > 0.91);
}

// ---------------------------------------------------------------------------------------------
// Resume
// ---------------------------------------------------------------------------------------------

TEST_CASE("Trainer: 2 epochs straight and 1 epoch + resume give bit-identical weights") {
  const data::Dataset train_set = synthetic_dataset(512, 1), test_set = synthetic_dataset(200, 2);
  TemporaryDirectory straight_dir("straight"), resumed_dir("resumed"), stepwise_dir("stepwise");

  for (const train::OptimizerKind optimizer : {train::OptimizerKind::sgd, train::OptimizerKind::adamw}) {
    for (const train::ScheduleKind schedule : {train::ScheduleKind::cosine, train::ScheduleKind::step}) {
      CAPTURE(train::optimizer_name(optimizer));
      CAPTURE(train::schedule_name(schedule));
      train::TrainerOptions options = tiny_options(straight_dir.path());
      options.optimizer = optimizer;
      options.schedule = schedule;
      options.lr = optimizer == train::OptimizerKind::sgd ? 0.1 : 0.01;

      TinyModel straight;
      train::Trainer<TinyModel> straight_trainer(straight, train_set, test_set, options);
      straight_trainer.start();
      const train::RunResult straight_result = straight_trainer.run();
      REQUIRE(straight_result.status == train::RunStatus::completed);
      REQUIRE(straight_trainer.history().size() == 2);
      CHECK(straight_trainer.history()[1].train_loss < straight_trainer.history()[0].train_loss);  // it learns

      // One epoch, stopped by the flag after it, then a fresh process-like model resumes.
      options.out = resumed_dir.path();
      {
        TinyModel first;
        std::atomic<bool> stop{false};
        train::Trainer<TinyModel> trainer(first, train_set, test_set, options);
        trainer.start();
        trainer.on_epoch = [&](const train::EpochMetrics&) { stop = true; };
        const train::RunResult result = trainer.run(&stop);
        CHECK(result.status == train::RunStatus::interrupted);
        CHECK(result.epochs_completed == 1);
      }
      TinyModel resumed;
      init::googlenet_seed(resumed, 999);  // different weights: the checkpoint must replace them
      train::Trainer<TinyModel> resumed_trainer(resumed, train_set, test_set, options);
      resumed_trainer.resume();
      CHECK(resumed_trainer.state().epoch == 1);
      CHECK(resumed_trainer.run().status == train::RunStatus::completed);
      CHECK(same_bits(straight.parameters(), resumed.parameters()));
      CHECK(same_bits(straight.buffers(), resumed.buffers()));
      REQUIRE(resumed_trainer.history().size() == 2);
      CHECK(resumed_trainer.history()[1].test_loss == straight_trainer.history()[1].test_loss);
      CHECK(resumed_trainer.history()[1].train_loss == straight_trainer.history()[1].train_loss);
    }
  }

  // Stopped inside epochs, after every batch (a time limit that is always over), resumed each time.
  train::TrainerOptions options = tiny_options(straight_dir.path());
  TinyModel straight;
  train::Trainer<TinyModel> straight_trainer(straight, train_set, test_set, options);
  straight_trainer.start();
  REQUIRE(straight_trainer.run().status == train::RunStatus::completed);

  options.out = stepwise_dir.path();
  options.time_limit_minutes = 1e-12;
  TinyModel stepwise;
  {
    train::Trainer<TinyModel> trainer(stepwise, train_set, test_set, options);
    trainer.start();
    CHECK(trainer.run().status == train::RunStatus::time_limit);
    CHECK(trainer.state().in_epoch);
  }
  int sessions = 1;
  for (;; ++sessions) {
    TinyModel model;
    train::Trainer<TinyModel> trainer(model, train_set, test_set, options);
    trainer.resume();
    const train::RunResult result = trainer.run();
    if (result.status == train::RunStatus::completed) {
      CHECK(same_bits(straight.parameters(), model.parameters()));
      CHECK(same_bits(straight.buffers(), model.buffers()));
      CHECK(trainer.history().back().train_loss == straight_trainer.history().back().train_loss);
      break;
    }
    REQUIRE(result.status == train::RunStatus::time_limit);
    REQUIRE(sessions < 100);
  }
  CHECK(sessions == 31);  // 16 batches per epoch, 2 epochs: one session per batch, 31 after the first
}

TEST_CASE("Trainer: resume refuses a checkpoint of a run with other settings") {
  const data::Dataset train_set = synthetic_dataset(128, 1), test_set = synthetic_dataset(64, 2);
  TemporaryDirectory directory("settings");
  train::TrainerOptions options = tiny_options(directory.path());
  options.epochs = 1;
  {
    TinyModel model;
    train::Trainer<TinyModel> trainer(model, train_set, test_set, options);
    trainer.start();
    REQUIRE(trainer.run().status == train::RunStatus::completed);
  }
  const auto check_refused = [&](const train::TrainerOptions& changed, const std::string& expected) {
    CAPTURE(expected);
    TinyModel model;
    const std::vector<float> before(model.parameters().begin(), model.parameters().end());
    train::Trainer<TinyModel> trainer(model, train_set, test_set, changed);
    try {
      trainer.resume();
      FAIL("resume accepted other settings");
    } catch (const Error& error) {
      CHECK(std::string(error.what()).find(expected) != std::string::npos);
    }
    CHECK(same_bits(model.parameters(), before));
  };
  train::TrainerOptions other_lr = options;
  other_lr.lr = 0.5;
  check_refused(other_lr, "lr = 0.10000000000000001");
  train::TrainerOptions other_augmentation = options;
  other_augmentation.augmentation = data::Augmentation::crop_and_flip(1);
  check_refused(other_augmentation, "augmentation = " + train::augmentation_name(options.augmentation));
  CHECK(train::augmentation_name(data::Augmentation::crop_and_flip(1)) == "crop1+flip");
  CHECK(train::augmentation_name(data::Augmentation{false, 0, true}) == "flip");
  CHECK(train::augmentation_name(data::Augmentation::none()) == "none");
}

// ---------------------------------------------------------------------------------------------
// Divergence
// ---------------------------------------------------------------------------------------------

TEST_CASE("Trainer: a NaN loss stops the run and keeps the last good checkpoint") {
  const data::Dataset train_set = synthetic_dataset(256, 1), test_set = synthetic_dataset(64, 2);
  TemporaryDirectory directory("nan");
  train::TrainerOptions options = tiny_options(directory.path());
  options.epochs = 3;
  TinyModel model;
  train::Trainer<TinyModel> trainer(model, train_set, test_set, options);
  trainer.start();
  std::vector<std::uint8_t> good_checkpoint;
  trainer.on_epoch = [&](const train::EpochMetrics& metrics) {
    if (metrics.epoch != 1) return;
    good_checkpoint = file_bytes(trainer.checkpoint_path());
    model.parameters().back() = std::numeric_limits<float>::quiet_NaN();  // fc.bias[9]: the next loss is NaN
  };
  const train::RunResult result = trainer.run();
  CHECK(result.status == train::RunStatus::diverged);
  CHECK(result.epochs_completed == 1);
  CHECK(result.message.find("NaN") != std::string::npos);
  CHECK(result.message.find("epoch 2, batch 1 ") != std::string::npos);
  REQUIRE(!good_checkpoint.empty());
  CHECK(file_bytes(trainer.checkpoint_path()) == good_checkpoint);

  // The kept checkpoint resumes with finite weights.
  TinyModel restored;
  train::Trainer<TinyModel> resumed(restored, train_set, test_set, options);
  resumed.resume();
  CHECK(resumed.state().epoch == 1);
  for (float v : restored.parameters()) REQUIRE(std::isfinite(v));

  // Logits that overflow: an infinite (or NaN) loss stops it as well.
  for (float& v : restored.parameters().last(10)) v = std::numeric_limits<float>::infinity();
  const train::RunResult infinite = resumed.run();
  CHECK(infinite.status == train::RunStatus::diverged);
  CHECK(infinite.message.find("the training loss became") != std::string::npos);
  CHECK(file_bytes(trainer.checkpoint_path()) == good_checkpoint);
}

TEST_CASE("Trainer: a NaN that the loss does not show (a ReLU swallows it) is caught before the checkpoint") {
  const data::Dataset train_set = synthetic_dataset(128, 1), test_set = synthetic_dataset(64, 2);
  TemporaryDirectory directory("hidden_nan");
  train::TrainerOptions options = tiny_options(directory.path());
  options.epochs = 2;
  TinyModel model;
  train::Trainer<TinyModel> trainer(model, train_set, test_set, options);
  trainer.start();
  std::vector<std::uint8_t> good_checkpoint;
  trainer.on_epoch = [&](const train::EpochMetrics&) {
    good_checkpoint = file_bytes(trainer.checkpoint_path());
    model.parameters()[0] = std::numeric_limits<float>::quiet_NaN();  // conv1: NaN -> BN -> ReLU -> 0
  };
  const train::RunResult result = trainer.run();
  CHECK(result.status == train::RunStatus::diverged);
  CHECK(result.message.find("parameter 0 is NaN after epoch 2") != std::string::npos);
  CHECK(file_bytes(trainer.checkpoint_path()) == good_checkpoint);
}

// ---------------------------------------------------------------------------------------------
// Checkpoint files
// ---------------------------------------------------------------------------------------------

TEST_CASE("Checkpoint: round trip, and a failed write leaves the previous file") {
  TemporaryDirectory directory("atomic");
  const fs::path path = directory.path() / "checkpoint.safetensors";
  TinyModel model;
  init::googlenet_seed(model, 3);
  optim::SGD<float> sgd(TinyModel::parameter_count, {.lr = 0.1, .momentum = 0.9});
  for (std::size_t i = 0; i < TinyModel::parameter_count; ++i) sgd.state_tensors()[0].values[i] = static_cast<float>(i) * 1e-3f;
  train::TrainingState state;
  state.epoch = 4;
  state.iteration = 123;
  state.loader_state = "loader\nstate";
  state.dropout_generator = train::generator_state(model.generator());
  state.optimizer = "sgd";
  state.optimizer_steps = 123;
  state.learning_rate = 0.1 / 3;  // needs all 17 digits
  state.elapsed_seconds = 61.25;
  state.history = std::string(train::metrics_header) + "\n";
  state.settings = {{"epochs", "9"}};
  train::save_checkpoint(path, model, sgd.state_tensors(), state);
  const std::vector<std::uint8_t> saved = file_bytes(path);

  SUBCASE("round trip") {
    TinyModel other;
    optim::SGD<float> other_sgd(TinyModel::parameter_count, {.lr = 0.1, .momentum = 0.9});
    const train::TrainingState loaded = train::load_checkpoint(path, other, other_sgd.state_tensors());
    CHECK(loaded.epoch == 4);
    CHECK(loaded.iteration == 123);
    CHECK(loaded.loader_state == "loader\nstate");
    CHECK(loaded.learning_rate == 0.1 / 3);
    CHECK(loaded.elapsed_seconds == 61.25);
    CHECK(loaded.settings.at("epochs") == "9");
    CHECK(same_bits(other.parameters(), model.parameters()));
    CHECK(same_bits(other_sgd.state_tensors()[0].values, sgd.state_tensors()[0].values));
    // The checkpoint also loads as plain weights.
    TinyModel plain;
    const LoadReport report = load_weights(plain, path, {.strict = false});
    CHECK(report.missing.empty());
    CHECK(report.unexpected == std::vector<std::string>{"optimizer.momentum_buffer"});
  }

  SUBCASE("a write that fails (file size limit, as a full disk) keeps the previous checkpoint") {
    rlimit original{};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &original) == 0);
    const auto previous_handler = std::signal(SIGXFSZ, SIG_IGN);  // fail with EFBIG instead of a signal
    rlimit small = original;
    small.rlim_cur = 4096;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
    state.epoch = 5;
    bool failed = false;
    try {
      train::save_checkpoint(path, model, sgd.state_tensors(), state);
    } catch (const Error& error) {
      failed = true;
      CHECK(std::string(error.what()).find(path.string()) != std::string::npos);
    }
    REQUIRE(setrlimit(RLIMIT_FSIZE, &original) == 0);
    std::signal(SIGXFSZ, previous_handler);
    CHECK(failed);
    CHECK(file_bytes(path) == saved);
    std::size_t files = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(directory.path())) ++files;
    CHECK(files == 1);  // no temporary file left behind
  }

  SUBCASE("a truncated checkpoint is refused and changes nothing") {
    const fs::path truncated = directory.path() / "truncated.safetensors";
    std::ofstream(truncated, std::ios::binary).write(reinterpret_cast<const char*>(saved.data()), static_cast<std::streamsize>(saved.size() / 2));
    TinyModel other;
    const std::vector<float> before(other.parameters().begin(), other.parameters().end());
    optim::SGD<float> other_sgd(TinyModel::parameter_count, {.lr = 0.1, .momentum = 0.9});
    CHECK_THROWS_AS(train::load_checkpoint(truncated, other, other_sgd.state_tensors()), Error);
    CHECK(same_bits(other.parameters(), before));
  }

  SUBCASE("plain weights are not a checkpoint; another optimizer's state is refused") {
    const fs::path weights = directory.path() / "weights.safetensors";
    save_weights(model, weights);
    optim::SGD<float> other_sgd(TinyModel::parameter_count, {.lr = 0.1, .momentum = 0.9});
    CHECK_THROWS_WITH_AS(train::load_checkpoint(weights, model, other_sgd.state_tensors()),
                         doctest::Contains("not a ctnn training checkpoint"), Error);
    optim::Adam<float> adam(TinyModel::parameter_count, {});
    CHECK_THROWS_WITH_AS(train::load_checkpoint(path, model, adam.state_tensors()), doctest::Contains("optimizer.exp_avg"), Error);
  }
}

// ---------------------------------------------------------------------------------------------
// The data set
// ---------------------------------------------------------------------------------------------

TEST_CASE("Fashion-MNIST files: missing or corrupt files are named in the error") {
  TemporaryDirectory directory("dataset");
  CHECK_THROWS_WITH_AS(data::load_fashion_mnist(directory.path() / "absent", data::Split::train),
                       doctest::Contains((directory.path() / "absent").string().c_str()), Error);
  CHECK_THROWS_WITH_AS(data::load_fashion_mnist(directory.path(), data::Split::train),
                       doctest::Contains("train-images-idx3-ubyte.gz"), Error);
  // Both files present; the images file is garbage.
  std::ofstream(directory.path() / "t10k-images-idx3-ubyte", std::ios::binary) << "<html>not the data</html>";
  const unsigned char labels[] = {0, 0, 8, 1, 0, 0, 0, 1, 3};
  std::ofstream(directory.path() / "t10k-labels-idx1-ubyte", std::ios::binary).write(reinterpret_cast<const char*>(labels), sizeof labels);
  CHECK_THROWS_WITH_AS(data::load_fashion_mnist(directory.path(), data::Split::test),
                       doctest::Contains(((directory.path() / "t10k-images-idx3-ubyte").string() + ": neither gzip").c_str()), Error);
}

// ---------------------------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------------------------

TEST_CASE("Reports: metrics CSV round trip, PNG plot, progress lines") {
  std::vector<train::EpochMetrics> history{{1, 0.61, 0.78, 0.45, 0.84, 0.1, 101.5}, {2, 0.35, 0.87, 0.33, 0.88, 0.05, 203.0}};
  const std::string csv = train::metrics_csv(history);
  CHECK(csv.starts_with("epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n1,0.610000,0.780000,"));
  const auto parsed = train::parse_metrics_csv(csv, "csv");
  REQUIRE(parsed.size() == 2);
  CHECK(parsed[1].test_accuracy == doctest::Approx(0.88));
  CHECK(parsed[1].seconds == doctest::Approx(203.0));
  CHECK_THROWS_AS(train::parse_metrics_csv("epoch,loss\n", "csv"), Error);

  const train::Canvas canvas = train::training_curves(history, "Tiny");
  CHECK(canvas.width() == 1280);
  CHECK(canvas.height() == 480);
  const std::vector<std::uint8_t> png = train::encode_png(canvas);
  REQUIRE(png.size() > 1000);
  CHECK(std::memcmp(png.data(), "\x89PNG\r\n\x1a\n", 8) == 0);
  // Some pixels carry the series colours.
  bool blue = false, orange = false;
  for (int y = 0; y < canvas.height(); ++y)
    for (int x = 0; x < canvas.width(); ++x) {
      const train::Color c = canvas.get(x, y);
      blue = blue || (c.r == 31 && c.g == 119 && c.b == 180);
      orange = orange || (c.r == 255 && c.g == 127 && c.b == 14);
    }
  CHECK(blue);
  CHECK(orange);

  CHECK(train::format_duration(65) == "1:05");
  CHECK(train::format_duration(3725) == "1:02:05");
  std::FILE* log = std::tmpfile();
  REQUIRE(log != nullptr);
  train::ProgressBar bar(log, /*interactive=*/0, /*log_every=*/0.25);
  bar.begin_epoch(1, 3, 4);
  for (std::size_t done = 1; done <= 4; ++done) bar.update(done, done * 10, 0.5, 0.75, 30);
  bar.end_epoch();
  std::rewind(log);
  char buffer[1024] = {};
  const std::size_t length = std::fread(buffer, 1, sizeof buffer - 1, log);
  std::fclose(log);
  const std::string text(buffer, length);
  CHECK(text.find("epoch   1/3 [##########..........]     2/4  loss 0.5000  acc  75.00%") != std::string::npos);
  CHECK(text.find("img/s") != std::string::npos);
  CHECK(text.find("(run 0:30)") != std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 3);  // at 25%, 50% and 75%, not at the end
}
