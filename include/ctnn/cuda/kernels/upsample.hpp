#pragma once
// CUDA source of Upsample's kernels: the rules of ctnn/rules/upsample.hpp, the text the CPU
// evaluator is compiled from too, one output element (forward) or one input element (backward, a
// gather: no atomics, the CPU's order of additions) per work item. `bilinear` is 0 for nearest.
//
//   upsample_forward    y = upsample_at(x)                    total = N * C * (F H) * (F W)
//   upsample_backward   dx (+)= upsample_gradient_at(dy)      total = N * C * H * W

#include <string_view>   // std::string_view

namespace ctnn::cuda::kernels {

inline constexpr std::string_view upsample_source = R"cuda(
namespace ctnn_kernels {

template <class T>
__global__ void upsample_forward(long long total, long long channels, long long in_height, long long in_width,
                                 long long factor, int bilinear, const T* x, long long x_stride, T* y,
                                 long long y_stride) {
  const long long out_width = in_width * factor, out_plane = in_height * factor * out_width;
  CTNN_FOR_EACH(i, total) {
    const long long elements = channels * out_plane;
    const long long n = i / elements, e = i % elements;
    const long long c = e / out_plane, p = e % out_plane;
    y[n * y_stride + e] = upsample_at<T>(bilinear != 0, x + n * x_stride + c * in_height * in_width, in_height,
                                         in_width, factor, p / out_width, p % out_width);
  }
}

template <class T>
__global__ void upsample_backward(long long total, long long channels, long long in_height, long long in_width,
                                  long long factor, int bilinear, const T* dy, long long dy_stride, T* dx,
                                  long long dx_stride, int accumulate) {
  const long long in_plane = in_height * in_width, out_plane = in_plane * factor * factor;
  CTNN_FOR_EACH(i, total) {
    const long long elements = channels * in_plane;
    const long long n = i / elements, e = i % elements;
    const long long c = e / in_plane, p = e % in_plane;
    const T g = upsample_gradient_at<T>(bilinear != 0, dy + n * dy_stride + c * out_plane, in_height, in_width, factor,
                                        p / in_width, p % in_width);
    T* d = dx + n * dx_stride + e;
    *d = accumulate ? *d + g : g;
  }
}

}  // namespace ctnn_kernels
)cuda";

}  // namespace ctnn::cuda::kernels
