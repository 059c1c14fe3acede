// ctnn-train-fashion-mnist: trains ctnn::FashionInception (<ctnn/models/fashion_inception.hpp>) on
// Fashion-MNIST, on the CPU: on oneDNN where the build has it (ctnn::onednn), else on the Eigen
// reference; --backend reference picks the reference, --precision bf16 trains in bfloat16 with f32
// master weights (oneDNN on AMX or AVX512-BF16).
//
//   ctnn-train-fashion-mnist --out runs/fashion                     # the recorded run: 93.47% in 25 min
//   OMP_WAIT_POLICY=passive ctnn-train-fashion-mnist --epochs 12  # a shorter run, on a busy machine
//   ctnn-train-fashion-mnist --resume --out runs/fashion          # continue a stopped run
//   ctnn-train-fashion-mnist --overwrite --out runs/fashion       # start afresh, replacing the run there
//   mpirun -np 2 ctnn-train-fashion-mnist --out runs/fashion      # data parallel over 2 processes
//
// A fresh run into an --out that holds a run stops before training: --resume continues that run,
// --overwrite replaces it. --out is checked for writing before the data is read.
// It prints a progress bar (images/s, ETA) and each epoch's train and test loss and accuracy, and
// keeps in --out:
//   checkpoint.safetensors       after every epoch (and on Ctrl-C or --time-limit, between
//                                batches): weights, optimizer state, data order, dropout generator,
//                                schedule, a checksum; written atomically and synced to disk;
//                                --resume verifies it and continues bit for bit
//   metrics.csv                  epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds
//   curves.png                   loss and accuracy curves
//   fashion_inception.safetensors  the final weights (ctnn::load_weights, ctnn-classify --model fashion-mnist)
// A loss or weights that turn NaN or infinite stop the run with a message naming the last good
// checkpoint (or saying there is none); nothing broken is saved.
// Exit status: 0 completed, 1 error, 2 diverged, 130 interrupted (Ctrl-C), 3 time limit.
//
// Started by mpirun or srun (built with MPI), the processes train together (docs/distributed.md):
// --batch is the global batch, each process trains on its share; rank 0 checks --out, prints and
// writes the files. An error in one process ends them all (exit status 1). They train on either
// backend, --sync-batch-norm included.
//
// OMP_WAIT_POLICY=passive matters on a machine shared with other work: OpenMP's default
// spin-waiting between the many short parallel regions of a small network wastes the cores
// another process holds (measured 2-4x slower under load).

#include <atomic>       // std::atomic
#include <csignal>      // std::signal, SIGINT, SIGTERM
#include <cstdio>       // std::printf, std::fprintf
#include <cstdlib>      // std::getenv
#include <exception>    // std::exception
#include <filesystem>   // std::filesystem::path, exists, remove
#include <optional>     // std::optional
#include <string>       // std::string
#include <type_traits>  // std::type_identity, std::is_same_v
#include <vector>       // std::vector

#include <unistd.h>   // write, _exit: async-signal-safe

#include <CLI/CLI.hpp>   // CLI::App: the command line

#include <ctnn/ctnn.hpp>                      // ctnn::Model, the CPU kernels, ctnn::macs_v
#include <ctnn/data/fashion_mnist.hpp>        // ctnn::data::load_fashion_mnist, default_fashion_mnist_directory
#include <ctnn/io/file.hpp>                   // ctnn::io::check_writable_directory
#include <ctnn/io/weights.hpp>                // ctnn::save_weights
#include <ctnn/models/fashion_inception.hpp>  // ctnn::FashionInception, ctnn::FashionInput
#include <ctnn/train/progress.hpp>            // ctnn::train::format_duration
#include <ctnn/train/trainer.hpp>             // ctnn::train::Trainer

#if defined(_OPENMP)
#include <omp.h>   // omp_set_num_threads: the optimizer's loops use the same thread count
#endif

#if defined(CTNN_WITH_MPI)
#include <ctnn/distributed/data_parallel.hpp>  // ctnn::distributed::DataParallel, Environment, Communicator
#endif

#if defined(CTNN_WITH_ONEDNN)
#include <ctnn/onednn.hpp>   // ctnn::OneDnn: the fast CPU path, the default backend
#endif

#include "cli_checks.hpp"   // cli_checks::integer_in, finite_above, finite_at_least, thread_count

namespace {

std::atomic<bool> stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");

// First Ctrl-C: finish the batch, save, exit. Second: exit at once.
extern "C" void on_signal(int) {
  if (stop_requested.exchange(true)) _exit(130);
  const char message[] = "\nstopping after this batch (checkpoint follows; Ctrl-C again to quit at once)\n";
  [[maybe_unused]] const auto ignored = write(STDERR_FILENO, message, sizeof message - 1);
}

// The files of a run in --out; a fresh run refuses to start where any of them is.
const char* const run_files[] = {"checkpoint.safetensors", "metrics.csv", "curves.png", "fashion_inception.safetensors"};

// The run files present in `out`, as "checkpoint.safetensors, metrics.csv"; "" when none is.
std::string run_files_in(const std::filesystem::path& out) {
  std::string found;
  for (const char* name : run_files) {
    std::error_code ignored;
    if (std::filesystem::exists(out / name, ignored)) found += (found.empty() ? "" : ", ") + std::string(name);
  }
  return found;
}

}  // namespace

int main(int argc, char** argv) {
  namespace train = ctnn::train;

  std::string data_directory = ctnn::data::default_fashion_mnist_directory().string();
  train::TrainerOptions options;
  options.epochs = 23;          // the defaults are the recorded run's (docs/fashion-mnist.md): 93.47% in 25 min
  options.warmup_epochs = 0.3;
  std::string optimizer = "sgd", schedule = "cosine", augment = "crop-flip";
  std::string out = "runs/fashion";
  bool resume = false, overwrite = false;
  int threads = 0;
  std::size_t train_subset = 0;

  CLI::App app{"Train ctnn::FashionInception on Fashion-MNIST (CPU)"};
  app.add_option("--data", data_directory, "directory of the four Fashion-MNIST IDX files (.gz or not)")->capture_default_str();
  app.add_option("--epochs", options.epochs, "epochs to train")->capture_default_str()->check(cli_checks::integer_in(1, 100000));
  app.add_option("--batch", options.batch, "images per training step")->capture_default_str()->check(cli_checks::integer_in(1, 65536));
  app.add_option("--lr", options.lr, "peak learning rate")->capture_default_str()->check(cli_checks::finite_above(0));
  app.add_option("--optimizer", optimizer, "sgd (momentum 0.9, Nesterov), adam or adamw")
      ->capture_default_str()->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  app.add_option("--schedule", schedule, "cosine (per step, after a linear warmup) or step (x0.1 at 1/3 and 2/3)")
      ->capture_default_str()->check(CLI::IsMember({"cosine", "step"}));
  app.add_option("--weight-decay", options.weight_decay, "L2 weight decay (decoupled for adamw)")
      ->capture_default_str()->check(cli_checks::finite_at_least(0));
  app.add_option("--warmup", options.warmup_epochs, "epochs of linear warmup (cosine)")
      ->capture_default_str()->check(cli_checks::finite_at_least(0));
  app.add_option("--augment", augment, "training augmentation: none, flip, crop-flip (random crops of the padded image)")
      ->capture_default_str()->check(CLI::IsMember({"none", "flip", "crop-flip"}));
  std::size_t crop_padding = 1;
  app.add_option("--crop-padding", crop_padding, "pixels of padding on each side before a random crop (crop-flip)")
      ->capture_default_str()->check(cli_checks::integer_in(1, 8));
  app.add_option("--seed", options.seed, "seed of the weights, data order, augmentation and dropout")
      ->capture_default_str()->check(cli_checks::integer_in(0));
#if defined(CTNN_WITH_ONEDNN)
  std::string backend = "onednn";
#else
  std::string backend = "reference";
#endif
  std::string precision = "f32";
  app.add_option("--backend", backend, "onednn (oneDNN, the default where built) or reference (Eigen)")
      ->capture_default_str()->check(CLI::IsMember({"onednn", "reference"}));
  app.add_option("--precision", precision, "f32, or bf16 with f32 master weights (oneDNN on AMX or AVX512-BF16)")
      ->capture_default_str()->check(CLI::IsMember({"f32", "bf16"}));
  app.add_option("--threads", threads, "CPU threads (0: OpenMP's default)")->capture_default_str()->check(cli_checks::thread_count());
  app.add_option("--out", out, "directory for the checkpoint, metrics.csv, curves.png and the final weights")->capture_default_str();
  CLI::Option* resume_flag = app.add_flag("--resume", resume, "continue the run saved in --out (same settings)");
  app.add_flag("--overwrite", overwrite, "start afresh even if --out holds a run, replacing its files")->excludes(resume_flag);
  app.add_option("--time-limit", options.time_limit_minutes, "stop (with a checkpoint) after this many minutes; 0: none")
      ->capture_default_str()->check(cli_checks::finite_at_least(0));
  app.add_option("--train-subset", train_subset, "train on the first N training images only (quick checks); 0: all")
      ->check(cli_checks::integer_in(0));
  // ---- data parallelism (only in a build with MPI, only under mpirun / srun) ----
#if defined(CTNN_WITH_MPI)
  std::optional<ctnn::distributed::Environment> mpi;
  std::optional<ctnn::distributed::Communicator> world;
  if (ctnn::distributed::launched_by_mpi()) mpi.emplace(argc, argv), world.emplace(ctnn::distributed::Communicator::world());
  ctnn::distributed::DataParallelOptions parallel_options;
  double bucket_megabytes = static_cast<double>(parallel_options.bucket_bytes) / (1 << 20);
  app.add_flag("--sync-batch-norm", parallel_options.sync_batch_norm,
               "with several processes: batch norm over the global batch (SyncBatchNorm)");
  app.add_option("--bucket-mb", bucket_megabytes, "with several processes: MiB of gradients per all-reduce")
      ->capture_default_str()->check(cli_checks::finite_above(0));
  const bool parallel_run = world && world->size() > 1;
  const bool root = !world || world->is_root();
#else
  const bool root = true;
#endif
  // An error ends the run; in a data-parallel run it ends every process (they would wait for ever).
  const auto fail = [&](const std::string& message) {
#if defined(CTNN_WITH_MPI)
    if (parallel_run) world->abort(1, "ctnn-train-fashion-mnist: " + message);
#endif
    std::fprintf(stderr, "ctnn-train-fashion-mnist: %s\n", message.c_str());
    return 1;
  };
  // ---- end data parallelism ----
  CLI11_PARSE(app, argc, argv);

  options.optimizer = optimizer == "sgd" ? train::OptimizerKind::sgd : optimizer == "adam" ? train::OptimizerKind::adam
                                                                                            : train::OptimizerKind::adamw;
  options.schedule = schedule == "cosine" ? train::ScheduleKind::cosine : train::ScheduleKind::step;
  options.augmentation = augment == "none"   ? ctnn::data::Augmentation::none()
                         : augment == "flip" ? ctnn::data::Augmentation{false, 0, true}
                                             : ctnn::data::Augmentation::crop_and_flip(crop_padding);
  options.out = out;

  try {
    // Before anything slow: never replace a run by accident, and learn now, not after an epoch,
    // that --out cannot be written. With several processes rank 0 alone looks and writes there.
    if (root) {
      const std::string existing = run_files_in(out);
      if (!resume && !existing.empty() && !overwrite)
        return fail("--out " + out + " holds a run (" + existing +
                    "); continue it with --resume, or start afresh with --overwrite, which replaces it");
      try {
        ctnn::io::check_writable_directory(out);
      } catch (const ctnn::Error& error) {
        return fail("--out " + out + ": " + error.reason());
      }
      if (!resume && !existing.empty()) {  // --overwrite: the old run's files go, so none is mistaken for this run's
        for (const char* name : run_files) std::filesystem::remove(std::filesystem::path(out) / name);
        std::printf("--overwrite: removed the run in %s (%s)\n", out.c_str(), existing.c_str());
      }
    }

    // The run on one backend: `Model` is the network on the Eigen reference or on oneDNN.
    const auto train_on = [&]<class Model>(std::type_identity<Model>) -> int {
      Model model;
#if defined(CTNN_WITH_ONEDNN)
      if constexpr (std::is_same_v<typename Model::device, ctnn::OneDnn>) {
        model.set_precision(*ctnn::onednn::precision_named(precision));  // --precision is checked: f32 or bf16
        if (root && !model.precision_note().empty()) std::printf("%s\n", model.precision_note().c_str());
      }
#endif
#if defined(CTNN_WITH_MPI)  // data parallelism: the processes train `model` together
      parallel_options.bucket_bytes = static_cast<std::size_t>(bucket_megabytes * (1 << 20));
      std::optional<ctnn::distributed::DataParallel<Model>> parallel;
      if (parallel_run) options.parallel = &parallel.emplace(model, *world, parallel_options);
#endif
      if (threads > 0) {
        model.set_threads(threads);
#if defined(_OPENMP)
        omp_set_num_threads(threads);
#endif
      }
      ctnn::data::Dataset train_set = ctnn::data::load_fashion_mnist(data_directory, ctnn::data::Split::train);
      const ctnn::data::Dataset test_set = ctnn::data::load_fashion_mnist(data_directory, ctnn::data::Split::test);
      if (train_subset > train_set.count)
        throw ctnn::Error("--train-subset " + std::to_string(train_subset),
                          "the training set holds only " + std::to_string(train_set.count) + " images");
      if (train_subset > 0 && train_subset < train_set.count) {
        train_set.count = train_subset;
        train_set.images.resize(train_subset * train_set.image_size());
        train_set.labels.resize(train_subset);
      }

      if (root) std::printf("%s: %zu parameters, %.2f M multiply-adds per image; %s %s, %d threads%s\n",
                  std::string(ctnn::FashionInception::type_name).c_str(), Model::parameter_count,
                  static_cast<double>(ctnn::macs_v<ctnn::FashionInception, ctnn::FashionInput>) / 1e6,
                  backend == "onednn" ? "oneDNN" : "Eigen reference", precision.c_str(), model.threads(),
                  std::getenv("OMP_WAIT_POLICY") ? "" : " (set OMP_WAIT_POLICY=passive on a busy machine)");
      if (root) std::printf("data: %zu training and %zu test images from %s\n", train_set.count, test_set.count, data_directory.c_str());
      if (root) std::printf("%s lr %g, %s schedule, weight decay %g, batch %zu, %zu epochs, augmentation %s, seed %llu\n",
                  optimizer.c_str(), options.lr, schedule.c_str(), options.weight_decay, options.batch, options.epochs,
                  ctnn::train::augmentation_name(options.augmentation).c_str(), static_cast<unsigned long long>(options.seed));
#if defined(CTNN_WITH_MPI)
      if (root && parallel_run)
        std::printf("data parallel: %d processes, %zu images each per step, %s batch norm, %.4g MiB buckets\n", world->size(),
                    options.batch / static_cast<std::size_t>(world->size()), parallel_options.sync_batch_norm ? "synchronised" : "local",
                    bucket_megabytes);
#endif
      std::fflush(stdout);

      train::Trainer<Model> trainer(model, train_set, test_set, options);
      if (resume) {
        if (!std::filesystem::exists(trainer.checkpoint_path()))
          throw ctnn::Error(trainer.checkpoint_path().string(), "no checkpoint to resume from");
        trainer.resume();
        if (root) std::printf("resuming %s: epoch %zu%s, %s of training so far\n", trainer.checkpoint_path().string().c_str(),
                    trainer.state().epoch, trainer.state().in_epoch ? " (inside it)" : " done",
                    train::format_duration(trainer.state().elapsed_seconds).c_str());
      } else {
        trainer.start();
      }
      trainer.on_epoch = [&](const train::EpochMetrics& m) {
        if (!root) return;
        std::printf("epoch %3zu/%zu  train loss %.4f acc %6.2f%%  test loss %.4f acc %6.2f%%  lr %.4g  %s\n", m.epoch,
                    options.epochs, m.train_loss, 100 * m.train_accuracy, m.test_loss, 100 * m.test_accuracy, m.lr,
                    train::format_duration(m.seconds).c_str());
        std::fflush(stdout);
    };

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    const train::RunResult result = trainer.run(&stop_requested);
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);

    switch (result.status) {
      case train::RunStatus::completed: {
        const std::filesystem::path weights = std::filesystem::path(out) / "fashion_inception.safetensors";
        if (!root) return 0;
        ctnn::save_weights(model, weights);
        const auto& last = trainer.history().back();
        std::printf("done: test accuracy %.2f%% after %zu epochs in %s; weights in %s, curves in %s\n",
                    100 * last.test_accuracy, last.epoch, train::format_duration(last.seconds).c_str(),
                    weights.string().c_str(), trainer.plot_path().string().c_str());
        return 0;
      }
      case train::RunStatus::interrupted:
        if (root) std::printf("%s\n", result.message.c_str());
        return 130;
      case train::RunStatus::time_limit:
        if (root) std::printf("%s\n", result.message.c_str());
        return 3;
      case train::RunStatus::diverged:
        if (root) std::fprintf(stderr, "ctnn-train-fashion-mnist: %s\n", result.message.c_str());
        return 2;
    }
    return 0;
    };
#if defined(CTNN_WITH_ONEDNN)
    if (backend == "onednn")
      return train_on(std::type_identity<ctnn::Model<ctnn::FashionInception, ctnn::FashionInput, float, ctnn::OneDnn>>{});
#else
    if (backend == "onednn")
      return fail("--backend onednn: this ctnn-train-fashion-mnist was built without oneDNN; run tools/install-deps and "
                  "rebuild, or use --backend reference");
#endif
    if (precision != "f32") return fail("--precision " + precision + " needs --backend onednn");
    return train_on(std::type_identity<ctnn::Model<ctnn::FashionInception, ctnn::FashionInput>>{});
  } catch (const std::exception& error) {
    return fail(error.what());
  }
  return 0;
}
