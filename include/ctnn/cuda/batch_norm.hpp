#pragma once
// CUDA evaluator of ctnn::BatchNorm through cuDNN (spatial mode: statistics per channel over
// N*H*W values, as nn.BatchNorm2d).
//
//   evaluation  cudnnBatchNormalizationForwardInference with the running statistics
//   training    cudnnBatchNormalizationForwardTraining: normalises with the batch's statistics,
//               keeps mean and 1/sqrt(var + eps) in the layer's `saved` area for backward, and
//               moves the running statistics by the momentum with the unbiased variance, as
//               PyTorch; num_batches_tracked counts the step (a kernel)
//   backward    cudnnBatchNormalizationBackward from the saved statistics; beta = 1 where dx or
//               the parameter gradients are added to
// Tensors are the Slots' strided views, so a batch norm works in place on its branch's slice.
// CPU kernel: ctnn/cpu/batch_norm.hpp (the reference these are tested against).

#include <cstddef>   // std::size_t
#include <string>    // std::to_string

#include <cudnn.h>   // cudnnBatchNormalization*, cudnnDeriveBNTensorDescriptor

#include <ctnn/cuda/context.hpp>        // ctnn::cuda::Context, PlanKey
#include <ctnn/cuda/cudnn.hpp>          // ctnn::cuda::TensorDescriptor, one, zero, blend
#include <ctnn/cuda/error.hpp>          // CTNN_CUDNN_CHECK
#include <ctnn/cuda/kernels.hpp>        // ctnn::cuda::launch, Kernel
#include <ctnn/error.hpp>               // ctnn::Error
#include <ctnn/evaluator.hpp>           // ctnn::Evaluator
#include <ctnn/layers/batch_norm.hpp>   // ctnn::BatchNorm

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
  static void forward(cuda::Context<T>& ctx, ParamSpan<T> params, ConstSlot<T> x, Slot<T> y, T* saved, T*) {
    auto& plan = cuda::batch_norm_plan(ctx, C, I::height, I::width, x.image_stride, y.image_stride, y.image_stride);
    const T* gamma = params.values + Layer::weight_offset;
    const T* beta = params.values + Layer::bias_offset;
    T* running_mean = params.buffers + Layer::running_mean_offset;
    T* running_var = params.buffers + Layer::running_var_offset;
    if (ctx.mode == Mode::train) {
      if (ctx.batch * I::plane < 2)
        throw Error("BatchNorm2d", "needs more than one value per channel in training (N*H*W is " +
                                       std::to_string(ctx.batch * I::plane) + "), as in PyTorch");
      if (ctx.planning) return;
      CTNN_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
          ctx.cudnn(), CUDNN_BATCHNORM_SPATIAL, cuda::one<T>.get(), cuda::zero<T>.get(), plan.x, x.data, plan.y,
          y.data, plan.parameters, gamma, beta, Layer::momentum, running_mean, running_var, Layer::epsilon, saved,
          saved + C));
      cuda::launch<T>(*ctx.kernels, cuda::Kernel::add_scalar, 1, ctx.stream(),
                      params.buffers + Layer::num_batches_tracked_offset, T(1));
    } else {
      if (ctx.planning) return;
      CTNN_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(
          ctx.cudnn(), CUDNN_BATCHNORM_SPATIAL, cuda::one<T>.get(), cuda::zero<T>.get(), plan.x, x.data, plan.y,
          y.data, plan.parameters, gamma, beta, running_mean, running_var, Layer::epsilon));
    }
  }

  // Training backward. cuDNN always produces dx and the parameter gradients: what nobody wants
  // (no input gradient, or frozen parameters) goes to the workspace.
  template <ShapeType I>
  static void backward(cuda::Context<T>& ctx, ParamSpan<T> params, ConstSlot<T> x, ConstSlot<T>, ConstSlot<T> dy,
                       Slot<T> dx, bool accumulate_dx, T* saved, T*) {
    if (ctx.mode != Mode::train)
      throw Error("BatchNorm2d", "backward on the GPU needs a training-mode forward (batch statistics)");
    const std::size_t dx_stride = dx ? dx.image_stride : I::size;
    auto& plan = cuda::batch_norm_plan(ctx, C, I::height, I::width, x.image_stride, dx_stride, dy.image_stride);
    const std::size_t discard_dx = dx ? 0 : ctx.batch * I::size;
    const std::size_t discard_parameters = params.gradients ? 0 : 2 * C;
    std::byte* workspace = ctx.workspace_for((discard_dx + discard_parameters) * sizeof(T));
    if (ctx.planning) return;
    T* discard = reinterpret_cast<T*>(workspace);
    T* input_grad = dx ? dx.data : discard;
    T* gamma_grad = params.gradients ? params.gradients + Layer::weight_offset : discard + discard_dx;
    T* beta_grad = params.gradients ? params.gradients + Layer::bias_offset : discard + discard_dx + C;
    const bool accumulate_parameters = params.gradients && ctx.accumulate_parameter_gradients;
    CTNN_CUDNN_CHECK(cudnnBatchNormalizationBackward(
        ctx.cudnn(), CUDNN_BATCHNORM_SPATIAL, cuda::one<T>.get(), cuda::blend<T>(dx && accumulate_dx),
        cuda::one<T>.get(), cuda::blend<T>(accumulate_parameters), plan.x, x.data, plan.dy, dy.data, plan.y,
        input_grad, plan.parameters, params.values + Layer::weight_offset, gamma_grad, beta_grad, Layer::epsilon,
        saved, saved + C));
  }
};

}  // namespace ctnn
