#pragma once
// CPU kernel of ctnn::Conv: im2col, then one GEMM per image into the output (which may be a
// channel slice of a concatenation).
//
//   forward   y_n[Out, OH*OW]   = W[Out, In*K*K] * col(x_n)[In*K*K, OH*OW] + b
//   backward  dW[Out, In*K*K]  += dy_n * col(x_n)^T
//             db[Out]          += sum over positions of dy_n
//             dx_n             += col2im(W^T * dy_n)
// A 1x1, stride-1, unpadded convolution uses x_n itself as col(x_n).
//
// Work is split over images when the batch divides well among threads, else inside each GEMM.
// The kernels take the geometry at run time so one instantiation serves every layer.

#include <algorithm>   // std::fill_n
#include <cstddef>     // std::size_t

#include <ctnn/cpu/context.hpp>   // ctnn::cpu::Context
#include <ctnn/cpu/gemm.hpp>      // ctnn::cpu::gemm_accumulate
#include <ctnn/evaluator.hpp>     // ctnn::Evaluator
#include <ctnn/layers/conv.hpp>   // ctnn::Conv

namespace ctnn::cpu {

struct ConvGeometry {
  std::size_t in_channels, out_channels, kernel, stride, padding;
  std::size_t in_height, in_width, out_height, out_width;

  std::size_t in_plane() const { return in_height * in_width; }
  std::size_t out_plane() const { return out_height * out_width; }
  std::size_t col_rows() const { return in_channels * kernel * kernel; }
  bool is_pointwise() const { return kernel == 1 && stride == 1 && padding == 0; }
};

// col[(c*K + kh)*K + kw][oh*OW + ow] = x[c][oh*S - P + kh][ow*S - P + kw], zero outside.
template <class T>
void im2col(const ConvGeometry& g, const T* x, T* col) {
  const std::ptrdiff_t H = g.in_height, W = g.in_width, S = g.stride, P = g.padding;
  for (std::size_t c = 0; c < g.in_channels; ++c)
    for (std::size_t kh = 0; kh < g.kernel; ++kh)
      for (std::size_t kw = 0; kw < g.kernel; ++kw) {
        T* row = col + ((c * g.kernel + kh) * g.kernel + kw) * g.out_plane();
        const T* plane = x + c * g.in_plane();
        for (std::size_t oh = 0; oh < g.out_height; ++oh) {
          const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh) * S - P + static_cast<std::ptrdiff_t>(kh);
          T* out = row + oh * g.out_width;
          if (ih < 0 || ih >= H) {
            std::fill_n(out, g.out_width, T(0));
            continue;
          }
          const T* in = plane + ih * W;
          for (std::size_t ow = 0; ow < g.out_width; ++ow) {
            const std::ptrdiff_t iw = static_cast<std::ptrdiff_t>(ow) * S - P + static_cast<std::ptrdiff_t>(kw);
            out[ow] = (iw >= 0 && iw < W) ? in[iw] : T(0);
          }
        }
      }
}

// The adjoint of im2col: dx[c][ih][iw] += every col entry that was read from it.
template <class T>
void col2im_add(const ConvGeometry& g, const T* col, T* dx) {
  const std::ptrdiff_t H = g.in_height, W = g.in_width, S = g.stride, P = g.padding;
  for (std::size_t c = 0; c < g.in_channels; ++c)
    for (std::size_t kh = 0; kh < g.kernel; ++kh)
      for (std::size_t kw = 0; kw < g.kernel; ++kw) {
        const T* row = col + ((c * g.kernel + kh) * g.kernel + kw) * g.out_plane();
        T* plane = dx + c * g.in_plane();
        for (std::size_t oh = 0; oh < g.out_height; ++oh) {
          const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh) * S - P + static_cast<std::ptrdiff_t>(kh);
          if (ih < 0 || ih >= H) continue;
          const T* in = row + oh * g.out_width;
          T* out = plane + ih * W;
          for (std::size_t ow = 0; ow < g.out_width; ++ow) {
            const std::ptrdiff_t iw = static_cast<std::ptrdiff_t>(ow) * S - P + static_cast<std::ptrdiff_t>(kw);
            if (iw >= 0 && iw < W) out[iw] += in[ow];
          }
        }
      }
}

// Images go to threads whole when that keeps every thread busy; otherwise each GEMM is split.
template <class T>
bool split_over_images(const Context<T>& ctx) {
  const std::size_t threads = static_cast<std::size_t>(ctx.threads);
  return threads > 1 && (ctx.batch % threads == 0 || ctx.batch >= 4 * threads);
}

template <class T>
void conv2d_forward(Context<T>& ctx, const ConvGeometry& g, const T* weight, const T* bias, ConstSlot<T> x,
                    Slot<T> y) {
  const Index m = static_cast<Index>(g.out_channels), n = static_cast<Index>(g.out_plane()),
              k = static_cast<Index>(g.col_rows());
  auto one_image = [&](std::size_t image, int thread, bool parallel_gemm) {
    const T* col = x.image(image);
    if (!g.is_pointwise()) {
      T* buffer = ctx.thread_workspace(thread);
      im2col(g, x.image(image), buffer);
      col = buffer;
    }
    T* out = y.image(image);
    for (std::size_t o = 0; o < g.out_channels; ++o) std::fill_n(out + o * g.out_plane(), g.out_plane(), bias[o]);
    if (parallel_gemm)
      gemm_accumulate_parallel(ctx.blocking.data(), ctx.threads, false, false, m, n, k, T(1), weight, k, col, n, out, n);
    else
      gemm_accumulate(ctx.blocking[static_cast<std::size_t>(thread)], false, false, m, n, k, T(1), weight, k, col, n, out, n);
  };
  if (split_over_images(ctx)) {
    const std::ptrdiff_t batch = static_cast<std::ptrdiff_t>(ctx.batch);
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (std::ptrdiff_t image = 0; image < batch; ++image) one_image(static_cast<std::size_t>(image), current_thread(), false);
  } else {
    for (std::size_t image = 0; image < ctx.batch; ++image) one_image(image, 0, true);
  }
}

// Backward runs images one after another with each product split over the threads, so the
// weight gradient accumulates without per-thread copies. The work space holds col(x_n) and its
// gradient side by side.
template <class T>
void conv2d_backward(Context<T>& ctx, const ConvGeometry& g, const T* weight, T* weight_grad, T* bias_grad,
                     ConstSlot<T> x, ConstSlot<T> dy, Slot<T> dx, bool accumulate_dx) {
  const Index m = static_cast<Index>(g.out_channels), n = static_cast<Index>(g.out_plane()),
              k = static_cast<Index>(g.col_rows());
  const std::size_t col_size = g.col_rows() * g.out_plane();
  T* col_buffer = ctx.workspace;
  T* col_grad = ctx.workspace + col_size;
  if (weight_grad && !ctx.accumulate_parameter_gradients) {
    std::fill_n(weight_grad, g.out_channels * g.col_rows(), T(0));
    std::fill_n(bias_grad, g.out_channels, T(0));
  }
  for (std::size_t image = 0; image < ctx.batch; ++image) {
    const T* gradient = dy.image(image);
    if (weight_grad) {
      const T* col = x.image(image);
      if (!g.is_pointwise()) {
        im2col(g, x.image(image), col_buffer);
        col = col_buffer;
      }
      gemm_accumulate_parallel(ctx.blocking.data(), ctx.threads, false, true, m, k, n, T(1), gradient, n, col, n,
                               weight_grad, k);
      for (std::size_t o = 0; o < g.out_channels; ++o) {
        T sum = 0;
        for (std::size_t p = 0; p < g.out_plane(); ++p) sum += gradient[o * g.out_plane() + p];
        bias_grad[o] += sum;
      }
    }
    if (!dx) continue;
    T* input_grad = dx.image(image);
    if (g.is_pointwise()) {
      if (!accumulate_dx) std::fill_n(input_grad, g.in_channels * g.in_plane(), T(0));
      gemm_accumulate_parallel(ctx.blocking.data(), ctx.threads, true, false, k, n, m, T(1), weight, k, gradient, n,
                               input_grad, n);
    } else {
      std::fill_n(col_grad, col_size, T(0));
      gemm_accumulate_parallel(ctx.blocking.data(), ctx.threads, true, false, k, n, m, T(1), weight, k, gradient, n,
                               col_grad, n);
      if (!accumulate_dx) std::fill_n(input_grad, g.in_channels * g.in_plane(), T(0));
      col2im_add(g, col_grad, input_grad);
    }
  }
}

}  // namespace ctnn::cpu

namespace ctnn {

template <std::size_t In, std::size_t Out, std::size_t K, std::size_t S, std::size_t P, class T>
struct Evaluator<Conv<In, Out, K, S, P>, Cpu, T> {
  using Layer = Conv<In, Out, K, S, P>;
  template <ShapeType I>
  static cpu::ConvGeometry geometry() {
    using O = output_shape_t<Layer, I>;
    return {In, Out, K, S, P, I::height, I::width, O::height, O::width};
  }

  template <ShapeType I>
  static void forward(cpu::Context<T>& ctx, ParamSpan<T> params, ConstSlot<T> x, Slot<T> y, T*, T*) {
    cpu::conv2d_forward(ctx, geometry<I>(), params.values, params.values + Layer::weight_count, x, y);
  }

  template <ShapeType I>
  static void backward(cpu::Context<T>& ctx, ParamSpan<T> params, ConstSlot<T> x, ConstSlot<T>, ConstSlot<T> dy,
                       Slot<T> dx, bool accumulate_dx, T*, T*) {
    T* weight_grad = params.gradients;
    cpu::conv2d_backward(ctx, geometry<I>(), params.values, weight_grad,
                         weight_grad ? weight_grad + Layer::weight_count : nullptr, x, dy, dx, accumulate_dx);
  }
};

}  // namespace ctnn
