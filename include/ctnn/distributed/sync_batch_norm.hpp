#pragma once
// ctnn::distributed::SyncBatchNorm: BatchNorm's per-channel sums in training taken over every
// process (PyTorch's nn.SyncBatchNorm), so a data-parallel run normalises with the statistics of
// the global batch and trains as one process would on it.
//
//   SyncBatchNorm sync(comm);
//   model.set_batch_statistics_hook(batch_statistics_hook(sync));   // ctnn/distributed/hooks.hpp
//
// Each BatchNorm layer then sums, over the processes, [sum x | count] and sum (x - mean)^2 in its
// training forward, and [sum dy | sum dy * x_hat | count] in its backward (ctnn/cpu/batch_norm.hpp):
// three blocking MPI_Allreduce of 2C + 1 doubles at most per layer and step. Evaluation uses the
// running statistics, which every process updates alike. The CPU backend only.

#include <cstddef>   // std::size_t
#include <span>      // std::span
#include <vector>    // std::vector

#include <ctnn/distributed/mpi.hpp>   // ctnn::distributed::Communicator

namespace ctnn::distributed {

class SyncBatchNorm {
 public:
  explicit SyncBatchNorm(const Communicator& comm) : comm_(comm.duplicate()) {}

  // Room for `count` doubles, grown once and reused by every call.
  std::span<double> workspace(std::size_t count) {
    if (buffer_.size() < count) buffer_.resize(count);
    return {buffer_.data(), count};
  }
  // values = their elementwise sums over the processes.
  void sum(std::span<double> values) {
    comm_.sum(values);
    ++reductions_;
  }
  // Sums taken so far (three per BatchNorm layer and training step).
  std::size_t reductions() const { return reductions_; }

 private:
  Communicator comm_;
  std::vector<double> buffer_;
  std::size_t reductions_ = 0;
};

}  // namespace ctnn::distributed
