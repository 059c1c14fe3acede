#pragma once
// CPU kernel of ctnn::Linear, one GEMM over the whole batch.
//   forward   Y[N, Out] = X[N, In] * W^T + b
//   backward  dW[Out, In] += dY^T * X;   db += column sums of dY;   dX[N, In] (+)= dY * W

#include <algorithm>   // std::copy_n, std::fill_n
#include <cstddef>     // std::size_t

#include <ctnn/cpu/context.hpp>     // ctnn::cpu::Context
#include <ctnn/cpu/gemm.hpp>        // ctnn::cpu::gemm_accumulate_parallel
#include <ctnn/evaluator.hpp>       // ctnn::Evaluator
#include <ctnn/layers/linear.hpp>   // ctnn::Linear

namespace ctnn {

template <std::size_t In, std::size_t Out, class T>
struct Evaluator<Linear<In, Out>, Cpu, T> {
  using Layer = Linear<In, Out>;

  template <ShapeType I>
  static void forward(cpu::Context<T>& ctx, const ForwardArgs<T>& a) {
    const ConstSlot<T> x = a.x;
    const Slot<T> y = a.y;
    const T* weight = a.params.values;
    const T* bias = weight + Layer::bias_offset;
    for (std::size_t n = 0; n < ctx.batch; ++n) std::copy_n(bias, Out, y.image(n));
    cpu::gemm_accumulate_parallel(ctx.blocking.data(), ctx.threads, false, true, static_cast<cpu::Index>(ctx.batch),
                                  cpu::Index{Out}, cpu::Index{In}, T(1), x.data,
                                  static_cast<cpu::Index>(x.image_stride), weight, cpu::Index{In}, y.data,
                                  static_cast<cpu::Index>(y.image_stride));
  }

  template <ShapeType I>
  static void backward(cpu::Context<T>& ctx, const BackwardArgs<T>& a) {
    const ConstSlot<T> x = a.x, dy = a.dy;
    const Slot<T> dx = a.dx;
    const auto batch = static_cast<cpu::Index>(ctx.batch);
    if (T* weight_grad = a.params.gradients) {
      T* bias_grad = weight_grad + Layer::bias_offset;
      if (!ctx.accumulate_parameter_gradients) {
        std::fill_n(weight_grad, Layer::weight_count, T(0));
        std::fill_n(bias_grad, Out, T(0));
      }
      cpu::gemm_accumulate_parallel(ctx.blocking.data(), ctx.threads, true, false, cpu::Index{Out}, cpu::Index{In},
                                    batch, T(1), dy.data, static_cast<cpu::Index>(dy.image_stride), x.data,
                                    static_cast<cpu::Index>(x.image_stride), weight_grad, cpu::Index{In});
      for (std::size_t n = 0; n < ctx.batch; ++n)
        for (std::size_t o = 0; o < Out; ++o) bias_grad[o] += dy.image(n)[o];
    }
    if (!dx) return;
    if (!a.accumulate_dx)
      for (std::size_t n = 0; n < ctx.batch; ++n) std::fill_n(dx.image(n), In, T(0));
    cpu::gemm_accumulate_parallel(ctx.blocking.data(), ctx.threads, false, false, batch, cpu::Index{In},
                                  cpu::Index{Out}, T(1), dy.data, static_cast<cpu::Index>(dy.image_stride),
                                  a.params.values, cpu::Index{In}, dx.data, static_cast<cpu::Index>(dx.image_stride));
  }
};

}  // namespace ctnn
