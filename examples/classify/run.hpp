#pragma once
// ctnn-classify's classifier for one network type, and the class-count dispatch of the ImageNet
// models: included by the model files examples/classify/<model>.cpp, which instantiate it.
// What does not depend on the network is compiled once, in common.cpp.

#include <algorithm>    // std::clamp, std::all_of
#include <cmath>        // std::isfinite
#include <cstddef>      // std::size_t
#include <cstdio>       // std::printf, std::fprintf, std::fflush
#include <filesystem>   // std::filesystem::path
#include <functional>   // std::function
#include <optional>     // std::optional
#include <span>         // std::span
#include <string>       // std::string
#include <type_traits>  // std::is_same_v
#include <utility>      // std::index_sequence, std::move
#include <vector>       // std::vector

#include <ctnn/ctnn.hpp>             // ctnn::Model, ctnn::init, ctnn::activation_bytes_v
#include <ctnn/io/safetensors.hpp>   // ctnn::safetensors::Reader
#include <ctnn/io/weights.hpp>       // ctnn::load_weights

#include "classify.hpp"   // classify::Options, Failure, supported_class_counts

#if defined(CTNN_WITH_ONEDNN)
#include <ctnn/onednn.hpp>   // ctnn::OneDnn models (--backend onednn)
#endif
// --device cuda needs the CUDA backend: a build that links ctnn::cuda (which defines CTNN_WITH_CUDA).
#if defined(CTNN_WITH_CUDA) && CTNN_WITH_CUDA && __has_include(<ctnn/cuda.hpp>)
#include <ctnn/cuda.hpp>   // ctnn::Cuda models
#define CTNN_CLASSIFY_CUDA 1
#else
#define CTNN_CLASSIFY_CUDA 0
#endif

namespace classify {

using ImageNetInput = ctnn::Shape<3, 224, 224>;

// What differs between the models: how a file becomes an input tensor, the files used without
// --labels and --weights, and which weights fit (for the message when a file does not).
struct ModelSpec {
  std::function<std::vector<float>(const std::filesystem::path&)> preprocess;
  std::string default_labels;   // a file under examples/data/, or ""
  std::string expects;          // which weights fit, for the message when a file does not
  std::string default_weights;  // used without --weights: a file under examples/data/, or ""
  std::vector<std::string> calibration_images = {};  // int8 calibrates on these beside the inputs
};

// ---- common.cpp --------------------------------------------------------------------------------

// "examples/data/<name>" in the source tree, if this build knows where that is and it exists.
std::string shipped_data_file(const std::string& name);
// One label per line, `classes` of them; "class <i>" for each without a file.
std::vector<std::string> read_labels(const std::string& path, std::size_t classes);
// The ImageNet evaluation transform (Resize(resize), CenterCrop(224), ToTensor, Normalize); with
// transform_input, also torchvision GoogLeNet's transform_input step.
std::vector<float> imagenet_input(const std::filesystem::path& path, int resize, bool transform_input);
// The weights file of the command (--weights, else the model's default), read and checked as a
// safetensors file; nothing without one.
std::optional<ctnn::safetensors::Reader> open_weights(const Options& options, const ModelSpec& spec);
// The class count of a weights file: the first dimension of its classifier's weight `head`
// ("fc.weight"), or `fallback` without a file or without that tensor (the load then says what is
// wrong). A count the program is not built for is a Failure listing the supported ones.
std::size_t class_count(const std::optional<ctnn::safetensors::Reader>& weights, const std::string& model,
                        const std::string& head, std::size_t fallback);
// Prints one image's top-k labels with softmax probabilities; false if a logit is not finite.
bool print_predictions(const std::string& image, std::span<const float> logits, const std::vector<std::string>& labels,
                       std::size_t top);
// The images --precision int8 calibrates on: the first 256 that read of the input images, then
// the spec's.
std::vector<float> calibration_inputs(const Options& options, const ModelSpec& spec);
// Rethrows a load error as a Failure, adding which weights fit where the file is for another network.
[[noreturn]] void refuse_weights(const ctnn::Error& error, const ModelSpec& spec);

// ---- the classifier ----------------------------------------------------------------------------

// --batch-size 0: as many images per forward pass as fit in 256 MiB of activations, 1 to 64.
template <class Net, ctnn::ShapeType In>
constexpr std::size_t automatic_batch_size() {
  constexpr std::size_t budget = std::size_t{256} << 20;
  constexpr std::size_t per_image = ctnn::activation_bytes_v<Net, In> + In::size * sizeof(float);
  return std::clamp<std::size_t>(budget / per_image, 1, 64);
}

// Loads the weights strictly, except for the auxiliary heads ("aux1", "aux2"): they run in
// training only, so a file may carry them for a model without them, or lack them. Without weights
// the model is untrained (init::googlenet_seed, seed 0), and a warning says so.
template <class Model>
void load_for_inference(Model& model, const std::optional<ctnn::safetensors::Reader>& weights, const ModelSpec& spec) {
  if (!weights) {
    std::fprintf(stderr, "ctnn-classify: warning: no --weights given: the model is untrained "
                         "(init::googlenet_seed, seed 0), so its labels are arbitrary\n");
    ctnn::init::googlenet_seed(model, 0);
    return;
  }
  try {
    const ctnn::LoadReport report =
        ctnn::load_weights(model, *weights, {.strict = true, .optional_modules = {"aux1", "aux2"}});
    std::fprintf(stderr, "ctnn-classify: loaded %zu tensors from %s%s\n", report.loaded, weights->label().c_str(),
                 report.unexpected.empty() ? "" : " (skipped the auxiliary heads: they run in training only)");
  } catch (const ctnn::Error& error) {
    refuse_weights(error, spec);
  }
}

// The classifier for one network type: load weights, read the images a batch at a time, run them,
// print. Returns the exit status.
template <class Net, ctnn::ShapeType In, class Device>
int classify_on(const Options& options, const ModelSpec& spec, const std::optional<ctnn::safetensors::Reader>& weights) {
  constexpr std::size_t classes = ctnn::output_shape_t<Net, In>::size;
  ctnn::Model<Net, In, float, Device> model;
  load_for_inference(model, weights, spec);
  model.eval();
#if defined(CTNN_WITH_ONEDNN)  // a build without oneDNN has no ctnn::onednn to name
  if constexpr (std::is_same_v<Device, ctnn::OneDnn>) {
    const ctnn::onednn::Precision precision = *ctnn::onednn::precision_named(options.precision);
    if (precision == ctnn::onednn::Precision::int8) {
      const std::vector<float> calibration = calibration_inputs(options, spec);
      if (calibration.empty()) fail("--precision int8: none of the images could be read to calibrate on");
      model.calibrate(calibration);
    }
    model.set_precision(precision);
    if (!model.precision_note().empty()) std::fprintf(stderr, "ctnn-classify: %s\n", model.precision_note().c_str());
  }
#endif
  if constexpr (requires { model.set_threads(1); }) {  // CPU threads; a GPU model has none to set
    if (options.threads > 0) model.set_threads(options.threads);
  }
  const std::vector<std::string> labels =
      read_labels(options.labels.empty() ? spec.default_labels : options.labels, classes);

  // Decode and preprocess the files a batch at a time (a failure is reported and the file skipped),
  // then run the batch and print it.
  const std::size_t batch = options.batch_size > 0 ? options.batch_size : automatic_batch_size<Net, In>();
  int failures = 0;
  std::vector<std::string> names;
  std::vector<float> inputs;
  const auto run_batch = [&] {
    if (names.empty()) return;
    const std::span<const float> logits = model.forward(std::span<const float>(inputs));
    for (std::size_t n = 0; n < names.size(); ++n)
      if (!print_predictions(names[n], logits.subspan(n * classes, classes), labels, options.top)) ++failures;
    names.clear();
    inputs.clear();
  };
  for (const std::string& path : options.images) {
    try {
      const std::vector<float> tensor = spec.preprocess(path);
      inputs.insert(inputs.end(), tensor.begin(), tensor.end());
      names.push_back(path);
    } catch (const ctnn::Error& error) {
      std::fprintf(stderr, "ctnn-classify: error: %s: %s\n", error.subject().c_str(), error.reason().c_str());
      ++failures;
    }
    if (names.size() == batch) run_batch();
  }
  run_batch();
  std::fflush(stdout);
  if (failures > 0) {
    std::fprintf(stderr, "ctnn-classify: %d of %zu images could not be classified\n", failures, options.images.size());
  }
  return failures > 0 ? 1 : 0;
}

// The classifier on options.device (on the CPU, options.backend).
template <class Net, ctnn::ShapeType In>
int classify(const Options& options, const ModelSpec& spec, const std::optional<ctnn::safetensors::Reader>& weights) {
  if (options.device == "cuda") {
#if CTNN_CLASSIFY_CUDA
    return classify_on<Net, In, ctnn::Cuda>(options, spec, weights);
#else
    fail("--device cuda: this ctnn-classify was built without the CUDA backend (CTNN_WITH_CUDA); "
         "rebuild with the CUDA toolkit and cuDNN installed, or use --device cpu");
#endif
  }
#if defined(CTNN_WITH_ONEDNN)
  if (options.backend == "onednn") return classify_on<Net, In, ctnn::OneDnn>(options, spec, weights);
#endif
  return classify_on<Net, In, ctnn::Cpu>(options, spec, weights);
}

// An ImageNet model NetOf<Classes> (3x224x224 input) for the class count of the weights file, any
// of supported_class_counts: `head` names its classifier's weight, `fallback` is the count without
// weights. The labels default to examples/data/imagenet_labels.txt for 1000 classes.
template <template <std::size_t> class NetOf>
int classify_imagenet(const Options& options, const std::string& head, std::size_t fallback, std::string expects,
                      bool transform_input = false) {
  ModelSpec spec{[&options, transform_input](const std::filesystem::path& path) {
                   return imagenet_input(path, options.resize, transform_input);
                 },
                 "", std::move(expects), ""};
  const std::optional<ctnn::safetensors::Reader> weights = open_weights(options, spec);
  const std::size_t classes = class_count(weights, options.model, head, fallback);
  if (classes == 1000) spec.default_labels = shipped_data_file("imagenet_labels.txt");
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    int status = 0;
    ((classes == supported_class_counts[I]
          ? (status = classify<NetOf<supported_class_counts[I]>, ImageNetInput>(options, spec, weights), true)
          : false) ||
     ...);
    return status;
  }(std::make_index_sequence<supported_class_counts.size()>{});
}

}  // namespace classify
