#pragma once
// CPU kernels of the element-wise layers: ReLU, Dropout's mask (the pass-through and the
// views Flatten and Identity are device-generic), and the activations of
// ctnn/layers/activations.hpp. Each may run in place (x and y the same memory) when the memory
// plan says so.

#include <cstddef>   // std::size_t
#include <limits>    // std::numeric_limits
#include <random>    // std::bernoulli_distribution

#include <ctnn/cpu/context.hpp>      // ctnn::cpu::Context, parallel_over_images, copy_images
#include <ctnn/evaluator.hpp>        // ctnn::Evaluator, ctnn::ForwardArgs, ctnn::BackwardArgs
#include <ctnn/layers/activations.hpp>   // ctnn::ElementwiseActivation, Sigmoid, Tanh, SiLU, ...
#include <ctnn/layers/dropout.hpp>   // ctnn::Dropout, ctnn::DropoutKernel
#include <ctnn/layers/flatten.hpp>   // ctnn::Flatten, ctnn::Identity (generic evaluators)
#include <ctnn/layers/relu.hpp>      // ctnn::ReLU
#include <ctnn/layers/relu6.hpp>     // ctnn::ReLU6

namespace ctnn {

namespace cpu {
// ReLU and ReLU6: y = min(max(x, 0), ceiling), the ceiling infinite for ReLU and Layer::ceiling
// (6) for ReLU6; dx = dy where 0 < y < ceiling (PyTorch's threshold_backward and
// hardtanh_backward: the gradient at a clip point is 0).
template <class Layer, class T>
struct ClippedReLUEvaluator {
  static constexpr T ceiling = [] {
    if constexpr (requires { Layer::ceiling; })
      return T(Layer::ceiling);
    else
      return std::numeric_limits<T>::infinity();
  }();

  template <ShapeType In>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    parallel_over_images(ctx, In::size, [&](std::size_t n, std::size_t begin, std::size_t end) {
      const T* in = a.x.image(n);
      T* out = a.y.image(n);
      for (std::size_t i = begin; i < end; ++i) out[i] = in[i] > T(0) ? (in[i] < ceiling ? in[i] : ceiling) : T(0);
    });
  }
  template <ShapeType In>
  static void backward(Context<T>& ctx, const BackwardArgs<T>& a) {
    if (!a.dx) return;
    parallel_over_images(ctx, In::size, [&](std::size_t n, std::size_t begin, std::size_t end) {
      const T* out = a.y.image(n);
      const T* gradient = a.dy.image(n);
      T* input_grad = a.dx.image(n);
      for (std::size_t i = begin; i < end; ++i) {
        const T g = out[i] > T(0) && out[i] < ceiling ? gradient[i] : T(0);
        input_grad[i] = a.accumulate_dx ? input_grad[i] + g : g;
      }
    });
  }
};
}  // namespace cpu

template <class T>
struct Evaluator<ReLU, Cpu, T> : cpu::ClippedReLUEvaluator<ReLU, T> {};

// The mask of scale factors (0 or 1 / (1 - p)) lives in the layer's `saved` area.
template <class T>
struct DropoutKernel<Cpu, T> {
  template <class Layer, ShapeType In>
  static void forward(cpu::Context<T>& ctx, const ForwardArgs<T>& a) {
    constexpr std::size_t stride = Layer::template saved_elements<In>;
    // The mask is drawn on one thread so a seed gives the same mask for any thread count.
    const T keep_scale = T(1) / (T(1) - T(Layer::percent) / T(100));
    std::bernoulli_distribution keep(1.0 - Layer::probability);
    for (std::size_t n = 0; n < ctx.batch; ++n) {
      const T* in = a.x.image(n);
      T* out = a.y.image(n);
      T* m = a.saved + n * stride;
      for (std::size_t i = 0; i < In::size; ++i) {
        m[i] = keep(ctx.generator) ? keep_scale : T(0);
        out[i] = in[i] * m[i];
      }
    }
  }
  template <class Layer, ShapeType In>
  static void backward(cpu::Context<T>& ctx, const BackwardArgs<T>& a) {
    constexpr std::size_t stride = Layer::template saved_elements<In>;
    cpu::parallel_over_images(ctx, In::size, [&](std::size_t n, std::size_t begin, std::size_t end) {
      const T* m = a.saved + n * stride;
      const T* gradient = a.dy.image(n);
      T* input_grad = a.dx.image(n);
      for (std::size_t i = begin; i < end; ++i) {
        const T g = gradient[i] * m[i];
        input_grad[i] = a.accumulate_dx ? input_grad[i] + g : g;
      }
    });
  }
};

// ---- Element-wise activations (Sigmoid, Tanh, SiLU, Hardswish, LeakyReLU) -------------------
// One evaluator for every ElementwiseActivation: its rule (ctnn/rules/activations.hpp), element by
// element. Backward hands the rule what the description keeps: the output y or the input x.
template <ElementwiseActivation L, class T>
struct Evaluator<L, Cpu, T> {
  using Rule = typename L::rule;
  static constexpr T parameter = static_cast<T>(L::rule_parameter);

  template <ShapeType In>
  static void forward(cpu::Context<T>& ctx, const ForwardArgs<T>& a) {
    cpu::parallel_over_images(ctx, In::size, [&](std::size_t n, std::size_t begin, std::size_t end) {
      const T* in = a.x.image(n);
      T* out = a.y.image(n);
      for (std::size_t i = begin; i < end; ++i) out[i] = Rule::forward(in[i], parameter);
    });
  }
  template <ShapeType In>
  static void backward(cpu::Context<T>& ctx, const BackwardArgs<T>& a) {
    if (!a.dx) return;
    const ConstSlot<T> kept = L::backward_reads_output ? a.y : a.x;
    cpu::parallel_over_images(ctx, In::size, [&](std::size_t n, std::size_t begin, std::size_t end) {
      const T* value = kept.image(n);
      const T* gradient = a.dy.image(n);
      T* input_grad = a.dx.image(n);
      for (std::size_t i = begin; i < end; ++i) {
        const T g = Rule::backward(value[i], gradient[i], parameter);
        input_grad[i] = a.accumulate_dx ? input_grad[i] + g : g;
      }
    });
  }
};

}  // namespace ctnn

// ---- ReLU6 ------------------------------------------------------------------------------------

namespace ctnn {

template <class T>
struct Evaluator<ReLU6, Cpu, T> : cpu::ClippedReLUEvaluator<ReLU6, T> {};

}  // namespace ctnn
