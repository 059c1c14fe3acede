// ctnn-classify: label image files with a network whose weights come from PyTorch (converted with
// tools/convert_to_safetensors.py) or from ctnn::save_weights.
//
//   ctnn-classify --model torchvision-googlenet --weights googlenet.safetensors --top 3 cat.jpg dog.png
//   ctnn-classify --model resnet50 --weights resnet50.safetensors --resize 232 cat.jpg
//   ctnn-classify --model fashion-mnist examples/data/*.png     (weights shipped in examples/data/)
//
// Models: googlenet-seed, torchvision-googlenet, resnet18, resnet50, mobilenet-v2 (3x224x224
// ImageNet inputs) and fashion-mnist. The ImageNet models take the class count from the weights
// file (the rows of fc.weight or classifier.1.weight), any of classify::supported_class_counts
// (2, 10, 100, 1000): the network is a type, so each count is compiled in (examples/classify/, one
// translation unit per model).
//
// Every image is preprocessed as torchvision's evaluation transform does it (ImageNet models:
// Resize(--resize, 256 by default; torchvision's IMAGENET1K_V2 weights of resnet50 and
// mobilenet_v2 use 232), CenterCrop(224), ToTensor, Normalize; Fashion-MNIST: grayscale 28x28), the
// images run in batches of --batch-size (memory does not grow with the number of images), and each
// gets its top-k labels with softmax probabilities:
//
//   cat.jpg
//      1. tabby                     61.32%
//      2. tiger cat                 20.05%
//
// An image that cannot be read gets an error line naming it; the others are still classified, and
// the exit status is 1. A weights file that does not fit the model, or holds values no network can
// compute with (NaN, infinities, negative BatchNorm variances), is refused before anything runs.
// tools/predict_pytorch.py prints PyTorch's predictions in the same layout.
//
// On the CPU the network runs on oneDNN where the build has it (--backend reference: the Eigen
// reference backend); --precision bf16 computes in bfloat16 on oneDNN (AMX or AVX512-BF16), int8
// in 8-bit integers calibrated on the input images (and fashion-mnist's shipped example images).

#include <cstdio>      // std::fprintf
#include <exception>   // std::exception
#include <string>      // std::string

#include <CLI/CLI.hpp>   // CLI::App: the command line

#include <ctnn/error.hpp>   // ctnn::Error

#include "classify/classify.hpp"   // classify::Options, the models' entry points
#include "cli_checks.hpp"          // cli_checks::integer_in, thread_count: the options' checks

namespace {

int run(const classify::Options& options) {
  classify::check_device(options);
  if (options.model == "googlenet-seed") return classify::googlenet_seed(options);
  if (options.model == "torchvision-googlenet") return classify::torchvision_googlenet(options);
  if (options.model == "resnet18") return classify::resnet18(options);
  if (options.model == "resnet50") return classify::resnet50(options);
  if (options.model == "mobilenet-v2") return classify::mobilenet_v2(options);
  if (options.model == "fashion-mnist") return classify::fashion_mnist(options);
  classify::fail("unknown --model '" + options.model + "'");
}

}  // namespace

int main(int argc, char** argv) {
  classify::Options options;
  CLI::App app{"Label image files (JPEG, PNG) with a GoogLeNet, ResNet, MobileNetV2 or Fashion-MNIST network; "
               "weights from PyTorch (tools/convert_to_safetensors.py) or ctnn::save_weights."};
  app.add_option("--model", options.model, "the network")
      ->check(CLI::IsMember({"googlenet-seed", "torchvision-googlenet", "resnet18", "resnet50", "mobilenet-v2",
                             "fashion-mnist"}))
      ->capture_default_str();
  app.add_option("--weights", options.weights,
                 "safetensors file with the network's weights (PyTorch names); an ImageNet model takes its "
                 "class count (2, 10, 100 or 1000) from it")
      ->check(CLI::ExistingFile);
  app.add_option("--labels", options.labels,
                 "class names, one per line (default: examples/data/ for fashion-mnist and for 1000 ImageNet "
                 "classes, else 'class <i>')");
  app.add_option("--top", options.top, "how many classes to print per image")
      ->check(cli_checks::integer_in(1, 1000))->capture_default_str();
  app.add_option("--device", options.device, "where to run")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  app.add_option("--backend", options.backend,
                 "on the CPU: onednn (oneDNN, the default where built) or reference (Eigen)")
      ->check(CLI::IsMember({"onednn", "reference"}))->capture_default_str();
  app.add_option("--precision", options.precision,
                 "f32, bf16 (oneDNN on AMX or AVX512-BF16) or int8 (oneDNN; calibrated on the input images "
                 "themselves, the first 256, and for fashion-mnist also the example images in examples/data: "
                 "give a few dozen typical images for a good calibration)")
      ->check(CLI::IsMember({"f32", "bf16", "int8"}))->capture_default_str();
  app.add_option("--threads", options.threads, "CPU threads (0, the default: all cores)")->check(cli_checks::thread_count());
  app.add_option("--batch-size", options.batch_size,
                 "images per forward pass (0, the default: as many as fit in 256 MiB of activations, at most 64); "
                 "memory grows with the batch, not with the number of images")
      ->check(cli_checks::integer_in(0, 4096));
  app.add_option("--resize", options.resize,
                 "ImageNet models: the shorter side before the 224x224 centre crop (torchvision's IMAGENET1K_V2 "
                 "weights of resnet50 and mobilenet_v2: 232)")
      ->check(cli_checks::integer_in(224, 4096))->capture_default_str();
  app.add_flag("!--no-transform-input", options.transform_input,
               "torchvision-googlenet trained with transform_input=False (torchvision's pretrained one uses True)");
  app.add_option("images", options.images, "JPEG or PNG files")->required();

  try {
    app.parse(argc, argv);
    return run(options);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  } catch (const classify::Failure& error) {
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
