#pragma once
// The update rules of ctnn's optimizers, one parameter at a time, as PyTorch's torch.optim
// computes them (see ctnn/optim/sgd.hpp and adam.hpp for the formulas and options). The CPU
// optimizers run them in an OpenMP loop, the GPU ones in one kernel (ctnn/cuda/kernels/optim.hpp)
// compiled from this same text; the coefficients come from the host, rounded to T once.

#include <ctnn/config.hpp>         // CTNN_HOST_DEVICE
#include <ctnn/rules/source.hpp>   // CTNN_SHARED_SOURCE, sqrt

namespace ctnn::rules {

CTNN_SHARED_SOURCE(optimizer_rules_source,

template <class T>
struct SgdStep {
  T lr, momentum, keep, decay;
  int use_momentum, nesterov, use_decay;
};

template <class T>
CTNN_HOST_DEVICE inline void sgd_update(const SgdStep<T>& s, long long i, bool fresh, T* p, const T* grad, T* buf) {
  T d = grad[i];
  if (s.use_decay) d += s.decay * p[i];
  if (s.use_momentum) {
    buf[i] = fresh ? d : s.momentum * buf[i] + s.keep * d;
    d = s.nesterov ? d + s.momentum * buf[i] : buf[i];
  }
  p[i] -= s.lr * d;
}

template <class T>
struct AdamStep {
  T step_size, beta1, beta2, one_minus_beta1, one_minus_beta2, correction2, eps, decay, decoupled_scale;
  int use_decay, amsgrad, decoupled;
};

template <class T>
CTNN_HOST_DEVICE inline void adam_update(const AdamStep<T>& s, long long i, T* p, const T* grad, T* m, T* v, T* v_max) {
  T g = grad[i];
  if (s.decoupled) {
    if (s.use_decay) p[i] *= s.decoupled_scale;
  } else if (s.use_decay) {
    g += s.decay * p[i];
  }
  m[i] = s.beta1 * m[i] + s.one_minus_beta1 * g;
  v[i] = s.beta2 * v[i] + s.one_minus_beta2 * g * g;
  T second = v[i];
  if (s.amsgrad) second = v_max[i] = v_max[i] < v[i] ? v[i] : v_max[i];
  const T denominator = sqrt(second) / s.correction2 + s.eps;
  p[i] -= s.step_size * (m[i] / denominator);
}

)

}  // namespace ctnn::rules
