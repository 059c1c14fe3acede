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
void gemm(const Handles& handles, bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, const T* a,
          std::size_t lda, const T* b, std::size_t ldb, bool accumulate, T* c, std::size_t ldc) {
  const T alpha = T(1), beta = accumulate ? T(1) : T(0);
  const cublasOperation_t op_a = transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const auto i = [](std::size_t v) { return static_cast<int>(v); };
  if constexpr (std::is_same_v<T, double>)
    CTNN_CUBLAS_CHECK(cublasDgemm(handles.cublas(), op_a, op_b, i(m), i(n), i(k), &alpha, a, i(lda), b, i(ldb), &beta, c,
                                  i(ldc)));
  else
    CTNN_CUBLAS_CHECK(cublasSgemm(handles.cublas(), op_a, op_b, i(m), i(n), i(k), &alpha, a, i(lda), b, i(ldb), &beta, c,
                                  i(ldc)));
}

}  // namespace ctnn::cuda

namespace ctnn {

template <std::size_t In, std::size_t Out, class T>
struct Evaluator<Linear<In, Out>, Cuda, T> {
  using Layer = Linear<In, Out>;

  template <ShapeType I>
  static void forward(cuda::Context<T>& ctx, const ForwardArgs<T>& a) {
    const T* weight = a.params.values;
    ctx.run([&](const cuda::Handles& h) {
      cuda::gemm(h, true, false, Out, ctx.batch, In, weight, In, a.x.data, a.x.image_stride, false, a.y.data,
                 a.y.image_stride);
    });
    const auto total = static_cast<long long>(ctx.batch * Out);
    ctx.launch(cuda::Kernel::add_bias_rows, total, total, static_cast<long long>(Out), weight + Layer::bias_offset,
               a.y.data, static_cast<long long>(a.y.image_stride));
  }

  template <ShapeType I>
  static void backward(cuda::Context<T>& ctx, const BackwardArgs<T>& a) {
    if (T* weight_grad = a.params.gradients) {
      const bool accumulate = ctx.accumulate_parameter_gradients;
      ctx.run([&](const cuda::Handles& h) {
        cuda::gemm(h, false, true, In, Out, ctx.batch, a.x.data, a.x.image_stride, a.dy.data, a.dy.image_stride,
                   accumulate, weight_grad, In);
      });
      ctx.launch(cuda::Kernel::column_sums, static_cast<long long>(Out), static_cast<long long>(Out),
                 static_cast<long long>(ctx.batch), a.dy.data, static_cast<long long>(a.dy.image_stride),
                 weight_grad + Layer::bias_offset, accumulate ? 1 : 0);
    }
    if (a.dx)
      ctx.run([&](const cuda::Handles& h) {
        cuda::gemm(h, false, false, In, ctx.batch, Out, a.params.values, In, a.dy.data, a.dy.image_stride,
                   a.accumulate_dx, a.dx.data, a.dx.image_stride);
      });
  }
};

}  // namespace ctnn
