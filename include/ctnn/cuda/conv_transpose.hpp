#pragma once
// The GPU's part of ctnn::ConvTranspose2d, whose evaluator (ctnn/layers/conv_transpose.hpp) runs
// the transposed convolution's CUDA evaluator (ctnn/cuda/conv.hpp: cudnnConvolutionBackwardData
// for the forward, cudnnConvolutionBackwardFilter and cudnnConvolutionForward for backward; its
// plans are a Conv's of that geometry) and these two, found by argument-dependent lookup:
//
//   add_channel_bias        y_n[c][p] += bias[c]                            cudnnAddTensor
//   channel_bias_gradient   bias_grad[c] (+)= sum over n and p of dy_n[c][p]  cudnnConvolutionBackwardBias

#include <cstddef>       // std::size_t
#include <cstdint>       // std::int64_t
#include <type_traits>   // std::is_same_v

#include <cudnn.h>   // cudnnAddTensor, cudnnConvolutionBackwardBias

#include <ctnn/cuda/context.hpp>          // ctnn::cuda::Context, PlanKey, PlanKind
#include <ctnn/cuda/conv.hpp>             // Evaluator<Conv, Cuda>: the transposed convolution
#include <ctnn/cuda/cudnn.hpp>            // ctnn::cuda::TensorDescriptor, one, blend
#include <ctnn/cuda/error.hpp>            // CTNN_CUDNN_CHECK
#include <ctnn/evaluator.hpp>             // ctnn::Slot, ctnn::ConstSlot
#include <ctnn/layers/conv_transpose.hpp>   // ctnn::ConvTranspose2d and its evaluator

namespace ctnn::cuda {

// A bias [1, C, 1, 1] and the images it is added to or summed from, strided.
template <class T>
struct ChannelBiasPlan : Plan {
  TensorDescriptor images, bias;
};

template <class T>
ChannelBiasPlan<T>& channel_bias_plan(Context<T>& ctx, std::size_t channels, std::size_t plane,
                                      std::size_t image_stride) {
  const PlanKey key(static_cast<int>(PlanKind::conv_bias),
                    {static_cast<std::int64_t>(channels), static_cast<std::int64_t>(plane),
                     static_cast<std::int64_t>(ctx.batch), static_cast<std::int64_t>(image_stride),
                     std::is_same_v<T, double> ? 1 : 0});
  return ctx.plans.template get<ChannelBiasPlan<T>>(key, [&] {
    auto* plan = new ChannelBiasPlan<T>;
    plan->images.template set_images<T>(ctx.batch, channels, plane, 1, image_stride);
    plan->bias.template set_packed<T>(1, channels, 1, 1);
    return plan;
  });
}

template <class T>
void add_channel_bias(Context<T>& ctx, const T* bias, Slot<T> y, std::size_t channels, std::size_t plane) {
  auto& plan = channel_bias_plan(ctx, channels, plane, y.image_stride);
  ctx.run([&](const Handles& h) {
    CTNN_CUDNN_CHECK(cudnnAddTensor(h.cudnn(), one<T>.get(), plan.bias, bias, one<T>.get(), plan.images, y.data));
  });
}

template <class T>
void channel_bias_gradient(Context<T>& ctx, ConstSlot<T> dy, std::size_t channels, std::size_t plane, T* bias_grad) {
  auto& plan = channel_bias_plan(ctx, channels, plane, dy.image_stride);
  ctx.run([&](const Handles& h) {
    CTNN_CUDNN_CHECK(cudnnConvolutionBackwardBias(h.cudnn(), one<T>.get(), plan.images, dy.data,
                                                  blend<T>(ctx.accumulate_parameter_gradients), plan.bias, bias_grad));
  });
}

}  // namespace ctnn::cuda
