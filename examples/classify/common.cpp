// ctnn-classify: what does not depend on the network (see run.hpp), compiled once.

#include <algorithm>     // std::max_element, std::partial_sort
#include <cmath>         // std::exp, std::isfinite
#include <cstdint>       // std::uint8_t, std::uint64_t
#include <cstdio>        // std::printf, std::fprintf
#include <numeric>       // std::iota
#include <sstream>       // std::istringstream
#include <system_error>  // std::error_code

#include <ctnn/io/file.hpp>    // ctnn::io::read_regular_file
#include <ctnn/io/image.hpp>   // ctnn::image::load, imagenet_preprocess

#include "run.hpp"   // the declarations

namespace classify {

std::string shipped_data_file(const std::string& name) {
#if defined(CTNN_SOURCE_DIR)
  const std::filesystem::path path = std::filesystem::path(CTNN_SOURCE_DIR) / "examples" / "data" / name;
  std::error_code error;
  if (std::filesystem::exists(path, error)) return path.string();
#endif
  (void)name;
  return "";
}

// One label per line (a trailing newline, CRLF line ends and a UTF-8 byte-order mark allowed).
std::vector<std::string> read_labels(const std::string& path, std::size_t classes) {
  if (path.empty()) {
    std::vector<std::string> labels;
    for (std::size_t i = 0; i < classes; ++i) labels.push_back("class " + std::to_string(i));
    return labels;
  }
  const std::vector<std::uint8_t> bytes = ctnn::io::read_regular_file(path, std::uint64_t{1} << 24);
  std::istringstream file(std::string(bytes.begin(), bytes.end()));
  std::vector<std::string> labels;
  for (std::string line; std::getline(file, line);) {
    if (labels.empty() && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    labels.push_back(line);
  }
  while (!labels.empty() && labels.back().empty()) labels.pop_back();
  if (labels.size() != classes) {
    fail(path + ": " + std::to_string(labels.size()) + " labels for a model with " + std::to_string(classes) +
         " classes");
  }
  return labels;
}

// transform_input runs here, so that one network type serves both settings.
std::vector<float> imagenet_input(const std::filesystem::path& path, int resize, bool transform_input) {
  std::vector<float> tensor = ctnn::image::imagenet_preprocess(ctnn::image::load(path, 3), resize, 224);
  if (transform_input) {
    static ctnn::Model<ctnn::TransformInput, ImageNetInput> transform;
    const std::span<const float> transformed = transform.forward(tensor);
    tensor.assign(transformed.begin(), transformed.end());
  }
  return tensor;
}

std::optional<ctnn::safetensors::Reader> open_weights(const Options& options, const ModelSpec& spec) {
  const std::string path = options.weights.empty() ? spec.default_weights : options.weights;
  if (path.empty()) return std::nullopt;
  return ctnn::safetensors::Reader::open(path);
}

std::size_t class_count(const std::optional<ctnn::safetensors::Reader>& weights, const std::string& model,
                        const std::string& head, std::size_t fallback) {
  const ctnn::safetensors::TensorInfo* tensor = weights ? weights->find(head) : nullptr;
  if (tensor == nullptr || tensor->shape.size() != 2) return fallback;
  const auto classes = static_cast<std::size_t>(tensor->shape[0]);
  std::string supported;
  for (std::size_t i = 0; i < supported_class_counts.size(); ++i) {
    if (supported_class_counts[i] == classes) return classes;
    supported += (i == 0 ? "" : i + 1 == supported_class_counts.size() ? " and " : ", ") +
                 std::to_string(supported_class_counts[i]);
  }
  fail(weights->label() + ": --model " + model + " with " + std::to_string(classes) + " classes (" + head + " [" +
       std::to_string(tensor->shape[0]) + ", " + std::to_string(tensor->shape[1]) +
       "]): this ctnn-classify is built for " + supported + " classes (classify::supported_class_counts)");
}

namespace {
struct Prediction {
  std::size_t index;
  double probability;
};

// The k most probable classes of one row of logits (softmax in double, stable).
std::vector<Prediction> top_k(std::span<const float> logits, std::size_t k) {
  const float largest = *std::max_element(logits.begin(), logits.end());
  std::vector<double> probabilities(logits.size());
  double sum = 0;
  for (std::size_t i = 0; i < logits.size(); ++i) sum += probabilities[i] = std::exp(double(logits[i]) - double(largest));
  std::vector<std::size_t> order(logits.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  k = std::min(k, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [&](std::size_t a, std::size_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  std::vector<Prediction> best;
  for (std::size_t i = 0; i < k; ++i) best.push_back({order[i], probabilities[order[i]] / sum});
  return best;
}
}  // namespace

bool print_predictions(const std::string& image, std::span<const float> logits, const std::vector<std::string>& labels,
                       std::size_t top) {
  if (!std::all_of(logits.begin(), logits.end(), [](float v) { return std::isfinite(v); })) {
    std::fprintf(stderr, "ctnn-classify: error: %s: the network's output is not finite (NaN or infinity)\n",
                 image.c_str());
    return false;
  }
  std::printf("%s\n", image.c_str());
  std::size_t rank = 0;
  for (const Prediction& p : top_k(logits, top))
    std::printf("  %2zu. %-24s %6.2f%%\n", ++rank, labels[p.index].c_str(), 100.0 * p.probability);
  return true;
}

void refuse_weights(const ctnn::Error& error, const ModelSpec& spec) {
  // A file that is fine but not for this model: say which weights would be.
  const std::string& reason = error.reason();
  const bool other_network = reason.find("expected, file has") != std::string::npos ||
                             reason.find("the model") != std::string::npos ||
                             reason.find("do not fit") != std::string::npos;
  fail(error.subject() + ": " + error.reason() + (other_network ? "\n  (" + spec.expects + ")" : std::string()));
}

std::vector<float> calibration_inputs(const Options& options, const ModelSpec& spec) {
  std::vector<float> inputs;
  std::vector<std::string> paths = options.images;
  for (const std::string& example : spec.calibration_images)
    if (!example.empty()) paths.push_back(example);
  constexpr std::size_t most = 256;  // images: enough for the ranges, and bounded memory
  for (std::size_t read = 0; const std::string& path : paths) {
    if (read == most) break;
    try {
      const std::vector<float> tensor = spec.preprocess(path);
      inputs.insert(inputs.end(), tensor.begin(), tensor.end());
      ++read;
    } catch (const ctnn::Error&) {  // reported when the image is classified
    }
  }
  return inputs;
}

void check_device(const Options& options) {
  if (options.device == "cpu" && options.backend == "onednn") {
#if !defined(CTNN_WITH_ONEDNN)
    fail("--backend onednn: this ctnn-classify was built without oneDNN; run tools/install-deps and rebuild, "
         "or use --backend reference");
#endif
    return;
  }
  if (options.precision != "f32") fail("--precision " + options.precision + " needs --device cpu --backend onednn");
  if (options.device != "cuda") return;
#if CTNN_CLASSIFY_CUDA
  const ctnn::cuda::DeviceStatus status = ctnn::cuda::device_status();
  if (!status.available) fail("--device cuda: no usable CUDA device (" + status.reason + ")");
  std::fprintf(stderr, "ctnn-classify: running on %s\n", status.name.c_str());
#else
  fail("--device cuda: this ctnn-classify was built without the CUDA backend (CTNN_WITH_CUDA); "
       "rebuild with the CUDA toolkit and cuDNN installed, or use --device cpu");
#endif
}

}  // namespace classify
