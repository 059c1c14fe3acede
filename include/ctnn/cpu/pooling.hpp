#pragma once
// CPU kernels of ctnn::MaxPool, ctnn::AvgPool and ctnn::AdaptiveAvgPool, following PyTorch's
// window arithmetic exactly (windows clipped to the input, ceil-mode partial windows).
//
//   window of output row oh: rows [oh*S - P, oh*S - P + K) clipped to [0, H)
//   AvgPool divisor (count_include_pad): the window clipped to the padded input [-P, H + P)
//   AdaptiveAvgPool row i of OH: rows [floor(i*H/OH), ceil((i+1)*H/OH))

#include <algorithm>   // std::min, std::max, std::fill_n
#include <cstddef>     // std::size_t
#include <limits>      // std::numeric_limits

#include <ctnn/cpu/context.hpp>      // ctnn::cpu::Context
#include <ctnn/evaluator.hpp>        // ctnn::Evaluator
#include <ctnn/layers/pooling.hpp>   // ctnn::MaxPool, ctnn::AvgPool, ctnn::AdaptiveAvgPool, ctnn::PoolGeometry

namespace ctnn::cpu {

// Runs fn(image, channel) over all planes in parallel.
template <class T, class Fn>
void parallel_over_planes(const Context<T>& ctx, std::size_t channels, std::size_t plane_work, Fn&& fn) {
  const std::ptrdiff_t total = static_cast<std::ptrdiff_t>(ctx.batch * channels);
#pragma omp parallel for schedule(static) num_threads(ctx.threads) if (total * static_cast<std::ptrdiff_t>(plane_work) > 32768)
  for (std::ptrdiff_t job = 0; job < total; ++job)
    fn(static_cast<std::size_t>(job) / channels, static_cast<std::size_t>(job) % channels);
}

// PyTorch's max: a NaN wins and then stays. Written without a short-circuit so loops vectorise.
template <class T>
inline T max_keeping_nan(T best, T v) {
  return ((v > best) | (v != v)) ? v : best;
}

// Widest padded input row the evaluation fast path keeps on the stack.
inline constexpr std::size_t max_pool_row_buffer = 2048;

// Max pooling of one plane without indices (evaluation), in two vectorisable passes per output
// row: the maximum down each column over the window's rows, into a row padded with -inf on
// both sides; then the maximum over K neighbours of that row for each output column. Padding
// with -inf gives what clipping the window to the input gives.
//   padded row: [P x -inf][W column maxima][-inf up to (OW - 1) * S + K]
template <class T>
void max_pool_plane_by_rows(const PoolGeometry& g, const T* in, T* out) {
  T padded[max_pool_row_buffer];
  const std::size_t padded_width = std::max((g.out_width - 1) * g.stride + g.kernel, g.padding + g.in_width);
  T* column_max = padded + g.padding;
  std::fill_n(padded, padded_width, -std::numeric_limits<T>::infinity());
  for (std::size_t oh = 0; oh < g.out_height; ++oh) {
    const auto rows = g.window(oh, g.in_height);
    const T* first = in + rows.begin * static_cast<std::ptrdiff_t>(g.in_width);
    std::copy_n(first, g.in_width, column_max);
    for (std::ptrdiff_t ih = rows.begin + 1; ih < rows.end; ++ih) {
      const T* row = in + ih * static_cast<std::ptrdiff_t>(g.in_width);
      for (std::size_t iw = 0; iw < g.in_width; ++iw) column_max[iw] = max_keeping_nan(column_max[iw], row[iw]);
    }
    T* out_row = out + oh * g.out_width;
    for (std::size_t ow = 0; ow < g.out_width; ++ow) out_row[ow] = padded[ow * g.stride];
    for (std::size_t k = 1; k < g.kernel; ++k)
      for (std::size_t ow = 0; ow < g.out_width; ++ow)
        out_row[ow] = max_keeping_nan(out_row[ow], padded[ow * g.stride + k]);
  }
}

// Max pooling of one plane window by window, with the position of each maximum in `index`
// (training; nullptr: not wanted). Each window is visited in PyTorch's order (rows, then
// columns) with branch-free selects: strictly greater keeps the first maximum, a NaN always takes
// over, and random data costs no mispredicted branches. An all -inf window keeps its first
// position, as PyTorch.
template <class T>
void max_pool_plane_by_windows(const PoolGeometry& g, const T* in, T* out, T* index) {
  const std::ptrdiff_t W = static_cast<std::ptrdiff_t>(g.in_width);
  for (std::size_t oh = 0; oh < g.out_height; ++oh) {
    const auto rows = g.window(oh, g.in_height);
    for (std::size_t ow = 0; ow < g.out_width; ++ow) {
      const auto cols = g.window(ow, g.in_width);
      T best = -std::numeric_limits<T>::infinity();
      std::ptrdiff_t best_at = rows.begin * W + cols.begin;
      for (std::ptrdiff_t ih = rows.begin; ih < rows.end; ++ih)
        for (std::ptrdiff_t iw = cols.begin; iw < cols.end; ++iw) {
          const std::ptrdiff_t at = ih * W + iw;
          const T v = in[at];
          const bool take = (v > best) | (v != v);
          best = take ? v : best;
          best_at = take ? at : best_at;
        }
      out[oh * g.out_width + ow] = best;
      if (index) index[oh * g.out_width + ow] = static_cast<T>(best_at);
    }
  }
}

// Largest padded plane the training fast path keeps on the stack.
inline constexpr std::size_t max_pool_padded_plane = 4096;

// Training's max pooling of one plane with a kernel and stride known at compile time: the plane
// is copied into a frame of -inf wide enough for every window (padding and ceil-mode overhang),
// so every window is a full KxK block and the K*K branch-free selects unroll. -inf never beats
// the running maximum (strictly greater), so the frame changes nothing; the starting position is
// the window's first cell inside the input, as in PyTorch.
//   frame: ((OH - 1) * S + K) rows x ((OW - 1) * S + K) columns, input at row P, column P
template <std::size_t K, std::size_t S, class T>
void max_pool_plane_framed(const PoolGeometry& g, const T* in, T* out, T* index) {
  const std::ptrdiff_t W = static_cast<std::ptrdiff_t>(g.in_width), P = static_cast<std::ptrdiff_t>(g.padding);
  const std::size_t frame_height = (g.out_height - 1) * S + K, frame_width = (g.out_width - 1) * S + K;
  T frame[max_pool_padded_plane];
  std::fill_n(frame, frame_height * frame_width, -std::numeric_limits<T>::infinity());
  const std::size_t rows = std::min(g.in_height, frame_height - g.padding);
  const std::size_t columns = std::min(g.in_width, frame_width - g.padding);
  for (std::size_t ih = 0; ih < rows; ++ih)
    std::copy_n(in + ih * g.in_width, columns, frame + (ih + g.padding) * frame_width + g.padding);
  for (std::size_t oh = 0; oh < g.out_height; ++oh) {
    const std::ptrdiff_t first_row = g.window(oh, g.in_height).begin;
    for (std::size_t ow = 0; ow < g.out_width; ++ow) {
      const T* window = frame + oh * S * frame_width + ow * S;
      const std::ptrdiff_t top = static_cast<std::ptrdiff_t>(oh * S) - P, left = static_cast<std::ptrdiff_t>(ow * S) - P;
      T best = -std::numeric_limits<T>::infinity();
      std::ptrdiff_t best_at = first_row * W + g.window(ow, g.in_width).begin;
      for (std::size_t kh = 0; kh < K; ++kh)
        for (std::size_t kw = 0; kw < K; ++kw) {
          const T v = window[kh * frame_width + kw];
          const bool take = (v > best) | (v != v);
          best = take ? v : best;
          best_at = take ? (top + static_cast<std::ptrdiff_t>(kh)) * W + left + static_cast<std::ptrdiff_t>(kw) : best_at;
        }
      out[oh * g.out_width + ow] = best;
      index[oh * g.out_width + ow] = static_cast<T>(best_at);
    }
  }
}

// Max pooling; in training `indices` (one per output element, images `index_stride` apart)
// records the winning position within the input plane (the first maximum, as PyTorch).
template <std::size_t K, std::size_t S, class T>
void max_pool_forward(const Context<T>& ctx, const PoolGeometry& g, ConstSlot<T> x, Slot<T> y, T* indices,
                      std::size_t index_stride) {
  const std::size_t padded_width = std::max((g.out_width - 1) * g.stride + g.kernel, g.padding + g.in_width);
  const bool framed = ((g.out_height - 1) * S + K) * ((g.out_width - 1) * S + K) <= max_pool_padded_plane;
  parallel_over_planes(ctx, g.channels, g.out_plane() * g.kernel * g.kernel, [&](std::size_t n, std::size_t c) {
    const T* in = x.image(n) + c * g.in_plane();
    T* out = y.image(n) + c * g.out_plane();
    T* index = indices ? indices + n * index_stride + c * g.out_plane() : nullptr;
    if (!index && padded_width <= max_pool_row_buffer)
      max_pool_plane_by_rows(g, in, out);
    else if (index && framed)
      max_pool_plane_framed<K, S>(g, in, out, index);
    else
      max_pool_plane_by_windows(g, in, out, index);
  });
}

template <class T>
void max_pool_backward(const Context<T>& ctx, const PoolGeometry& g, const T* indices, std::size_t index_stride,
                       ConstSlot<T> dy, Slot<T> dx, bool accumulate_dx) {
  parallel_over_planes(ctx, g.channels, g.out_plane(), [&](std::size_t n, std::size_t c) {
    const T* index = indices + n * index_stride + c * g.out_plane();
    const T* gradient = dy.image(n) + c * g.out_plane();
    T* input_grad = dx.image(n) + c * g.in_plane();
    if (!accumulate_dx) std::fill_n(input_grad, g.in_plane(), T(0));
    for (std::size_t o = 0; o < g.out_plane(); ++o) input_grad[static_cast<std::size_t>(index[o])] += gradient[o];
  });
}

template <class T>
void avg_pool_forward(const Context<T>& ctx, const PoolGeometry& g, ConstSlot<T> x, Slot<T> y) {
  parallel_over_planes(ctx, g.channels, g.out_plane() * g.kernel * g.kernel, [&](std::size_t n, std::size_t c) {
    const T* in = x.image(n) + c * g.in_plane();
    T* out = y.image(n) + c * g.out_plane();
    for (std::size_t oh = 0; oh < g.out_height; ++oh) {
      const auto rows = g.window(oh, g.in_height);
      for (std::size_t ow = 0; ow < g.out_width; ++ow) {
        const auto cols = g.window(ow, g.in_width);
        T sum = 0;
        for (std::ptrdiff_t ih = rows.begin; ih < rows.end; ++ih)
          for (std::ptrdiff_t iw = cols.begin; iw < cols.end; ++iw) sum += in[ih * static_cast<std::ptrdiff_t>(g.in_width) + iw];
        out[oh * g.out_width + ow] = sum / static_cast<T>(rows.padded_size * cols.padded_size);
      }
    }
  });
}

template <class T>
void avg_pool_backward(const Context<T>& ctx, const PoolGeometry& g, ConstSlot<T> dy, Slot<T> dx, bool accumulate_dx) {
  parallel_over_planes(ctx, g.channels, g.out_plane() * g.kernel * g.kernel, [&](std::size_t n, std::size_t c) {
    const T* gradient = dy.image(n) + c * g.out_plane();
    T* input_grad = dx.image(n) + c * g.in_plane();
    if (!accumulate_dx) std::fill_n(input_grad, g.in_plane(), T(0));
    for (std::size_t oh = 0; oh < g.out_height; ++oh) {
      const auto rows = g.window(oh, g.in_height);
      for (std::size_t ow = 0; ow < g.out_width; ++ow) {
        const auto cols = g.window(ow, g.in_width);
        const T share = gradient[oh * g.out_width + ow] / static_cast<T>(rows.padded_size * cols.padded_size);
        for (std::ptrdiff_t ih = rows.begin; ih < rows.end; ++ih)
          for (std::ptrdiff_t iw = cols.begin; iw < cols.end; ++iw)
            input_grad[ih * static_cast<std::ptrdiff_t>(g.in_width) + iw] += share;
      }
    }
  });
}

// Adaptive pooling cell bounds along one axis.
inline std::size_t adaptive_begin(std::size_t o, std::size_t in, std::size_t out) { return o * in / out; }
inline std::size_t adaptive_end(std::size_t o, std::size_t in, std::size_t out) { return ((o + 1) * in + out - 1) / out; }

template <class T>
void adaptive_avg_pool_forward(const Context<T>& ctx, const PoolGeometry& g, ConstSlot<T> x, Slot<T> y) {
  parallel_over_planes(ctx, g.channels, g.in_plane(), [&](std::size_t n, std::size_t c) {
    const T* in = x.image(n) + c * g.in_plane();
    T* out = y.image(n) + c * g.out_plane();
    for (std::size_t oh = 0; oh < g.out_height; ++oh) {
      const std::size_t h0 = adaptive_begin(oh, g.in_height, g.out_height), h1 = adaptive_end(oh, g.in_height, g.out_height);
      for (std::size_t ow = 0; ow < g.out_width; ++ow) {
        const std::size_t w0 = adaptive_begin(ow, g.in_width, g.out_width), w1 = adaptive_end(ow, g.in_width, g.out_width);
        T sum = 0;
        for (std::size_t ih = h0; ih < h1; ++ih)
          for (std::size_t iw = w0; iw < w1; ++iw) sum += in[ih * g.in_width + iw];
        out[oh * g.out_width + ow] = sum / static_cast<T>((h1 - h0) * (w1 - w0));
      }
    }
  });
}

template <class T>
void adaptive_avg_pool_backward(const Context<T>& ctx, const PoolGeometry& g, ConstSlot<T> dy, Slot<T> dx,
                                bool accumulate_dx) {
  parallel_over_planes(ctx, g.channels, g.in_plane(), [&](std::size_t n, std::size_t c) {
    const T* gradient = dy.image(n) + c * g.out_plane();
    T* input_grad = dx.image(n) + c * g.in_plane();
    if (!accumulate_dx) std::fill_n(input_grad, g.in_plane(), T(0));
    for (std::size_t oh = 0; oh < g.out_height; ++oh) {
      const std::size_t h0 = adaptive_begin(oh, g.in_height, g.out_height), h1 = adaptive_end(oh, g.in_height, g.out_height);
      for (std::size_t ow = 0; ow < g.out_width; ++ow) {
        const std::size_t w0 = adaptive_begin(ow, g.in_width, g.out_width), w1 = adaptive_end(ow, g.in_width, g.out_width);
        const T share = gradient[oh * g.out_width + ow] / static_cast<T>((h1 - h0) * (w1 - w0));
        for (std::size_t ih = h0; ih < h1; ++ih)
          for (std::size_t iw = w0; iw < w1; ++iw) input_grad[ih * g.in_width + iw] += share;
      }
    }
  });
}

}  // namespace ctnn::cpu

namespace ctnn {

template <std::size_t K, std::size_t S, std::size_t P, Rounding R, class T>
struct Evaluator<MaxPool<K, S, P, R>, Cpu, T> {
  using Layer = MaxPool<K, S, P, R>;
  template <ShapeType In>
  static void forward(cpu::Context<T>& ctx, const ForwardArgs<T>& a) {
    cpu::max_pool_forward<K, S>(ctx, Layer::template geometry<In>, a.x, a.y, ctx.mode == Mode::train ? a.saved : nullptr,
                                Layer::template saved_elements<In>);
  }
  template <ShapeType In>
  static void backward(cpu::Context<T>& ctx, const BackwardArgs<T>& a) {
    if (a.dx)
      cpu::max_pool_backward(ctx, Layer::template geometry<In>, a.saved, Layer::template saved_elements<In>, a.dy, a.dx,
                             a.accumulate_dx);
  }
};

template <std::size_t K, std::size_t S, std::size_t P, Rounding R, class T>
struct Evaluator<AvgPool<K, S, P, R>, Cpu, T> {
  using Layer = AvgPool<K, S, P, R>;
  template <ShapeType In>
  static void forward(cpu::Context<T>& ctx, const ForwardArgs<T>& a) {
    cpu::avg_pool_forward(ctx, Layer::template geometry<In>, a.x, a.y);
  }
  template <ShapeType In>
  static void backward(cpu::Context<T>& ctx, const BackwardArgs<T>& a) {
    if (a.dx) cpu::avg_pool_backward(ctx, Layer::template geometry<In>, a.dy, a.dx, a.accumulate_dx);
  }
};

template <std::size_t OH, std::size_t OW, class T>
struct Evaluator<AdaptiveAvgPool<OH, OW>, Cpu, T> {
  using Layer = AdaptiveAvgPool<OH, OW>;
  template <ShapeType In>
  static void forward(cpu::Context<T>& ctx, const ForwardArgs<T>& a) {
    cpu::adaptive_avg_pool_forward(ctx, Layer::template geometry<In>, a.x, a.y);
  }
  template <ShapeType In>
  static void backward(cpu::Context<T>& ctx, const BackwardArgs<T>& a) {
    if (a.dx) cpu::adaptive_avg_pool_backward(ctx, Layer::template geometry<In>, a.dy, a.dx, a.accumulate_dx);
  }
};

}  // namespace ctnn
