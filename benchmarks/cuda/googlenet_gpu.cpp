// GoogLeNet (1000 classes, 224x224) on the GPU: inference throughput (evaluation mode, no aux
// heads, a replayed CUDA graph) and training-step throughput (aux heads, dropout on, the
// objective CE(main) + 0.3 (CE(aux1) + CE(aux2)) and SGD with momentum 0.9, all on the device),
// the work benchmarks/cuda/pytorch_googlenet_gpu.py gives PyTorch.
//
//   ctnn-googlenet-gpu [--mode forward|train] [--batch N]... [--seconds S] [--no-graphs] [--no-tf32]
// prints one line per batch size:
//   ctnn-cuda batch=256 images_per_second=5210.3 ms_per_batch=49.13 device="NVIDIA H100 80GB HBM3"
// benchmarks/cuda/run_gpu_benchmarks runs it beside PyTorch on the same GPU and prints the ratios.
//
// Images and labels are on the device before timing; a step is timed to its completion on the
// device (the stream is synchronised before the clock stops).

#include <chrono>    // std::chrono::steady_clock
#include <cstdint>   // std::int32_t
#include <cstdio>    // std::printf, std::fprintf
#include <cstdlib>   // std::atoi, std::atof
#include <cstring>   // std::strcmp
#include <random>    // std::mt19937, std::uniform_real_distribution
#include <span>      // std::span
#include <string>    // std::string
#include <vector>    // std::vector

#include <ctnn/ctnn.hpp>   // ctnn::GoogLeNet, ctnn::init
#include <ctnn/cuda.hpp>   // ctnn::Model<..., Cuda>, ctnn::cuda::optim::SGD, ctnn::cuda::ClassificationObjective

namespace {

using Image = ctnn::Shape<3, 224, 224>;

struct Options {
  bool training = false;
  std::vector<std::size_t> batches;
  double seconds = 10;
  bool graphs = true;
  bool tf32 = true;
};

std::vector<float> random_images(std::size_t batch) {
  std::mt19937 generator(1);
  std::uniform_real_distribution<float> uniform(-0.5f, 0.5f);
  std::vector<float> images(batch * Image::size);
  for (float& v : images) v = uniform(generator);
  return images;
}

// Runs step() until `seconds` have passed (and at least 10 times); returns seconds per step.
template <class Step, class Sync>
double time_steps(double seconds, Step&& step, Sync&& sync) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  std::size_t runs = 0;
  double elapsed = 0;
  do {
    step();
    ++runs;
    if (runs % 10 == 0 || runs < 10) {
      sync();
      elapsed = std::chrono::duration<double>(clock::now() - start).count();
    }
  } while (elapsed < seconds || runs < 10);
  sync();
  elapsed = std::chrono::duration<double>(clock::now() - start).count();
  return elapsed / static_cast<double>(runs);
}

void report(const char* what, std::size_t batch, double seconds_per_step, const std::string& device, const char* extra) {
  std::printf("%s batch=%zu images_per_second=%.1f ms_per_batch=%.3f device=\"%s\"%s\n", what, batch,
              static_cast<double>(batch) / seconds_per_step, 1000.0 * seconds_per_step, device.c_str(), extra);
  std::fflush(stdout);
}

void forward(const Options& options, const std::string& device) {
  ctnn::Model<ctnn::GoogLeNet<1000, false>, Image, float, ctnn::Cuda> model;
  ctnn::init::googlenet_seed(model, 1);
  model.allow_tf32(options.tf32);
  model.use_cuda_graphs(options.graphs);
  for (std::size_t batch : options.batches) {
    const ctnn::cuda::DeviceSpan<float> input = model.input_buffer(batch);
    ctnn::cuda::copy_to_device<float>(random_images(batch), input, model.stream());
    const ctnn::cuda::DeviceSpan<const float> images(input);
    for (int i = 0; i < 3; ++i) model.forward(images);  // plans, captures, replays
    model.synchronize();
    const double per_step = time_steps(
        options.seconds, [&] { model.forward(images); }, [&] { model.synchronize(); });
    std::string extra = model.replayed_graph() ? " graph=replayed" : " graph=off";
    if (!model.graph_error().empty()) extra += " graph_error=\"" + model.graph_error() + "\"";
    report("ctnn-cuda", batch, per_step, device, extra.c_str());
  }
}

void train(const Options& options, const std::string& device) {
  using Net = ctnn::GoogLeNet<1000, true>;
  ctnn::Model<Net, Image, float, ctnn::Cuda> model;
  ctnn::init::googlenet_seed(model, 1);
  model.allow_tf32(options.tf32);
  model.train();
  ctnn::cuda::optim::SGD<float> sgd(Net::parameter_count, {.lr = 0.01, .momentum = 0.9});
  ctnn::cuda::ClassificationObjective<float> objective(0.3f);
  for (std::size_t batch : options.batches) {
    const auto images = model.to_device(random_images(batch));
    std::vector<std::int32_t> labels(batch);
    for (std::size_t n = 0; n < batch; ++n) labels[n] = static_cast<std::int32_t>((n * 37) % 1000);
    const auto device_labels = ctnn::cuda::to_device(std::span<const std::int32_t>(labels));
    auto step = [&] {
      model.forward(ctnn::cuda::DeviceSpan<const float>(images.span()));
      objective.backward(model, ctnn::cuda::DeviceSpan<const std::int32_t>(device_labels.span()));
      sgd.step(model);
    };
    for (int i = 0; i < 3; ++i) step();  // plans (cuDNN's algorithm search), warms up
    model.synchronize();
    const double per_step = time_steps(options.seconds, step, [&] { model.synchronize(); });
    char extra[64];
    std::snprintf(extra, sizeof(extra), " loss=%.4f", static_cast<double>(objective.loss().total));
    report("ctnn-cuda-train", batch, per_step, device, extra);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (!std::strcmp(argv[i], "--mode") && has_value) {
      options.training = !std::strcmp(argv[++i], "train");
    } else if (!std::strcmp(argv[i], "--batch") && has_value) {
      options.batches.push_back(static_cast<std::size_t>(std::atoi(argv[++i])));
    } else if (!std::strcmp(argv[i], "--seconds") && has_value) {
      options.seconds = std::atof(argv[++i]);
    } else if (!std::strcmp(argv[i], "--no-graphs")) {
      options.graphs = false;
    } else if (!std::strcmp(argv[i], "--no-tf32")) {
      options.tf32 = false;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--mode forward|train] [--batch N]... [--seconds S] [--no-graphs] [--no-tf32]\n",
                   argv[0]);
      return 2;
    }
  }
  if (options.batches.empty()) options.batches = options.training ? std::vector<std::size_t>{128}
                                                                   : std::vector<std::size_t>{1, 32, 256};
  const ctnn::cuda::DeviceStatus status = ctnn::cuda::device_status();
  if (!status.available) {
    std::printf("SKIPPED: no CUDA device (%s)\n", status.reason.c_str());
    return 77;
  }
  try {
    if (options.training)
      train(options, status.name);
    else
      forward(options, status.name);
  } catch (const ctnn::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
