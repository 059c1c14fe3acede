#pragma once
// CUDA evaluator of ctnn::BatchNorm through cuDNN (spatial mode: statistics per channel over
// N*H*W values, as nn.BatchNorm2d).
//
//   evaluation  cudnnBatchNormalizationForwardInference with the running statistics
//   training    cudnnBatchNormalizationForwardTraining: normalises with the batch's statistics,
//               keeps mean and 1/sqrt(var + eps) in the layer's `saved` area for backward, and
//               moves the running statistics by the momentum with the unbiased variance, as
//               PyTorch; num_batches_tracked counts the step (a kernel). A batch-statistics hook
//               (SyncBatchNorm, ctnn/pass_state.hpp) is refused: the CPU backend only, so far
//   backward    cudnnBatchNormalizationBackward from the saved statistics; beta = 1 where dx or
//               the parameter gradients are added to
// Tensors are the Slots' strided views, so a batch norm works in place on its branch's slice.
// CPU kernel: ctnn/cpu/batch_norm.hpp (the reference these are tested against).

#include <cstddef>   // std::size_t

#include <cudnn.h>   // cudnnBatchNormalization*, cudnnDeriveBNTensorDescriptor

#include <ctnn/cuda/context.hpp>        // ctnn::cuda::Context, PlanKey
#include <ctnn/cuda/cudnn.hpp>          // ctnn::cuda::TensorDescriptor, one, zero, blend
#include <ctnn/cuda/error.hpp>          // CTNN_CUDNN_CHECK
#include <ctnn/cuda/kernels.hpp>        // ctnn::cuda::launch, Kernel
#include <ctnn/cuda/workspace.hpp>      // ctnn::cuda::workspace_layout
#include <ctnn/error.hpp>               // ctnn::Error
#include <ctnn/evaluator.hpp>           // ctnn::Evaluator
#include <ctnn/layers/batch_norm.hpp>   // ctnn::BatchNorm, require_batch_statistics

namespace ctnn::cuda {

// x (or dy), y (or dx) and the per-channel parameter tensor [1, C, 1, 1].
template <class T>
struct BatchNormPlan : Plan {
  TensorDescriptor x, y, dy, parameters;
};

template <class T>
BatchNormPlan<T>& batch_norm_plan(Context<T>& ctx, std::size_t channels, std::size_t height, std::size_t width,
                                  std::size_t x_stride, std::size_t y_stride, std::size_t dy_stride) {
  const PlanKey key(static_cast<int>(PlanKind::batch_norm),
                    {static_cast<std::int64_t>(channels), static_cast<std::int64_t>(height),
                     static_cast<std::int64_t>(width), static_cast<std::int64_t>(ctx.batch),
                     static_cast<std::int64_t>(x_stride), static_cast<std::int64_t>(y_stride),
                     static_cast<std::int64_t>(dy_stride), std::is_same_v<T, double> ? 1 : 0});
  return ctx.plans.template get<BatchNormPlan<T>>(key, [&] {
    auto* plan = new BatchNormPlan<T>;
    plan->x.template set_images<T>(ctx.batch, channels, height, width, x_stride);
    plan->y.template set_images<T>(ctx.batch, channels, height, width, y_stride);
    plan->dy.template set_images<T>(ctx.batch, channels, height, width, dy_stride);
    CTNN_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(plan->parameters, plan->x, CUDNN_BATCHNORM_SPATIAL));
    return plan;
  });
}

}  // namespace ctnn::cuda

namespace ctnn {

template <std::size_t C, Ratio Eps, Ratio Momentum, class T>
struct Evaluator<BatchNorm<C, Eps, Momentum>, Cuda, T> {
  using Layer = BatchNorm<C, Eps, Momentum>;

  template <ShapeType I>
  static void forward(cuda::Context<T>& ctx, const ForwardArgs<T>& a) {
    auto& plan = cuda::batch_norm_plan(ctx, C, I::height, I::width, a.x.image_stride, a.y.image_stride, a.y.image_stride);
    const auto t = Layer::pointers(a.params);
    if (ctx.mode == Mode::train) {
      require_batch_statistics(ctx.batch * I::plane);
      if (ctx.batch_statistics_sum.sum != nullptr)
        throw Error("BatchNorm2d", "statistics summed over processes (SyncBatchNorm) are not available on the GPU");
      ctx.run([&](const cuda::Handles& h) {
        CTNN_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
            h.cudnn(), CUDNN_BATCHNORM_SPATIAL, cuda::one<T>.get(), cuda::zero<T>.get(), plan.x, a.x.data, plan.y,
            a.y.data, plan.parameters, t.weight, t.bias, Layer::momentum, t.running_mean, t.running_var,
            Layer::epsilon, a.saved, a.saved + C));
      });
      ctx.launch(cuda::Kernel::add_scalar, 1, t.num_batches_tracked, T(1));
    } else {
      ctx.run([&](const cuda::Handles& h) {
        CTNN_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(
            h.cudnn(), CUDNN_BATCHNORM_SPATIAL, cuda::one<T>.get(), cuda::zero<T>.get(), plan.x, a.x.data, plan.y,
            a.y.data, plan.parameters, t.weight, t.bias, t.running_mean, t.running_var, Layer::epsilon));
      });
    }
  }

  // Training backward. cuDNN always produces dx and the parameter gradients: what nobody wants
  // (no input gradient, or frozen parameters) goes to the workspace.
  template <ShapeType I>
  static void backward(cuda::Context<T>& ctx, const BackwardArgs<T>& a) {
    if (ctx.mode != Mode::train)
      throw Error("BatchNorm2d", "backward on the GPU needs a training-mode forward (batch statistics)");
    const std::size_t dx_stride = a.dx ? a.dx.image_stride : I::size;
    auto& plan = cuda::batch_norm_plan(ctx, C, I::height, I::width, a.x.image_stride, dx_stride, a.dy.image_stride);
    // Workspace parts, each 256-byte aligned: [discarded dx][discarded gamma grad][discarded beta grad]
    const std::size_t discard_dx = a.dx ? 0 : ctx.batch * I::size;
    const std::size_t discard_parameter = a.params.gradients ? 0 : C;
    const auto layout = cuda::workspace_layout<3>(
        {discard_dx * sizeof(T), discard_parameter * sizeof(T), discard_parameter * sizeof(T)});
    std::byte* workspace = ctx.workspace_for(layout.total);
    auto part = [&](std::size_t k) { return reinterpret_cast<T*>(workspace + layout.offsets[k]); };
    const auto t = Layer::pointers(a.params);
    T* input_grad = a.dx ? a.dx.data : part(0);
    T* gamma_grad = t.weight_grad ? t.weight_grad : part(1);
    T* beta_grad = t.bias_grad ? t.bias_grad : part(2);
    const bool accumulate_parameters = a.params.gradients && ctx.accumulate_parameter_gradients;
    ctx.run([&](const cuda::Handles& h) {
      CTNN_CUDNN_CHECK(cudnnBatchNormalizationBackward(
          h.cudnn(), CUDNN_BATCHNORM_SPATIAL, cuda::one<T>.get(), cuda::blend<T>(a.dx && a.accumulate_dx),
          cuda::one<T>.get(), cuda::blend<T>(accumulate_parameters), plan.x, a.x.data, plan.dy, a.dy.data, plan.y,
          input_grad, plan.parameters, t.weight, gamma_grad, beta_grad, Layer::epsilon, a.saved, a.saved + C));
    });
  }
};

}  // namespace ctnn
