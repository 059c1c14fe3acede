#pragma once
// CUDA source of the small element-wise kernels cuDNN and cuBLAS do not cover as one call:
// adding images into strided slots (gradients meeting at a shared input), TransformInput's
// per-channel affine map, a linear layer's bias over rows and its column sums, and a counter.
//
// "Images" are N blocks of `elements` values, block n at data + n * stride (a ctnn::Slot).

#include <string_view>   // std::string_view

namespace ctnn::cuda::kernels {

inline constexpr std::string_view elementwise_source = R"cuda(
namespace ctnn_kernels {

// dst_n += src_n over N images of `elements` values.       total = N * elements
template <class T>
__global__ void add_images(long long total, long long elements, const T* src, long long src_stride, T* dst,
                           long long dst_stride) {
  CTNN_FOR_EACH(i, total) {
    const long long n = i / elements, e = i % elements;
    T* d = dst + n * dst_stride + e;
    *d = add_rn(*d, src[n * src_stride + e]);
  }
}

// TransformInput, 3 channels of `plane` values: y = x * scale_c + shift_c, each rounded.
template <class T>
__global__ void transform_input_forward(long long total, long long plane, const T* x, long long x_stride, T* y,
                                        long long y_stride, T scale0, T scale1, T scale2, T shift0, T shift1,
                                        T shift2) {
  CTNN_FOR_EACH(i, total) {
    const long long elements = 3 * plane;
    const long long n = i / elements, e = i % elements;
    const int c = (int)(e / plane);
    const T scale = c == 0 ? scale0 : c == 1 ? scale1 : scale2;
    const T shift = c == 0 ? shift0 : c == 1 ? shift1 : shift2;
    y[n * y_stride + e] = add_rn(mul_rn(x[n * x_stride + e], scale), shift);
  }
}

// dx (+)= dy * scale_c
template <class T>
__global__ void transform_input_backward(long long total, long long plane, const T* dy, long long dy_stride, T* dx,
                                         long long dx_stride, T scale0, T scale1, T scale2, int accumulate) {
  CTNN_FOR_EACH(i, total) {
    const long long elements = 3 * plane;
    const long long n = i / elements, e = i % elements;
    const int c = (int)(e / plane);
    const T value = mul_rn(dy[n * dy_stride + e], c == 0 ? scale0 : c == 1 ? scale1 : scale2);
    T* d = dx + n * dx_stride + e;
    *d = accumulate ? add_rn(*d, value) : value;
  }
}

// y[n, f] += bias[f] over N rows of `features`.            total = N * features
template <class T>
__global__ void add_bias_rows(long long total, long long features, const T* bias, T* y, long long y_stride) {
  CTNN_FOR_EACH(i, total) {
    const long long n = i / features, f = i % features;
    T* d = y + n * y_stride + f;
    *d = add_rn(*d, bias[f]);
  }
}

// sums[f] (+)= sum over n of rows[n, f], n in order.       total = features
template <class T>
__global__ void column_sums(long long features, long long rows, const T* values, long long stride, T* sums,
                            int accumulate) {
  CTNN_FOR_EACH(f, features) {
    T sum = accumulate ? sums[f] : T(0);
    for (long long n = 0; n < rows; ++n) sum = add_rn(sum, values[n * stride + f]);
    sums[f] = sum;
  }
}

// *value += amount (BatchNorm's num_batches_tracked).
template <class T>
__global__ void add_scalar(T* value, T amount) {
  if (blockIdx.x == 0 && threadIdx.x == 0) *value = add_rn(*value, amount);
}

}  // namespace ctnn_kernels
)cuda";

}  // namespace ctnn::cuda::kernels
