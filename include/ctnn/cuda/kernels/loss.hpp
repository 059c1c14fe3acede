#pragma once
// CUDA source of softmax cross-entropy's last step. cuDNN's log-softmax gives log p; then per
// example n and class c (ctnn/loss.hpp's cross_entropy):
//
//   dlogits[n, c] = scale * (exp(log p[n, c]) - (c == label_n))     scale = gradient_scale / N
//   losses[n]     = -log p[n, label_n]
// A label outside [0, classes) sets *bad_label to its example index + 1 instead.

#include <string_view>   // std::string_view

namespace ctnn::cuda::kernels {

inline constexpr std::string_view loss_source = R"cuda(
namespace ctnn_kernels {

__device__ inline float exp_of(float v) { return expf(v); }
__device__ inline double exp_of(double v) { return exp(v); }

//                                                          total = N * classes
template <class T>
__global__ void cross_entropy_backward(long long total, long long classes, const T* log_probabilities,
                                       const int* labels, T* dlogits, T* losses, T scale, int* bad_label) {
  CTNN_FOR_EACH(i, total) {
    const long long n = i / classes, c = i % classes;
    const int label = labels[n];
    if (label < 0 || label >= classes) {
      if (c == 0) atomicExch(bad_label, (int)n + 1);
      dlogits[i] = T(0);
      continue;
    }
    const T log_p = log_probabilities[i];
    dlogits[i] = scale * (exp_of(log_p) - (c == label ? T(1) : T(0)));
    if (c == label) losses[n] = -log_p;
  }
}

}  // namespace ctnn_kernels
)cuda";

}  // namespace ctnn::cuda::kernels
