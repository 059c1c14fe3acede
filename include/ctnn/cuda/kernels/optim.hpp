#pragma once
// CUDA source of the optimizer steps over the flat parameter, gradient and state buffers, one
// thread per parameter in [first, n). The arithmetic is ctnn/optim/sgd.hpp's and adam.hpp's
// (PyTorch's update rules), term for term, with the same constants rounded to T by the host.

#include <string_view>   // std::string_view

namespace ctnn::cuda::kernels {

inline constexpr std::string_view optim_source = R"cuda(
namespace ctnn_kernels {

// g = grad + decay * p;  buf = i < fresh_end ? g : momentum * buf + keep * g;
// g = nesterov ? g + momentum * buf : buf;  p -= lr * g
template <class T>
__global__ void sgd_step(long long first, long long n, long long fresh_end, T* p, const T* grad, T* buf, T lr,
                         T momentum, T keep, T decay, int use_momentum, int nesterov, int use_decay) {
  const long long count = n - first;
  CTNN_FOR_EACH(k, count) {
    const long long i = first + k;
    T d = grad[i];
    if (use_decay) d += decay * p[i];
    if (use_momentum) {
      buf[i] = i < fresh_end ? d : momentum * buf[i] + keep * d;
      d = nesterov ? d + momentum * buf[i] : buf[i];
    }
    p[i] -= lr * d;
  }
}

// Adam / AdamW (decoupled): see ctnn/optim/adam.hpp.
template <class T>
__global__ void adam_step(long long first, long long n, T* p, const T* grad, T* m, T* v, T* v_max, T step_size,
                          T beta1, T beta2, T one_minus_beta1, T one_minus_beta2, T correction2, T eps, T decay,
                          T decoupled_scale, int use_decay, int amsgrad, int decoupled) {
  const long long count = n - first;
  CTNN_FOR_EACH(k, count) {
    const long long i = first + k;
    T g = grad[i];
    if (decoupled) {
      if (use_decay) p[i] *= decoupled_scale;
    } else if (use_decay) {
      g += decay * p[i];
    }
    m[i] = beta1 * m[i] + one_minus_beta1 * g;
    v[i] = beta2 * v[i] + one_minus_beta2 * g * g;
    T second = v[i];
    if (amsgrad) second = v_max[i] = max(v_max[i], v[i]);
    const T denominator = sqrt(second) / correction2 + eps;
    p[i] -= step_size * (m[i] / denominator);
  }
}

}  // namespace ctnn_kernels
)cuda";

}  // namespace ctnn::cuda::kernels
