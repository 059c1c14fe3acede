#pragma once
// How data parallelism attaches to a model: through the two hooks of the one model front end
// (ctnn/model.hpp, ctnn/pass_state.hpp), the same for the CPU and the CUDA model.
//
//   gradient ready      backward reports [begin, end) of the flat gradient buffer as final, after
//                       each leaf layer, last layer first: a gradient all-reduce starts each
//                       bucket once every range in it is reported (GradientAllReduce on the CPU,
//                       NcclGradientAllReduce on GPUs)
//   batch statistics    BatchNorm in training sums its per-channel statistics over every process
//                       (SyncBatchNorm; the CPU backend only)
//
//   GradientAllReduce<float> all_reduce(comm, model.gradients());
//   SyncBatchNorm sync(comm);
//   AttachedHooks hooks(model, gradient_ready_hook(all_reduce), batch_statistics_hook(sync), "me");
//   // ... training; ~AttachedHooks removes both hooks.
//
// Needs no MPI.

#include <cstddef>   // std::size_t
#include <span>      // std::span

#include <ctnn/error.hpp>        // ctnn::Error
#include <ctnn/pass_state.hpp>   // ctnn::GradientReadyHook, ctnn::BatchStatisticsHook

namespace ctnn::distributed {

// The front end's gradient hook calling listener.on_gradients_ready(begin, end).
template <class Listener>
GradientReadyHook gradient_ready_hook(Listener& listener) {
  return {[](void* user, std::size_t begin, std::size_t end) { static_cast<Listener*>(user)->on_gradients_ready(begin, end); },
          &listener};
}

// The front end's batch-statistics hook calling reducer.workspace(count) and reducer.sum(values).
template <class Reducer>
BatchStatisticsHook batch_statistics_hook(Reducer& reducer) {
  return {[](void* user, std::size_t count) { return static_cast<Reducer*>(user)->workspace(count); },
          [](void* user, std::span<double> values) { static_cast<Reducer*>(user)->sum(values); }, &reducer};
}

// Sets a model's two hooks for the lifetime of this object, and clears them after. `owner` names
// the caller in the error thrown when the model has hooks already (another DataParallel on it).
template <class Model>
class AttachedHooks {
 public:
  AttachedHooks(Model& model, GradientReadyHook gradients, BatchStatisticsHook statistics, const char* owner)
      : model_(model) {
    if (model.gradient_ready_hook().notify != nullptr || model.batch_statistics_hook().sum != nullptr)
      throw Error(owner, "the model already has data-parallel hooks (another DataParallel on the same model?)");
    model.set_gradient_ready_hook(gradients);
    model.set_batch_statistics_hook(statistics);
  }
  AttachedHooks(const AttachedHooks&) = delete;
  AttachedHooks& operator=(const AttachedHooks&) = delete;
  ~AttachedHooks() {
    model_.set_gradient_ready_hook({});
    model_.set_batch_statistics_hook({});
  }

 private:
  Model& model_;
};

}  // namespace ctnn::distributed
