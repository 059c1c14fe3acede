#pragma once
// Data parallelism on GPUs: NCCL all-reduces the device gradient buffer bucket by bucket on a
// stream of its own, each bucket ordered after the backward kernels that fill it (PyTorch DDP's
// NCCL path). MPI starts the processes and hands out NCCL's unique id; one GPU per process.
//
//   ctnn::distributed::Environment mpi(argc, argv);
//   ctnn::distributed::Communicator world = ctnn::distributed::Communicator::world();
//   const int device = ctnn::distributed::select_local_device(world);   // local rank -> GPU
//   ctnn::Model<Net, In, float, ctnn::Cuda> model(device);
//   ctnn::distributed::NcclDataParallel parallel(model, world);
//   parallel.broadcast_model();
//   for (each step) {
//     model.forward(local_images);  objective.backward(model, local_labels);
//     parallel.synchronize_gradients();   // the model's stream waits for the all-reduce
//     optimizer.step(model);
//   }
//
// How a bucket is ordered (NcclGradientAllReduce): when backward reports it full (host side,
// while it queues kernels), an event is recorded on the model's stream; NCCL's stream waits for
// that event and all-reduces the bucket (ncclAvg, in place). synchronize_gradients() queues the
// buckets never reported and makes the model's stream wait for NCCL's: nothing blocks the host,
// and the optimizer's kernels, queued next on the model's stream, see the averaged gradients.
//
// The CPU's SyncBatchNorm has no GPU counterpart yet: BatchNorm normalises each process's share
// (and rank 0's running statistics are copied to all at each step).
// Needs ctnn::nccl (CMake); MPI for the launch, NCCL >= 2.10 (ncclAvg).

#include <nccl.h>           // ncclComm_t, ncclAllReduce, ncclBroadcast
#include <cuda_runtime.h>   // cudaStream_t, cudaEvent_t

#include <algorithm>     // std::max
#include <cstddef>       // std::size_t
#include <span>          // std::span
#include <string>        // std::string
#include <type_traits>   // std::is_same_v
#include <vector>        // std::vector

#include <ctnn/cuda/error.hpp>            // CTNN_CUDA_CHECK
#include <ctnn/distributed/buckets.hpp>   // BucketTracker, NoSync, default_bucket_bytes
#include <ctnn/distributed/hooks.hpp>     // ctnn::distributed::AttachedHooks, gradient_ready_hook
#include <ctnn/distributed/mpi.hpp>       // ctnn::distributed::Communicator
#include <ctnn/error.hpp>                 // ctnn::Error
#include <ctnn/evaluator.hpp>             // ctnn::Cuda
#include <ctnn/train/parallel.hpp>        // ctnn::train::DataParallelism

#if NCCL_VERSION_CODE < 21000
#error "ctnn's NCCL data parallelism needs NCCL 2.10 or newer (ncclAvg)"
#endif

namespace ctnn::distributed {

namespace detail {
inline void check_nccl(ncclResult_t result, const char* call) {
  if (result != ncclSuccess) throw Error(call, std::string("failed: ") + ncclGetErrorString(result));
}
}  // namespace detail

// Runs an NCCL call; a failure throws ctnn::Error naming the call and NCCL's message.
#define CTNN_NCCL_CHECK(call) ::ctnn::distributed::detail::check_nccl((call), #call)

template <class T>
ncclDataType_t nccl_type() {
  if constexpr (std::is_same_v<T, float>) return ncclFloat32;
  else if constexpr (std::is_same_v<T, double>) return ncclFloat64;
  else static_assert(sizeof(T) == 0, "ctnn::distributed::nccl_type: float or double");
}

// The GPU of this process: its rank among the processes of its host, modulo the GPUs there.
// Sets it as the current device and returns it. Throws when the host has no GPU.
inline int select_local_device(const Communicator& comm) {
  int devices = 0;
  CTNN_CUDA_CHECK(cudaGetDeviceCount(&devices));
  if (devices == 0) throw Error("select_local_device", "no CUDA device on this host");
  const int device = comm.local_rank() % devices;
  CTNN_CUDA_CHECK(cudaSetDevice(device));
  return device;
}

// ---------------------------------------------------------------------------------------------
// An NCCL communicator over the processes of an MPI communicator, on `device`.
// ---------------------------------------------------------------------------------------------
class NcclCommunicator {
 public:
  NcclCommunicator(const Communicator& comm, int device) : rank_(comm.rank()), size_(comm.size()) {
    ncclUniqueId id{};
    if (comm.is_root()) CTNN_NCCL_CHECK(ncclGetUniqueId(&id));
    comm.broadcast(std::span<char>(id.internal, sizeof id.internal));
    CTNN_CUDA_CHECK(cudaSetDevice(device));
    CTNN_NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
  }
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;
  ~NcclCommunicator() {
    if (comm_ != nullptr) (void)ncclCommDestroy(comm_);
  }

  ncclComm_t handle() const { return comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }

  // values on every process = values on `root`, queued on `stream`.
  template <class T>
  void broadcast(T* values, std::size_t count, cudaStream_t stream, int root = 0) const {
    if (count > 0) CTNN_NCCL_CHECK(ncclBroadcast(values, values, count, nccl_type<T>(), root, comm_, stream));
  }

 private:
  ncclComm_t comm_ = nullptr;
  int rank_ = 0, size_ = 1;
};

// ---------------------------------------------------------------------------------------------
// The device gradient buffer averaged in buckets, each started once backward has queued the
// kernels that fill it (see the top of this file).
// ---------------------------------------------------------------------------------------------
template <class T>
class NcclGradientAllReduce {
 public:
  NcclGradientAllReduce(const NcclCommunicator& comm, T* gradients, std::size_t count, cudaStream_t compute,
                        std::size_t bucket_bytes = default_bucket_bytes)
      : comm_(comm), gradients_(gradients), compute_(compute),
        tracker_(count, std::max<std::size_t>(bucket_bytes / sizeof(T), 1)), ready_(tracker_.buckets().size()) {
    CTNN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    for (cudaEvent_t& event : ready_) CTNN_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
    CTNN_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
  }
  NcclGradientAllReduce(const NcclGradientAllReduce&) = delete;
  NcclGradientAllReduce& operator=(const NcclGradientAllReduce&) = delete;
  ~NcclGradientAllReduce() {
    if (stream_ != nullptr) (void)cudaStreamSynchronize(stream_);
    for (cudaEvent_t event : ready_)
      if (event != nullptr) (void)cudaEventDestroy(event);
    if (done_ != nullptr) (void)cudaEventDestroy(done_);
    if (stream_ != nullptr) (void)cudaStreamDestroy(stream_);
  }

  const std::vector<Bucket>& buckets() const { return tracker_.buckets(); }
  void set_enabled(bool on) { enabled_ = on; }
  bool enabled() const { return enabled_; }
  cudaStream_t stream() const { return stream_; }

  // Backward's report (the model's gradient hook): the kernels filling [begin, end) are queued.
  void on_gradients_ready(std::size_t begin, std::size_t end) {
    if (enabled_) tracker_.mark_final(begin, end, [&](std::size_t k) { start(k); });
  }

  // Queues the buckets never reported, then makes the compute stream wait for every all-reduce.
  void synchronize() {
    if (!enabled_) return;
    started_by_backward_ = tracker_.started();
    tracker_.start_rest([&](std::size_t k) { start(k); });
    CTNN_CUDA_CHECK(cudaEventRecord(done_, stream_));
    CTNN_CUDA_CHECK(cudaStreamWaitEvent(compute_, done_, 0));
    tracker_.reset();
    ++synchronized_steps_;
  }
  std::size_t buckets_started_by_backward() const { return started_by_backward_; }
  std::size_t synchronized_steps() const { return synchronized_steps_; }

 private:
  void start(std::size_t k) {
    const Bucket& bucket = tracker_.buckets()[k];
    CTNN_CUDA_CHECK(cudaEventRecord(ready_[k], compute_));  // after the kernels queued so far
    CTNN_CUDA_CHECK(cudaStreamWaitEvent(stream_, ready_[k], 0));
    T* values = gradients_ + bucket.begin;
    CTNN_NCCL_CHECK(ncclAllReduce(values, values, bucket.size(), nccl_type<T>(), ncclAvg, comm_.handle(), stream_));
  }

  const NcclCommunicator& comm_;
  T* gradients_;
  cudaStream_t compute_;
  BucketTracker tracker_;
  std::vector<cudaEvent_t> ready_;
  cudaEvent_t done_ = nullptr;
  cudaStream_t stream_ = nullptr;
  bool enabled_ = true;
  std::size_t started_by_backward_ = 0, synchronized_steps_ = 0;
};

// ---------------------------------------------------------------------------------------------
// DataParallel's GPU twin: the model's gradients through NCCL, rank 0's parameters and buffers
// broadcast on the device; sums of host values (the trainer's) through MPI.
// ---------------------------------------------------------------------------------------------
struct NcclDataParallelOptions {
  std::size_t bucket_bytes = default_bucket_bytes;
  bool broadcast_buffers = true;  // rank 0's running statistics to all at each step (DDP's default)
};

template <class Model>
class NcclDataParallel final : public train::DataParallelism {
 public:
  using T = typename Model::scalar;
  static_assert(std::is_same_v<typename Model::device, Cuda>, "NcclDataParallel<Model>: a CUDA model (CPU: DataParallel)");

  NcclDataParallel(Model& model, const Communicator& comm, NcclDataParallelOptions options = {})
      : model_(model),
        comm_(comm.duplicate()),
        nccl_(comm_, model.context().handles.device()),
        all_reduce_(nccl_, model.device_gradients().data(), Model::parameter_count, model.stream(), options.bucket_bytes),
        broadcast_buffers_(options.broadcast_buffers && Model::buffer_count > 0),
        hooks_(model, gradient_ready_hook(all_reduce_), {}, "NcclDataParallel") {}
  NcclDataParallel(const NcclDataParallel&) = delete;
  NcclDataParallel& operator=(const NcclDataParallel&) = delete;

  std::size_t rank() const override { return static_cast<std::size_t>(comm_.rank()); }
  std::size_t size() const override { return static_cast<std::size_t>(comm_.size()); }

  void broadcast_model() override {
    nccl_.broadcast(model_.device_parameters().data(), Model::parameter_count, model_.stream());
    nccl_.broadcast(model_.device_buffers().data(), Model::buffer_count, model_.stream());
  }
  void synchronize_gradients() override {
    if (!all_reduce_.enabled()) return;
    all_reduce_.synchronize();
    if (broadcast_buffers_) nccl_.broadcast(model_.device_buffers().data(), Model::buffer_count, model_.stream());
  }
  void sum(std::span<double> values) override { comm_.sum(values); }

  // While alive, backward communicates nothing and synchronize_gradients() does nothing.
  using NoSync = distributed::NoSync<NcclGradientAllReduce<T>>;
  [[nodiscard]] NoSync no_sync() { return NoSync(all_reduce_); }

  const NcclGradientAllReduce<T>& gradient_all_reduce() const { return all_reduce_; }

 private:
  Model& model_;
  Communicator comm_;
  NcclCommunicator nccl_;
  NcclGradientAllReduce<T> all_reduce_;
  bool broadcast_buffers_;
  AttachedHooks<Model> hooks_;  // last: removed before what they point to goes
};

}  // namespace ctnn::distributed
