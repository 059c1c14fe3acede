#pragma once
// Loading and saving a model's weights as safetensors files with PyTorch's state_dict names.
//
//   ctnn::Model<ctnn::GoogLeNet<2, true>, ctnn::Shape<3, 224, 224>> model;
//   ctnn::load_weights(model, "googlenet.safetensors");        // strict, like load_state_dict
//   ctnn::save_weights(model, "trained.safetensors");          // loads into PyTorch with strict=True
//
// The names come from the network type (ctnn::named_tensors), so every network ctnn can express
// loads and saves without a table: "conv1.conv.weight" [64, 3, 7, 7], ..., "fc.bias" [2].
//
// A weights file is untrusted input. Loading goes through three stages and touches the model only
// after all of them passed, so a refused file leaves every parameter and buffer as it was:
//   1. the file:   safetensors::Reader validates the header, every entry and the data layout
//   2. the names:  every tensor of the file must be one of the model's and every tensor of the model
//                  must be in the file (LoadOptions::strict; otherwise both lists are reported);
//                  shapes must be equal; dtypes F32, F16, BF16 and F64 convert to the model's scalar,
//                  BatchNorm's num_batches_tracked is an integer tensor (I64 in PyTorch's files)
//   3. staging:    all values are converted into a copy of the parameter and buffer arrays and
//                  checked (LoadOptions::check_values: no NaN or infinity, no negative BatchNorm
//                  running variance); the copy replaces the model's arrays at the end
// Every problem found in stage 2 is reported at once, as one ctnn::Error naming the file, e.g.
//   ctnn: w.safetensors: tensor 'fc.weight': shape [2, 1024] expected, file has [5, 1024]
//
// Saving writes what safetensors.torch.save_file(module.state_dict()) writes: F32 tensors (F64 for
// a double model, or F16/BF16 on request), num_batches_tracked as an I64 scalar, metadata
// {"format": "pt"} plus ctnn's own entries, written atomically (a temporary file, then a rename).

#include <algorithm>     // std::copy, std::min
#include <cmath>         // std::isfinite, std::floor
#include <concepts>      // std::same_as, std::convertible_to
#include <cstddef>       // std::size_t
#include <cstdint>       // std::uint8_t, std::uint16_t, std::int64_t
#include <cstring>       // std::memcpy
#include <filesystem>    // std::filesystem::path
#include <map>           // std::map
#include <optional>      // std::optional
#include <span>          // std::span
#include <string>        // std::string, std::to_string
#include <string_view>   // std::string_view
#include <type_traits>   // std::is_same_v
#include <unordered_map> // std::unordered_map: the model's names
#include <utility>       // std::move
#include <vector>        // std::vector

#include <ctnn/config.hpp>          // CTNN_VERSION_MAJOR, _MINOR, _PATCH
#include <ctnn/error.hpp>           // ctnn::Error
#include <ctnn/io/half.hpp>         // ctnn::float_to_float16, ctnn::float_to_bfloat16
#include <ctnn/io/safetensors.hpp>  // ctnn::safetensors::Reader, write, serialize, DType
#include <ctnn/layer.hpp>           // ctnn::TensorRole
#include <ctnn/parameters.hpp>      // ctnn::named_tensors, ctnn::NamedTensor
#include <ctnn/shape.hpp>           // ctnn::ShapeType

namespace ctnn {

// ---------------------------------------------------------------------------------------------
// Options and results
// ---------------------------------------------------------------------------------------------

struct LoadOptions {
  // true (PyTorch's load_state_dict(strict=True)): the file holds exactly the model's tensors.
  // false: the file's tensors the model lacks are skipped and the model's tensors the file lacks
  // keep their values; LoadReport lists both. Shapes and dtypes are checked either way.
  bool strict = true;
  // Module paths whose tensors may be on one side only, even when strict: skipped where the model
  // lacks them, left as they are where the file lacks them (and listed in LoadReport either way).
  // {"aux1", "aux2"} loads torchvision's pretrained GoogLeNet, which carries the auxiliary heads,
  // into TorchvisionGoogLeNet<1000, false, true>, and a file saved without them into one with them.
  std::vector<std::string> optional_modules{};
  // true: values no network can compute with are refused, naming the tensor: NaN and infinities
  // (a diverged training run, a damaged file) and negative BatchNorm running variances. false
  // loads them as they are (to inspect a broken file, say).
  bool check_values = true;
};

struct LoadReport {
  std::size_t loaded = 0;               // tensors copied into the model
  std::vector<std::string> unexpected;  // in the file, not in the model: skipped (non-strict only)
  std::vector<std::string> missing;     // in the model, not in the file: unchanged (non-strict only)
  // BatchNorm step counters (num_batches_tracked) the file lacks: set to 0, as PyTorch's BatchNorm
  // does for a state dict without version metadata, which is what every safetensors file is.
  std::vector<std::string> zeroed;
  std::map<std::string, std::string> metadata;  // the file's "__metadata__"
};

struct SaveOptions {
  // The dtype of the floating-point tensors: F32 for a float model and F64 for a double model
  // when unset; F16 or BF16 halve the file (rounded to nearest even, as tensor.half() does).
  std::optional<safetensors::DType> dtype{};
  // Extra "__metadata__" entries; "format" and the "ctnn.*" entries are set by save_weights.
  std::map<std::string, std::string> metadata{};
};

// What load_weights and save_weights need of a model: its network type and input shape (the
// names), and its parameters and buffers as host-memory spans of its scalar type.
template <class M>
concept WeightsStorage = requires(M& model) {
  typename M::network;
  typename M::input_shape;
  typename M::scalar;
  { model.parameters() } -> std::convertible_to<std::span<typename M::scalar>>;
  { model.buffers() } -> std::convertible_to<std::span<typename M::scalar>>;
};

// The result of staging a file for a network: new parameter and buffer arrays, complete.
template <class T>
struct StagedWeights {
  std::vector<T> parameters;
  std::vector<T> buffers;
  LoadReport report;
};

namespace weights_detail {

using safetensors::DType;

inline bool is_step_counter(const NamedTensor& tensor) {
  return tensor.role == TensorRole::buffer && tensor.name.ends_with("num_batches_tracked");
}

inline bool is_running_variance(const NamedTensor& tensor) {
  return tensor.role == TensorRole::buffer && (tensor.name == "running_var" || tensor.name.ends_with(".running_var"));
}

inline bool is_floating(DType dtype) {
  return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16 || dtype == DType::F64;
}

template <class T>
constexpr std::string_view scalar_name() {
  return std::is_same_v<T, double> ? "float64" : "float32";
}

template <class T>
constexpr DType native_dtype() {
  return std::is_same_v<T, double> ? DType::F64 : DType::F32;
}

inline std::string quote(std::string_view name) { return safetensors::detail::quote_name(name); }

inline std::string shape_text(const std::vector<std::size_t>& shape) {
  const std::vector<std::int64_t> dims(shape.begin(), shape.end());
  return safetensors::detail::format_shape(dims);
}

// Whether `name` lies in one of the module paths `modules` ("aux1" holds "aux1.fc2.bias").
inline bool in_modules(std::string_view name, const std::vector<std::string>& modules) {
  for (const std::string& module : modules) {
    if (name.size() > module.size() && name.starts_with(module) && name[module.size()] == '.') return true;
  }
  return false;
}

inline bool same_shape(const std::vector<std::size_t>& expected, const std::vector<std::int64_t>& found) {
  if (expected.size() != found.size()) return false;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (found[i] < 0 || static_cast<std::uint64_t>(found[i]) != expected[i]) return false;
  }
  return true;
}

// One thing wrong between a file and a model: the tensor it concerns and why.
struct Problem {
  std::string tensor;
  std::string reason;
};

// "\n  tensor 'x': reason" for each problem, the first dozen of them.
inline std::string problem_list(const std::vector<Problem>& problems) {
  constexpr std::size_t kMaxListed = 12;
  std::string list;
  for (std::size_t i = 0; i < std::min(problems.size(), kMaxListed); ++i) {
    list += "\n  tensor " + quote(problems[i].tensor) + ": " + problems[i].reason;
  }
  if (problems.size() > kMaxListed) {
    list += "\n  ... and " + std::to_string(problems.size() - kMaxListed) + " more";
  }
  return list;
}

// Throws the problems as one ctnn::Error: "file: tensor 'x': reason" for one, a list for several.
[[noreturn]] inline void refuse(const std::string& label, const std::vector<Problem>& problems,
                                const std::string& hint) {
  if (problems.size() == 1 && hint.empty()) {
    throw Error(safetensors::detail::tensor_subject(label, problems.front().tensor), problems.front().reason);
  }
  std::string reason = "the weights do not fit the model (" + std::to_string(problems.size()) +
                       (problems.size() == 1 ? " problem" : " problems") + ")";
  if (!hint.empty()) reason += "; " + hint;
  throw Error(label, reason + ":" + problem_list(problems));
}

// Why `values` cannot be computed with, or nothing: the first NaN or infinity, or for a variance
// (BatchNorm's running_var) the first negative value.
template <class T>
std::optional<std::string> unusable_values(std::span<const T> values, bool is_variance) {
  const auto where = [&](std::size_t i) { return " at element " + std::to_string(i) + " of " + std::to_string(values.size()); };
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double value = static_cast<double>(values[i]);
    if (std::isnan(value)) return "holds NaN" + where(i);
    if (std::isinf(value)) return std::string("holds ") + (value > 0 ? "+" : "-") + "infinity" + where(i);
  }
  if (is_variance) {
    for (std::size_t i = 0; i < values.size(); ++i)
      if (values[i] < T(0)) return "holds the negative variance " + std::to_string(static_cast<double>(values[i])) + where(i);
  }
  return std::nullopt;
}

// Throws the value problems as one ctnn::Error, like refuse; the wording says values, not names.
[[noreturn]] inline void refuse_values(const std::string& label, const std::vector<Problem>& problems) {
  constexpr std::string_view remedy = "LoadOptions{.check_values = false} loads such values";
  if (problems.size() == 1) {
    throw Error(safetensors::detail::tensor_subject(label, problems.front().tensor),
                problems.front().reason + ": not a usable weight (" + std::string(remedy) + ")");
  }
  throw Error(label, std::to_string(problems.size()) + " tensors hold values no network can compute with (" +
                         std::string(remedy) + "):" + problem_list(problems));
}

// A sentence that may explain a wholesale mismatch of names, or "".
inline std::string mismatch_hint(const std::vector<std::string>& unexpected,
                                 const std::unordered_map<std::string, std::size_t>& model_index,
                                 std::size_t file_tensor_count, std::size_t matched) {
  if (unexpected.empty()) return "";
  std::size_t with_module_prefix = 0;
  for (const std::string& name : unexpected) {
    if (name.starts_with("module.") && model_index.contains(name.substr(7))) ++with_module_prefix;
  }
  if (with_module_prefix == unexpected.size()) {
    return "the file's names carry the prefix 'module.' of nn.DataParallel; "
           "tools/convert_to_safetensors.py strips it";
  }
  if (matched == 0) {
    return "none of the file's " + std::to_string(file_tensor_count) + " tensors has the name of one of the model's " +
           std::to_string(model_index.size()) + ": are these the weights of another network?";
  }
  return "";
}

// Reads a step counter (an integer tensor) as a count >= 0; the problem's reason otherwise.
inline std::optional<std::string> read_step_counter(const safetensors::Reader& file, const safetensors::TensorInfo& info,
                                                    std::int64_t& count) {
  if (is_floating(info.dtype)) {
    return "dtype " + std::string(safetensors::dtype_name(info.dtype)) +
           " for a step counter; expected an integer type (PyTorch stores I64)";
  }
  file.read_as(info, std::span<std::int64_t>(&count, 1));
  if (count < 0) return "the step counter holds the negative value " + std::to_string(count);
  return std::nullopt;
}

}  // namespace weights_detail

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

// Checks `file` against the tensors of Net on In and converts it into new parameter and buffer
// arrays, which start as copies of `current_parameters` and `current_buffers` (what a non-strict
// load leaves in place). Throws ctnn::Error listing every problem; changes nothing outside.
// load_weights copies the result into a model; a device backend can upload it instead.
template <class Net, ShapeType In, class T>
StagedWeights<T> stage_weights(const safetensors::Reader& file, std::span<const T> current_parameters,
                               std::span<const T> current_buffers, const LoadOptions& options = {}) {
  using namespace weights_detail;
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "ctnn::stage_weights: the model's scalar must be float or double");
  const std::vector<NamedTensor> tensors = named_tensors<Net, In>();
  if (current_parameters.size() != Net::parameter_count || current_buffers.size() != Net::buffer_count) {
    throw Error("ctnn::stage_weights", "the arrays hold " + std::to_string(current_parameters.size()) +
                                           " parameters and " + std::to_string(current_buffers.size()) +
                                           " buffer values; the network has " + std::to_string(Net::parameter_count) +
                                           " and " + std::to_string(Net::buffer_count));
  }
  std::unordered_map<std::string, std::size_t> model_index;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (!model_index.emplace(tensors[i].name, i).second) {
      throw Error("network " + std::string(Net::type_name),
                  "two of its tensors are named " + quote(tensors[i].name) + "; give the layers distinct names");
    }
  }

  StagedWeights<T> staged;
  staged.parameters.assign(current_parameters.begin(), current_parameters.end());
  staged.buffers.assign(current_buffers.begin(), current_buffers.end());
  staged.report.metadata = file.metadata();

  std::vector<Problem> problems;
  std::vector<Problem> value_problems;  // reported only when the names and shapes fit
  std::vector<bool> found(tensors.size(), false);
  std::size_t matched = 0;
  for (const safetensors::TensorInfo& info : file.tensors()) {
    const auto at = model_index.find(info.name);
    if (at == model_index.end()) {
      staged.report.unexpected.push_back(info.name);
      continue;
    }
    ++matched;
    const NamedTensor& tensor = tensors[at->second];
    found[at->second] = true;
    if (!same_shape(tensor.shape, info.shape)) {
      problems.push_back({info.name, "shape " + shape_text(tensor.shape) + " expected, file has " +
                                         safetensors::detail::format_shape(info.shape)});
      continue;
    }
    std::vector<T>& storage = tensor.role == TensorRole::parameter ? staged.parameters : staged.buffers;
    const std::span<T> destination = std::span<T>(storage).subspan(tensor.offset, tensor.count);
    if (is_step_counter(tensor)) {
      std::int64_t count = 0;
      if (auto reason = read_step_counter(file, info, count)) {
        problems.push_back({info.name, *reason});
        continue;
      }
      destination[0] = static_cast<T>(count);
    } else {
      if (!is_floating(info.dtype)) {
        problems.push_back({info.name, "dtype " + std::string(safetensors::dtype_name(info.dtype)) +
                                           " cannot be loaded into a " + std::string(scalar_name<T>()) +
                                           " tensor (accepted: F32, F16, BF16, F64)"});
        continue;
      }
      file.read_as(info, destination);
      if (options.check_values) {
        if (auto reason = unusable_values(std::span<const T>(destination), is_running_variance(tensor))) value_problems.push_back({info.name, *reason});
      }
    }
    ++staged.report.loaded;
  }

  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (found[i]) continue;
    const NamedTensor& tensor = tensors[i];
    if (is_step_counter(tensor)) {
      staged.buffers[tensor.offset] = T(0);
      staged.report.zeroed.push_back(tensor.name);
    } else {
      staged.report.missing.push_back(tensor.name);
    }
  }

  if (options.strict) {
    for (const std::string& name : staged.report.missing) {
      if (in_modules(name, options.optional_modules)) continue;
      const NamedTensor& tensor = tensors[model_index.at(name)];
      problems.push_back({name, "the model's " + std::string(tensor.role == TensorRole::parameter ? "parameter" : "buffer") +
                                    " " + shape_text(tensor.shape) + " is not in the file"});
    }
    for (const std::string& name : staged.report.unexpected) {
      if (in_modules(name, options.optional_modules)) continue;
      problems.push_back({name, "the model has no tensor of this name (LoadOptions{.strict = false} skips it)"});
    }
  }
  if (!problems.empty() || (matched == 0 && !tensors.empty())) {
    if (problems.empty()) {  // non-strict, but nothing at all fits: surely the wrong file
      for (const std::string& name : staged.report.missing) problems.push_back({name, "is not in the file"});
    }
    refuse(file.label(), problems,
           options.strict || matched == 0 ? mismatch_hint(staged.report.unexpected, model_index, file.tensors().size(), matched)
                                          : std::string());
  }
  if (!value_problems.empty()) refuse_values(file.label(), value_problems);
  return staged;
}

// Loads the tensors of an already validated file into `model`; all or nothing (see the top).
template <WeightsStorage Model>
LoadReport load_weights(Model& model, const safetensors::Reader& file, const LoadOptions& options = {}) {
  using T = typename Model::scalar;
  const std::span<T> parameters = model.parameters();
  const std::span<T> buffers = model.buffers();
  StagedWeights<T> staged = stage_weights<typename Model::network, typename Model::input_shape, T>(
      file, std::span<const T>(parameters), std::span<const T>(buffers), options);
  std::copy(staged.parameters.begin(), staged.parameters.end(), parameters.begin());
  std::copy(staged.buffers.begin(), staged.buffers.end(), buffers.begin());
  return std::move(staged.report);
}

// Reads, validates and loads a safetensors file. Errors name `path`.
template <WeightsStorage Model>
LoadReport load_weights(Model& model, const std::filesystem::path& path, const LoadOptions& options = {}) {
  return load_weights(model, safetensors::Reader::open(path), options);
}

// The same for a file already in memory; `label` stands for it in error messages.
template <WeightsStorage Model>
LoadReport load_weights_from_memory(Model& model, std::vector<std::uint8_t> bytes, const LoadOptions& options = {},
                                    std::string label = "<memory>") {
  return load_weights(model, safetensors::Reader::from_bytes(std::move(bytes), std::move(label)), options);
}

// ---------------------------------------------------------------------------------------------
// Saving
// ---------------------------------------------------------------------------------------------

// The tensors of a save, in their final dtype; views point into `storage` or the model's arrays.
struct WeightsImage {
  std::vector<safetensors::TensorView> tensors;
  std::vector<std::vector<std::uint8_t>> storage;
  std::map<std::string, std::string> metadata{};
};

namespace weights_detail {

template <class T>
std::vector<std::uint8_t> encode(std::span<const T> values, DType dtype) {
  std::vector<std::uint8_t> bytes(values.size() * safetensors::dtype_size(dtype));
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::uint8_t* out = bytes.data() + i * safetensors::dtype_size(dtype);
    switch (dtype) {
      case DType::F64: {
        const double value = static_cast<double>(values[i]);
        std::memcpy(out, &value, sizeof value);
        break;
      }
      case DType::F32: {
        const float value = safetensors::detail::double_to_float(static_cast<double>(values[i]));
        std::memcpy(out, &value, sizeof value);
        break;
      }
      case DType::F16: {
        // Through float: double -> float -> half may round twice; PyTorch's double.half() does too.
        const std::uint16_t bits = float_to_float16(safetensors::detail::double_to_float(static_cast<double>(values[i])));
        std::memcpy(out, &bits, sizeof bits);
        break;
      }
      case DType::BF16: {
        const std::uint16_t bits = float_to_bfloat16(safetensors::detail::double_to_float(static_cast<double>(values[i])));
        std::memcpy(out, &bits, sizeof bits);
        break;
      }
      default: break;  // not reached: checked by the caller
    }
  }
  return bytes;
}

}  // namespace weights_detail

// Everything save_weights writes, without writing it.
template <WeightsStorage Model>
WeightsImage weights_image(const Model& model, const SaveOptions& options = {}) {
  using namespace weights_detail;
  using T = typename Model::scalar;
  using Net = typename Model::network;
  using In = typename Model::input_shape;
  const DType dtype = options.dtype.value_or(native_dtype<T>());
  if (!is_floating(dtype)) {
    throw Error("ctnn::save_weights", "dtype " + std::string(safetensors::dtype_name(dtype)) +
                                          " is not a floating-point type (use F32, F16, BF16 or F64)");
  }
  const std::span<const T> parameters = model.parameters();
  const std::span<const T> buffers = model.buffers();
  const std::vector<NamedTensor> tensors = named_tensors<Net, In>();

  WeightsImage image;
  image.storage.reserve(tensors.size());
  image.tensors.reserve(tensors.size());
  for (const NamedTensor& tensor : tensors) {
    const std::span<const T> values =
        (tensor.role == TensorRole::parameter ? parameters : buffers).subspan(tensor.offset, tensor.count);
    safetensors::TensorView view{tensor.name, dtype, std::vector<std::int64_t>(tensor.shape.begin(), tensor.shape.end()), {}};
    if (is_step_counter(tensor)) {
      const double value = static_cast<double>(values[0]);
      if (!std::isfinite(value) || value < 0 || value != std::floor(value) || value >= 0x1p63) {
        throw Error("ctnn::save_weights: tensor " + quote(tensor.name),
                    "holds " + std::to_string(value) + ", which is not a step count");
      }
      const std::int64_t count = static_cast<std::int64_t>(value);
      std::vector<std::uint8_t> bytes(sizeof count);
      std::memcpy(bytes.data(), &count, sizeof count);
      image.storage.push_back(std::move(bytes));
      view.dtype = DType::I64;
      view.bytes = image.storage.back();
    } else if (dtype == native_dtype<T>()) {
      // The model's own bytes: little-endian T is exactly the file's layout.
      view.bytes = std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(values.data()), values.size_bytes());
    } else {
      image.storage.push_back(encode(values, dtype));
      view.bytes = image.storage.back();
    }
    image.tensors.push_back(std::move(view));
  }

  image.metadata = options.metadata;
  image.metadata["format"] = "pt";  // what safetensors.torch writes; readers use it to pick a framework
  image.metadata["ctnn.version"] = std::to_string(CTNN_VERSION_MAJOR) + "." + std::to_string(CTNN_VERSION_MINOR) +
                                   "." + std::to_string(CTNN_VERSION_PATCH);
  image.metadata["ctnn.network"] = std::string(Net::type_name);
  image.metadata["ctnn.input_shape"] =
      "[" + std::to_string(In::channels) + ", " + std::to_string(In::height) + ", " + std::to_string(In::width) + "]";
  image.metadata["ctnn.parameter_count"] = std::to_string(Net::parameter_count);
  return image;
}

// The bytes of the file save_weights writes.
template <WeightsStorage Model>
std::vector<std::uint8_t> save_weights_to_memory(const Model& model, const SaveOptions& options = {}) {
  const WeightsImage image = weights_image(model, options);
  return safetensors::serialize(image.tensors, image.metadata);
}

// Writes every parameter and buffer of `model` under its PyTorch name, atomically: a failure
// leaves an existing file at `path` untouched. PyTorch reads it back with
//   module.load_state_dict(ctnn_reference.load_safetensors(path), strict=True)   (as torch tensors)
template <WeightsStorage Model>
void save_weights(const Model& model, const std::filesystem::path& path, const SaveOptions& options = {}) {
  const WeightsImage image = weights_image(model, options);
  safetensors::write(path, image.tensors, image.metadata);
}

}  // namespace ctnn
