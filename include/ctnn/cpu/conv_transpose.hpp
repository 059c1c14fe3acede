#pragma once
// The CPU's part of ctnn::ConvTranspose2d, whose evaluator (ctnn/layers/conv_transpose.hpp) runs
// the transposed convolution's CPU evaluator (ctnn/cpu/conv.hpp: GEMM + col2im for the forward,
// im2col + GEMM for the input gradient) and these two, found by argument-dependent lookup:
//
//   add_channel_bias        y_n[c][p] += bias[c]
//   channel_bias_gradient   bias_grad[c] (+)= sum over n and p of dy_n[c][p], in double (adding
//                           when the context accumulates parameter gradients)

#include <cstddef>   // std::size_t

#include <ctnn/cpu/batch_norm.hpp>          // ctnn::cpu::parallel_over_channels, channel_sum
#include <ctnn/cpu/context.hpp>             // ctnn::cpu::Context, parallel_over_images
#include <ctnn/cpu/conv.hpp>                // Evaluator<Conv, Cpu>: the transposed convolution
#include <ctnn/evaluator.hpp>               // ctnn::Slot, ctnn::ConstSlot
#include <ctnn/layers/conv_transpose.hpp>   // ctnn::ConvTranspose2d and its evaluator

namespace ctnn::cpu {

template <class T>
void add_channel_bias(const Context<T>& ctx, const T* bias, Slot<T> y, std::size_t channels, std::size_t plane) {
  parallel_over_images(ctx, channels * plane, [&](std::size_t n, std::size_t begin, std::size_t end) {
    T* out = y.image(n);
    for (std::size_t i = begin; i < end; ++i) out[i] += bias[i / plane];
  });
}

template <class T>
void channel_bias_gradient(const Context<T>& ctx, ConstSlot<T> dy, std::size_t channels, std::size_t plane,
                           T* bias_grad) {
  parallel_over_channels(ctx, channels, ctx.batch * plane, [&](std::size_t c) {
    const double sum = channel_sum(ctx.batch, plane, [&](std::size_t n, std::size_t i) {
      return static_cast<double>(dy.image(n)[c * plane + i]);
    });
    bias_grad[c] = static_cast<T>(ctx.accumulate_parameter_gradients ? bias_grad[c] + sum : sum);
  });
}

}  // namespace ctnn::cpu
