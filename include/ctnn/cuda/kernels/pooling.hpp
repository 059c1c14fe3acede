#pragma once
// CUDA source of the pooling kernels: MaxPool, AvgPool (count_include_pad) and AdaptiveAvgPool,
// ceil mode included, with exactly the CPU kernels' window arithmetic (ctnn/cpu/pooling.hpp):
//
//   window of output row oh: rows [oh*S - P, oh*S - P + K) clipped to [0, H)
//   AvgPool divisor: that window clipped to the padded input [-P, H + P) instead
//   AdaptiveAvgPool row i of OH: rows [floor(i*H/OH), ceil((i+1)*H/OH))
//
// cuDNN's pooling has no ceil mode, hence these. Backward kernels gather: one thread per input
// element sums the gradients of the windows that contain it, in the order the CPU kernel adds
// them, so no atomics are needed and results are deterministic (and equal to the CPU's: there
// are no products to contract).
//
//   forward:  one thread per output element   total = N*C*OH*OW
//   backward: one thread per input element    total = N*C*H*W

#include <string_view>   // std::string_view

namespace ctnn::cuda::kernels {

inline constexpr std::string_view pooling_source = R"cuda(
namespace ctnn_kernels {

// Same layout as ctnn::cuda::KernelPoolGeometry on the host.
struct PoolGeometry {
  int channels, in_height, in_width, out_height, out_width, kernel, stride, padding;
};

struct Range {
  int begin, end, padded_size;
};

// The window of output index o along an axis of `extent` input elements.
__device__ inline Range window(const PoolGeometry& g, int o, int extent) {
  const int start = o * g.stride - g.padding;
  const int padded_end = min(start + g.kernel, extent + g.padding);
  return {max(start, 0), min(padded_end, extent), padded_end - start};
}

// Outputs whose window contains input index i: o*S - P <= i < o*S - P + K, within [0, out).
__device__ inline int first_window(const PoolGeometry& g, int i) {
  const int low = i + g.padding - g.kernel + 1;
  return low <= 0 ? 0 : (low + g.stride - 1) / g.stride;
}
__device__ inline int last_window(const PoolGeometry& g, int i, int out) {
  return min((i + g.padding) / g.stride, out - 1);
}

// Splits a flat index over [N, C, rows, cols].
struct Position {
  long long image;
  int channel, row, col;
};
__device__ inline Position position(long long i, int channels, int rows, int cols) {
  Position p;
  p.col = (int)(i % cols);
  i /= cols;
  p.row = (int)(i % rows);
  i /= rows;
  p.channel = (int)(i % channels);
  p.image = i / channels;
  return p;
}

// indices (training only, else null): the winning position within the input plane, as T.
template <class T>
__global__ void max_pool_forward(long long total, PoolGeometry g, const T* x, long long x_stride, T* y,
                                 long long y_stride, T* indices, long long index_stride) {
  CTNN_FOR_EACH(i, total) {
    const Position p = position(i, g.channels, g.out_height, g.out_width);
    const T* in = x + p.image * x_stride + (long long)p.channel * g.in_height * g.in_width;
    const Range rows = window(g, p.row, g.in_height), cols = window(g, p.col, g.in_width);
    T best = negative_infinity<T>();
    int best_at = rows.begin * g.in_width + cols.begin;
    for (int ih = rows.begin; ih < rows.end; ++ih)
      for (int iw = cols.begin; iw < cols.end; ++iw) {
        const int at = ih * g.in_width + iw;
        const T v = in[at];
        if (v > best || is_nan(v)) {  // NaN wins, as in PyTorch
          best = v;
          best_at = at;
        }
      }
    const long long o = (long long)p.channel * g.out_height * g.out_width + (long long)p.row * g.out_width + p.col;
    y[p.image * y_stride + o] = best;
    if (indices) indices[p.image * index_stride + o] = (T)best_at;
  }
}

template <class T>
__global__ void max_pool_backward(long long total, PoolGeometry g, const T* indices, long long index_stride,
                                  const T* dy, long long dy_stride, T* dx, long long dx_stride, int accumulate) {
  CTNN_FOR_EACH(i, total) {
    const Position p = position(i, g.channels, g.in_height, g.in_width);
    const long long out_plane = (long long)g.out_height * g.out_width;
    const T* index = indices + p.image * index_stride + p.channel * out_plane;
    const T* gradient = dy + p.image * dy_stride + p.channel * out_plane;
    T* input_grad = dx + p.image * dx_stride + (long long)p.channel * g.in_height * g.in_width +
                    (long long)p.row * g.in_width + p.col;
    const int here = p.row * g.in_width + p.col;
    T sum = accumulate ? *input_grad : T(0);
    const int oh_end = last_window(g, p.row, g.out_height), ow_end = last_window(g, p.col, g.out_width);
    for (int oh = first_window(g, p.row); oh <= oh_end; ++oh)
      for (int ow = first_window(g, p.col); ow <= ow_end; ++ow) {
        const int o = oh * g.out_width + ow;
        if ((int)index[o] == here) sum = add_rn(sum, gradient[o]);
      }
    *input_grad = sum;
  }
}

template <class T>
__global__ void avg_pool_forward(long long total, PoolGeometry g, const T* x, long long x_stride, T* y,
                                 long long y_stride) {
  CTNN_FOR_EACH(i, total) {
    const Position p = position(i, g.channels, g.out_height, g.out_width);
    const T* in = x + p.image * x_stride + (long long)p.channel * g.in_height * g.in_width;
    const Range rows = window(g, p.row, g.in_height), cols = window(g, p.col, g.in_width);
    T sum = T(0);
    for (int ih = rows.begin; ih < rows.end; ++ih)
      for (int iw = cols.begin; iw < cols.end; ++iw) sum = add_rn(sum, in[ih * g.in_width + iw]);
    const long long o = (long long)p.channel * g.out_height * g.out_width + (long long)p.row * g.out_width + p.col;
    y[p.image * y_stride + o] = div_rn(sum, (T)(rows.padded_size * cols.padded_size));
  }
}

template <class T>
__global__ void avg_pool_backward(long long total, PoolGeometry g, const T* dy, long long dy_stride, T* dx,
                                  long long dx_stride, int accumulate) {
  CTNN_FOR_EACH(i, total) {
    const Position p = position(i, g.channels, g.in_height, g.in_width);
    const T* gradient = dy + p.image * dy_stride + (long long)p.channel * g.out_height * g.out_width;
    T* input_grad = dx + p.image * dx_stride + (long long)p.channel * g.in_height * g.in_width +
                    (long long)p.row * g.in_width + p.col;
    T sum = accumulate ? *input_grad : T(0);
    const int oh_end = last_window(g, p.row, g.out_height), ow_end = last_window(g, p.col, g.out_width);
    for (int oh = first_window(g, p.row); oh <= oh_end; ++oh) {
      const Range rows = window(g, oh, g.in_height);
      for (int ow = first_window(g, p.col); ow <= ow_end; ++ow) {
        const Range cols = window(g, ow, g.in_width);
        const T share = div_rn(gradient[oh * g.out_width + ow], (T)(rows.padded_size * cols.padded_size));
        sum = add_rn(sum, share);
      }
    }
    *input_grad = sum;
  }
}

// Adaptive cell bounds along one axis.
__device__ inline int adaptive_begin(int o, int in, int out) { return (int)((long long)o * in / out); }
__device__ inline int adaptive_end(int o, int in, int out) { return (int)(((long long)(o + 1) * in + out - 1) / out); }

template <class T>
__global__ void adaptive_avg_pool_forward(long long total, PoolGeometry g, const T* x, long long x_stride, T* y,
                                          long long y_stride) {
  CTNN_FOR_EACH(i, total) {
    const Position p = position(i, g.channels, g.out_height, g.out_width);
    const T* in = x + p.image * x_stride + (long long)p.channel * g.in_height * g.in_width;
    const int h0 = adaptive_begin(p.row, g.in_height, g.out_height), h1 = adaptive_end(p.row, g.in_height, g.out_height);
    const int w0 = adaptive_begin(p.col, g.in_width, g.out_width), w1 = adaptive_end(p.col, g.in_width, g.out_width);
    T sum = T(0);
    for (int ih = h0; ih < h1; ++ih)
      for (int iw = w0; iw < w1; ++iw) sum = add_rn(sum, in[ih * g.in_width + iw]);
    const long long o = (long long)p.channel * g.out_height * g.out_width + (long long)p.row * g.out_width + p.col;
    y[p.image * y_stride + o] = div_rn(sum, (T)((h1 - h0) * (w1 - w0)));
  }
}

template <class T>
__global__ void adaptive_avg_pool_backward(long long total, PoolGeometry g, const T* dy, long long dy_stride, T* dx,
                                           long long dx_stride, int accumulate) {
  CTNN_FOR_EACH(i, total) {
    const Position p = position(i, g.channels, g.in_height, g.in_width);
    const T* gradient = dy + p.image * dy_stride + (long long)p.channel * g.out_height * g.out_width;
    T* input_grad = dx + p.image * dx_stride + (long long)p.channel * g.in_height * g.in_width +
                    (long long)p.row * g.in_width + p.col;
    T sum = accumulate ? *input_grad : T(0);
    // Cells containing row ih: oh in [floor(ih*OH/H), ceil((ih+1)*OH/H) - 1]; checked exactly.
    const int oh_first = max(0, (int)((long long)p.row * g.out_height / g.in_height) - 1);
    const int oh_last = min(g.out_height - 1, (int)(((long long)(p.row + 1) * g.out_height) / g.in_height) + 1);
    const int ow_first = max(0, (int)((long long)p.col * g.out_width / g.in_width) - 1);
    const int ow_last = min(g.out_width - 1, (int)(((long long)(p.col + 1) * g.out_width) / g.in_width) + 1);
    for (int oh = oh_first; oh <= oh_last; ++oh) {
      const int h0 = adaptive_begin(oh, g.in_height, g.out_height), h1 = adaptive_end(oh, g.in_height, g.out_height);
      if (p.row < h0 || p.row >= h1) continue;
      for (int ow = ow_first; ow <= ow_last; ++ow) {
        const int w0 = adaptive_begin(ow, g.in_width, g.out_width), w1 = adaptive_end(ow, g.in_width, g.out_width);
        if (p.col < w0 || p.col >= w1) continue;
        sum = add_rn(sum, div_rn(gradient[oh * g.out_width + ow], (T)((h1 - h0) * (w1 - w0))));
      }
    }
    *input_grad = sum;
  }
}

}  // namespace ctnn_kernels
)cuda";

}  // namespace ctnn::cuda::kernels
