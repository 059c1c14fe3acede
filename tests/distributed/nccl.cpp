// Data parallelism on GPUs over NCCL (ctnn/distributed/nccl.hpp), under mpirun, one GPU a
// process: seed GoogLeNet (dropout off, 48x48 images, TF32 off) trains three SGD steps on the
// device with 1 MiB buckets. Every process then holds bit-identical parameters, rank 0's
// single-GPU model trained on the whole global batch agrees within 1e-5 relative per tensor, and
// every bucket's all-reduce was queued while backward was still queueing kernels.
//
// Skips (exit status 77, a line saying why) without a CUDA device, or with fewer GPUs on a host
// than processes there: NCCL takes one GPU per process.

#include <cstdio>     // std::printf, std::fflush
#include <optional>   // std::optional
#include <string>     // std::string, std::to_string
#include <vector>     // std::vector

#include <ctnn/ctnn.hpp>                 // ctnn::GoogLeNet, ctnn::init, ctnn::ClassificationObjective
#include <ctnn/cuda.hpp>                 // ctnn::Model<..., Cuda>, ctnn::cuda::optim::SGD, device_status
#include <ctnn/distributed/nccl.hpp>     // ctnn::distributed::NcclDataParallel, select_local_device

#include "support.hpp"   // ctnn::test::require, random_images, strided_rows, relative_difference

using namespace ctnn;

namespace {

using Net = GoogLeNet<10, false>;
using Image = Shape<3, 48, 48>;
using GpuModel = Model<Net, Image, float, Cuda>;

void prepare(GpuModel& model) {
  init::googlenet_seed(model, 100);
  model.disable_dropout(true);
  model.allow_tf32(false);
  model.set_algorithm_search(cuda::AlgorithmSearch::heuristic);
  model.train();
}

int run(const distributed::Communicator& world) {
  const auto rank = static_cast<std::size_t>(world.rank()), processes = static_cast<std::size_t>(world.size());
  const int device = distributed::select_local_device(world);
  constexpr std::size_t global_batch = 6, steps = 3;
  // lr as in parity.cpp: at 0.01 seed GoogLeNet diverges to NaN within three steps.
  const cuda::optim::SGD<float>::Options sgd{.lr = 1e-5, .momentum = 0.9, .weight_decay = 1e-4};
  ClassificationObjective<float> objective;

  GpuModel model(device);
  prepare(model);
  if (rank > 0) init::googlenet_seed(model, 100 + rank);  // the broadcast must replace these
  distributed::NcclDataParallel<GpuModel> parallel(model, world, {.bucket_bytes = 1 << 20});
  parallel.broadcast_model();
  cuda::optim::SGD<float> optimizer(GpuModel::parameter_count, sgd);

  std::optional<GpuModel> reference;
  std::optional<cuda::optim::SGD<float>> reference_optimizer;
  if (rank == 0) {
    reference.emplace(device);
    prepare(*reference);
    reference_optimizer.emplace(GpuModel::parameter_count, sgd);
  }

  for (std::size_t step = 0; step < steps; ++step) {
    const std::vector<float> images = test::random_images(global_batch, Image::size, step);
    const std::vector<std::int32_t> labels = test::random_labels(global_batch, 10, step);
    model.forward(test::strided_rows<float>(images, Image::size, rank, processes));
    objective.backward(model, test::strided_rows<std::int32_t>(labels, 1, rank, processes));
    parallel.synchronize_gradients();
    optimizer.step(model);
    if (reference) {
      reference->forward(images);
      objective.backward(*reference, labels);
      reference_optimizer->step(*reference);
    }
  }
  model.synchronize();

  const auto& all_reduce = parallel.gradient_all_reduce();
  test::require(world, all_reduce.synchronized_steps() == steps, "not one all-reduce per step");
  test::require(world, all_reduce.buckets_started_by_backward() == all_reduce.buckets().size(),
                "backward queued " + std::to_string(all_reduce.buckets_started_by_backward()) + " of " +
                    std::to_string(all_reduce.buckets().size()) + " buckets: no overlap");
  test::require(world, test::identical_across_processes<float>(world, model.parameters()), "parameters differ between processes");
  if (reference) {
    const test::Difference d = test::relative_difference<Net, Image, float>(model.parameters(), reference->parameters());
    std::printf("NCCL, %zu processes: parameters within %.3g of one GPU on the global batch (worst: %s); %zu buckets, "
                "all queued during backward\n",
                processes, d.relative, d.tensor.c_str(), all_reduce.buckets().size());
    std::fflush(stdout);
    test::require(world, d.relative <= 1e-5, "parameters differ from one GPU by " + std::to_string(d.relative) + " in " + d.tensor);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  distributed::Environment mpi(argc, argv);
  const distributed::Communicator world = distributed::Communicator::world();
  const cuda::DeviceStatus status = cuda::device_status();
  std::string skip;
  if (!status.available)
    skip = "no CUDA device (" + status.reason + ")";
  else if (status.count < world.local_size())
    skip = std::to_string(world.local_size()) + " processes on this host need as many GPUs, it has " + std::to_string(status.count);
  if (!skip.empty()) {
    if (world.is_root()) std::printf("SKIPPED: %s\n", skip.c_str());
    return 77;
  }
  return distributed::run_or_abort(world, [&] { return run(world); });
}
