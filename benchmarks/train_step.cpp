// Training throughput on the CPU: one step = forward in training mode, the loss (with GoogLeNet's
// 0.3-weighted aux heads), backward, and an SGD-momentum update.
//
//   ctnn-train-step --net googlenet|fashion [--batch N] [--threads T] [--seconds S]
// prints "ctnn-train net=googlenet batch=16 threads=2 images_per_second=5.1 ms_per_batch=3137"
// benchmarks/run_training_benchmarks runs it beside PyTorch on the same work.

#include <chrono>    // std::chrono::steady_clock
#include <cstdio>    // std::printf
#include <cstdlib>   // std::atoi, std::atof
#include <cstring>   // std::strcmp
#include <string>    // std::string
#include <vector>    // std::vector

#include <ctnn/ctnn.hpp>                     // ctnn::Model, ctnn::GoogLeNet, ctnn::ClassificationObjective
#include <ctnn/models/fashion_inception.hpp> // ctnn::FashionInception

template <class Net, class In>
void benchmark(const char* name, std::size_t batch, int threads, double seconds) {
  ctnn::Model<Net, In> model;
  ctnn::init::googlenet_seed(model, 1);
  model.set_threads(threads);
  model.train();
  ctnn::optim::SGD<float> sgd(model.parameters().size(), {.lr = 0.01, .momentum = 0.9, .weight_decay = 1e-4});
  ctnn::ClassificationObjective<float> objective;
  std::vector<float> images(batch * In::size);
  for (std::size_t i = 0; i < images.size(); ++i) images[i] = static_cast<float>(i % 255) / 255.0f - 0.5f;
  std::vector<std::int32_t> labels(batch);
  for (std::size_t i = 0; i < batch; ++i) labels[i] = static_cast<std::int32_t>(i % 10);
  auto step = [&] {
    model.forward(images);
    objective.backward(model, labels);
    sgd.step(model);
  };
  step();  // warm-up: plans memory, grows packing buffers
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  std::size_t runs = 0;
  double elapsed = 0;
  do {
    step();
    ++runs;
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
  } while (elapsed < seconds || runs < 3);
  std::printf("ctnn-train net=%s batch=%zu threads=%d images_per_second=%.2f ms_per_batch=%.1f\n", name, batch,
              threads, static_cast<double>(batch * runs) / elapsed, 1000.0 * elapsed / static_cast<double>(runs));
}

int main(int argc, char** argv) {
  std::string net = "googlenet";
  std::size_t batch = 16;
  int threads = 2;
  double seconds = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--net")) net = argv[i + 1];
    else if (!std::strcmp(argv[i], "--batch")) batch = static_cast<std::size_t>(std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
  }
  if (net == "googlenet")
    benchmark<ctnn::GoogLeNet<1000, true>, ctnn::Shape<3, 224, 224>>("googlenet", batch, threads, seconds);
  else if (net == "fashion")
    benchmark<ctnn::FashionInception, ctnn::FashionInput>("fashion", batch, threads, seconds);
  else
    return std::fprintf(stderr, "unknown --net %s (googlenet or fashion)\n", net.c_str()), 2;
}
