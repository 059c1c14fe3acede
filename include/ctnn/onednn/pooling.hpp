#pragma once
// Pooling on the oneDNN device.
//
//   MaxPool<K, S, P, ceil>   pooling_forward, max: PyTorch's ceil mode is extra padding on the
//                            right and bottom, which max pooling never picks
//   AvgPool                  average including padding, where no window reaches past the padding
//                            (ceil mode may; then the Eigen evaluator, whose divisor is PyTorch's)
//   AdaptiveAvgPool<OH, OW>  average over equal windows where OH and OW divide the input, as
//                            GoogLeNet's global pooling; otherwise the Eigen evaluator
// Training keeps MaxPool's indices for backward: the Eigen evaluator computes both directions.

#include <algorithm>   // std::max
#include <cstddef>     // std::size_t
#include <memory>      // std::make_unique

#include <dnnl.hpp>   // dnnl::pooling_forward

#include <ctnn/layers/pooling.hpp>     // ctnn::MaxPool, ctnn::AvgPool, ctnn::AdaptiveAvgPool, PoolGeometry
#include <ctnn/onednn/fallback.hpp>    // ctnn::onednn::Kernel, forward_on_cpu
#include <ctnn/onednn/operand.hpp>     // Operand

namespace ctnn {
namespace onednn {

struct PoolForwardPlan : Plan {
  Operand src, dst;
  memory scratchpad;
  dnnl::pooling_forward primitive;
};

// Right padding that gives `out` windows of `kernel` at `stride` over `extent` + left padding.
constexpr std::size_t right_padding(std::size_t extent, std::size_t kernel, std::size_t stride, std::size_t left,
                                    std::size_t out) {
  const std::size_t covered = (out - 1) * stride + kernel;
  return covered > extent + left ? covered - extent - left : 0;
}

template <ShapeType In, class T>
void pooling_forward(Context<T>& ctx, const ForwardArgs<T>& a, const PoolGeometry& g, dnnl::algorithm algorithm) {
  auto& p = ctx.template plan<PoolForwardPlan>(Direction::forward, [&] {
    auto plan = std::make_unique<PoolForwardPlan>();
    plan->src = input_operand(ctx, a.x, {g.channels, g.in_height, g.in_width});
    plan->dst = output_operand(ctx, a.y, {g.channels, g.out_height, g.out_width});
    const auto dim = [](std::size_t v) { return static_cast<memory::dim>(v); };
    const memory::dims kernel{dim(g.kernel), dim(g.kernel)}, strides{dim(g.stride), dim(g.stride)};
    const memory::dims left{dim(g.padding), dim(g.padding)};
    const memory::dims right{dim(right_padding(g.in_height, g.kernel, g.stride, g.padding, g.out_height)),
                             dim(right_padding(g.in_width, g.kernel, g.stride, g.padding, g.out_width))};
    // The primitive sees 4-D tensors, also for a 1x1 output.
    const auto four_d = [&](const memory::desc& md, std::size_t c, std::size_t h, std::size_t w) {
      if (md.get_ndims() == 4) return md;
      // NHWC strides (a 1x1 image is both layouts; oneDNN's fast kernels want src's tag on dst).
      return memory::desc({static_cast<memory::dim>(ctx.batch), dim(c), dim(h), dim(w)}, md.get_data_type(),
                          memory::dims{dim(c * h * w), 1, dim(w * c), dim(c)});
    };
    const memory::desc src = four_d(plan->src.md, g.channels, g.in_height, g.in_width);
    const memory::desc dst = four_d(plan->dst.md, g.channels, g.out_height, g.out_width);
    const auto pd = checked("pooling", [&] {
      return dnnl::pooling_forward::primitive_desc(ctx.engine, dnnl::prop_kind::forward_inference, algorithm, src, dst,
                                                   strides, kernel, memory::dims{0, 0}, left, right, user_scratchpad());
    });
    plan->src.mem = unbound(src, ctx.engine);
    plan->dst.mem = unbound(dst, ctx.engine);
    plan->scratchpad = scratchpad_for(ctx, pd.scratchpad_desc());
    plan->primitive = dnnl::pooling_forward(pd);
    return plan;
  });
  if (ctx.planning) return;
  p.src.load(ctx, a.x.data);
  p.dst.bind_output(ctx, a.y.data);
  bind(p.scratchpad, ctx.scratchpad());
  ctx.run(p.primitive, {{DNNL_ARG_SRC, &p.src.mem}, {DNNL_ARG_DST, &p.dst.mem}, {DNNL_ARG_SCRATCHPAD, &p.scratchpad}});
  p.dst.store(ctx, a.y.data);
}

template <std::size_t K, std::size_t S, std::size_t P, Rounding R, class T>
struct Kernel<MaxPool<K, S, P, R>, T> {
  static constexpr bool has_backward = false;
  template <ShapeType In>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    pooling_forward<In>(ctx, a, MaxPool<K, S, P, R>::template geometry<In>, dnnl::algorithm::pooling_max);
  }
};

template <std::size_t K, std::size_t S, std::size_t P, Rounding R, class T>
struct Kernel<AvgPool<K, S, P, R>, T> {
  using L = AvgPool<K, S, P, R>;
  static constexpr bool has_backward = false;
  template <ShapeType In>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    constexpr PoolGeometry g = L::template geometry<In>;
    // Every window within [-P, extent + P): oneDNN's divisor (K*K) is then PyTorch's.
    if constexpr ((g.out_height - 1) * S + K <= g.in_height + 2 * P && (g.out_width - 1) * S + K <= g.in_width + 2 * P)
      pooling_forward<In>(ctx, a, g, dnnl::algorithm::pooling_avg_include_padding);
    else
      forward_on_cpu<L, In>(ctx, a, [](cpu::Context<T>& c, const ForwardArgs<T>& args) {
        Evaluator<L, Cpu, T>::template forward<In>(c, args);
      });
  }
};

template <std::size_t OH, std::size_t OW, class T>
struct Kernel<AdaptiveAvgPool<OH, OW>, T> {
  using L = AdaptiveAvgPool<OH, OW>;
  static constexpr bool has_backward = false;
  template <ShapeType In>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    if constexpr (In::height % OH == 0 && In::width % OW == 0 && In::height / OH == In::width / OW) {
      constexpr std::size_t k = In::height / OH;
      constexpr PoolGeometry g{In::channels, k, k, 0, In::height, In::width, OH, OW};
      pooling_forward<In>(ctx, a, g, dnnl::algorithm::pooling_avg_exclude_padding);
    } else {
      forward_on_cpu<L, In>(ctx, a, [](cpu::Context<T>& c, const ForwardArgs<T>& args) {
        Evaluator<L, Cpu, T>::template forward<In>(c, args);
      });
    }
  }
};

}  // namespace onednn
}  // namespace ctnn
