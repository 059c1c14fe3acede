#pragma once
// CPU kernel of ctnn::TransformInput: y_c = x_c * scale_c + shift_c per channel; in place where
// the plan allows. As in PyTorch, where a float tensor times a Python float computes in float,
// scale and shift are first rounded to T.

#include <cstddef>   // std::size_t

#include <ctnn/cpu/context.hpp>              // ctnn::cpu::Context, parallel_over_images
#include <ctnn/evaluator.hpp>                // ctnn::Evaluator
#include <ctnn/layers/transform_input.hpp>   // ctnn::TransformInput

namespace ctnn {

template <class T>
struct Evaluator<TransformInput, Cpu, T> {
  template <ShapeType In>
  static void forward(cpu::Context<T>& ctx, ParamSpan<T>, ConstSlot<T> x, Slot<T> y, T*, T*) {
    cpu::parallel_over_images(ctx, In::size, [&](std::size_t n, std::size_t begin, std::size_t end) {
      const T* in = x.image(n);
      T* out = y.image(n);
      for (std::size_t i = begin; i < end; ++i) {
        const std::size_t c = i / In::plane;
        const T product = in[i] * static_cast<T>(TransformInput::scale[c]);
        out[i] = product + static_cast<T>(TransformInput::shift[c]);
      }
    });
  }

  template <ShapeType In>
  static void backward(cpu::Context<T>& ctx, ParamSpan<T>, ConstSlot<T>, ConstSlot<T>, ConstSlot<T> dy, Slot<T> dx,
                       bool accumulate_dx, T*, T*) {
    if (!dx) return;
    cpu::parallel_over_images(ctx, In::size, [&](std::size_t n, std::size_t begin, std::size_t end) {
      const T* gradient = dy.image(n);
      T* input_grad = dx.image(n);
      for (std::size_t i = begin; i < end; ++i) {
        const T value = gradient[i] * static_cast<T>(TransformInput::scale[i / In::plane]);
        input_grad[i] = accumulate_dx ? input_grad[i] + value : value;
      }
    });
  }
};

}  // namespace ctnn
