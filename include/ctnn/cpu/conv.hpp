#pragma once
// CPU kernel of ctnn::Conv: im2col, then one GEMM per image and group into the output (which may
// be a channel slice of a concatenation).
//
//   forward   y_n[Out, OH*OW]   = W[Out, In*K*K] * col(x_n)[In*K*K, OH*OW] + b
//   backward  dW[Out, In*K*K]  += dy_n * col(x_n)^T
//             db[Out]          += sum over positions of dy_n   (no bias: b = 0, no db)
//             dx_n             += col2im(W^T * dy_n)
// A 1x1, stride-1, unpadded convolution uses x_n itself as col(x_n). With G groups each product
// is G products of one group's rows: W_g [Out/G, In/G*K*K] (consecutive rows of W), col_g (the
// rows of col(x_n) of group g's input channels) and y_g (group g's output channels).
// A depthwise convolution (G = In = Out) runs a direct kernel instead: one K x K filter per plane.
//
// Work is split over images when the batch divides well among threads, else inside each GEMM.
// The kernels take the geometry at run time so one instantiation serves every layer.

#include <algorithm>   // std::fill, std::fill_n, std::copy, std::min, std::max
#include <cstddef>     // std::size_t, std::ptrdiff_t

#include <ctnn/cpu/context.hpp>   // ctnn::cpu::Context
#include <ctnn/cpu/gemm.hpp>      // ctnn::cpu::gemm_accumulate
#include <ctnn/evaluator.hpp>     // ctnn::Evaluator
#include <ctnn/layers/conv.hpp>   // ctnn::Conv, ctnn::ConvGeometry

namespace ctnn::cpu {

// For kernel column kw: shift = kw - P, and the output columns [begin, end) whose input column
// iw = ow*S + shift lies inside [0, W). im2col and col2im share it.
struct ColumnRange {
  std::ptrdiff_t shift, begin, end;
};
inline ColumnRange columns_inside(const ConvGeometry& g, std::size_t kw) {
  const std::ptrdiff_t W = static_cast<std::ptrdiff_t>(g.in_width), S = static_cast<std::ptrdiff_t>(g.stride),
                       OW = static_cast<std::ptrdiff_t>(g.out_width);
  const std::ptrdiff_t shift = static_cast<std::ptrdiff_t>(kw) - static_cast<std::ptrdiff_t>(g.padding);
  const std::ptrdiff_t begin = std::min(OW, shift >= 0 ? 0 : (-shift + S - 1) / S);
  const std::ptrdiff_t end = std::max(begin, std::min(OW, W - shift > 0 ? (W - shift + S - 1) / S : 0));
  return {shift, begin, end};
}

// col[(c*K + kh)*K + kw][oh*OW + ow] = x[c][oh*S - P + kh][ow*S - P + kw], zero outside.
template <class T>
void im2col(const ConvGeometry& g, const T* x, T* col) {
  const std::ptrdiff_t H = g.in_height, W = g.in_width, S = g.stride, P = g.padding;
  const std::ptrdiff_t OW = g.out_width;
  for (std::size_t c = 0; c < g.in_channels; ++c)
    for (std::size_t kh = 0; kh < g.kernel; ++kh)
      for (std::size_t kw = 0; kw < g.kernel; ++kw) {
        T* row = col + ((c * g.kernel + kh) * g.kernel + kw) * g.out_plane();
        const T* plane = x + c * g.in_plane();
        const auto [shift, ow_begin, ow_end] = columns_inside(g, kw);
        for (std::size_t oh = 0; oh < g.out_height; ++oh) {
          const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh) * S - P + static_cast<std::ptrdiff_t>(kh);
          T* out = row + oh * g.out_width;
          if (ih < 0 || ih >= H) {
            std::fill_n(out, g.out_width, T(0));
            continue;
          }
          const T* in = plane + ih * W + shift;
          std::fill(out, out + ow_begin, T(0));
          if (S == 1) {
            std::copy(in + ow_begin, in + ow_end, out + ow_begin);
          } else {
            for (std::ptrdiff_t ow = ow_begin; ow < ow_end; ++ow) out[ow] = in[ow * S];
          }
          std::fill(out + ow_end, out + OW, T(0));
        }
      }
}

// The adjoint of im2col: dx[c][ih][iw] += every col entry that was read from it. With the column
// range inside the input computed up front (as in im2col), the inner loop has no test and vectorises.
template <class T>
void col2im_add(const ConvGeometry& g, const T* col, T* dx) {
  const std::ptrdiff_t H = g.in_height, W = g.in_width, S = g.stride, P = g.padding;
  for (std::size_t c = 0; c < g.in_channels; ++c)
    for (std::size_t kh = 0; kh < g.kernel; ++kh)
      for (std::size_t kw = 0; kw < g.kernel; ++kw) {
        const T* row = col + ((c * g.kernel + kh) * g.kernel + kw) * g.out_plane();
        T* plane = dx + c * g.in_plane();
        const auto [shift, ow_begin, ow_end] = columns_inside(g, kw);
        for (std::size_t oh = 0; oh < g.out_height; ++oh) {
          const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh) * S - P + static_cast<std::ptrdiff_t>(kh);
          if (ih < 0 || ih >= H) continue;
          const T* in = row + oh * g.out_width;
          T* out = plane + ih * W + shift;
          if (S == 1) {
            for (std::ptrdiff_t ow = ow_begin; ow < ow_end; ++ow) out[ow] += in[ow];
          } else {
            for (std::ptrdiff_t ow = ow_begin; ow < ow_end; ++ow) out[ow * S] += in[ow];
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

// ---- depthwise: one K x K filter per plane ----------------------------------------------------

// y[oh][ow] (+)= sum over kh, kw of w[kh][kw] * x[oh*S - P + kh][ow*S - P + kw], one plane.
template <class T>
void depthwise_plane_forward(const ConvGeometry& g, const T* w, const T* x, T* y) {
  const std::ptrdiff_t H = g.in_height, W = g.in_width, S = g.stride, P = g.padding;
  for (std::size_t kh = 0; kh < g.kernel; ++kh)
    for (std::size_t kw = 0; kw < g.kernel; ++kw) {
      const T weight = w[kh * g.kernel + kw];
      const auto [shift, ow_begin, ow_end] = columns_inside(g, kw);
      for (std::size_t oh = 0; oh < g.out_height; ++oh) {
        const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh) * S - P + static_cast<std::ptrdiff_t>(kh);
        if (ih < 0 || ih >= H) continue;
        const T* in = x + ih * W + shift;
        T* out = y + oh * g.out_width;
        if (S == 1) {
          for (std::ptrdiff_t ow = ow_begin; ow < ow_end; ++ow) out[ow] += weight * in[ow];
        } else {
          for (std::ptrdiff_t ow = ow_begin; ow < ow_end; ++ow) out[ow] += weight * in[ow * S];
        }
      }
    }
}

// The adjoints for one plane: dw[kh][kw] += sum dy * x (if dw), dx (+)= w scattered by dy (if dx).
template <class T>
void depthwise_plane_backward(const ConvGeometry& g, const T* w, const T* x, const T* dy, T* dw, T* dx) {
  const std::ptrdiff_t H = g.in_height, W = g.in_width, S = g.stride, P = g.padding;
  for (std::size_t kh = 0; kh < g.kernel; ++kh)
    for (std::size_t kw = 0; kw < g.kernel; ++kw) {
      const T weight = w[kh * g.kernel + kw];
      T weight_grad = 0;
      const auto [shift, ow_begin, ow_end] = columns_inside(g, kw);
      for (std::size_t oh = 0; oh < g.out_height; ++oh) {
        const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh) * S - P + static_cast<std::ptrdiff_t>(kh);
        if (ih < 0 || ih >= H) continue;
        const T* gradient = dy + oh * g.out_width;
        const std::ptrdiff_t at = ih * W + shift;
        for (std::ptrdiff_t ow = ow_begin; dw && ow < ow_end; ++ow) weight_grad += gradient[ow] * x[at + ow * S];
        if (!dx) continue;
        if (S == 1) {
          for (std::ptrdiff_t ow = ow_begin; ow < ow_end; ++ow) dx[at + ow] += weight * gradient[ow];
        } else {
          for (std::ptrdiff_t ow = ow_begin; ow < ow_end; ++ow) dx[at + ow * S] += weight * gradient[ow];
        }
      }
      if (dw) dw[kh * g.kernel + kw] += weight_grad;
    }
}

// Every (image, channel) plane is independent: they are split over the threads.
template <class T>
void depthwise_forward(Context<T>& ctx, const ConvGeometry& g, const T* weight, const T* bias, ConstSlot<T> x,
                       Slot<T> y) {
  const std::size_t filter = g.kernel * g.kernel;
  const std::ptrdiff_t planes = static_cast<std::ptrdiff_t>(ctx.batch * g.out_channels);
#pragma omp parallel for schedule(static) num_threads(ctx.threads) if (planes > 1)
  for (std::ptrdiff_t job = 0; job < planes; ++job) {
    const std::size_t n = static_cast<std::size_t>(job) / g.out_channels, c = static_cast<std::size_t>(job) % g.out_channels;
    T* out = y.image(n) + c * g.out_plane();
    std::fill_n(out, g.out_plane(), bias ? bias[c] : T(0));
    depthwise_plane_forward(g, weight + c * filter, x.image(n) + c * g.in_plane(), out);
  }
}

// Split over channels: a channel's weight and bias gradients and its input-gradient planes belong
// to one thread, so nothing is reduced across threads.
template <class T>
void depthwise_backward(Context<T>& ctx, const ConvGeometry& g, const T* weight, T* weight_grad, T* bias_grad,
                        ConstSlot<T> x, ConstSlot<T> dy, Slot<T> dx, bool accumulate_dx) {
  const std::size_t filter = g.kernel * g.kernel;
  const std::ptrdiff_t channels = static_cast<std::ptrdiff_t>(g.out_channels);
  const bool overwrite_parameter_gradients = !ctx.accumulate_parameter_gradients;
#pragma omp parallel for schedule(static) num_threads(ctx.threads) if (channels > 1)
  for (std::ptrdiff_t job = 0; job < channels; ++job) {
    const std::size_t c = static_cast<std::size_t>(job);
    T* dw = weight_grad ? weight_grad + c * filter : nullptr;
    if (dw && overwrite_parameter_gradients) std::fill_n(dw, filter, T(0));
    if (bias_grad && overwrite_parameter_gradients) bias_grad[c] = T(0);
    for (std::size_t n = 0; n < ctx.batch; ++n) {
      const T* gradient = dy.image(n) + c * g.out_plane();
      T* input_grad = dx ? dx.image(n) + c * g.in_plane() : nullptr;
      if (input_grad && !accumulate_dx) std::fill_n(input_grad, g.in_plane(), T(0));
      depthwise_plane_backward(g, weight + c * filter, dw ? x.image(n) + c * g.in_plane() : nullptr, gradient, dw,
                               input_grad);
      if (bias_grad) {
        T sum = 0;
        for (std::size_t p = 0; p < g.out_plane(); ++p) sum += gradient[p];
        bias_grad[c] += sum;
      }
    }
  }
}

// ---- im2col and GEMM ---------------------------------------------------------------------------

template <class T>
void conv2d_forward(Context<T>& ctx, const ConvGeometry& g, const T* weight, const T* bias, ConstSlot<T> x,
                    Slot<T> y) {
  if (g.is_depthwise()) return depthwise_forward(ctx, g, weight, bias, x, y);
  // One group's product: y_g[m, n] += W_g[m, k] * col_g[k, n].
  const Index m = static_cast<Index>(g.group_out_channels()), n = static_cast<Index>(g.out_plane()),
              k = static_cast<Index>(g.group_col_rows());
  auto one_image = [&](std::size_t image, int thread, bool parallel_gemm) {
    const T* col = x.image(image);
    if (!g.is_pointwise()) {
      T* buffer = ctx.thread_workspace(thread);
      im2col(g, x.image(image), buffer);
      col = buffer;
    }
    T* out = y.image(image);
    for (std::size_t o = 0; o < g.out_channels; ++o)
      std::fill_n(out + o * g.out_plane(), g.out_plane(), bias ? bias[o] : T(0));
    for (std::size_t group = 0; group < g.groups; ++group) {
      const T* a = weight + group * m * k;
      const T* b = col + group * k * n;
      T* c = out + group * m * n;
      if (parallel_gemm)
        gemm_accumulate_parallel(ctx.blocking.data(), ctx.threads, false, false, m, n, k, T(1), a, k, b, n, c, n);
      else
        gemm_accumulate(ctx.blocking[static_cast<std::size_t>(thread)], false, false, m, n, k, T(1), a, k, b, n, c, n);
    }
  };
  if (split_over_images(ctx)) {
    const std::ptrdiff_t batch = static_cast<std::ptrdiff_t>(ctx.batch);
#pragma omp parallel for schedule(static) num_threads(ctx.threads)
    for (std::ptrdiff_t image = 0; image < batch; ++image) one_image(static_cast<std::size_t>(image), current_thread(), false);
  } else {
    for (std::size_t image = 0; image < ctx.batch; ++image) one_image(image, 0, true);
  }
}

// The work space one thread needs for backward: col(x_n), its gradient, and a private copy of
// the weight and bias gradients when images are split over threads.
inline std::size_t conv2d_backward_workspace(const ConvGeometry& g) {
  if (g.is_depthwise()) return 0;
  const std::size_t col = g.is_pointwise() ? 0 : g.col_rows() * g.out_plane();
  return 2 * col + g.weight_size() + g.out_channels;
}

namespace detail {
// One image's share of backward: adds dy_n * col(x_n)^T to weight_grad and the row sums of dy_n
// to bias_grad (either may be null), and writes or adds dx_n. `parallel` splits each product
// over all threads; otherwise the calling thread does all of it with `blocking`.
template <class T>
void conv2d_backward_image(Context<T>& ctx, GemmBlocking<T>& blocking, bool parallel, const ConvGeometry& g,
                           const T* weight, T* weight_grad, T* bias_grad, const T* x, const T* dy, T* dx,
                           bool accumulate_dx, T* col_buffer, T* col_grad) {
  // Group g's operands: W_g [m, k], dy_g [m, n], col_g [k, n] (see forward).
  const Index m = static_cast<Index>(g.group_out_channels()), n = static_cast<Index>(g.out_plane()),
              k = static_cast<Index>(g.group_col_rows());
  auto product = [&](bool trans_a, bool trans_b, Index rows, Index cols, Index depth, const T* a, Index lda,
                     const T* b, Index ldb, T* c, Index ldc) {
    if (parallel)
      gemm_accumulate_parallel(ctx.blocking.data(), ctx.threads, trans_a, trans_b, rows, cols, depth, T(1), a, lda, b,
                               ldb, c, ldc);
    else
      gemm_accumulate(blocking, trans_a, trans_b, rows, cols, depth, T(1), a, lda, b, ldb, c, ldc);
  };
  if (weight_grad) {
    const T* col = x;
    if (!g.is_pointwise()) {
      im2col(g, x, col_buffer);
      col = col_buffer;
    }
    for (std::size_t group = 0; group < g.groups; ++group)
      product(false, true, m, k, n, dy + group * m * n, n, col + group * k * n, n, weight_grad + group * m * k, k);
    for (std::size_t o = 0; bias_grad && o < g.out_channels; ++o) {
      T sum = 0;
      for (std::size_t p = 0; p < g.out_plane(); ++p) sum += dy[o * g.out_plane() + p];
      bias_grad[o] += sum;
    }
  }
  if (!dx) return;
  if (!accumulate_dx) std::fill_n(dx, g.in_channels * g.in_plane(), T(0));
  T* col_target = dx;  // a pointwise convolution's col(dx) is dx itself
  if (!g.is_pointwise()) {
    std::fill_n(col_grad, g.col_rows() * g.out_plane(), T(0));
    col_target = col_grad;
  }
  for (std::size_t group = 0; group < g.groups; ++group)
    product(true, false, k, n, m, weight + group * m * k, k, dy + group * m * n, n, col_target + group * k * n, n);
  if (!g.is_pointwise()) col2im_add(g, col_grad, dx);
}
}  // namespace detail

// Backward over the batch. With enough images, each thread takes whole images and sums its
// weight gradient privately; the private sums are added at the end. With few images (batch 1),
// images run one after another and every product is split over the threads instead.
template <class T>
void conv2d_backward(Context<T>& ctx, const ConvGeometry& g, const T* weight, T* weight_grad, T* bias_grad,
                     ConstSlot<T> x, ConstSlot<T> dy, Slot<T> dx, bool accumulate_dx) {
  if (g.is_depthwise()) return depthwise_backward(ctx, g, weight, weight_grad, bias_grad, x, dy, dx, accumulate_dx);
  const std::size_t col_size = g.is_pointwise() ? 0 : g.col_rows() * g.out_plane();
  const std::size_t weight_size = g.weight_size();
  if (weight_grad && !ctx.accumulate_parameter_gradients) {
    std::fill_n(weight_grad, weight_size, T(0));
    if (bias_grad) std::fill_n(bias_grad, g.out_channels, T(0));
  }
  if (!split_over_images(ctx)) {
    for (std::size_t image = 0; image < ctx.batch; ++image)
      detail::conv2d_backward_image(ctx, ctx.blocking[0], true, g, weight, weight_grad, bias_grad, x.image(image),
                                    dy.image(image), dx ? dx.image(image) : nullptr, accumulate_dx, ctx.workspace,
                                    ctx.workspace + col_size);
    return;
  }
  const int threads = ctx.threads;
#pragma omp parallel num_threads(threads)
  {
    const int thread = current_thread();
    T* col_buffer = ctx.thread_workspace(thread);
    T* col_grad = col_buffer + col_size;
    T* private_weight_grad = weight_grad ? col_grad + col_size : nullptr;
    T* private_bias_grad = bias_grad ? private_weight_grad + weight_size : nullptr;
    if (private_weight_grad) std::fill_n(private_weight_grad, weight_size, T(0));
    if (private_bias_grad) std::fill_n(private_bias_grad, g.out_channels, T(0));
    const std::ptrdiff_t batch = static_cast<std::ptrdiff_t>(ctx.batch);
#pragma omp for schedule(static)
    for (std::ptrdiff_t image = 0; image < batch; ++image) {
      const std::size_t n = static_cast<std::size_t>(image);
      detail::conv2d_backward_image(ctx, ctx.blocking[static_cast<std::size_t>(thread)], false, g, weight,
                                    private_weight_grad, private_bias_grad, x.image(n), dy.image(n),
                                    dx ? dx.image(n) : nullptr, accumulate_dx, col_buffer, col_grad);
    }
    // The implicit barrier above: every private sum is complete. Add them, split by element.
    if (weight_grad) {
      const std::ptrdiff_t total = static_cast<std::ptrdiff_t>(weight_size + (bias_grad ? g.out_channels : 0));
#pragma omp for schedule(static)
      for (std::ptrdiff_t i = 0; i < total; ++i) {
        T sum = 0;
        for (int t = 0; t < threads; ++t) sum += (ctx.thread_workspace(t) + 2 * col_size)[i];
        if (static_cast<std::size_t>(i) < weight_size)
          weight_grad[i] += sum;
        else
          bias_grad[static_cast<std::size_t>(i) - weight_size] += sum;
      }
    }
  }
}

}  // namespace ctnn::cpu

namespace ctnn {

// bias and its gradient are nullptr for a convolution without bias.
template <std::size_t In, std::size_t Out, std::size_t K, std::size_t S, std::size_t P, bool Bias, std::size_t Groups,
          class T>
struct Evaluator<Conv<In, Out, K, S, P, Bias, Groups>, Cpu, T> {
  using Layer = Conv<In, Out, K, S, P, Bias, Groups>;

  template <ShapeType I>
  static void forward(cpu::Context<T>& ctx, const ForwardArgs<T>& a) {
    const T* weight = a.params.values;
    cpu::conv2d_forward(ctx, Layer::template geometry<I>, weight, Bias ? weight + Layer::bias_offset : nullptr, a.x, a.y);
  }

  template <ShapeType I>
  static void backward(cpu::Context<T>& ctx, const BackwardArgs<T>& a) {
    T* weight_grad = a.params.gradients;
    cpu::conv2d_backward(ctx, Layer::template geometry<I>, a.params.values, weight_grad,
                         weight_grad && Bias ? weight_grad + Layer::bias_offset : nullptr, a.x, a.dy, a.dx,
                         a.accumulate_dx);
  }
};

}  // namespace ctnn
