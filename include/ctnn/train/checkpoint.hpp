#pragma once
// Training checkpoints: everything a run needs to continue exactly where it stopped, in one
// safetensors file written atomically and durably (a temporary file, fsync, a rename, fsync of the
// directory: a crash, a power cut or a full disk never leaves a half-written checkpoint, and an
// existing one survives a failed write; see ctnn/io/file.hpp).
//
//   tensors    the model's parameters and buffers under their PyTorch names (the file also loads
//              as plain weights: ctnn::load_weights(model, path, {.strict = false})), and the
//              optimizer's state as "optimizer.<name>" [parameter_count] ("optimizer.momentum_buffer",
//              "optimizer.exp_avg", ...)
//   metadata   "ctnn.checkpoint" (format version), "ctnn.checksum" (below) and "ctnn.train.*": the
//              epoch, the position in it, the BatchLoader state, the dropout generator, the
//              optimizer's step count, the learning-rate schedule, the elapsed time, the running sums
//              of the epoch in progress, the metrics history, and the run's settings (checked on resume)
//
//   ctnn::train::save_checkpoint(path, model, optimizer.state_tensors(), state);
//   ctnn::train::TrainingState state = ctnn::train::load_checkpoint(path, model, optimizer.state_tensors());
//   optimizer.set_step_count(state.optimizer_steps);
//
// Loading is all or nothing: the file is checked completely (the checksum, tensor names, shapes,
// dtypes, values, every metadata entry) before the model or the optimizer changes. The checksum is
// a CRC-32 of everything else the file holds (checkpoint_checksum), so a flipped bit anywhere in the
// tensors or the metadata is refused instead of trained on. Values are checked as load_weights
// checks them: no NaN or infinity, no negative BatchNorm running variance.

#include <algorithm>      // std::copy, std::sort
#include <charconv>       // std::to_chars, std::from_chars: exact text for doubles
#include <cstddef>        // std::size_t
#include <cstdint>        // std::uint8_t, std::uint32_t, std::uint64_t
#include <cstdio>         // std::snprintf
#include <filesystem>     // std::filesystem::path
#include <map>            // std::map
#include <random>         // std::mt19937_64 and its text form
#include <span>           // std::span
#include <sstream>        // std::ostringstream, std::istringstream
#include <string>         // std::string
#include <string_view>    // std::string_view
#include <system_error>   // std::errc
#include <type_traits>    // std::is_same_v
#include <utility>        // std::move
#include <vector>         // std::vector

#include <zlib.h>   // crc32_z

#include <ctnn/error.hpp>             // ctnn::Error
#include <ctnn/io/safetensors.hpp>    // ctnn::safetensors::Reader, write, TensorView, DType
#include <ctnn/io/weights.hpp>        // ctnn::weights_image, ctnn::stage_weights
#include <ctnn/optim/state.hpp>       // ctnn::optim::StateTensor

namespace ctnn::train {

// Version of the layout below; a checkpoint of another version is refused. (Format 1 had no checksum.)
inline constexpr std::string_view checkpoint_format = "2";
// The metadata entry that holds the checksum: "crc32:" and 8 hexadecimal digits.
inline constexpr std::string_view checksum_key = "ctnn.checksum";
// Prefix of the optimizer's state tensors in the file.
inline constexpr std::string_view optimizer_tensor_prefix = "optimizer.";

// The scalar state of a run, beside the tensors.
struct TrainingState {
  std::size_t epoch = 0;               // epochs begun; the last one is complete unless in_epoch
  bool in_epoch = false;               // stopped between two batches of epoch `epoch`
  std::uint64_t iteration = 0;         // optimizer steps taken in the whole run
  std::string loader_state;            // data::BatchLoader::state()
  std::string dropout_generator;       // the model's dropout std::mt19937_64, as text
  std::string optimizer;               // "sgd", "adam" or "adamw"
  std::uint64_t optimizer_steps = 0;   // the optimizer's step_count()
  std::size_t schedule_steps = 0;      // the learning-rate schedule's epoch() (steps taken)
  double learning_rate = 0;            // the rate the next step uses
  double elapsed_seconds = 0;          // training time so far, summed over sessions
  // The epoch in progress: sums over its batches so far.
  double epoch_loss_sum = 0;           // sum of batch mean loss times batch size
  std::size_t epoch_correct = 0;
  std::size_t epoch_seen = 0;
  std::string history;                 // the metrics CSV so far, header included
  // The run's settings ("epochs", "batch", "lr", ...): a resume checks they did not change.
  std::map<std::string, std::string> settings;
};

namespace checkpoint_detail {

inline std::string double_text(double value) {
  char text[64];
  const auto result = std::to_chars(text, text + sizeof text, value);  // shortest exact form
  return std::string(text, result.ptr);
}

inline std::string generator_text(const std::mt19937_64& generator) {
  std::ostringstream text;
  text << generator;
  return text.str();
}

// CRC-32 over a sequence of fields, each preceded by its length, so that different contents never
// feed the same bytes (the name "ab" with shape [1] differs from "a" with shape [b, ...]).
class Crc32 {
 public:
  void add(std::span<const std::uint8_t> bytes) {
    add_raw(bytes.size());
    crc_ = crc32_z(crc_, bytes.data(), bytes.size());
  }
  void add(std::string_view text) { add(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size())); }
  void add_raw(std::uint64_t value) {
    std::uint8_t bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<std::uint8_t>(value >> (8 * i));
    crc_ = crc32_z(crc_, bytes, sizeof bytes);
  }
  std::uint32_t value() const { return static_cast<std::uint32_t>(crc_); }

 private:
  unsigned long crc_ = crc32_z(0, nullptr, 0);
};

// Reads the metadata of a checkpoint; every problem names the file and the key.
class MetadataReader {
 public:
  MetadataReader(const std::map<std::string, std::string>& metadata, std::string label)
      : metadata_(metadata), label_(std::move(label)) {}

  const std::string& text(const std::string& key) const {
    const auto at = metadata_.find(key);
    if (at == metadata_.end()) throw Error(label_, "not a complete ctnn training checkpoint: metadata '" + key + "' is missing");
    return at->second;
  }
  std::uint64_t unsigned_integer(const std::string& key) const {
    const std::string& value = text(key);
    std::uint64_t number = 0;
    const auto result = std::from_chars(value.data(), value.data() + value.size(), number);
    if (result.ec != std::errc() || result.ptr != value.data() + value.size())
      throw Error(label_, "metadata '" + key + "' is '" + value + "', not a non-negative integer");
    return number;
  }
  double real(const std::string& key) const {
    const std::string& value = text(key);
    double number = 0;
    const auto result = std::from_chars(value.data(), value.data() + value.size(), number);
    if (result.ec != std::errc() || result.ptr != value.data() + value.size())
      throw Error(label_, "metadata '" + key + "' is '" + value + "', not a number");
    return number;
  }

 private:
  const std::map<std::string, std::string>& metadata_;
  std::string label_;
};

}  // namespace checkpoint_detail

// The checksum of a checkpoint's contents: every metadata entry but the checksum itself, in key
// order, and every tensor in name order with its dtype, shape and bytes. "crc32:0123abcd".
inline std::string checkpoint_checksum(std::span<const safetensors::TensorView> tensors,
                                       const std::map<std::string, std::string>& metadata) {
  checkpoint_detail::Crc32 crc;
  for (const auto& [key, value] : metadata) {
    if (key == checksum_key) continue;
    crc.add(key);
    crc.add(value);
  }
  std::vector<const safetensors::TensorView*> order;
  for (const safetensors::TensorView& tensor : tensors) order.push_back(&tensor);
  std::sort(order.begin(), order.end(), [](const auto* a, const auto* b) { return a->name < b->name; });
  for (const safetensors::TensorView* tensor : order) {
    crc.add(tensor->name);
    crc.add(safetensors::dtype_name(tensor->dtype));
    crc.add_raw(tensor->shape.size());
    for (const std::int64_t dim : tensor->shape) crc.add_raw(static_cast<std::uint64_t>(dim));
    crc.add(tensor->bytes);
  }
  char text[16];
  std::snprintf(text, sizeof text, "crc32:%08x", static_cast<unsigned>(crc.value()));
  return text;
}

// Throws ctnn::Error naming the file unless its checksum entry matches its contents.
inline void verify_checksum(const safetensors::Reader& file) {
  const auto stored = file.metadata().find(std::string(checksum_key));
  if (stored == file.metadata().end())
    throw Error(file.label(), "the checkpoint has no checksum ('" + std::string(checksum_key) + "' metadata), so its contents cannot be trusted");
  std::vector<safetensors::TensorView> views;
  views.reserve(file.tensors().size());
  for (const safetensors::TensorInfo& info : file.tensors()) views.push_back({info.name, info.dtype, info.shape, file.raw(info)});
  const std::string computed = checkpoint_checksum(views, file.metadata());
  if (computed != stored->second)
    throw Error(file.label(), "checksum mismatch: the file says " + stored->second + ", its contents give " + computed +
                                  "; it was damaged or altered after it was written, and is not resumed");
}

// The model's dropout generator as checkpoint text, and back.
inline std::string generator_state(const std::mt19937_64& generator) { return checkpoint_detail::generator_text(generator); }
inline void set_generator_state(std::mt19937_64& generator, const std::string& text, const std::string& label = "generator") {
  std::istringstream input(text);
  std::mt19937_64 restored;
  input >> restored;
  if (!input) throw Error(label, "malformed random generator state");
  generator = restored;
}

// Writes `model`, the optimizer's `state_tensors` and `state` to `path` atomically.
template <class Model, class T = typename Model::scalar>
void save_checkpoint(const std::filesystem::path& path, const Model& model,
                     const std::vector<optim::StateTensor<T>>& state_tensors, const TrainingState& state) {
  using checkpoint_detail::double_text;
  WeightsImage image = weights_image(model);
  for (const optim::StateTensor<T>& tensor : state_tensors) {
    if (tensor.values.size() != Model::parameter_count)
      throw Error(path.string(), "optimizer state '" + std::string(tensor.name) + "' holds " +
                                     std::to_string(tensor.values.size()) + " values for " +
                                     std::to_string(Model::parameter_count) + " parameters");
    safetensors::TensorView view;
    view.name = std::string(optimizer_tensor_prefix) + std::string(tensor.name);
    view.dtype = std::is_same_v<T, double> ? safetensors::DType::F64 : safetensors::DType::F32;
    view.shape = {static_cast<std::int64_t>(tensor.values.size())};
    view.bytes = std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(tensor.values.data()),
                                               tensor.values.size_bytes());
    image.tensors.push_back(std::move(view));
  }
  auto& meta = image.metadata;
  meta["ctnn.checkpoint"] = std::string(checkpoint_format);
  meta["ctnn.train.epoch"] = std::to_string(state.epoch);
  meta["ctnn.train.in_epoch"] = state.in_epoch ? "1" : "0";
  meta["ctnn.train.iteration"] = std::to_string(state.iteration);
  meta["ctnn.train.loader_state"] = state.loader_state;
  meta["ctnn.train.dropout_generator"] = state.dropout_generator;
  meta["ctnn.train.optimizer"] = state.optimizer;
  meta["ctnn.train.optimizer_steps"] = std::to_string(state.optimizer_steps);
  meta["ctnn.train.schedule_steps"] = std::to_string(state.schedule_steps);
  meta["ctnn.train.learning_rate"] = double_text(state.learning_rate);
  meta["ctnn.train.elapsed_seconds"] = double_text(state.elapsed_seconds);
  meta["ctnn.train.epoch_loss_sum"] = double_text(state.epoch_loss_sum);
  meta["ctnn.train.epoch_correct"] = std::to_string(state.epoch_correct);
  meta["ctnn.train.epoch_seen"] = std::to_string(state.epoch_seen);
  meta["ctnn.train.history"] = state.history;
  for (const auto& [key, value] : state.settings) meta["ctnn.train.setting." + key] = value;
  meta[std::string(checksum_key)] = checkpoint_checksum(image.tensors, meta);
  safetensors::write(path, image.tensors, image.metadata);
}

// Reads a checkpoint written by save_checkpoint into `model` and the optimizer's `state_tensors`
// (which must have the same names as when it was saved) and returns the scalar state. Throws
// ctnn::Error naming the file, changing nothing, if anything does not fit. check_values = false
// accepts non-finite values (see LoadOptions::check_values); the checksum is always verified.
template <class Model, class T = typename Model::scalar>
TrainingState load_checkpoint(const safetensors::Reader& file, Model& model,
                              const std::vector<optim::StateTensor<T>>& state_tensors, bool check_values = true) {
  const std::string label = file.label();
  const checkpoint_detail::MetadataReader meta(file.metadata(), label);
  if (!file.metadata().contains("ctnn.checkpoint"))
    throw Error(label, "not a ctnn training checkpoint (no 'ctnn.checkpoint' metadata; plain weights load with "
                       "ctnn::load_weights)");
  if (meta.text("ctnn.checkpoint") != checkpoint_format)
    throw Error(label, "checkpoint format " + meta.text("ctnn.checkpoint") + ", this build reads format " +
                           std::string(checkpoint_format));
  verify_checksum(file);

  TrainingState state;
  state.epoch = meta.unsigned_integer("ctnn.train.epoch");
  state.in_epoch = meta.unsigned_integer("ctnn.train.in_epoch") != 0;
  state.iteration = meta.unsigned_integer("ctnn.train.iteration");
  state.loader_state = meta.text("ctnn.train.loader_state");
  state.dropout_generator = meta.text("ctnn.train.dropout_generator");
  state.optimizer = meta.text("ctnn.train.optimizer");
  state.optimizer_steps = meta.unsigned_integer("ctnn.train.optimizer_steps");
  state.schedule_steps = meta.unsigned_integer("ctnn.train.schedule_steps");
  state.learning_rate = meta.real("ctnn.train.learning_rate");
  state.elapsed_seconds = meta.real("ctnn.train.elapsed_seconds");
  state.epoch_loss_sum = meta.real("ctnn.train.epoch_loss_sum");
  state.epoch_correct = meta.unsigned_integer("ctnn.train.epoch_correct");
  state.epoch_seen = meta.unsigned_integer("ctnn.train.epoch_seen");
  state.history = meta.text("ctnn.train.history");
  const std::string setting_prefix = "ctnn.train.setting.";
  for (const auto& [key, value] : file.metadata())
    if (key.starts_with(setting_prefix)) state.settings[key.substr(setting_prefix.size())] = value;
  std::mt19937_64 generator;
  set_generator_state(generator, state.dropout_generator, label + ": metadata 'ctnn.train.dropout_generator'");

  // The optimizer's tensors, read aside first.
  std::vector<std::vector<T>> optimizer_values;
  for (const optim::StateTensor<T>& tensor : state_tensors) {
    const std::string name = std::string(optimizer_tensor_prefix) + std::string(tensor.name);
    const safetensors::TensorInfo* info = file.find(name);
    if (info == nullptr)
      throw Error(label, "the checkpoint has no optimizer state '" + name + "' (was it saved with another optimizer? it says '" +
                             state.optimizer + "')");
    if (info->element_count() != tensor.values.size())
      throw Error(label + ": tensor '" + name + "'", "holds " + std::to_string(info->element_count()) + " values; the optimizer has " +
                                                         std::to_string(tensor.values.size()));
    optimizer_values.emplace_back(tensor.values.size());
    file.read_as(*info, std::span<T>(optimizer_values.back()));
    if (!check_values) continue;
    if (auto reason = weights_detail::unusable_values(std::span<const T>(optimizer_values.back()), false))
      throw Error(label + ": tensor '" + name + "'", *reason + ": the optimizer cannot continue from it");
  }
  for (const safetensors::TensorInfo& info : file.tensors()) {
    if (!info.name.starts_with(optimizer_tensor_prefix)) continue;
    bool known = false;
    for (const optim::StateTensor<T>& tensor : state_tensors)
      known = known || info.name == std::string(optimizer_tensor_prefix) + std::string(tensor.name);
    if (!known) throw Error(label, "optimizer state '" + info.name + "' does not belong to this optimizer ('" + state.optimizer + "' saved it)");
  }

  // The model's tensors: every one must be there; only the optimizer's may be extra.
  StagedWeights<T> staged = stage_weights<typename Model::network, typename Model::input_shape, T>(
      file, std::span<const T>(model.parameters()), std::span<const T>(model.buffers()),
      LoadOptions{.strict = false, .check_values = check_values});
  if (!staged.report.missing.empty())
    throw Error(label, "the checkpoint lacks the model's tensor '" + staged.report.missing.front() + "'" +
                           (staged.report.missing.size() > 1 ? " and " + std::to_string(staged.report.missing.size() - 1) + " more" : ""));
  for (const std::string& name : staged.report.unexpected)
    if (!name.starts_with(optimizer_tensor_prefix)) throw Error(label, "the model has no tensor '" + name + "'");

  // Everything checked: commit.
  std::copy(staged.parameters.begin(), staged.parameters.end(), model.parameters().begin());
  std::copy(staged.buffers.begin(), staged.buffers.end(), model.buffers().begin());
  for (std::size_t i = 0; i < state_tensors.size(); ++i)
    std::copy(optimizer_values[i].begin(), optimizer_values[i].end(), state_tensors[i].values.begin());
  return state;
}

template <class Model, class T = typename Model::scalar>
TrainingState load_checkpoint(const std::filesystem::path& path, Model& model,
                              const std::vector<optim::StateTensor<T>>& state_tensors, bool check_values = true) {
  return load_checkpoint(safetensors::Reader::open(path), model, state_tensors, check_values);
}

}  // namespace ctnn::train
