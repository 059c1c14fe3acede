#pragma once
// CPU kernel of ctnn::Upsample: the rules of ctnn/rules/upsample.hpp, one output element (forward)
// or one input element (backward, a gather: no two threads write one element) at a time, the
// images' channel planes split over the threads.

#include <cstddef>   // std::size_t

#include <ctnn/cpu/context.hpp>       // ctnn::cpu::Context
#include <ctnn/cpu/pooling.hpp>       // ctnn::cpu::parallel_over_planes
#include <ctnn/evaluator.hpp>         // ctnn::Evaluator, ctnn::ForwardArgs, ctnn::BackwardArgs
#include <ctnn/layers/upsample.hpp>   // ctnn::Upsample, ctnn::UpsampleGeometry
#include <ctnn/rules/upsample.hpp>    // ctnn::rules::upsample_at, upsample_gradient_at

namespace ctnn {

template <std::size_t Factor, UpsampleMode Mode, class T>
struct Evaluator<Upsample<Factor, Mode>, Cpu, T> {
  static constexpr bool bilinear = Mode == UpsampleMode::bilinear;

  template <ShapeType In>
  static void forward(cpu::Context<T>& ctx, const ForwardArgs<T>& a) {
    constexpr UpsampleGeometry g = Upsample<Factor, Mode>::template geometry<In>;
    cpu::parallel_over_planes(ctx, g.channels, g.out_plane(), [&](std::size_t n, std::size_t c) {
      const T* in = a.x.image(n) + c * g.in_plane();
      T* out = a.y.image(n) + c * g.out_plane();
      for (std::size_t oh = 0; oh < g.out_height(); ++oh)
        for (std::size_t ow = 0; ow < g.out_width(); ++ow)
          out[oh * g.out_width() + ow] = rules::upsample_at<T>(bilinear, in, g.in_height, g.in_width, g.factor, oh, ow);
    });
  }

  template <ShapeType In>
  static void backward(cpu::Context<T>& ctx, const BackwardArgs<T>& a) {
    if (!a.dx) return;
    constexpr UpsampleGeometry g = Upsample<Factor, Mode>::template geometry<In>;
    cpu::parallel_over_planes(ctx, g.channels, g.out_plane(), [&](std::size_t n, std::size_t c) {
      const T* gradient = a.dy.image(n) + c * g.out_plane();
      T* input_grad = a.dx.image(n) + c * g.in_plane();
      for (std::size_t ih = 0; ih < g.in_height; ++ih)
        for (std::size_t iw = 0; iw < g.in_width; ++iw) {
          const T sum = rules::upsample_gradient_at<T>(bilinear, gradient, g.in_height, g.in_width, g.factor, ih, iw);
          T& d = input_grad[ih * g.in_width + iw];
          d = a.accumulate_dx ? d + sum : sum;
        }
    });
  }
};

}  // namespace ctnn
