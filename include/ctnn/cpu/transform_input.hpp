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
  static void forward(cpu::Context<T>& ctx, const ForwardArgs<T>& a) {
    cpu::parallel_over_images(ctx, In::size, [&](std::size_t n, std::size_t begin, std::size_t end) {
      const T* in = a.x.image(n);
      T* out = a.y.image(n);
      for (std::size_t i = begin; i < end; ++i) {
        const std::size_t c = i / In::plane;
        const T product = in[i] * static_cast<T>(TransformInput::scale[c]);
        out[i] = product + static_cast<T>(TransformInput::shift[c]);
      }
    });
  }

  template <ShapeType In>
  static void backward(cpu::Context<T>& ctx, const BackwardArgs<T>& a) {
    if (!a.dx) return;
    cpu::parallel_over_images(ctx, In::size, [&](std::size_t n, std::size_t begin, std::size_t end) {
      const T* gradient = a.dy.image(n);
      T* input_grad = a.dx.image(n);
      for (std::size_t i = begin; i < end; ++i) {
        const T value = gradient[i] * static_cast<T>(TransformInput::scale[i / In::plane]);
        input_grad[i] = a.accumulate_dx ? input_grad[i] + value : value;
      }
    });
  }
};

}  // namespace ctnn
