#pragma once
// The element-wise activations' arithmetic, one element at a time, as PyTorch 1.13 computes it.
// The CPU evaluator (ctnn/cpu/elementwise.hpp) loops over these rules and the GPU's kernels
// (ctnn/cuda/kernels/activations.hpp) are compiled from this same text, so both devices round
// alike. A rule's backward takes `kept`: the value the layer's description says its backward
// reads (the output y or the input x, ctnn/layers/activations.hpp); `parameter` is LeakyReLU's
// negative slope and unused by the others.
//
//   rule       forward y                          backward dx                              kept
//   Sigmoid    1 / (1 + exp(-x))                  dy * (1 - y) * y                          y
//   Tanh       tanh(x)                            dy * (1 - y * y)                          y
//   SiLU       x / (1 + exp(-x))                  dy * s * (1 + x * (1 - s)), s = sigmoid   x
//   Hardswish  x * min(max(x + 3, 0), 6) / 6      0 (x < -3), dy * (x / 3 + 1/2) (x <= 3),  x
//                                                 dy (x > 3)
//   LeakyReLU  x > 0 ? x : slope * x              v > 0 ? dy : dy * slope                   y if slope >= 0, else x

#include <ctnn/config.hpp>         // CTNN_HOST_DEVICE
#include <ctnn/rules/source.hpp>   // CTNN_SHARED_SOURCE, exp_of, tanh_of

namespace ctnn::rules {

CTNN_SHARED_SOURCE(activation_rules_source,

struct SigmoidRule {
  template <class T>
  CTNN_HOST_DEVICE static T forward(T x, T) { return T(1) / (T(1) + exp_of(-x)); }
  template <class T>
  CTNN_HOST_DEVICE static T backward(T y, T dy, T) { return dy * (T(1) - y) * y; }
};

struct TanhRule {
  template <class T>
  CTNN_HOST_DEVICE static T forward(T x, T) { return tanh_of(x); }
  template <class T>
  CTNN_HOST_DEVICE static T backward(T y, T dy, T) { return dy * (T(1) - y * y); }
};

struct SiLURule {
  template <class T>
  CTNN_HOST_DEVICE static T forward(T x, T) { return x / (T(1) + exp_of(-x)); }
  template <class T>
  CTNN_HOST_DEVICE static T backward(T x, T dy, T) {
    const T s = T(1) / (T(1) + exp_of(-x));
    return dy * s * (T(1) + x * (T(1) - s));
  }
};

struct HardswishRule {
  template <class T>
  CTNN_HOST_DEVICE static T forward(T x, T) {
    const T shifted = x + T(3);
    const T clamped = shifted < T(0) ? T(0) : (shifted > T(6) ? T(6) : shifted);
    return x * clamped / T(6);
  }
  template <class T>
  CTNN_HOST_DEVICE static T backward(T x, T dy, T) {
    if (x < T(-3)) return T(0);
    if (x <= T(3)) return dy * (x / T(3) + T(0.5));
    return dy;
  }
};

struct LeakyReLURule {
  template <class T>
  CTNN_HOST_DEVICE static T forward(T x, T slope) { return x > T(0) ? x : x * slope; }
  template <class T>
  CTNN_HOST_DEVICE static T backward(T kept, T dy, T slope) { return kept > T(0) ? dy : dy * slope; }
};

)

}  // namespace ctnn::rules
