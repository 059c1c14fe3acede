#pragma once
// CUDA evaluator of ctnn::Linear through cuBLAS: one GEMM over the whole batch per product.
//
// cuBLAS is column-major; a row-major [rows, cols] matrix with leading dimension ld is the
// column-major [cols, rows] one, so every product is computed transposed:
//   forward   Y[N, Out] = X W^T + b      as  Y^T[Out, N]  = W[Out, In] X^T         gemm(T, N)
//   backward  dW[Out, In] (+)= dY^T X    as  dW^T[In, Out] = X^T dY                 gemm(N, T)
//             dX[N, In] (+)= dY W        as  dX^T[In, N]  = W^T dY^T                gemm(N, N)
//             db (+)= column sums of dY  (a kernel; rows added in order)
// Row strides are the Slots' image strides. Full float32 arithmetic (cuBLAS's default math), as
// PyTorch's matmul.allow_tf32 = False.

#include <cstddef>       // std::size_t
#include <type_traits>   // std::is_same_v

#include <cublas_v2.h>   // cublasSgemm, cublasDgemm

#include <ctnn/cuda/context.hpp>    // ctnn::cuda::Context
#include <ctnn/cuda/error.hpp>      // CTNN_CUBLAS_CHECK
#include <ctnn/cuda/kernels.hpp>    // ctnn::cuda::launch, Kernel
#include <ctnn/evaluator.hpp>       // ctnn::Evaluator
#include <ctnn/layers/linear.hpp>   // ctnn::Linear

namespace ctnn::cuda {

// C[m, n] = A op B + beta C, column-major, alpha 1.
template <class T>
void gemm(Context<T>& ctx, bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, const T* a,
          std::size_t lda, const T* b, std::size_t ldb, bool accumulate, T* c, std::size_t ldc) {
  const T alpha = T(1), beta = accumulate ? T(1) : T(0);
  const cublasOperation_t op_a = transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const auto i = [](std::size_t v) { return static_cast<int>(v); };
  if constexpr (std::is_same_v<T, double>)
    CTNN_CUBLAS_CHECK(cublasDgemm(ctx.cublas(), op_a, op_b, i(m), i(n), i(k), &alpha, a, i(lda), b, i(ldb), &beta, c,
                                  i(ldc)));
  else
    CTNN_CUBLAS_CHECK(cublasSgemm(ctx.cublas(), op_a, op_b, i(m), i(n), i(k), &alpha, a, i(lda), b, i(ldb), &beta, c,
                                  i(ldc)));
}

}  // namespace ctnn::cuda

namespace ctnn {

template <std::size_t In, std::size_t Out, class T>
struct Evaluator<Linear<In, Out>, Cuda, T> {
  using Layer = Linear<In, Out>;

  template <ShapeType I>
  static void forward(cuda::Context<T>& ctx, ParamSpan<T> params, ConstSlot<T> x, Slot<T> y, T*, T*) {
    if (ctx.planning) return;
    const T* weight = params.values;
    const T* bias = params.values + Layer::weight_count;
    cuda::gemm(ctx, true, false, Out, ctx.batch, In, weight, In, x.data, x.image_stride, false, y.data, y.image_stride);
    const auto total = static_cast<long long>(ctx.batch * Out);
    cuda::launch<T>(*ctx.kernels, cuda::Kernel::add_bias_rows, total, ctx.stream(), total, static_cast<long long>(Out),
                    bias, y.data, static_cast<long long>(y.image_stride));
  }

  template <ShapeType I>
  static void backward(cuda::Context<T>& ctx, ParamSpan<T> params, ConstSlot<T> x, ConstSlot<T>, ConstSlot<T> dy,
                       Slot<T> dx, bool accumulate_dx, T*, T*) {
    if (ctx.planning) return;
    if (T* weight_grad = params.gradients) {
      const bool accumulate = ctx.accumulate_parameter_gradients;
      cuda::gemm(ctx, false, true, In, Out, ctx.batch, x.data, x.image_stride, dy.data, dy.image_stride, accumulate,
                 weight_grad, In);
      cuda::launch<T>(*ctx.kernels, cuda::Kernel::column_sums, static_cast<long long>(Out), ctx.stream(),
                      static_cast<long long>(Out), static_cast<long long>(ctx.batch), dy.data,
                      static_cast<long long>(dy.image_stride), weight_grad + Layer::weight_count, accumulate ? 1 : 0);
    }
    if (dx)
      cuda::gemm(ctx, false, false, In, ctx.batch, Out, params.values, In, dy.data, dy.image_stride, accumulate_dx,
                 dx.data, dx.image_stride);
  }
};

}  // namespace ctnn
