#pragma once
// CUDA evaluator of ctnn::Softmax through cuDNN, over the channels at every position (cuDNN's
// CUDNN_SOFTMAX_MODE_CHANNEL on the slots' strided [N, C, H, W] tensors), with the maximum
// subtracted first (CUDNN_SOFTMAX_ACCURATE), as the CPU kernel computes it:
//
//   forward   cudnnSoftmaxForward
//   backward  cudnnSoftmaxBackward from y and dy; beta = 1 when adding to dx

#include <array>         // std::array
#include <cstddef>       // std::size_t
#include <cstdint>       // std::int64_t
#include <type_traits>   // std::is_same_v

#include <cudnn.h>   // cudnnSoftmaxForward, cudnnSoftmaxBackward

#include <ctnn/cuda/context.hpp>     // ctnn::cuda::Context, PlanKey, PlanKind
#include <ctnn/cuda/cudnn.hpp>       // ctnn::cuda::TensorDescriptor, one, zero, blend
#include <ctnn/cuda/error.hpp>       // CTNN_CUDNN_CHECK
#include <ctnn/evaluator.hpp>        // ctnn::Evaluator
#include <ctnn/layers/softmax.hpp>   // ctnn::Softmax

namespace ctnn::cuda {

// The slots' tensors, [N, C, H, W] with their own image strides: forward x, y; backward y, dy, dx.
template <class T>
struct SoftmaxPlan : Plan {
  std::array<TensorDescriptor, 3> tensors;
};

template <class T, ShapeType In>
const std::array<TensorDescriptor, 3>& softmax_tensors(Context<T>& ctx, std::array<std::size_t, 3> strides) {
  const PlanKey key(static_cast<int>(PlanKind::softmax),
                    {static_cast<std::int64_t>(In::channels), static_cast<std::int64_t>(In::height),
                     static_cast<std::int64_t>(In::width), static_cast<std::int64_t>(ctx.batch),
                     static_cast<std::int64_t>(strides[0]), static_cast<std::int64_t>(strides[1]),
                     static_cast<std::int64_t>(strides[2]), std::is_same_v<T, double> ? 1 : 0});
  return ctx.plans.template get<SoftmaxPlan<T>>(key, [&] {
    auto* plan = new SoftmaxPlan<T>;
    for (std::size_t i = 0; i < strides.size(); ++i)
      plan->tensors[i].template set_images<T>(ctx.batch, In::channels, In::height, In::width,
                                              strides[i] != 0 ? strides[i] : In::size);
    return plan;
  }).tensors;
}

}  // namespace ctnn::cuda

namespace ctnn {

template <class T>
struct Evaluator<Softmax, Cuda, T> {
  template <ShapeType In>
  static void forward(cuda::Context<T>& ctx, const ForwardArgs<T>& a) {
    const auto& tensors = cuda::softmax_tensors<T, In>(ctx, {a.x.image_stride, a.y.image_stride, 0});
    ctx.run([&](const cuda::Handles& h) {
      CTNN_CUDNN_CHECK(cudnnSoftmaxForward(h.cudnn(), CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_CHANNEL,
                                           cuda::one<T>.get(), tensors[0], a.x.data, cuda::zero<T>.get(), tensors[1],
                                           a.y.data));
    });
  }
  template <ShapeType In>
  static void backward(cuda::Context<T>& ctx, const BackwardArgs<T>& a) {
    if (!a.dx) return;
    const auto& tensors =
        cuda::softmax_tensors<T, In>(ctx, {a.y.image_stride, a.dy.image_stride, a.dx.image_stride});
    ctx.run([&](const cuda::Handles& h) {
      CTNN_CUDNN_CHECK(cudnnSoftmaxBackward(h.cudnn(), CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_CHANNEL,
                                            cuda::one<T>.get(), tensors[0], a.y.data, tensors[1], a.dy.data,
                                            cuda::blend<T>(a.accumulate_dx), tensors[2], a.dx.data));
    });
  }
};

}  // namespace ctnn
