#pragma once
// CPU kernels of the element-wise layers: ReLU, Dropout, and the views Flatten and Identity.
// Each may run in place (x and y the same memory) when the memory plan says so.

#include <algorithm>   // std::fill_n
#include <cstddef>     // std::size_t
#include <random>      // std::bernoulli_distribution

#include <ctnn/cpu/context.hpp>      // ctnn::cpu::Context, parallel_over_images, copy_images
#include <ctnn/evaluator.hpp>        // ctnn::Evaluator
#include <ctnn/layers/dropout.hpp>   // ctnn::Dropout
#include <ctnn/layers/flatten.hpp>   // ctnn::Flatten, ctnn::Identity
#include <ctnn/layers/relu.hpp>      // ctnn::ReLU

namespace ctnn {

template <class T>
struct Evaluator<ReLU, Cpu, T> {
  template <ShapeType In>
  static void forward(cpu::Context<T>& ctx, ParamSpan<T>, ConstSlot<T> x, Slot<T> y, T*, T*) {
    cpu::parallel_over_images(ctx, In::size, [&](std::size_t n, std::size_t begin, std::size_t end) {
      const T* in = x.image(n);
      T* out = y.image(n);
      for (std::size_t i = begin; i < end; ++i) out[i] = in[i] > T(0) ? in[i] : T(0);
    });
  }
  // dx = dy where y > 0 (PyTorch's threshold_backward: the gradient at 0 is 0).
  template <ShapeType In>
  static void backward(cpu::Context<T>& ctx, ParamSpan<T>, ConstSlot<T>, ConstSlot<T> y, ConstSlot<T> dy,
                       Slot<T> dx, bool accumulate_dx, T*, T*) {
    if (!dx) return;
    cpu::parallel_over_images(ctx, In::size, [&](std::size_t n, std::size_t begin, std::size_t end) {
      const T* out = y.image(n);
      const T* gradient = dy.image(n);
      T* input_grad = dx.image(n);
      for (std::size_t i = begin; i < end; ++i) {
        const T g = out[i] > T(0) ? gradient[i] : T(0);
        input_grad[i] = accumulate_dx ? input_grad[i] + g : g;
      }
    });
  }
};

template <std::size_t Percent, class T>
struct Evaluator<Dropout<Percent>, Cpu, T> {
  template <ShapeType In>
  static void forward(cpu::Context<T>& ctx, ParamSpan<T>, ConstSlot<T> x, Slot<T> y, T* saved, T*) {
    if (ctx.mode != Mode::train || Percent == 0) {
      cpu::copy_images(ctx, x, y, In::size, false);
      return;
    }
    T* mask = saved;
    constexpr std::size_t stride = Dropout<Percent>::template saved_elements<In>;
    if (ctx.dropout_disabled) {
      // Model::disable_dropout: keep everything; the mask of ones serves backward unchanged.
      cpu::copy_images(ctx, x, y, In::size, false);
      for (std::size_t n = 0; n < ctx.batch; ++n) std::fill_n(mask + n * stride, In::size, T(1));
      return;
    }
    // The mask is drawn on one thread so a seed gives the same mask for any thread count.
    const T keep_scale = T(1) / (T(1) - T(Percent) / T(100));
    std::bernoulli_distribution keep(1.0 - Percent / 100.0);
    for (std::size_t n = 0; n < ctx.batch; ++n) {
      const T* in = x.image(n);
      T* out = y.image(n);
      T* m = mask + n * stride;
      for (std::size_t i = 0; i < In::size; ++i) {
        m[i] = keep(ctx.generator) ? keep_scale : T(0);
        out[i] = in[i] * m[i];
      }
    }
  }
  template <ShapeType In>
  static void backward(cpu::Context<T>& ctx, ParamSpan<T>, ConstSlot<T>, ConstSlot<T>, ConstSlot<T> dy, Slot<T> dx,
                       bool accumulate_dx, T* saved, T*) {
    if (!dx) return;
    if (Percent == 0) {
      cpu::copy_images(ctx, dy, dx, In::size, accumulate_dx);
      return;
    }
    constexpr std::size_t stride = Dropout<Percent>::template saved_elements<In>;
    cpu::parallel_over_images(ctx, In::size, [&](std::size_t n, std::size_t begin, std::size_t end) {
      const T* m = saved + n * stride;
      const T* gradient = dy.image(n);
      T* input_grad = dx.image(n);
      for (std::size_t i = begin; i < end; ++i) {
        const T g = gradient[i] * m[i];
        input_grad[i] = accumulate_dx ? input_grad[i] + g : g;
      }
    });
  }
};

// Views: nothing to compute unless the plan gave them a separate output (then a copy).
template <class View, class T>
struct CpuViewEvaluator {
  template <ShapeType In>
  static void forward(cpu::Context<T>& ctx, ParamSpan<T>, ConstSlot<T> x, Slot<T> y, T*, T*) {
    if (x.data != y.data) cpu::copy_images(ctx, x, y, In::size, false);
  }
  template <ShapeType In>
  static void backward(cpu::Context<T>& ctx, ParamSpan<T>, ConstSlot<T>, ConstSlot<T>, ConstSlot<T> dy, Slot<T> dx,
                       bool accumulate_dx, T*, T*) {
    if (dx) cpu::copy_images(ctx, dy, dx, In::size, accumulate_dx);
  }
};

template <class T>
struct Evaluator<Flatten, Cpu, T> : CpuViewEvaluator<Flatten, T> {};
template <class T>
struct Evaluator<Identity, Cpu, T> : CpuViewEvaluator<Identity, T> {};

}  // namespace ctnn
