#pragma once
// CUDA source of softmax cross-entropy's last step. cuDNN's log-softmax gives log p; then one
// thread per logit runs ctnn/rules/cross_entropy.hpp's cross_entropy_element (the CPU loss's own
// text, compiled into the same program before this source):
//
//   dlogits[n, c] = scale * (exp(log p[n, c]) - (c == label_n))     scale = gradient_scale / N
//   losses[n]     = -log p[n, label_n]
// A label outside [0, classes) lowers *first_bad_example (atomicMin; it starts at
// no_bad_example()) to its example's index, so the first bad example is the one reported.

#include <string_view>   // std::string_view

namespace ctnn::cuda::kernels {

inline constexpr std::string_view loss_source = R"cuda(
namespace ctnn_kernels {

//                                                          total = N * classes
template <class T>
__global__ void cross_entropy_backward(long long total, long long classes, const T* log_probabilities,
                                       const int* labels, T* dlogits, T* losses, T scale,
                                       unsigned* first_bad_example) {
  CTNN_FOR_EACH(i, total) {
    cross_entropy_element(i, classes, log_probabilities, labels, dlogits, losses, scale, first_bad_example);
  }
}

}  // namespace ctnn_kernels
)cuda";

}  // namespace ctnn::cuda::kernels
