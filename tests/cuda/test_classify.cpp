// The classifier example (examples/classify.cpp, the program ctnn-classify) with --device cuda
// against --device cpu: the same images, every class's probability printed (--top all), and the
// two must agree to 0.2 percentage points (the GPU uses TF32 convolutions by default).
//
// Runs the built program from the build tree (../examples/ctnn-classify, from tests/); skipped
// when there is no device, or when the examples are not built.

#include "support/device.hpp"   // skips without a device

#include <doctest/doctest.h>   // TEST_CASE, CHECK, REQUIRE

#include <algorithm>    // std::sort, std::max
#include <cmath>        // std::abs
#include <cstdio>       // popen, pclose, fgets, std::printf
#include <cstdlib>      // std::exit
#include <filesystem>   // std::filesystem::exists, path
#include <map>          // std::map
#include <regex>        // std::regex, std::regex_match
#include <string>       // std::string
#include <vector>       // std::vector

using namespace ctnn;

namespace {

const std::filesystem::path program = "../examples/ctnn-classify";
const std::filesystem::path data = std::filesystem::path(CTNN_SOURCE_DIR) / "examples" / "data";

const bool program_built = [] {
  if (!std::filesystem::exists(program)) {
    std::printf("SKIPPED: %s is not built (configure with -DCTNN_BUILD_EXAMPLES=ON)\n", program.c_str());
    std::fflush(stdout);
    std::exit(test::skipped_exit_code);
  }
  return true;
}();

// image -> class name -> probabilities in percent, from ctnn-classify's output (a list: ImageNet
// has a few names twice, e.g. "crane"), sorted.
using Predictions = std::map<std::string, std::map<std::string, std::vector<double>>>;

Predictions classify(const std::string& arguments, const std::string& device, std::string& transcript) {
  const std::string command = program.string() + " " + arguments + " --device " + device + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE_MESSAGE(pipe != nullptr, "cannot run " << command);
  Predictions predictions;
  const std::regex entry(R"(\s+\d+\. (.*\S)\s+([0-9.]+)%)");
  std::string image;
  char line[1024];
  while (std::fgets(line, sizeof(line), pipe) != nullptr) {
    std::string text(line);
    transcript += text;
    while (!text.empty() && text.back() == '\n') text.pop_back();
    std::smatch match;
    if (std::regex_match(text, match, entry))
      predictions[image][match[1].str()].push_back(std::stod(match[2].str()));
    else if (!text.empty() && text[0] != ' ' && text.rfind("ctnn-classify:", 0) != 0)
      image = text;
  }
  const int status = pclose(pipe);
  CHECK_MESSAGE(status == 0, command << " failed:\n" << transcript);
  for (auto& [name, labels] : predictions)
    for (auto& [label, probabilities] : labels) std::sort(probabilities.begin(), probabilities.end());
  return predictions;
}

void compare(const std::string& arguments, std::size_t images, std::size_t classes) {
  CAPTURE(arguments);
  std::string cpu_transcript, gpu_transcript;
  const Predictions cpu = classify(arguments, "cpu", cpu_transcript);
  const Predictions gpu = classify(arguments, "cuda", gpu_transcript);
  INFO("cpu:\n" << cpu_transcript.substr(0, 2000) << "\ncuda:\n" << gpu_transcript.substr(0, 2000));
  CHECK(gpu_transcript.find("running on") != std::string::npos);
  REQUIRE(cpu.size() == images);
  REQUIRE(gpu.size() == images);
  double worst = 0;
  for (const auto& [image, labels] : cpu) {
    REQUIRE(gpu.count(image) == 1);
    std::size_t count = 0;
    for (const auto& [label, probabilities] : labels) {
      REQUIRE(gpu.at(image).count(label) == 1);
      const std::vector<double>& other = gpu.at(image).at(label);
      REQUIRE(other.size() == probabilities.size());
      worst = test::worse(worst, test::max_difference(std::span<const double>(other), std::span<const double>(probabilities)));
      count += probabilities.size();
    }
    CHECK(count == classes);
  }
  MESSAGE(arguments << ": largest difference " << worst << " percentage points");
  CHECK(worst <= 0.2);
}

}  // namespace

TEST_CASE("ctnn-classify --device cuda gives the CPU's probabilities: Fashion-MNIST") {
  std::string images;
  for (const char* name : {"fashion_mnist_0_ankle_boot.png", "fashion_mnist_1_pullover.png",
                           "fashion_mnist_2_trouser.png", "fashion_mnist_9_sneaker.png"})
    images += " " + (data / name).string();
  compare("--model fashion-mnist --top 10" + images, 4, 10);
}

TEST_CASE("ctnn-classify --device cuda gives the CPU's probabilities: torchvision's GoogLeNet") {
  const std::string images =
      " " + (data / "fashion_mnist_0_ankle_boot.png").string() + " " + (data / "fashion_mnist_2_trouser.png").string();
  compare("--model torchvision-googlenet --top 1000" + images, 2, 1000);
}

TEST_CASE("ctnn-classify --device cuda gives the CPU's probabilities: ResNet18, ResNet50 and MobileNetV2") {
  const std::string images =
      " " + (data / "fashion_mnist_0_ankle_boot.png").string() + " " + (data / "fashion_mnist_2_trouser.png").string();
  for (const char* model : {"resnet18", "resnet50", "mobilenet-v2"})
    compare(std::string("--model ") + model + " --top 1000" + images, 2, 1000);
}
