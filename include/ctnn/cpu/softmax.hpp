#pragma once
// CPU kernel of ctnn::Softmax: the softmax over channels at every position of every image.
//
//   forward   y[c][p] = exp(x[c][p] - m[p]) / s[p],  m[p] = max over c of x[c][p], s[p] = sum over c of exp(...)
//   backward  dx[c][p] (+)= y[c][p] * (dy[c][p] - sum over k of dy[k][p] * y[k][p])
// Positions go in blocks of `block`, channels outermost inside a block, so that the inner loops
// run over consecutive positions; a feature vector (one position) is one block of one.

#include <algorithm>   // std::min, std::max
#include <cmath>       // std::exp
#include <cstddef>     // std::size_t

#include <ctnn/cpu/context.hpp>       // ctnn::cpu::Context, parallel_over_images
#include <ctnn/evaluator.hpp>         // ctnn::Evaluator, ctnn::ForwardArgs, ctnn::BackwardArgs
#include <ctnn/layers/softmax.hpp>   // ctnn::Softmax

namespace ctnn {

template <class T>
struct Evaluator<Softmax, Cpu, T> {
  static constexpr std::size_t block = 64;

  template <ShapeType In>
  static void forward(cpu::Context<T>& ctx, const ForwardArgs<T>& a) {
    constexpr std::size_t plane = In::plane;
    cpu::parallel_over_images(ctx, plane, [&](std::size_t n, std::size_t begin, std::size_t end) {
      const T* in = a.x.image(n);
      T* out = a.y.image(n);
      for (std::size_t first = begin; first < end; first += block) {
        const std::size_t count = std::min(block, end - first);
        T largest[block], sum[block];
        for (std::size_t p = 0; p < count; ++p) largest[p] = in[first + p];
        for (std::size_t c = 1; c < In::channels; ++c)
          for (std::size_t p = 0; p < count; ++p) largest[p] = std::max(largest[p], in[c * plane + first + p]);
        for (std::size_t p = 0; p < count; ++p) sum[p] = T(0);
        for (std::size_t c = 0; c < In::channels; ++c)
          for (std::size_t p = 0; p < count; ++p) {
            const T e = std::exp(in[c * plane + first + p] - largest[p]);
            out[c * plane + first + p] = e;
            sum[p] += e;
          }
        for (std::size_t c = 0; c < In::channels; ++c)
          for (std::size_t p = 0; p < count; ++p) out[c * plane + first + p] /= sum[p];
      }
    });
  }

  template <ShapeType In>
  static void backward(cpu::Context<T>& ctx, const BackwardArgs<T>& a) {
    if (!a.dx) return;
    constexpr std::size_t plane = In::plane;
    cpu::parallel_over_images(ctx, plane, [&](std::size_t n, std::size_t begin, std::size_t end) {
      const T* out = a.y.image(n);
      const T* gradient = a.dy.image(n);
      T* input_grad = a.dx.image(n);
      for (std::size_t first = begin; first < end; first += block) {
        const std::size_t count = std::min(block, end - first);
        T dot[block];
        for (std::size_t p = 0; p < count; ++p) dot[p] = T(0);
        for (std::size_t c = 0; c < In::channels; ++c)
          for (std::size_t p = 0; p < count; ++p) dot[p] += gradient[c * plane + first + p] * out[c * plane + first + p];
        for (std::size_t c = 0; c < In::channels; ++c)
          for (std::size_t p = 0; p < count; ++p) {
            const std::size_t i = c * plane + first + p;
            const T g = out[i] * (gradient[i] - dot[p]);
            input_grad[i] = a.accumulate_dx ? input_grad[i] + g : g;
          }
      }
    });
  }
};

}  // namespace ctnn
