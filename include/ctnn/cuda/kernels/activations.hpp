#pragma once
// CUDA source of the element-wise activations' kernels (Sigmoid, Tanh, SiLU, Hardswish,
// LeakyReLU): each applies its rule of ctnn/rules/activations.hpp, the text the CPU evaluator is
// compiled from too, over N images of `elements` values in strided slots (ctnn::Slot).
//
//   <name>_forward    y = Rule::forward(x, parameter)                                total = N * elements
//   <name>_backward   dx (+)= Rule::backward(kept, dy, parameter), kept = x or y     total = N * elements

#include <string_view>   // std::string_view

namespace ctnn::cuda::kernels {

inline constexpr std::string_view activations_source = R"cuda(
namespace ctnn_kernels {

#define CTNN_ACTIVATION_KERNELS(name, Rule)                                                                        \
  template <class T>                                                                                               \
  __global__ void name##_forward(long long total, long long elements, const T* x, long long x_stride, T* y,        \
                                 long long y_stride, T parameter) {                                                \
    CTNN_FOR_EACH(i, total) {                                                                                      \
      const long long n = i / elements, e = i % elements;                                                          \
      y[n * y_stride + e] = Rule::forward(x[n * x_stride + e], parameter);                                        \
    }                                                                                                              \
  }                                                                                                                \
  template <class T>                                                                                               \
  __global__ void name##_backward(long long total, long long elements, const T* kept, long long kept_stride,       \
                                  const T* dy, long long dy_stride, T* dx, long long dx_stride, T parameter,       \
                                  int accumulate) {                                                                \
    CTNN_FOR_EACH(i, total) {                                                                                      \
      const long long n = i / elements, e = i % elements;                                                          \
      const T g = Rule::backward(kept[n * kept_stride + e], dy[n * dy_stride + e], parameter);                    \
      T* d = dx + n * dx_stride + e;                                                                               \
      *d = accumulate ? *d + g : g;                                                                                \
    }                                                                                                              \
  }

CTNN_ACTIVATION_KERNELS(sigmoid, SigmoidRule)
CTNN_ACTIVATION_KERNELS(tanh, TanhRule)
CTNN_ACTIVATION_KERNELS(silu, SiLURule)
CTNN_ACTIVATION_KERNELS(hardswish, HardswishRule)
CTNN_ACTIVATION_KERNELS(leaky_relu, LeakyReLURule)

}  // namespace ctnn_kernels
)cuda";

}  // namespace ctnn::cuda::kernels
