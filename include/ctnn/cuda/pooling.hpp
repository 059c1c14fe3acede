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
#include <ctnn/layers/pooling.hpp>   // ctnn::MaxPool, ctnn::AvgPool, ctnn::AdaptiveAvgPool

namespace ctnn::cuda {

// Same layout as ctnn_kernels::PoolGeometry in the kernels' source.
struct PoolGeometry {
  int channels, in_height, in_width, out_height, out_width, kernel, stride, padding;
};
static_assert(sizeof(PoolGeometry) == 8 * sizeof(int));

template <class Layer, ShapeType In>
PoolGeometry pool_geometry() {
  using Out = output_shape_t<Layer, In>;
  if constexpr (requires { Layer::kernel; })
    return {int(In::channels), int(In::height), int(In::width), int(Out::height), int(Out::width),
            int(Layer::kernel), int(Layer::stride), int(Layer::padding)};
  else
    return {int(In::channels), int(In::height), int(In::width), int(Out::height), int(Out::width), 0, 1, 0};
}

// Forward: one thread per output element.
template <class T, class Layer, ShapeType In>
void pool_forward(Context<T>& ctx, Kernel kernel, ConstSlot<T> x, Slot<T> y) {
  if (ctx.planning) return;
  const auto total = static_cast<long long>(ctx.batch * output_shape_t<Layer, In>::size);
  launch<T>(*ctx.kernels, kernel, total, ctx.stream(), total, pool_geometry<Layer, In>(), x.data,
            static_cast<long long>(x.image_stride), y.data, static_cast<long long>(y.image_stride));
}

// Backward of the average poolings: one thread per input element.
template <class T, class Layer, ShapeType In>
void pool_backward(Context<T>& ctx, Kernel kernel, ConstSlot<T> dy, Slot<T> dx, bool accumulate_dx) {
  if (ctx.planning || !dx) return;
  const auto total = static_cast<long long>(ctx.batch * In::size);
  launch<T>(*ctx.kernels, kernel, total, ctx.stream(), total, pool_geometry<Layer, In>(), dy.data,
            static_cast<long long>(dy.image_stride), dx.data, static_cast<long long>(dx.image_stride),
            accumulate_dx ? 1 : 0);
}

}  // namespace ctnn::cuda

namespace ctnn {

template <std::size_t K, std::size_t S, std::size_t P, Rounding R, class T>
struct Evaluator<MaxPool<K, S, P, R>, Cuda, T> {
  using Layer = MaxPool<K, S, P, R>;
  template <ShapeType In>
  static void forward(cuda::Context<T>& ctx, ParamSpan<T>, ConstSlot<T> x, Slot<T> y, T* saved, T*) {
    if (ctx.planning) return;
    const auto total = static_cast<long long>(ctx.batch * output_shape_t<Layer, In>::size);
    T* indices = ctx.mode == Mode::train ? saved : nullptr;
    cuda::launch<T>(*ctx.kernels, cuda::Kernel::max_pool_forward, total, ctx.stream(), total,
                    cuda::pool_geometry<Layer, In>(), x.data, static_cast<long long>(x.image_stride), y.data,
                    static_cast<long long>(y.image_stride), indices,
                    static_cast<long long>(Layer::template saved_elements<In>));
  }
  template <ShapeType In>
  static void backward(cuda::Context<T>& ctx, ParamSpan<T>, ConstSlot<T>, ConstSlot<T>, ConstSlot<T> dy, Slot<T> dx,
                       bool accumulate_dx, T* saved, T*) {
    if (ctx.planning || !dx) return;
    const auto total = static_cast<long long>(ctx.batch * In::size);
    const T* indices = saved;
    cuda::launch<T>(*ctx.kernels, cuda::Kernel::max_pool_backward, total, ctx.stream(), total,
                    cuda::pool_geometry<Layer, In>(), indices, static_cast<long long>(Layer::template saved_elements<In>),
                    dy.data, static_cast<long long>(dy.image_stride), dx.data, static_cast<long long>(dx.image_stride),
                    accumulate_dx ? 1 : 0);
  }
};

template <std::size_t K, std::size_t S, std::size_t P, Rounding R, class T>
struct Evaluator<AvgPool<K, S, P, R>, Cuda, T> {
  using Layer = AvgPool<K, S, P, R>;
  template <ShapeType In>
  static void forward(cuda::Context<T>& ctx, ParamSpan<T>, ConstSlot<T> x, Slot<T> y, T*, T*) {
    cuda::pool_forward<T, Layer, In>(ctx, cuda::Kernel::avg_pool_forward, x, y);
  }
  template <ShapeType In>
  static void backward(cuda::Context<T>& ctx, ParamSpan<T>, ConstSlot<T>, ConstSlot<T>, ConstSlot<T> dy, Slot<T> dx,
                       bool accumulate_dx, T*, T*) {
    cuda::pool_backward<T, Layer, In>(ctx, cuda::Kernel::avg_pool_backward, dy, dx, accumulate_dx);
  }
};

template <std::size_t OH, std::size_t OW, class T>
struct Evaluator<AdaptiveAvgPool<OH, OW>, Cuda, T> {
  using Layer = AdaptiveAvgPool<OH, OW>;
  template <ShapeType In>
  static void forward(cuda::Context<T>& ctx, ParamSpan<T>, ConstSlot<T> x, Slot<T> y, T*, T*) {
    cuda::pool_forward<T, Layer, In>(ctx, cuda::Kernel::adaptive_avg_pool_forward, x, y);
  }
  template <ShapeType In>
  static void backward(cuda::Context<T>& ctx, ParamSpan<T>, ConstSlot<T>, ConstSlot<T>, ConstSlot<T> dy, Slot<T> dx,
                       bool accumulate_dx, T*, T*) {
    cuda::pool_backward<T, Layer, In>(ctx, cuda::Kernel::adaptive_avg_pool_backward, dy, dx, accumulate_dx);
  }
};

}  // namespace ctnn
