// Data-parallel training throughput on the CPU: N processes of T threads each train one network
// on a global batch (each process batch / N images), against one process of N*T threads.
//
//   ctnn-data-parallel-step --net fashion|googlenet [--batch B] [--threads T] [--seconds S]
//                           [--sync-batch-norm] [--bucket-mb M]
//   mpirun -np 2 ctnn-data-parallel-step --net fashion --batch 128 --threads 1
// prints, on rank 0:
//   data-parallel net=fashion processes=2 threads=1 batch=128 images_per_second=... ms_per_step=...
//       exposed_communication_ms=...
// where exposed_communication_ms is the time per step spent in synchronize_gradients(), the part
// of the all-reduce that backward did not hide. One step: forward, loss, backward, all-reduce,
// SGD with momentum. Started without mpirun it is one process (no communication).

#include <chrono>      // std::chrono::steady_clock
#include <cstdio>      // std::printf
#include <cstdlib>     // std::atoi, std::atof
#include <cstring>     // std::strcmp
#include <optional>    // std::optional
#include <string>      // std::string
#include <vector>      // std::vector

#include <ctnn/ctnn.hpp>                        // ctnn::Model, GoogLeNet, ClassificationObjective
#include <ctnn/distributed/data_parallel.hpp>   // ctnn::distributed::DataParallel
#include <ctnn/models/fashion_inception.hpp>    // ctnn::FashionInception

#if defined(_OPENMP)
#include <omp.h>   // omp_set_num_threads
#endif

namespace {

using clock_type = std::chrono::steady_clock;
double since(clock_type::time_point start) { return std::chrono::duration<double>(clock_type::now() - start).count(); }

struct Settings {
  std::size_t batch = 128;
  int threads = 1;
  double seconds = 10;
  ctnn::distributed::DataParallelOptions options{};
};

template <class Net, class In>
void benchmark(const ctnn::distributed::Communicator& world, const char* name, const Settings& s) {
  using M = ctnn::Model<Net, In>;
  const auto processes = static_cast<std::size_t>(world.size());
  if (s.batch % processes != 0) world.abort(2, "--batch must be a multiple of the process count");
  const std::size_t local = s.batch / processes;
  M model;
  ctnn::init::googlenet_seed(model, 1);
  model.set_threads(s.threads);
  model.train();
  std::optional<ctnn::distributed::DataParallel<M>> parallel;
  if (processes > 1) parallel.emplace(model, world, s.options);
  ctnn::optim::SGD<float> sgd(M::parameter_count, {.lr = 0.01, .momentum = 0.9, .weight_decay = 1e-4});
  ctnn::ClassificationObjective<float> objective;
  std::vector<float> images(local * In::size);
  for (std::size_t i = 0; i < images.size(); ++i) images[i] = static_cast<float>((i + world.rank()) % 255) / 255.0f - 0.5f;
  std::vector<std::int32_t> labels(local);
  for (std::size_t i = 0; i < local; ++i) labels[i] = static_cast<std::int32_t>(i % 10);

  double exposed = 0;
  const auto step = [&] {
    model.forward(images);
    objective.backward(model, labels);
    if (parallel) {
      const auto start = clock_type::now();
      parallel->synchronize_gradients();
      exposed += since(start);
    }
    sgd.step(model);
  };
  step();  // warm-up: plans memory, grows packing buffers
  // Steps for about --seconds, counted on rank 0 from one timed step: every process runs as many.
  auto start = clock_type::now();
  step();
  double once = since(start);
  world.broadcast(std::span<double>(&once, 1));
  const std::size_t steps = std::max<std::size_t>(3, static_cast<std::size_t>(s.seconds / once));
  world.barrier();
  exposed = 0;
  start = clock_type::now();
  for (std::size_t i = 0; i < steps; ++i) step();
  world.barrier();
  const double elapsed = since(start);
  if (world.is_root())
    std::printf("data-parallel net=%s processes=%zu threads=%d batch=%zu images_per_second=%.2f ms_per_step=%.1f "
                "exposed_communication_ms=%.2f\n",
                name, processes, s.threads, s.batch, static_cast<double>(s.batch * steps) / elapsed,
                1000 * elapsed / static_cast<double>(steps), 1000 * exposed / static_cast<double>(steps));
}

}  // namespace

int main(int argc, char** argv) {
  ctnn::distributed::Environment mpi(argc, argv);
  const ctnn::distributed::Communicator world = ctnn::distributed::Communicator::world();
  std::string net = "fashion";
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : "";
    if (arg == "--net") net = value, ++i;
    else if (arg == "--batch") s.batch = static_cast<std::size_t>(std::atoi(value)), ++i;
    else if (arg == "--threads") s.threads = std::atoi(value), ++i;
    else if (arg == "--seconds") s.seconds = std::atof(value), ++i;
    else if (arg == "--bucket-mb") s.options.bucket_bytes = static_cast<std::size_t>(std::atof(value) * (1 << 20)), ++i;
    else if (arg == "--sync-batch-norm") s.options.sync_batch_norm = true;
    else world.abort(2, "unknown argument " + arg);
  }
#if defined(_OPENMP)
  omp_set_num_threads(s.threads);  // the optimizer's loops too
#endif
  return ctnn::distributed::run_or_abort(world, [&] {
    if (net == "googlenet")
      benchmark<ctnn::GoogLeNet<1000, false>, ctnn::Shape<3, 224, 224>>(world, "googlenet", s);
    else if (net == "fashion")
      benchmark<ctnn::FashionInception, ctnn::FashionInput>(world, "fashion", s);
    else
      world.abort(2, "unknown --net " + net + " (fashion or googlenet)");
    return 0;
  });
}
