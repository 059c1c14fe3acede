#pragma once
// Hooks a training pass offers to code outside the model: data parallelism
// (ctnn/distributed/) uses them; a model without hooks runs exactly as before.
//
//   gradients_ready    backward reports, in backward order, that the parameter gradients
//                      [begin, end) of the flat gradient buffer are final for this pass, so a
//                      gradient all-reduce can start on them while backward goes on
//   batch_statistics   BatchNorm in training sums its per-channel statistics over every process
//                      (SyncBatchNorm), so normalisation uses the global batch's mean and variance
//
// Both are null by default. A context holds one TrainingHooks (Context::hooks); a model sets it
// with Model::set_training_hooks.
//
// Where the core calls them (the injection points; each is one call):
//   layers/sequential.hpp  Evaluator<Sequential>::backward, after each child's backward:
//                          report_gradients_ready(ctx, child_params.values, Child::parameter_count)
//   cpu/batch_norm.hpp     batch_norm_forward_train and batch_norm_backward: with
//                          ctx.hooks.batch_statistics set, the per-channel sums go through sum()
//                          between the kernel's passes
// Ranges may be reported more than once and nested (a Sequential inside a Sequential reports its
// children, then its parent reports it whole); listeners treat a report as "at least this is final".

#include <cstddef>   // std::size_t, std::ptrdiff_t
#include <span>      // std::span

namespace ctnn {

class GradientReadyListener {
 public:
  // Parameter gradients [begin, end) (offsets into the flat gradient buffer) are final.
  virtual void on_gradients_ready(std::size_t begin, std::size_t end) = 0;

 protected:
  ~GradientReadyListener() = default;
};

class BatchStatisticsReducer {
 public:
  // Room for `count` doubles, owned by the reducer (grown once, reused by every call).
  virtual std::span<double> workspace(std::size_t count) = 0;
  // Replaces `values` by their elementwise sum over every process of the group.
  virtual void sum(std::span<double> values) = 0;

 protected:
  ~BatchStatisticsReducer() = default;
};

struct TrainingHooks {
  GradientReadyListener* gradients_ready = nullptr;
  BatchStatisticsReducer* batch_statistics = nullptr;
};

// Reports the `count` parameters starting at `values` (inside the model's flat parameter buffer,
// whose start backward puts in ctx.parameter_base) as having final gradients. Nothing while a
// context only plans (the CUDA backend's planning pass launches nothing).
template <class Context, class T>
void report_gradients_ready(const Context& ctx, const T* values, std::size_t count) {
  if constexpr (requires { ctx.planning; })
    if (ctx.planning) return;
  if (ctx.hooks.gradients_ready == nullptr || ctx.parameter_base == nullptr || count == 0) return;
  const auto begin = static_cast<std::size_t>(values - ctx.parameter_base);
  ctx.hooks.gradients_ready->on_gradients_ready(begin, begin + count);
}

}  // namespace ctnn
