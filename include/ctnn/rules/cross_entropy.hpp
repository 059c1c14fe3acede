#pragma once
// Softmax cross-entropy from log-probabilities, one logit at a time: the gradient
// scale * (softmax - onehot), each example's loss -log p[label], and the first example whose
// label lies outside the classes. The CPU loss (ctnn/loss.hpp) and the GPU's kernel
// (ctnn/cuda/kernels/loss.hpp) are compiled from this same text.
//
// A bad label makes its example's gradient zero and is reported through atomic_min on a counter
// that starts at no_bad_example(): the smallest bad example index wins whatever order the
// elements run in, so the GPU names the example the CPU names.

#include <ctnn/config.hpp>         // CTNN_HOST_DEVICE
#include <ctnn/rules/source.hpp>   // CTNN_SHARED_SOURCE, exp_of, atomic_min

namespace ctnn::rules {

CTNN_SHARED_SOURCE(cross_entropy_rules_source,

CTNN_HOST_DEVICE inline unsigned no_bad_example() { return 0xffffffffu; }

CTNN_HOST_DEVICE inline bool label_in_range(long long label, long long classes) { return label >= 0 && label < classes; }

template <class T>
CTNN_HOST_DEVICE inline T cross_entropy_gradient(T log_probability, bool is_label, T scale) {
  return scale * (exp_of(log_probability) - (is_label ? T(1) : T(0)));
}

template <class T>
CTNN_HOST_DEVICE inline void cross_entropy_element(long long i, long long classes, const T* log_probabilities,
                                                   const int* labels, T* dlogits, T* losses, T scale,
                                                   unsigned* first_bad_example) {
  const long long n = i / classes, c = i % classes;
  const int label = labels[n];
  if (!label_in_range(label, classes)) {
    if (c == 0) atomic_min(first_bad_example, (unsigned)n);
    dlogits[i] = T(0);
    return;
  }
  const T log_p = log_probabilities[i];
  dlogits[i] = cross_entropy_gradient(log_p, c == label, scale);
  if (c == label) losses[n] = -log_p;
}

)

}  // namespace ctnn::rules
