// The trainer (ctnn/train/trainer.hpp) with data parallelism, on a small Inception network with
// batch norm (synchronised) and synthetic 28x28 images, augmented with random crops and flips:
//
//   distributed_trainer train <dir> <epochs> [--resume] [--stop-after <epoch>] [--out-per-rank]
//       trains for <epochs> (or stops after epoch <stop-after>, with a checkpoint), rank 0 writes
//       <dir>/final.safetensors at the end. --out-per-rank gives each process its own --out,
//       <dir>/rank<r>: afterwards rank 0 checks that it alone wrote anything (checkpoint, metrics,
//       plot, no temporary file left) and that the other directories do not exist.
//   distributed_trainer compare <a.safetensors> <b.safetensors> <tolerance>
//       the two weight files agree within <tolerance>: parameters relative to the largest
//       parameter, running statistics relative to the largest of them
//   distributed_trainer write-data <dir>
//       writes a small Fashion-MNIST look-alike (four IDX files) for ctnn-train-fashion-mnist
//
// tests/distributed/resume_with_other_count runs 1 epoch with 2 processes, resumes the 2nd with
// 3, and compares with 2 epochs in one process.

#include <atomic>       // std::atomic
#include <cstdint>      // std::uint8_t, std::uint32_t, std::uint64_t
#include <cstdio>       // std::printf
#include <cstdlib>      // std::strtod, std::atoi
#include <filesystem>   // std::filesystem
#include <fstream>      // std::ofstream
#include <random>       // std::mt19937_64
#include <span>         // std::span
#include <tuple>        // std::tuple
#include <string>       // std::string
#include <vector>       // std::vector

#include <ctnn/ctnn.hpp>                        // ctnn::Model, layers, CPU kernels
#include <ctnn/distributed/data_parallel.hpp>   // ctnn::distributed::DataParallel
#include <ctnn/io/weights.hpp>                  // ctnn::save_weights, load_weights
#include <ctnn/models/fashion_inception.hpp>    // ctnn::FashionInput
#include <ctnn/train/trainer.hpp>               // ctnn::train::Trainer

#include "../support/synthetic_set.hpp"   // ctnn::test::synthetic_set
#include "support.hpp"   // ctnn::test::require, relative_error

using namespace ctnn;
namespace fs = std::filesystem;

namespace {

// Batch norm in every BasicConv2d, no dropout: several processes then train exactly as one.
struct SmallInception
    : Composed<Sequential<Named<"conv1", torchvision::BasicConv2d<1, 8, 3, 2, 1>>,        // 8 x 14 x 14
                          Named<"maxpool1", MaxPool<2, 2>>,                                 // 8 x 7 x 7
                          Named<"inception", torchvision::Inception<8, 8, 4, 8, 4, 8, 8>>,  // 32 x 7 x 7
                          Named<"avgpool", AdaptiveAvgPool<1, 1>>, Flatten, Named<"fc", Linear<32, 10>>>> {
  static constexpr std::string_view type_name = "SmallInception";
};
using SmallModel = Model<SmallInception, FashionInput>;

// Images of class k hold a bright 6x6 square at the k-th of ten places, over noise.
data::Dataset squares_dataset(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  return test::synthetic_set(
      count, [&](std::size_t) { return generator() % 10; },
      [&](std::size_t, std::uint8_t label, std::span<std::uint8_t, 784> image) {
        for (std::uint8_t& pixel : image) pixel = static_cast<std::uint8_t>(generator() % 80);
        const std::size_t top = 3 + (label / 5) * 12, left = 2 + (label % 5) * 5;
        for (std::size_t y = top; y < top + 6; ++y)
          for (std::size_t x = left; x < left + 6 && x < 28; ++x) image[y * 28 + x] = 230;
      });
}

int train_run(const distributed::Communicator& world, int argc, char** argv) {
  fs::path directory = argv[2];
  train::TrainerOptions options;
  options.epochs = static_cast<std::size_t>(std::atoi(argv[3]));
  options.batch = 12;  // global: 6 or 4 images per process with 2 or 3 processes
  options.lr = 0.01;
  options.warmup_epochs = 0.5;
  options.seed = 5;
  options.eval_batch = 30;
  options.augmentation = data::Augmentation::crop_and_flip(2);
  options.log = nullptr;
  bool resume = false, out_per_rank = false;
  std::size_t stop_after = 0;
  for (int i = 4; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--resume") resume = true;
    else if (arg == "--out-per-rank") out_per_rank = true;
    else if (arg == "--stop-after" && i + 1 < argc) stop_after = static_cast<std::size_t>(std::atoi(argv[++i]));
    else world.abort(2, "unknown argument " + arg);
  }
  options.out = out_per_rank ? directory / ("rank" + std::to_string(world.rank())) : directory;

  const data::Dataset train_set = squares_dataset(72, 1), test_set = squares_dataset(50, 2);
  SmallModel model;
  model.set_threads(1);
  std::optional<distributed::DataParallel<SmallModel>> parallel;
  if (world.size() > 1) options.parallel = &parallel.emplace(model, world, distributed::DataParallelOptions{.sync_batch_norm = true});

  train::Trainer<SmallModel> trainer(model, train_set, test_set, options);
  if (resume) {
    trainer.resume();
  } else {
    trainer.start();
  }
  std::atomic<bool> stop{false};
  trainer.on_epoch = [&](const train::EpochMetrics& m) {
    if (world.rank() == 0)
      std::printf("epoch %zu: train loss %.5f acc %.3f, test loss %.5f acc %.3f (%d processes)\n", m.epoch, m.train_loss,
                  m.train_accuracy, m.test_loss, m.test_accuracy, world.size());
    if (m.epoch == stop_after) stop = true;
  };
  const train::RunResult result = trainer.run(&stop);
  const train::RunStatus expected = stop_after > 0 && stop_after < options.epochs ? train::RunStatus::interrupted
                                                                                   : train::RunStatus::completed;
  test::require(world, result.status == expected, "the run ended with: " + result.message);
  if (result.status == train::RunStatus::completed && world.rank() == 0) save_weights(model, directory / "final.safetensors");

  if (out_per_rank) {
    world.barrier();  // every process has finished writing whatever it writes
    if (world.rank() == 0) {
      for (const char* name : {"checkpoint.safetensors", "metrics.csv", "curves.png"})
        test::require(world, fs::exists(directory / "rank0" / name), std::string("rank 0 did not write ") + name);
      for (const auto& entry : fs::directory_iterator(directory / "rank0")) {
        const std::string name = entry.path().filename().string();
        test::require(world, name == "checkpoint.safetensors" || name == "metrics.csv" || name == "curves.png",
                      "rank 0 left " + name + " behind (not an atomic write?)");
      }
      for (int rank = 1; rank < world.size(); ++rank)
        test::require(world, !fs::exists(directory / ("rank" + std::to_string(rank))),
                      "rank " + std::to_string(rank) + " wrote into its --out");
      std::printf("only rank 0 of %d wrote files\n", world.size());
    }
  }
  return 0;
}

int compare(char** argv) {
  SmallModel a, b;
  load_weights(a, argv[2]);
  load_weights(b, argv[3]);
  const double tolerance = std::strtod(argv[4], nullptr);
  // The running statistics too: they depend on how many images each batch norm saw.
  // test::relative_error is +infinity for a NaN or an infinity on either side.
  const SmallModel &first = a, &second = b;
  const double parameters = test::relative_error(first.parameters(), second.parameters());
  const double buffers = test::relative_error(first.buffers(), second.buffers());
  std::printf("largest difference, relative to the largest value: parameters %.3g, buffers %.3g (tolerance %g)\n",
              parameters, buffers, tolerance);
  return parameters <= tolerance && buffers <= tolerance ? 0 : 1;
}

// An IDX file of unsigned bytes: magic, big-endian dimensions, data.
void write_idx(const fs::path& path, const std::vector<std::uint32_t>& dimensions, const std::vector<std::uint8_t>& data) {
  std::ofstream out(path, std::ios::binary);
  const auto word = [&](std::uint32_t v) {
    const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
    out.write(bytes, 4);
  };
  word(0x0800u + static_cast<std::uint32_t>(dimensions.size()));
  for (std::uint32_t d : dimensions) word(d);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

int write_data(char** argv) {
  const fs::path directory = argv[2];
  fs::create_directories(directory);
  for (const auto& [prefix, count, seed] : {std::tuple{"train", 240u, 11u}, std::tuple{"t10k", 100u, 12u}}) {
    const data::Dataset set = squares_dataset(count, seed);
    write_idx(directory / (std::string(prefix) + "-images-idx3-ubyte"), {count, 28, 28}, set.images);
    write_idx(directory / (std::string(prefix) + "-labels-idx1-ubyte"), {count}, set.labels);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "compare" && argc == 5) return compare(argv);
  if (mode == "write-data" && argc == 3) return write_data(argv);
  distributed::Environment mpi(argc, argv);
  const distributed::Communicator world = distributed::Communicator::world();
  if (mode != "train" || argc < 4)
    world.abort(2, "usage: distributed_trainer train <dir> <epochs> [--resume] [--stop-after <epoch>] [--out-per-rank] | "
                   "compare <a> <b> <tolerance> | write-data <dir>");
  return distributed::run_or_abort(world, [&] { return train_run(world, argc, argv); });
}
