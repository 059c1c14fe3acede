#pragma once
// ctnn::distributed::GradientAllReduce<T>: averages the flat gradient buffer over the processes
// of a communicator, bucket by bucket, each bucket's non-blocking MPI_Iallreduce started as soon
// as backward has finished it, so communication overlaps the rest of backward (as PyTorch DDP).
//
//   GradientAllReduce<float> all_reduce(comm, model.gradients());      // 25 MB buckets
//   model.set_gradient_ready_hook(gradient_ready_hook(all_reduce));     // ctnn/distributed/hooks.hpp
//   model.backward(...);            // backward's reports start the buckets as they fill
//   all_reduce.synchronize();       // starts the rest, waits; gradients = average over processes
//
// Buckets (ctnn/distributed/buckets.hpp) are cut from the end of the buffer, where backward
// starts, and started in the same order on every process. A bucket is divided by the process
// count when it starts, then summed in place (MPI_IN_PLACE): every process ends with the same
// bits. MPI progresses a non-blocking collective when the library is entered, so each report
// from backward also tests the buckets in flight.
//
// set_enabled(false) (DataParallel::no_sync) ignores backward's reports and makes synchronize()
// do nothing: gradients accumulate locally until a step that synchronizes again.

#include <mpi.h>   // MPI_Iallreduce, MPI_Testall, MPI_Waitall

#include <algorithm>   // std::min, std::fill
#include <cstddef>     // std::size_t, std::ptrdiff_t
#include <span>        // std::span
#include <vector>      // std::vector

#include <ctnn/distributed/buckets.hpp>   // ctnn::distributed::BucketTracker, default_bucket_bytes
#include <ctnn/distributed/mpi.hpp>       // ctnn::distributed::Communicator, CTNN_MPI_CHECK, mpi_type

namespace ctnn::distributed {

template <class T>
class GradientAllReduce {
 public:
  GradientAllReduce(const Communicator& comm, std::span<T> gradients, std::size_t bucket_bytes = default_bucket_bytes)
      : comm_(comm.duplicate()),
        gradients_(gradients),
        tracker_(gradients.size(), std::min(max_mpi_count, std::max<std::size_t>(bucket_bytes / sizeof(T), 1))),
        requests_(tracker_.buckets().size(), MPI_REQUEST_NULL) {}
  GradientAllReduce(const GradientAllReduce&) = delete;
  GradientAllReduce& operator=(const GradientAllReduce&) = delete;
  ~GradientAllReduce() {
    // Abandoned mid-step (an exception): the buffers must outlive the collectives.
    for (MPI_Request& request : requests_)
      if (request != MPI_REQUEST_NULL) MPI_Wait(&request, MPI_STATUS_IGNORE);
  }

  const std::vector<Bucket>& buckets() const { return tracker_.buckets(); }
  // false: backward's reports start nothing and synchronize() does nothing (no_sync).
  void set_enabled(bool on) { enabled_ = on; }
  bool enabled() const { return enabled_; }

  // Backward's report (the model's gradient hook): gradients [begin, end) are final.
  void on_gradients_ready(std::size_t begin, std::size_t end) {
    if (!enabled_) return;
    tracker_.mark_final(begin, end, [&](std::size_t k) { start(k); });
    if (tracker_.started() > 0) CTNN_MPI_CHECK(MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &flag_, MPI_STATUSES_IGNORE));
  }

  // Starts the buckets backward did not report (a frozen prefix, a model without hooks), waits
  // for every bucket: the gradients are then their average over the processes.
  void synchronize() {
    if (!enabled_) return;
    started_by_backward_ = tracker_.started();
    tracker_.start_rest([&](std::size_t k) { start(k); });
    CTNN_MPI_CHECK(MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE));
    tracker_.reset();
    ++synchronized_steps_;
  }

  // Of the last synchronize()'s buckets, how many backward had started before it: the overlap.
  std::size_t buckets_started_by_backward() const { return started_by_backward_; }
  // Since construction: synchronize() calls that communicated, and all-reduces started.
  std::size_t synchronized_steps() const { return synchronized_steps_; }
  std::size_t buckets_started() const { return buckets_started_; }

 private:
  void start(std::size_t k) {
    ++buckets_started_;
    const Bucket& bucket = tracker_.buckets()[k];
    T* values = gradients_.data() + bucket.begin;
    if (comm_.size() > 1) {
      const T inverse = T(1) / static_cast<T>(comm_.size());
      const auto count = static_cast<std::ptrdiff_t>(bucket.size());
#pragma omp parallel for schedule(static) if (count > 65536)
      for (std::ptrdiff_t i = 0; i < count; ++i) values[i] *= inverse;
    }
    CTNN_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, values, static_cast<int>(bucket.size()), mpi_type<T>(), MPI_SUM,
                                  comm_.handle(), &requests_[k]));
  }

  Communicator comm_;
  std::span<T> gradients_;
  BucketTracker tracker_;
  std::vector<MPI_Request> requests_;
  bool enabled_ = true;
  int flag_ = 0;
  std::size_t started_by_backward_ = 0, synchronized_steps_ = 0, buckets_started_ = 0;
};

}  // namespace ctnn::distributed
