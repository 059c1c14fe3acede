#pragma once
// ctnn::distributed::DataParallel<Model>: one CPU model (on the Eigen reference or on oneDNN)
// trained by every process of an MPI communicator together (data parallelism, PyTorch's
// DistributedDataParallel over MPI). With sync_batch_norm every BatchNorm in training normalises
// with the statistics of the global batch (SyncBatchNorm; on oneDNN through the Eigen evaluator's
// batch norm, which takes the statistics hook).
//
//   ctnn::distributed::Environment mpi(argc, argv);
//   ctnn::distributed::Communicator world = ctnn::distributed::Communicator::world();
//   ctnn::Model<Net, In> model;
//   ctnn::init::googlenet_seed(model, seed);
//   ctnn::distributed::DataParallel parallel(model, world, {.sync_batch_norm = true});
//   parallel.broadcast_model();                       // rank 0's parameters and buffers everywhere
//   for (each step) {                                 // each process: its share of the global batch
//     model.forward(local_images);
//     objective.backward(model, local_labels);        // buckets start as backward fills them
//     parallel.synchronize_gradients();               // gradients = average over the processes
//     optimizer.step(model);                          // the same step on every process
//   }
//
// What it attaches to the model's hooks (ctnn/distributed/hooks.hpp; removed by the destructor):
//   gradient ready     a GradientAllReduce over model.gradients() (bucket_bytes, default 25 MB)
//   batch statistics   with sync_batch_norm, a SyncBatchNorm: BatchNorm layers normalise with the
//                      global batch's statistics (default off: each process its own, as DDP,
//                      and rank 0's running statistics are copied to all at every step)
//
// Gradient accumulation without communication (DDP's no_sync): inside a NoSync scope backward
// starts no all-reduce and synchronize_gradients() does nothing; the first synchronized step
// after it all-reduces what accumulated (call model.accumulate_gradients(true) for the steps
// that add to the gradients, as without data parallelism):
//
//   model.accumulate_gradients(false);
//   { auto local = parallel.no_sync(); forward(micro 1); backward; }   // no communication
//   model.accumulate_gradients(true);
//   forward(micro 2); backward; parallel.synchronize_gradients();      // averages micro 1 + micro 2
//
// It is also the trainer's ctnn::train::DataParallelism (TrainerOptions::parallel).

#include <cstddef>       // std::size_t
#include <memory>        // std::unique_ptr, std::make_unique
#include <span>          // std::span

#include <ctnn/distributed/buckets.hpp>               // NoSync, default_bucket_bytes
#include <ctnn/distributed/gradient_all_reduce.hpp>   // ctnn::distributed::GradientAllReduce
#include <ctnn/distributed/hooks.hpp>                 // ctnn::distributed::AttachedHooks
#include <ctnn/distributed/mpi.hpp>                   // ctnn::distributed::Communicator
#include <ctnn/distributed/sync_batch_norm.hpp>       // ctnn::distributed::SyncBatchNorm
#include <ctnn/train/parallel.hpp>                    // ctnn::train::DataParallelism

namespace ctnn::distributed {

struct DataParallelOptions {
  std::size_t bucket_bytes = default_bucket_bytes;  // gradient bytes per all-reduce
  bool sync_batch_norm = false;                     // BatchNorm over the global batch
  // Without sync_batch_norm each process moves its running statistics by its own share: rank 0's
  // are copied to every process at each synchronize_gradients() (DDP's broadcast_buffers), so
  // evaluation and checkpoints see one model.
  bool broadcast_buffers = true;
};

template <class Model>
class DataParallel final : public train::DataParallelism {
 public:
  using T = typename Model::scalar;
  static_assert(Model::device::host_memory,
                "DataParallel<Model>: a CPU model, on Cpu or OneDnn (GPU models: ctnn/distributed/nccl.hpp, NcclDataParallel)");

  DataParallel(Model& model, const Communicator& comm, DataParallelOptions options = {})
      : model_(model),
        comm_(comm.duplicate()),
        all_reduce_(comm_, model.gradients(), options.bucket_bytes),
        sync_batch_norm_(options.sync_batch_norm ? std::make_unique<SyncBatchNorm>(comm_) : nullptr),
        broadcast_buffers_(options.broadcast_buffers && !options.sync_batch_norm && Model::buffer_count > 0),
        hooks_(model, gradient_ready_hook(all_reduce_),
               sync_batch_norm_ ? batch_statistics_hook(*sync_batch_norm_) : BatchStatisticsHook{}, "DataParallel") {}
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  std::size_t rank() const override { return static_cast<std::size_t>(comm_.rank()); }
  std::size_t size() const override { return static_cast<std::size_t>(comm_.size()); }
  const Communicator& communicator() const { return comm_; }

  void broadcast_model() override {
    comm_.broadcast(model_.parameters());
    comm_.broadcast(model_.buffers());
  }
  void synchronize_gradients() override {
    if (!all_reduce_.enabled()) return;  // no_sync
    all_reduce_.synchronize();
    if (broadcast_buffers_) comm_.broadcast(model_.buffers());
  }
  void sum(std::span<double> values) override { comm_.sum(values); }

  // While alive, backward communicates nothing and synchronize_gradients() does nothing.
  using NoSync = distributed::NoSync<GradientAllReduce<T>>;
  [[nodiscard]] NoSync no_sync() { return NoSync(all_reduce_); }

  const GradientAllReduce<T>& gradient_all_reduce() const { return all_reduce_; }
  const SyncBatchNorm* sync_batch_norm() const { return sync_batch_norm_.get(); }

 private:
  Model& model_;
  Communicator comm_;
  GradientAllReduce<T> all_reduce_;
  std::unique_ptr<SyncBatchNorm> sync_batch_norm_;
  bool broadcast_buffers_;
  AttachedHooks<Model> hooks_;  // last: removed before what they point to goes
};

}  // namespace ctnn::distributed
