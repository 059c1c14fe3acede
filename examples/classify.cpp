// ctnn-classify: label image files with a network whose weights come from PyTorch (converted with
// tools/convert_to_safetensors.py) or from ctnn::save_weights.
//
//   ctnn-classify --model torchvision-googlenet --weights googlenet.safetensors --top 3 cat.jpg dog.png
//   ctnn-classify --model fashion-mnist examples/data/*.png     (weights shipped in examples/data/)
//
// Every image is preprocessed as torchvision's evaluation transform does it (ImageNet models:
// Resize(256), CenterCrop(224), ToTensor, Normalize; Fashion-MNIST: grayscale 28x28), the images run
// in batches of --batch-size (memory does not grow with the number of images), and each gets its
// top-k labels with softmax probabilities:
//
//   cat.jpg
//      1. tabby                     61.32%
//      2. tiger cat                 20.05%
//
// An image that cannot be read gets an error line naming it; the others are still classified, and
// the exit status is 1. A weights file that does not fit the model, or holds values no network can
// compute with (NaN, infinities, negative BatchNorm variances), is refused before anything runs.
// tools/predict_pytorch.py prints PyTorch's predictions in the same layout.

#include <algorithm>    // std::sort, std::min, std::max, std::clamp, std::all_of
#include <cmath>        // std::exp, std::isfinite
#include <cstdint>      // std::uint8_t, std::uint64_t
#include <cstdio>       // std::printf, std::fprintf
#include <exception>    // std::exception
#include <stdexcept>    // std::runtime_error
#include <filesystem>   // std::filesystem::path, exists
#include <functional>   // std::function
#include <numeric>      // std::iota
#include <optional>     // std::optional
#include <span>         // std::span
#include <sstream>      // std::istringstream
#include <string>       // std::string, std::getline
#include <vector>       // std::vector

#include <CLI/CLI.hpp>   // CLI::App: the command line

#include <ctnn/ctnn.hpp>            // ctnn::Model, GoogLeNet, TorchvisionGoogLeNet, init
#include <ctnn/io/file.hpp>         // ctnn::io::read_regular_file
#include <ctnn/io/image.hpp>        // ctnn::image::load, imagenet_preprocess, grayscale_preprocess
#include <ctnn/io/weights.hpp>      // ctnn::load_weights, LoadOptions, LoadReport

#include "cli_checks.hpp"   // cli_checks::integer_in, thread_count: the options' checks

#if __has_include(<ctnn/models/fashion_inception.hpp>)
#include <ctnn/models/fashion_inception.hpp>   // the Fashion-MNIST Inception network
#define CTNN_CLASSIFY_FASHION_MNIST 1
#else
#define CTNN_CLASSIFY_FASHION_MNIST 0
#endif

// --device cuda needs the CUDA backend: a build that links ctnn::cuda (which defines CTNN_WITH_CUDA).
#if defined(CTNN_WITH_ONEDNN)
#include <ctnn/onednn.hpp>   // ctnn::OneDnn models (--backend onednn)
#endif
#if defined(CTNN_WITH_CUDA) && CTNN_WITH_CUDA && __has_include(<ctnn/cuda.hpp>)
#include <ctnn/cuda.hpp>   // ctnn::Cuda models
#define CTNN_CLASSIFY_CUDA 1
#else
#define CTNN_CLASSIFY_CUDA 0
#endif

namespace {

using ImageNetInput = ctnn::Shape<3, 224, 224>;

struct Options {
  std::string model = "torchvision-googlenet";
  std::string weights;
  std::string labels;
  std::size_t top = 5;
  std::string device = "cpu";
#if defined(CTNN_WITH_ONEDNN)
  std::string backend = "onednn";  // on the CPU: oneDNN (fast) or the Eigen reference
#else
  std::string backend = "reference";
#endif
  std::string precision = "f32";
  int threads = 0;            // 0: the model's default (all cores)
  std::size_t batch_size = 0; // 0: automatic_batch_size
  bool transform_input = true;
  std::vector<std::string> images;
};

// What differs between the models: how a file becomes an input tensor, the files used without
// --labels and --weights, and which weights fit (for the message when a file does not).
struct ModelSpec {
  std::function<std::vector<float>(const std::filesystem::path&)> preprocess;
  std::string default_labels;  // a file under examples/data/, or ""
  std::string expects;         // which weights fit, for the message when a file does not
  std::string default_weights; // used without --weights: a file under examples/data/, or ""
};

// A problem with the command's input (weights, labels, options): reported as one error line.
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& message) { throw Failure(message); }

// "examples/data/<name>" in the source tree, if this build knows where that is and it exists.
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

// Loads `path` strictly, except for the auxiliary heads ("aux1", "aux2"): they run in training
// only, so a file may carry them for a model without them, or lack them.
template <class Model>
void load_for_inference(Model& model, const std::string& path) {
  const ctnn::LoadReport report =
      ctnn::load_weights(model, std::filesystem::path(path), {.strict = true, .optional_modules = {"aux1", "aux2"}});
  std::fprintf(stderr, "ctnn-classify: loaded %zu tensors from %s%s\n", report.loaded, path.c_str(),
               report.unexpected.empty() ? "" : " (skipped the auxiliary heads: they run in training only)");
}

// --batch-size 0: as many images per forward pass as fit in 256 MiB of activations, 1 to 64.
template <class Net, ctnn::ShapeType In>
constexpr std::size_t automatic_batch_size() {
  constexpr std::size_t budget = std::size_t{256} << 20;
  constexpr std::size_t per_image = ctnn::activation_bytes_v<Net, In> + In::size * sizeof(float);
  return std::clamp<std::size_t>(budget / per_image, 1, 64);
}

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

// The classifier for one network type: load weights, read the images, run them, print. Returns the
// exit status. A new model plugs in with its Net, input shape and ModelSpec (see main).
template <class Net, ctnn::ShapeType In, class Device = ctnn::Cpu>
int classify(const Options& options, const ModelSpec& spec) {
  constexpr std::size_t classes = ctnn::output_shape_t<Net, In>::size;
  ctnn::Model<Net, In, float, Device> model;
  const std::string weights = options.weights.empty() ? spec.default_weights : options.weights;
  if (weights.empty()) {
    std::fprintf(stderr, "ctnn-classify: warning: no --weights given: the model is untrained "
                         "(init::googlenet_seed, seed 0), so its labels are arbitrary\n");
    ctnn::init::googlenet_seed(model, 0);
  } else {
    try {
      load_for_inference(model, weights);
    } catch (const ctnn::Error& error) {
      // A file that is fine but not for this model: say which weights would be.
      const std::string& reason = error.reason();
      const bool other_network = reason.find("expected, file has") != std::string::npos ||
                                 reason.find("the model") != std::string::npos ||
                                 reason.find("do not fit") != std::string::npos;
      fail(error.subject() + ": " + error.reason() + (other_network ? "\n  (" + spec.expects + ")" : std::string()));
    }
  }
  model.eval();
  if constexpr (requires { model.set_precision(ctnn::onednn::Precision::bf16); }) {
    model.set_precision(options.precision == "bf16" ? ctnn::onednn::Precision::bf16 : ctnn::onednn::Precision::f32);
    if (!model.precision_note().empty()) std::fprintf(stderr, "ctnn-classify: %s\n", model.precision_note().c_str());
  }
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
    for (std::size_t n = 0; n < names.size(); ++n) {
      const std::span<const float> row = logits.subspan(n * classes, classes);
      if (!std::all_of(row.begin(), row.end(), [](float v) { return std::isfinite(v); })) {
        std::fprintf(stderr, "ctnn-classify: error: %s: the network's output is not finite (NaN or infinity)\n",
                     names[n].c_str());
        ++failures;
        continue;
      }
      std::printf("%s\n", names[n].c_str());
      std::size_t rank = 0;
      for (const Prediction& p : top_k(row, options.top)) {
        std::printf("  %2zu. %-24s %6.2f%%\n", ++rank, labels[p.index].c_str(), 100.0 * p.probability);
      }
    }
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

// The ImageNet evaluation transform; with transform_input, also torchvision GoogLeNet's
// transform_input step (ctnn::TransformInput), run here so one network type serves both settings.
std::vector<float> imagenet_input(const std::filesystem::path& path, bool transform_input) {
  std::vector<float> tensor = ctnn::image::imagenet_preprocess(ctnn::image::load(path, 3));
  if (transform_input) {
    static ctnn::Model<ctnn::TransformInput, ImageNetInput> transform;
    const std::span<const float> transformed = transform.forward(tensor);
    tensor.assign(transformed.begin(), transformed.end());
  }
  return tensor;
}

template <class Device>
int run(const Options& options) {
  if (options.model == "googlenet-seed") {
    // The seed's GoogLeNet(num_classes=2), with or without its auxiliary heads in the file.
    // Another class count is another type: change the 2 here.
    return classify<ctnn::GoogLeNet<2, false>, ImageNetInput, Device>(
        options, {[](const std::filesystem::path& path) { return imagenet_input(path, false); }, "",
                  "--model googlenet-seed takes the weights of googlenet_seed.py's GoogLeNet(num_classes=2)", ""});
  }
  if (options.model == "torchvision-googlenet") {
    // torchvision.models.googlenet: 1000 ImageNet classes (its pretrained file carries the
    // auxiliary heads, which load_for_inference skips).
    const bool transform_input = options.transform_input;
    return classify<ctnn::TorchvisionGoogLeNet<1000, false, false>, ImageNetInput, Device>(
        options, {[transform_input](const std::filesystem::path& path) { return imagenet_input(path, transform_input); },
                  shipped_data_file("imagenet_labels.txt"),
                  "--model torchvision-googlenet takes the weights of torchvision.models.googlenet (1000 classes)", ""});
  }
  if (options.model == "fashion-mnist") {
#if CTNN_CLASSIFY_FASHION_MNIST
    // ctnn::FashionInception on 28x28 grayscale, normalised as in training ((p / 255 - 0.2860) /
    // 0.3530). Without --weights it uses the trained weights shipped in examples/data/.
    return classify<ctnn::FashionInception, ctnn::FashionInput, Device>(
        options, {[](const std::filesystem::path& path) {
                    return ctnn::image::grayscale_preprocess(ctnn::image::load(path, 0), 28, 0.2860f, 0.3530f);
                  },
                  shipped_data_file("fashion_mnist_labels.txt"),
                  "--model fashion-mnist takes the weights of ctnn::FashionInception (ctnn's Fashion-MNIST training)",
                  shipped_data_file("fashion_inception.safetensors")});
#else
    fail("--model fashion-mnist is not available yet: it needs the Fashion-MNIST network "
         "(<ctnn/models/fashion_inception.hpp>), which is still being written");
#endif
  }
  fail("unknown --model '" + options.model + "'");
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"Label image files (JPEG, PNG) with a GoogLeNet or Fashion-MNIST network; weights from "
               "PyTorch (tools/convert_to_safetensors.py) or ctnn::save_weights."};
  app.add_option("--model", options.model, "the network")
      ->check(CLI::IsMember({"googlenet-seed", "torchvision-googlenet", "fashion-mnist"}))
      ->capture_default_str();
  app.add_option("--weights", options.weights, "safetensors file with the network's weights (PyTorch names)")
      ->check(CLI::ExistingFile);
  app.add_option("--labels", options.labels,
                 "class names, one per line (default: examples/data/ for torchvision-googlenet and "
                 "fashion-mnist, else 'class <i>')");
  app.add_option("--top", options.top, "how many classes to print per image")
      ->check(cli_checks::integer_in(1, 1000))->capture_default_str();
  app.add_option("--device", options.device, "where to run")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  app.add_option("--backend", options.backend,
                 "on the CPU: onednn (oneDNN, the default where built) or reference (Eigen)")
      ->check(CLI::IsMember({"onednn", "reference"}))->capture_default_str();
  app.add_option("--precision", options.precision, "f32, or bf16 (oneDNN on AMX or AVX512-BF16; int8: not yet)")
      ->check(CLI::IsMember({"f32", "bf16", "int8"}))->capture_default_str();
  app.add_option("--threads", options.threads, "CPU threads (0, the default: all cores)")->check(cli_checks::thread_count());
  app.add_option("--batch-size", options.batch_size,
                 "images per forward pass (0, the default: as many as fit in 256 MiB of activations, at most 64); "
                 "memory grows with the batch, not with the number of images")
      ->check(cli_checks::integer_in(0, 4096));
  app.add_flag("!--no-transform-input", options.transform_input,
               "torchvision-googlenet trained with transform_input=False (torchvision's pretrained one uses True)");
  app.add_option("images", options.images, "JPEG or PNG files")->required();

  try {
    app.parse(argc, argv);
    if (options.device == "cuda") {
#if CTNN_CLASSIFY_CUDA
      const ctnn::cuda::DeviceStatus status = ctnn::cuda::device_status();
      if (!status.available) fail("--device cuda: no usable CUDA device (" + status.reason + ")");
      std::fprintf(stderr, "ctnn-classify: running on %s\n", status.name.c_str());
      return run<ctnn::Cuda>(options);
#else
      fail("--device cuda: this ctnn-classify was built without the CUDA backend (CTNN_WITH_CUDA); "
           "rebuild with the CUDA toolkit and cuDNN installed, or use --device cpu");
#endif
    }
    if (options.precision == "int8") fail("--precision int8 is not implemented yet (f32 or bf16)");
    if (options.backend == "onednn") {
#if defined(CTNN_WITH_ONEDNN)
      return run<ctnn::OneDnn>(options);
#else
      fail("--backend onednn: this ctnn-classify was built without oneDNN; run tools/install-deps and rebuild, "
           "or use --backend reference");
#endif
    }
    if (options.precision != "f32") fail("--backend reference computes in f32 only (--precision f32)");
    return run<ctnn::Cpu>(options);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  } catch (const Failure& error) {
    std::fprintf(stderr, "ctnn-classify: error: %s\n", error.what());
    return 1;
  } catch (const ctnn::Error& error) {  // e.g. a weights file refused: "<file>: tensor '...': ..."
    std::fprintf(stderr, "ctnn-classify: error: %s: %s\n", error.subject().c_str(), error.reason().c_str());
    return 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ctnn-classify: error: %s\n", error.what());
    return 1;
  }
}
