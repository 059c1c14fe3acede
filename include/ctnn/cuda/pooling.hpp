#pragma once
// CUDA evaluators of ctnn::MaxPool, ctnn::AvgPool and ctnn::AdaptiveAvgPool. cuDNN's pooling
// has no ceil mode, so these run ctnn's own kernels (ctnn/cuda/kernels/pooling.hpp), which
// follow the CPU kernels' window arithmetic exactly: same windows, same NaN rule, same divisors,
// the same order of additions.
//
//   MaxPool training forward records, per output element, the winning position in its input
//   plane (the layer's `saved` area, as on the CPU); backward routes the gradient there.

#include <cstddef>   // std::size_t

#include <ctnn/cuda/context.hpp>     // ctnn::cuda::Context
#include <ctnn/cuda/kernels.hpp>     // ctnn::cuda::launch, Kernel
#include <ctnn/evaluator.hpp>        // ctnn::Evaluator
#include <ctnn/layers/pooling.hpp>   // ctnn::MaxPool, ctnn::AvgPool, ctnn::AdaptiveAvgPool, ctnn::PoolGeometry

namespace ctnn::cuda {

// The description's geometry (ctnn/layers/pooling.hpp) as the kernels take it: same fields, ints,
// the layout of ctnn_kernels::PoolGeometry in the kernels' source.
struct KernelPoolGeometry {
  int channels, in_height, in_width, out_height, out_width, kernel, stride, padding;
};
static_assert(sizeof(KernelPoolGeometry) == 8 * sizeof(int));

inline KernelPoolGeometry kernel_geometry(const PoolGeometry& g) {
  return {int(g.channels), int(g.in_height), int(g.in_width), int(g.out_height),
          int(g.out_width), int(g.kernel),   int(g.stride),   int(g.padding)};
}

// Forward: one thread per output element.
template <class T>
void pool_forward(Context<T>& ctx, Kernel kernel, const PoolGeometry& g, ConstSlot<T> x, Slot<T> y) {
  const auto total = static_cast<long long>(ctx.batch * g.channels * g.out_plane());
  ctx.launch(kernel, total, total, kernel_geometry(g), x.data, static_cast<long long>(x.image_stride), y.data,
             static_cast<long long>(y.image_stride));
}

// Backward of the average poolings: one thread per input element.
template <class T>
void pool_backward(Context<T>& ctx, Kernel kernel, const PoolGeometry& g, const BackwardArgs<T>& a) {
  if (!a.dx) return;
  const auto total = static_cast<long long>(ctx.batch * g.channels * g.in_plane());
  ctx.launch(kernel, total, total, kernel_geometry(g), a.dy.data, static_cast<long long>(a.dy.image_stride), a.dx.data,
             static_cast<long long>(a.dx.image_stride), a.accumulate_dx ? 1 : 0);
}

}  // namespace ctnn::cuda

namespace ctnn {

template <std::size_t K, std::size_t S, std::size_t P, Rounding R, class T>
struct Evaluator<MaxPool<K, S, P, R>, Cuda, T> {
  using Layer = MaxPool<K, S, P, R>;
  template <ShapeType In>
  static void forward(cuda::Context<T>& ctx, const ForwardArgs<T>& a) {
    constexpr PoolGeometry g = Layer::template geometry<In>;
    const auto total = static_cast<long long>(ctx.batch * g.channels * g.out_plane());
    T* indices = ctx.mode == Mode::train ? a.saved : nullptr;
    ctx.launch(cuda::Kernel::max_pool_forward, total, total, cuda::kernel_geometry(g), a.x.data,
               static_cast<long long>(a.x.image_stride), a.y.data, static_cast<long long>(a.y.image_stride), indices,
               static_cast<long long>(Layer::template saved_elements<In>));
  }
  template <ShapeType In>
  static void backward(cuda::Context<T>& ctx, const BackwardArgs<T>& a) {
    if (!a.dx) return;
    constexpr PoolGeometry g = Layer::template geometry<In>;
    const auto total = static_cast<long long>(ctx.batch * g.channels * g.in_plane());
    const T* indices = a.saved;
    ctx.launch(cuda::Kernel::max_pool_backward, total, total, cuda::kernel_geometry(g), indices,
               static_cast<long long>(Layer::template saved_elements<In>), a.dy.data,
               static_cast<long long>(a.dy.image_stride), a.dx.data, static_cast<long long>(a.dx.image_stride),
               a.accumulate_dx ? 1 : 0);
  }
};

template <std::size_t K, std::size_t S, std::size_t P, Rounding R, class T>
struct Evaluator<AvgPool<K, S, P, R>, Cuda, T> {
  using Layer = AvgPool<K, S, P, R>;
  template <ShapeType In>
  static void forward(cuda::Context<T>& ctx, const ForwardArgs<T>& a) {
    cuda::pool_forward(ctx, cuda::Kernel::avg_pool_forward, Layer::template geometry<In>, a.x, a.y);
  }
  template <ShapeType In>
  static void backward(cuda::Context<T>& ctx, const BackwardArgs<T>& a) {
    cuda::pool_backward(ctx, cuda::Kernel::avg_pool_backward, Layer::template geometry<In>, a);
  }
};

template <std::size_t OH, std::size_t OW, class T>
struct Evaluator<AdaptiveAvgPool<OH, OW>, Cuda, T> {
  using Layer = AdaptiveAvgPool<OH, OW>;
  template <ShapeType In>
  static void forward(cuda::Context<T>& ctx, const ForwardArgs<T>& a) {
    cuda::pool_forward(ctx, cuda::Kernel::adaptive_avg_pool_forward, Layer::template geometry<In>, a.x, a.y);
  }
  template <ShapeType In>
  static void backward(cuda::Context<T>& ctx, const BackwardArgs<T>& a) {
    cuda::pool_backward(ctx, cuda::Kernel::adaptive_avg_pool_backward, Layer::template geometry<In>, a);
  }
};

}  // namespace ctnn
