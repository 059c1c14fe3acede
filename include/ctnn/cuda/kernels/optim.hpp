#pragma once
// CUDA source of the optimizer steps over the flat parameter, gradient and state buffers, one
// thread per parameter in [first, n). The rules themselves are ctnn/rules/optimizers.hpp's,
// the CPU optimizers' own text, compiled into the same program before this source.

#include <string_view>   // std::string_view

namespace ctnn::cuda::kernels {

inline constexpr std::string_view optim_source = R"cuda(
namespace ctnn_kernels {

// Parameters before fresh_end start their momentum buffer as their gradient (see SGD).
template <class T>
__global__ void sgd_step(long long first, long long n, long long fresh_end, T* p, const T* grad, T* buf,
                         SgdStep<T> step) {
  const long long count = n - first;
  CTNN_FOR_EACH(k, count) {
    const long long i = first + k;
    sgd_update(step, i, i < fresh_end, p, grad, buf);
  }
}

template <class T>
__global__ void adam_step(long long first, long long n, T* p, const T* grad, T* m, T* v, T* v_max, AdamStep<T> step) {
  const long long count = n - first;
  CTNN_FOR_EACH(k, count) adam_update(step, first + k, p, grad, m, v, v_max);
}

}  // namespace ctnn_kernels
)cuda";

}  // namespace ctnn::cuda::kernels
