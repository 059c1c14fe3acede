#pragma once
// ctnn::train::Trainer<Model>: the supervised training loop of a classifier on an image data set,
// with everything a long run needs:
//
//   * SGD (momentum, Nesterov), Adam or AdamW; a per-iteration cosine schedule with linear warmup,
//     or a step schedule (x0.1 at 1/3 and 2/3 of the epochs)
//   * a BatchLoader that shuffles and augments from one seed, a test-set evaluation per epoch
//   * a checkpoint after every epoch (ctnn/train/checkpoint.hpp), written atomically, holding
//     everything needed to continue bit for bit: resume() then run() gives the same weights as
//     an uninterrupted run
//   * stopping between two batches when `stop` becomes true (a SIGINT handler sets it) or a time
//     limit passes: a checkpoint of the position inside the epoch is saved first
//   * a loss that is NaN or infinite stops the run before the optimizer step, without a checkpoint,
//     so the last good checkpoint stays; so do parameters, buffers or a test loss that are not
//     finite at the end of an epoch. The message names the last good checkpoint, or says there is none
//   * temporary files that a killed run left in options.out are removed when a run starts
//   * metrics.csv and curves.png (ctnn/train/plot.hpp) rewritten after every epoch
//
//   ctnn::Model<ctnn::FashionInception, ctnn::FashionInput> model;
//   ctnn::train::Trainer trainer(model, train_set, test_set, options);
//   trainer.start();              // or trainer.resume()
//   ctnn::train::RunResult result = trainer.run(stop_flag);
//
// Files in options.out: checkpoint.safetensors, metrics.csv, curves.png.

#include <algorithm>     // std::max, std::min
#include <atomic>        // std::atomic
#include <chrono>        // std::chrono::steady_clock
#include <cmath>         // std::isfinite, std::llround
#include <cstddef>       // std::size_t
#include <cstdint>       // std::uint64_t, std::int32_t
#include <cstdio>        // std::FILE, std::fprintf, std::snprintf
#include <filesystem>    // std::filesystem::path, create_directories, exists
#include <functional>    // std::function
#include <map>           // std::map
#include <optional>      // std::optional
#include <span>          // std::span
#include <sstream>       // std::istringstream
#include <string>        // std::string
#include <variant>       // std::variant, std::visit
#include <vector>        // std::vector

#include <ctnn/data/batcher.hpp>         // ctnn::data::BatchLoader, Augmentation
#include <ctnn/data/fashion_mnist.hpp>   // ctnn::data::Dataset
#include <ctnn/error.hpp>                // ctnn::Error
#include <ctnn/init.hpp>                 // ctnn::init::googlenet_seed
#include <ctnn/io/file.hpp>              // ctnn::io::write_file_atomically, remove_stale_temporaries
#include <ctnn/loss.hpp>                 // ctnn::ClassificationObjective, ctnn::cross_entropy, ctnn::count_correct
#include <ctnn/optim/adam.hpp>           // ctnn::optim::Adam, AdamW
#include <ctnn/optim/lr_schedule.hpp>    // ctnn::optim::CosineAnnealingLR, StepLR
#include <ctnn/optim/sgd.hpp>            // ctnn::optim::SGD
#include <ctnn/train/checkpoint.hpp>     // ctnn::train::save_checkpoint, load_checkpoint, TrainingState
#include <ctnn/train/parallel.hpp>       // ctnn::train::DataParallelism
#include <ctnn/train/plot.hpp>           // ctnn::train::plot_panels, write_png
#include <ctnn/train/progress.hpp>       // ctnn::train::ProgressBar

namespace ctnn::train {

enum class OptimizerKind { sgd, adam, adamw };
enum class ScheduleKind { cosine, step };

inline std::string optimizer_name(OptimizerKind kind) {
  return kind == OptimizerKind::sgd ? "sgd" : kind == OptimizerKind::adam ? "adam" : "adamw";
}
inline std::string schedule_name(ScheduleKind kind) { return kind == ScheduleKind::cosine ? "cosine" : "step"; }
// "none", "flip", "crop2", "crop2+flip": recorded in checkpoints, so a resumed run keeps it.
inline std::string augmentation_name(const data::Augmentation& augmentation) {
  std::string name = augmentation.random_crop ? "crop" + std::to_string(augmentation.crop_padding) : "";
  if (augmentation.horizontal_flip) name += name.empty() ? "flip" : "+flip";
  return name.empty() ? "none" : name;
}

struct TrainerOptions {
  std::size_t epochs = 15;
  std::size_t batch = 128;
  double lr = 0.1;                      // peak rate (after warmup)
  OptimizerKind optimizer = OptimizerKind::sgd;
  ScheduleKind schedule = ScheduleKind::cosine;
  double momentum = 0.9;                // SGD
  bool nesterov = true;                 // SGD
  double weight_decay = 5e-4;
  double warmup_epochs = 1.0;           // cosine: linear warmup from lr / warmup iterations
  std::uint64_t seed = 1;               // initial weights, shuffling, augmentation, dropout
  data::Augmentation augmentation = data::Augmentation::crop_and_flip(2);
  std::size_t eval_batch = 500;
  std::filesystem::path out = "runs/fashion";
  double time_limit_minutes = 0;        // 0: none; counts this session's wall clock
  std::FILE* log = stderr;              // progress bar and messages; nullptr: silent
  int interactive = -1;                 // progress bar redraws in place: 1, logs lines: 0, auto: -1
  // Data parallelism over processes (ctnn/train/parallel.hpp, ctnn/distributed/data_parallel.hpp):
  // `batch` stays the global batch; rank 0 alone logs and writes files. nullptr: one process.
  DataParallelism* parallel = nullptr;
};

// What one epoch measured.
struct EpochMetrics {
  std::size_t epoch = 0;                // 1-based
  double train_loss = 0, train_accuracy = 0;
  double test_loss = 0, test_accuracy = 0;
  double lr = 0;                        // the rate of the epoch's last step
  double seconds = 0;                   // training time from the start of the run to the epoch's end
};

enum class RunStatus { completed, interrupted, time_limit, diverged };

struct RunResult {
  RunStatus status = RunStatus::completed;
  std::size_t epochs_completed = 0;
  std::string message;                  // why it stopped, for the user
};

inline constexpr std::string_view metrics_header = "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds";

// The metrics history as CSV text (header included), and back.
inline std::string metrics_csv(const std::vector<EpochMetrics>& history) {
  std::string text(metrics_header);
  text += '\n';
  for (const EpochMetrics& m : history) {
    char line[256];
    std::snprintf(line, sizeof line, "%zu,%.6f,%.6f,%.6f,%.6f,%.6g,%.1f\n", m.epoch, m.train_loss, m.train_accuracy,
                  m.test_loss, m.test_accuracy, m.lr, m.seconds);
    text += line;
  }
  return text;
}
inline std::vector<EpochMetrics> parse_metrics_csv(const std::string& text, const std::string& label) {
  std::vector<EpochMetrics> history;
  std::istringstream lines(text);
  std::string line;
  std::getline(lines, line);
  if (line != metrics_header) throw Error(label, "metrics history does not start with '" + std::string(metrics_header) + "'");
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    EpochMetrics m;
    if (std::sscanf(line.c_str(), "%zu,%lf,%lf,%lf,%lf,%lf,%lf", &m.epoch, &m.train_loss, &m.train_accuracy, &m.test_loss,
                    &m.test_accuracy, &m.lr, &m.seconds) != 7)
      throw Error(label, "malformed metrics line '" + line + "'");
    history.push_back(m);
  }
  return history;
}

// The loss and accuracy curves of a history, as two panels.
inline Canvas training_curves(const std::vector<EpochMetrics>& history, const std::string& title = "") {
  Series train_loss{"train", {}, {}, series_colors[0]}, test_loss{"test", {}, {}, series_colors[1]};
  Series train_acc{"train", {}, {}, series_colors[0]}, test_acc{"test", {}, {}, series_colors[1]};
  for (const EpochMetrics& m : history) {
    const double e = static_cast<double>(m.epoch);
    train_loss.x.push_back(e), train_loss.y.push_back(m.train_loss);
    test_loss.x.push_back(e), test_loss.y.push_back(m.test_loss);
    train_acc.x.push_back(e), train_acc.y.push_back(100 * m.train_accuracy);
    test_acc.x.push_back(e), test_acc.y.push_back(100 * m.test_accuracy);
  }
  const std::string prefix = title.empty() ? "" : title + ": ";
  const std::vector<Panel> panels{{prefix + "loss", "epoch", "cross-entropy loss", {train_loss, test_loss}},
                                  {prefix + "accuracy", "epoch", "top-1 accuracy (%)", {train_acc, test_acc}, true}};
  return plot_panels(panels);
}

// Mean loss and top-1 accuracy of `model` (evaluation mode) on all of `dataset`. With data
// parallelism each process evaluates a strided share (no padding: each image counts once) and
// the sums are taken over the processes.
template <class Model>
std::pair<double, double> evaluate(Model& model, const data::Dataset& dataset, std::size_t batch = 500,
                                   DataParallelism* parallel = nullptr) {
  constexpr std::size_t classes = Model::output_shape::size;
  const bool was_training = model.is_training();
  model.eval();
  const std::size_t processes = parallel ? parallel->size() : 1;
  data::BatchLoader loader(dataset, std::max(batch / processes, std::size_t{1}) * processes, /*shuffle=*/false, /*seed=*/0);
  if (parallel) loader.shard(parallel->rank(), processes, /*pad=*/false);
  double loss_sum = 0;
  std::size_t correct = 0;
  while (auto b = loader.next()) {
    const auto logits = model.forward(b->images);
    loss_sum += static_cast<double>(cross_entropy<typename Model::scalar>(logits, b->labels, classes)) * static_cast<double>(b->size);
    correct += count_correct(logits, b->labels, classes);
  }
  if (parallel) {
    double sums[2] = {loss_sum, static_cast<double>(correct)};
    parallel->sum(sums);
    loss_sum = sums[0], correct = static_cast<std::size_t>(sums[1]);
  }
  model.train(was_training);
  const double count = static_cast<double>(std::max<std::size_t>(dataset.count, 1));
  return {loss_sum / count, static_cast<double>(correct) / count};
}

template <class Model>
class Trainer {
 public:
  using T = typename Model::scalar;
  using clock = std::chrono::steady_clock;

  // Keeps references to the model and the data sets, which must outlive the trainer.
  Trainer(Model& model, const data::Dataset& train_set, const data::Dataset& test_set, TrainerOptions options)
      : model_(model), train_set_(train_set), test_set_(test_set), options_(std::move(options)),
        loader_(train_set, options_.batch, /*shuffle=*/true, options_.seed, options_.augmentation, /*drop_last=*/true),
        optimizer_(make_optimizer(options_)) {
    if (options_.epochs == 0) throw Error("Trainer", "needs at least one epoch");
    if (loader_.batches_per_epoch() == 0)
      throw Error("Trainer", "the training set's " + std::to_string(train_set.count) + " images make no batch of " +
                                 std::to_string(options_.batch));
    if (!(options_.lr > 0)) throw Error("Trainer", "the learning rate must be positive");
    total_iterations_ = options_.epochs * loader_.batches_per_epoch();
    warmup_iterations_ = options_.schedule == ScheduleKind::cosine
                             ? std::min<std::size_t>(total_iterations_ - 1,
                                                     static_cast<std::size_t>(std::llround(options_.warmup_epochs *
                                                                                           static_cast<double>(loader_.batches_per_epoch()))))
                             : 0;
    reset_schedule();
    shard_loader();
    if (!writes_files()) options_.log = nullptr;  // data parallelism: rank 0 reports
  }

  std::filesystem::path checkpoint_path() const { return options_.out / "checkpoint.safetensors"; }
  std::filesystem::path metrics_path() const { return options_.out / "metrics.csv"; }
  std::filesystem::path plot_path() const { return options_.out / "curves.png"; }
  const std::vector<EpochMetrics>& history() const { return history_; }
  const TrainingState& state() const { return state_; }
  double learning_rate() const { return lr_; }
  // Called after each epoch, with its metrics (the trainer has written its files by then).
  std::function<void(const EpochMetrics&)> on_epoch;

  // A fresh run: initial weights from the seed, the dropout generator seeded.
  void start() {
    init::googlenet_seed(model_, options_.seed);
    model_.seed(options_.seed ^ 0x9e3779b97f4a7c15ull);
    state_ = TrainingState{};
    state_.optimizer = optimizer_name(options_.optimizer);
    state_.settings = settings();
    history_.clear();
    reset_schedule();
    loader_ = data::BatchLoader(train_set_, options_.batch, true, options_.seed, options_.augmentation, true);
    shard_loader();
    good_checkpoint_.clear();
    if (options_.parallel) options_.parallel->broadcast_model();  // rank 0's weights on every process
  }

  // Continues the run saved in options.out's checkpoint. The settings must be the run's (a
  // different --epochs or --lr would not continue it bit for bit); throws ctnn::Error otherwise.
  void resume() { resume_from(checkpoint_path()); }
  void resume_from(const std::filesystem::path& path) {
    std::vector<optim::StateTensor<T>> tensors = optimizer_state_tensors();
    // Check the contents and the settings before the model changes: load only if they agree.
    const safetensors::Reader file = safetensors::Reader::open(path);
    if (file.metadata().contains("ctnn.checkpoint")) verify_checksum(file);  // else load_checkpoint says what it is
    for (const auto& [key, value] : settings()) {
      const auto at = file.metadata().find("ctnn.train.setting." + key);
      if (at == file.metadata().end()) continue;  // checked by load_checkpoint below when absent altogether
      if (at->second != value)
        throw Error(path.string(), "was saved by a run with " + key + " = " + at->second + ", this one has " + key +
                                       " = " + value + " (a resumed run keeps its settings)");
    }
    TrainingState state = load_checkpoint(file, model_, tensors);
    set_generator_state(model_.generator(), state.dropout_generator, path.string());
    loader_.set_state(state.loader_state);
    std::visit([&](auto& optimizer) { optimizer.set_step_count(state.optimizer_steps); }, optimizer_);
    history_ = parse_metrics_csv(state.history, path.string());
    lr_ = state.learning_rate;
    if (cosine_) cosine_->restore(state.schedule_steps, state.learning_rate);
    if (step_) step_->restore(state.schedule_steps, state.learning_rate);
    state_ = std::move(state);
    good_checkpoint_ = describe_checkpoint(path);
    if (options_.parallel) options_.parallel->broadcast_model();  // every process read the file; rank 0's rules
  }

  // Trains until the last epoch is done, `stop` becomes true, the time limit passes or the loss
  // diverges.
  RunResult run(const std::atomic<bool>* stop = nullptr) {
    if (writes_files()) {
      std::filesystem::create_directories(options_.out);
      io::remove_stale_temporaries(options_.out);  // left by a run killed while it wrote
    }
    const auto session_start = clock::now();
    const double elapsed_before = state_.elapsed_seconds;
    const auto elapsed = [&] { return elapsed_before + std::chrono::duration<double>(clock::now() - session_start).count(); };
    const auto session_minutes = [&] { return std::chrono::duration<double>(clock::now() - session_start).count() / 60; };
    ProgressBar bar(options_.log ? options_.log : stderr, options_.interactive);
    const std::size_t batches = loader_.batches_per_epoch();
    RunResult result;
    model_.train();
    // Data parallelism: sums over the processes, so every process decides alike (stop, diverge).
    const auto agree = [&](std::span<double> values) {
      if (options_.parallel) options_.parallel->sum(values);
    };

    // Continue an epoch that stopped between batches, or begin the next one.
    while (state_.in_epoch || state_.epoch < options_.epochs) {
      if (!state_.in_epoch) {
        loader_.begin_epoch();
        ++state_.epoch;
        state_.in_epoch = true;
        state_.epoch_loss_sum = 0, state_.epoch_correct = 0, state_.epoch_seen = 0;
      }
      const std::size_t first_batch = state_.epoch_seen / options_.batch;
      if (options_.log) bar.begin_epoch(state_.epoch, options_.epochs, batches, first_batch);
      std::size_t done = first_batch, session_images = 0;
      while (auto batch = loader_.next()) {
        model_.forward(batch->images);
        const ClassificationLoss<T> loss = objective_.backward(model_, batch->labels);
        if (options_.parallel) options_.parallel->synchronize_gradients();
        // [non-finite losses, loss sum, correct, images, stop requests, out of time], over the processes.
        double step[6] = {std::isfinite(static_cast<double>(loss.total)) ? 0.0 : 1.0,
                          static_cast<double>(loss.main) * static_cast<double>(batch->size),
                          static_cast<double>(count_correct<T>(model_.output(), batch->labels, Model::output_shape::size)),
                          static_cast<double>(batch->size), stop != nullptr && stop->load() ? 1.0 : 0.0,
                          options_.time_limit_minutes > 0 && session_minutes() >= options_.time_limit_minutes ? 1.0 : 0.0};
        agree(step);
        if (step[0] > 0) {
          if (options_.log) bar.end_epoch();
          result.status = RunStatus::diverged;
          result.epochs_completed = state_.epoch - 1;
          char text[256];
          std::snprintf(text, sizeof text,
                        "the training loss became %s at epoch %zu, batch %zu (iteration %llu, learning rate %.4g)",
                        std::isnan(static_cast<double>(loss.total))   ? "NaN"
                        : std::isinf(static_cast<double>(loss.total)) ? "infinite"
                                                                      : "NaN or infinite in another process",
                        state_.epoch, done + 1, static_cast<unsigned long long>(state_.iteration + 1), lr_);
          result.message = text + stopped_without_saving();
          return result;
        }
        std::visit([&](auto& optimizer) { optimizer.set_learning_rate(lr_); optimizer.step(model_); }, optimizer_);
        ++state_.iteration;
        advance_schedule_iteration();
        state_.epoch_loss_sum += step[1];
        state_.epoch_correct += static_cast<std::size_t>(step[2]);
        state_.epoch_seen += static_cast<std::size_t>(step[3]);
        ++done;
        session_images += static_cast<std::size_t>(step[3]);
        if (options_.log) {
          const double seen = static_cast<double>(state_.epoch_seen);
          const double per_batch = std::chrono::duration<double>(clock::now() - session_start).count() /
                                   static_cast<double>(std::max<std::size_t>(total_session_batches_ + session_images / options_.batch, 1));
          const double batches_left = static_cast<double>(batches - done + (options_.epochs - state_.epoch) * batches);
          bar.update(done, session_images, state_.epoch_loss_sum / seen, static_cast<double>(state_.epoch_correct) / seen,
                     per_batch * batches_left);  // the session's time per batch, evaluations included
        }
        const bool stop_requested = step[4] > 0;
        const bool out_of_time = step[5] > 0;
        if ((stop_requested || out_of_time) && done < batches) {
          if (options_.log) bar.end_epoch();
          state_.elapsed_seconds = elapsed();
          save();
          result.status = stop_requested ? RunStatus::interrupted : RunStatus::time_limit;
          result.epochs_completed = state_.epoch - 1;
          result.message = std::string(stop_requested ? "interrupted" : "time limit reached") + " in epoch " +
                           std::to_string(state_.epoch) + " after batch " + std::to_string(done) + " of " +
                           std::to_string(batches) + "; checkpoint saved to " + checkpoint_path().string() +
                           " (--resume continues from here)";
          return result;
        }
      }
      total_session_batches_ += session_images / options_.batch;
      if (options_.log) bar.end_epoch();

      // A NaN can also hide from the loss (ReLU maps it to 0): no checkpoint of broken weights.
      for (const auto& [what, values] : {std::pair{"parameter", std::span<const T>(model_.parameters())},
                                         std::pair{"buffer", std::span<const T>(model_.buffers())}}) {
        const std::size_t bad = first_non_finite(values);
        if (bad == values.size()) continue;
        result.status = RunStatus::diverged;
        result.epochs_completed = state_.epoch - 1;
        result.message = std::string(what) + " " + std::to_string(bad) + " is " +
                         (std::isnan(static_cast<double>(values[bad])) ? "NaN" : "infinite") + " after epoch " +
                         std::to_string(state_.epoch) + stopped_without_saving();
        return result;
      }

      // The epoch is complete: measure, then the schedule's epoch step, then save.
      EpochMetrics metrics;
      metrics.epoch = state_.epoch;
      metrics.train_loss = state_.epoch_loss_sum / static_cast<double>(std::max<std::size_t>(state_.epoch_seen, 1));
      metrics.train_accuracy = static_cast<double>(state_.epoch_correct) / static_cast<double>(std::max<std::size_t>(state_.epoch_seen, 1));
      const auto [test_loss, test_accuracy] = evaluate(model_, test_set_, options_.eval_batch, options_.parallel);
      if (!std::isfinite(test_loss)) {  // finite weights whose outputs overflow
        result.status = RunStatus::diverged;
        result.epochs_completed = state_.epoch - 1;
        result.message = std::string("the test loss became ") + (std::isnan(test_loss) ? "NaN" : "infinite") +
                         " after epoch " + std::to_string(state_.epoch) + stopped_without_saving();
        return result;
      }
      metrics.test_loss = test_loss;
      metrics.test_accuracy = test_accuracy;
      metrics.lr = last_step_lr_;
      advance_schedule_epoch();
      state_.in_epoch = false;
      state_.epoch_loss_sum = 0, state_.epoch_correct = 0, state_.epoch_seen = 0;
      state_.elapsed_seconds = elapsed();
      metrics.seconds = state_.elapsed_seconds;
      history_.push_back(metrics);
      save();
      write_reports();
      if (on_epoch) on_epoch(metrics);

      double stopping[2] = {stop != nullptr && stop->load() ? 1.0 : 0.0,
                            options_.time_limit_minutes > 0 && session_minutes() >= options_.time_limit_minutes ? 1.0 : 0.0};
      agree(stopping);
      const bool stop_requested = stopping[0] > 0, out_of_time = stopping[1] > 0;
      if ((stop_requested || out_of_time) && state_.epoch < options_.epochs) {
        result.status = stop_requested ? RunStatus::interrupted : RunStatus::time_limit;
        result.epochs_completed = state_.epoch;
        result.message = std::string(stop_requested ? "interrupted" : "time limit reached") + " after epoch " +
                         std::to_string(state_.epoch) + "; checkpoint saved to " + checkpoint_path().string() +
                         " (--resume continues from here)";
        return result;
      }
    }
    result.status = RunStatus::completed;
    result.epochs_completed = state_.epoch;
    result.message = "completed " + std::to_string(state_.epoch) + " epochs";
    return result;
  }

  // The optimizer's state, for checkpoints.
  std::vector<optim::StateTensor<T>> optimizer_state_tensors() {
    return std::visit([](auto& optimizer) { return optimizer.state_tensors(); }, optimizer_);
  }
  std::uint64_t optimizer_step_count() const {
    return std::visit([](const auto& optimizer) { return optimizer.step_count(); }, optimizer_);
  }

 private:
  using Optimizer = std::variant<optim::SGD<T>, optim::Adam<T>, optim::AdamW<T>>;

  static Optimizer make_optimizer(const TrainerOptions& o) {
    switch (o.optimizer) {
      case OptimizerKind::sgd:
        return optim::SGD<T>(Model::parameter_count,
                             {.lr = o.lr, .momentum = o.momentum, .weight_decay = o.weight_decay, .nesterov = o.nesterov && o.momentum > 0});
      case OptimizerKind::adam:
        return optim::Adam<T>(Model::parameter_count, {.lr = o.lr, .weight_decay = o.weight_decay});
      case OptimizerKind::adamw:
        break;
    }
    return optim::AdamW<T>(Model::parameter_count, {.lr = o.lr, .weight_decay = o.weight_decay});
  }

  // "; stopped without saving. " and the truth about the checkpoint a user may go back to.
  std::string stopped_without_saving() const {
    std::string text = "; stopped without saving. ";
    if (!good_checkpoint_.empty())
      return text + "The last good checkpoint is " + good_checkpoint_ +
             "; resuming it repeats the same steps, so train again with other settings (a lower learning rate)";
    text += "This run saved no checkpoint, so there is none to resume";
    std::error_code ignored;
    if (std::filesystem::exists(checkpoint_path(), ignored)) text += " (" + checkpoint_path().string() + " is from an earlier run)";
    return text;
  }

  // "<path> (after epoch 3)" or "<path> (in epoch 3, after batch 40 of 468)", for the state just saved or loaded.
  std::string describe_checkpoint(const std::filesystem::path& path) const {
    const std::string position = state_.in_epoch ? "in epoch " + std::to_string(state_.epoch) + ", after batch " +
                                                       std::to_string(state_.epoch_seen / options_.batch) + " of " +
                                                       std::to_string(loader_.batches_per_epoch())
                                                 : "after epoch " + std::to_string(state_.epoch);
    return path.string() + " (" + position + ")";
  }

  // The index of the first NaN or infinity in `values`, or values.size().
  static std::size_t first_non_finite(std::span<const T> values) {
    for (std::size_t i = 0; i < values.size(); ++i)
      if (!std::isfinite(static_cast<double>(values[i]))) return i;
    return values.size();
  }

  // What a resumed run must share with the run it continues.
  std::map<std::string, std::string> settings() const {
    char text[64];
    const auto number = [&](double v) {
      std::snprintf(text, sizeof text, "%.17g", v);
      return std::string(text);
    };
    return {{"epochs", std::to_string(options_.epochs)},
            {"batch", std::to_string(options_.batch)},
            {"lr", number(options_.lr)},
            {"optimizer", optimizer_name(options_.optimizer)},
            {"schedule", schedule_name(options_.schedule)},
            {"momentum", number(options_.momentum)},
            {"nesterov", options_.nesterov ? "1" : "0"},
            {"weight_decay", number(options_.weight_decay)},
            {"warmup_epochs", number(options_.warmup_epochs)},
            {"seed", std::to_string(options_.seed)},
            {"augmentation", augmentation_name(options_.augmentation)},
            {"train_images", std::to_string(train_set_.count)},
            {"network", std::string(Model::network::type_name)}};
  }

  // Cosine: linear warmup to lr over the first iterations, then CosineAnnealingLR stepped once per
  // iteration down to 0 at the last one. Step: StepLR stepped once per epoch.
  void reset_schedule() {
    cosine_.reset();
    step_.reset();
    if (options_.schedule == ScheduleKind::cosine) {
      cosine_.emplace(options_.lr, std::max<std::size_t>(total_iterations_ - warmup_iterations_, 1), 0.0);
      lr_ = warmup_iterations_ > 0 ? options_.lr / static_cast<double>(warmup_iterations_) : options_.lr;
    } else {
      step_.emplace(options_.lr, std::max<std::size_t>(options_.epochs / 3, 1), 0.1);
      lr_ = options_.lr;
    }
    state_.schedule_steps = 0;
    state_.learning_rate = lr_;
  }
  void advance_schedule_iteration() {
    last_step_lr_ = lr_;
    if (cosine_) {
      const std::uint64_t next = state_.iteration;  // the index of the next step
      if (next < warmup_iterations_)
        lr_ = options_.lr * static_cast<double>(next + 1) / static_cast<double>(warmup_iterations_);
      else if (next == warmup_iterations_)
        lr_ = options_.lr;
      else
        lr_ = cosine_->step();
      state_.schedule_steps = cosine_->epoch();
    }
    state_.learning_rate = lr_;
  }
  void advance_schedule_epoch() {
    if (step_) {
      lr_ = step_->step();
      state_.schedule_steps = step_->epoch();
      state_.learning_rate = lr_;
    }
  }

  void save() {
    state_.loader_state = loader_.state();
    state_.dropout_generator = generator_state(model_.generator());
    state_.optimizer_steps = optimizer_step_count();
    state_.history = metrics_csv(history_);
    if (writes_files()) save_checkpoint(checkpoint_path(), model_, optimizer_state_tensors(), state_);
    good_checkpoint_ = describe_checkpoint(checkpoint_path());  // rank 0's, with data parallelism
  }

  // Data parallelism: rank 0 alone writes the checkpoint, metrics and plot (every process holds
  // the same state), and each process trains on its share of every global batch.
  bool writes_files() const { return options_.parallel == nullptr || options_.parallel->is_root(); }
  void shard_loader() {
    if (options_.parallel) loader_.shard(options_.parallel->rank(), options_.parallel->size());
  }

  void write_reports() {
    if (!writes_files()) return;
    const std::string csv = metrics_csv(history_);
    io::write_file_atomically(metrics_path(), std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(csv.data()), csv.size()));
    write_png(training_curves(history_, std::string(Model::network::type_name)), plot_path());
  }

  Model& model_;
  const data::Dataset& train_set_;
  const data::Dataset& test_set_;
  TrainerOptions options_;
  data::BatchLoader loader_;
  Optimizer optimizer_;
  ClassificationObjective<T> objective_;
  std::optional<optim::CosineAnnealingLR> cosine_;
  std::optional<optim::StepLR> step_;
  std::size_t total_iterations_ = 0, warmup_iterations_ = 0, total_session_batches_ = 0;
  double lr_ = 0, last_step_lr_ = 0;
  TrainingState state_;
  std::vector<EpochMetrics> history_;
  std::string good_checkpoint_;  // describe_checkpoint of the last checkpoint saved or resumed, or ""
};

}  // namespace ctnn::train
