#pragma once
// CUDA evaluator of ctnn::Upsample: the kernels of ctnn/cuda/kernels/upsample.hpp, whose
// arithmetic is the CPU's (ctnn/rules/upsample.hpp). cuDNN has no upsampling call.

#include <cstddef>   // std::size_t

#include <ctnn/cuda/context.hpp>      // ctnn::cuda::Context
#include <ctnn/cuda/kernels.hpp>      // ctnn::cuda::Kernel
#include <ctnn/evaluator.hpp>         // ctnn::Evaluator
#include <ctnn/layers/upsample.hpp>   // ctnn::Upsample, ctnn::UpsampleGeometry

namespace ctnn {

template <std::size_t Factor, UpsampleMode Mode, class T>
struct Evaluator<Upsample<Factor, Mode>, Cuda, T> {
  template <ShapeType In>
  static void forward(cuda::Context<T>& ctx, const ForwardArgs<T>& a) {
    constexpr UpsampleGeometry g = Upsample<Factor, Mode>::template geometry<In>;
    const auto total = static_cast<long long>(ctx.batch * g.channels * g.out_plane());
    ctx.launch(cuda::Kernel::upsample_forward, total, total, static_cast<long long>(g.channels),
               static_cast<long long>(g.in_height), static_cast<long long>(g.in_width), static_cast<long long>(g.factor),
               g.bilinear ? 1 : 0, a.x.data, static_cast<long long>(a.x.image_stride), a.y.data,
               static_cast<long long>(a.y.image_stride));
  }
  template <ShapeType In>
  static void backward(cuda::Context<T>& ctx, const BackwardArgs<T>& a) {
    if (!a.dx) return;
    constexpr UpsampleGeometry g = Upsample<Factor, Mode>::template geometry<In>;
    const auto total = static_cast<long long>(ctx.batch * g.channels * g.in_plane());
    ctx.launch(cuda::Kernel::upsample_backward, total, total, static_cast<long long>(g.channels),
               static_cast<long long>(g.in_height), static_cast<long long>(g.in_width), static_cast<long long>(g.factor),
               g.bilinear ? 1 : 0, a.dy.data, static_cast<long long>(a.dy.image_stride), a.dx.data,
               static_cast<long long>(a.dx.image_stride), a.accumulate_dx ? 1 : 0);
  }
};

}  // namespace ctnn
