#pragma once
// ctnn-classify's parts (examples/classify.cpp and examples/classify/*.cpp): the options, and one
// entry point per model. Each model family is compiled in a translation unit of its own, for every
// class count of `supported_class_counts` and every device, so the program builds in parallel and
// a change to one model recompiles one file.

#include <array>       // std::array
#include <cstddef>     // std::size_t
#include <stdexcept>   // std::runtime_error
#include <string>      // std::string
#include <vector>      // std::vector

namespace classify {

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
  int threads = 0;             // 0: the model's default (all cores)
  std::size_t batch_size = 0;  // 0: automatic_batch_size
  int resize = 256;            // ImageNet models: the shorter side before the 224x224 centre crop
  bool transform_input = true;
  std::vector<std::string> images;
};

// The network is a type, so its class count is compiled in: every ImageNet model is built for
// these, and the count is read from the weights file.
inline constexpr std::array<std::size_t, 4> supported_class_counts{2, 10, 100, 1000};

// A problem with the command's input (weights, labels, options): reported as one error line.
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail(const std::string& message) { throw Failure(message); }

// Each loads the weights (or initialises the model without them), classifies options.images on
// options.device and prints the predictions; returns the exit status. Defined in
// examples/classify/<model>.cpp.
int googlenet_seed(const Options& options);         // googlenet_seed.cpp
int torchvision_googlenet(const Options& options);  // torchvision_googlenet.cpp
int resnet18(const Options& options);               // resnet18.cpp
int resnet50(const Options& options);               // resnet50.cpp
int mobilenet_v2(const Options& options);           // mobilenet_v2.cpp
int fashion_mnist(const Options& options);          // fashion_mnist.cpp

// --device cuda: throws Failure unless this build has the CUDA backend and a usable device, and
// says which device runs; --backend and --precision: throws Failure for a pair this build cannot
// run. Defined in common.cpp.
void check_device(const Options& options);

}  // namespace classify
