#pragma once
// Pooling on the oneDNN device.
//
//   MaxPool<K, S, P, ceil>   pooling_forward, max: PyTorch's ceil mode is extra padding on the
//                            right and bottom, which max pooling never picks
//   AvgPool                  average including padding, where no window reaches past the padding
//                            (ceil mode may; then the Eigen evaluator, whose divisor is PyTorch's)
//   AdaptiveAvgPool<OH, OW>  average over equal windows where OH and OW divide the input, as
//                            GoogLeNet's global pooling; otherwise the Eigen evaluator
// Backward: pooling_backward, max pooling through the workspace (the positions of the maxima)
// its training forward kept in `saved`.

#include <algorithm>   // std::max
#include <cstddef>     // std::size_t
#include <memory>      // std::make_unique
#include <optional>    // std::optional
#include <utility>     // std::move

#include <dnnl.hpp>   // dnnl::pooling_forward

#include <ctnn/layers/pooling.hpp>     // ctnn::MaxPool, ctnn::AvgPool, ctnn::AdaptiveAvgPool, PoolGeometry
#include <ctnn/onednn/fallback.hpp>    // ctnn::onednn::Kernel, eigen_forward, eigen_backward
#include <ctnn/onednn/operand.hpp>     // Operand

namespace ctnn {
namespace onednn {

// One pooling pass, forward (from src to dst) or backward (from diff_dst to diff_src); max
// pooling's workspace is bound to the layer's `saved`.
struct PoolPlan : Plan {
  Operand from, to;
  memory workspace, scratchpad;
  dnnl::primitive primitive;

  // The last of planning: the 4-D descriptors the primitive was made with.
  template <class T>
  void make(Context<T>& ctx, const memory::desc& from_md, const memory::desc& to_md,
            const memory::desc& scratchpad_md, dnnl::primitive made) {
    from.mem = unbound(from_md, ctx.engine);
    to.mem = unbound(to_md, ctx.engine);
    scratchpad = scratchpad_for(ctx, scratchpad_md);
    primitive = std::move(made);
  }
  template <class T>
  void run(Context<T>& ctx, const T* from_data, T* to_data, const T* saved, int from_argument, int to_argument) {
    from.load(ctx, from_data);
    to.bind_output(ctx, to_data);
    bind(workspace, saved);
    bind(scratchpad, ctx.scratchpad());
    ctx.run(primitive, {{from_argument, &from.mem},
                        {to_argument, &to.mem},
                        {DNNL_ARG_WORKSPACE, &workspace},
                        {DNNL_ARG_SCRATCHPAD, &scratchpad}});
    to.store(ctx, to_data);
  }
};

// Right padding that gives `out` windows of `kernel` at `stride` over `extent` + left padding.
constexpr std::size_t right_padding(std::size_t extent, std::size_t kernel, std::size_t stride, std::size_t left,
                                    std::size_t out) {
  const std::size_t covered = (out - 1) * stride + kernel;
  return covered > extent + left ? covered - extent - left : 0;
}

// What every pooling primitive of one layer is made from: 4-D tensors (also for a 1x1 output),
// the window, and PyTorch's ceil mode as extra padding on the right and bottom.
struct PoolDescription {
  memory::dims kernel, strides, left, right;
  Dims in, out;
  dnnl::algorithm algorithm;

  PoolDescription(const PoolGeometry& g, dnnl::algorithm a)
      : kernel{dim(g.kernel), dim(g.kernel)},
        strides{dim(g.stride), dim(g.stride)},
        left{dim(g.padding), dim(g.padding)},
        right{dim(right_padding(g.in_height, g.kernel, g.stride, g.padding, g.out_height)),
              dim(right_padding(g.in_width, g.kernel, g.stride, g.padding, g.out_width))},
        in{g.channels, g.in_height, g.in_width},
        out{g.channels, g.out_height, g.out_width},
        algorithm(a) {}
  static memory::dim dim(std::size_t v) { return static_cast<memory::dim>(v); }

  template <class T>
  dnnl::pooling_forward::primitive_desc forward(const Context<T>& ctx, const memory::desc& src,
                                                const memory::desc& dst) const {
    return checked("pooling", [&] {
      return dnnl::pooling_forward::primitive_desc(ctx.engine, forward_kind(ctx), algorithm, src, dst, strides, kernel,
                                                   memory::dims{0, 0}, left, right, user_scratchpad());
    });
  }
};

// int8: max pooling of a u8 hand-off (quantisation.hpp) is a u8 hand-off with the same scale.
template <class T>
std::optional<Quantisation> max_pooling_hand_off(Context<T>& ctx, const ForwardArgs<T>& a, dnnl::algorithm algorithm) {
  if (!ctx.planning_int8()) return std::nullopt;
  const std::size_t producer = ctx.hand_offs.new_producer();
  const auto input = ctx.hand_offs.find(a.x.data);
  if (algorithm != dnnl::algorithm::pooling_max || !input || ctx.is_plain(a.y.data) || !ctx.hand_offs.may_quantise(producer))
    return std::nullopt;
  ctx.wrote_quantised(a.y.data, input->quantisation, producer);
  return input->quantisation;
}

// Training's max pooling keeps the positions of the maxima (oneDNN's workspace) in `saved`.
template <class L, ShapeType In, class T>
void pooling_forward(Context<T>& ctx, const ForwardArgs<T>& a, const PoolGeometry& g, dnnl::algorithm algorithm) {
  auto& p = ctx.template plan<PoolPlan>(Direction::forward, [&] {
    auto plan = std::make_unique<PoolPlan>();
    const PoolDescription d(g, algorithm);
    if (const auto q = max_pooling_hand_off(ctx, a, algorithm)) {
      plan->from = handed_off_operand(ctx, d.in, *q);
      plan->to = handed_off_operand(ctx, d.out, *q);  // the same scale out
    } else {
      plan->from = input_operand(ctx, a.x, d.in);
      plan->to = output_operand(ctx, a.y, d.out);
    }
    const memory::desc src = four_d(ctx, plan->from.md, d.in), dst = four_d(ctx, plan->to.md, d.out);
    const auto pd = d.forward(ctx, src, dst);
    if (ctx.mode == Mode::train && algorithm == dnnl::algorithm::pooling_max) {
      const std::size_t room = ctx.batch * L::template saved_elements<In> * sizeof(T);
      if (pd.workspace_desc().get_size() > room)
        throw Error("oneDNN pooling", "its workspace (" + std::to_string(pd.workspace_desc().get_size()) +
                                          " bytes) exceeds the layer's saved elements (" + std::to_string(room) + " bytes)");
      plan->workspace = unbound(pd.workspace_desc(), ctx.engine);
    }
    plan->make(ctx, src, dst, pd.scratchpad_desc(), dnnl::pooling_forward(pd));
    return plan;
  });
  if (!ctx.planning) p.run(ctx, a.x.data, a.y.data, a.saved, DNNL_ARG_SRC, DNNL_ARG_DST);
}

// dx (+)= the pooling's input gradient of dy (max: through the saved workspace).
template <ShapeType In, class T>
void pooling_backward(Context<T>& ctx, const BackwardArgs<T>& a, const PoolGeometry& g, dnnl::algorithm algorithm) {
  if (!a.dx) return;
  auto& p = ctx.template plan<PoolPlan>(Direction::backward, [&] {
    auto plan = std::make_unique<PoolPlan>();
    const PoolDescription d(g, algorithm);
    plan->from = input_operand(ctx, a.dy, d.out, 2);
    plan->to = gradient_operand(ctx, a.dx, d.in, a.accumulate_dx);
    const memory::desc diff_src = four_d(ctx, plan->to.md, d.in), diff_dst = four_d(ctx, plan->from.md, d.out);
    const auto hint = d.forward(ctx, diff_src, diff_dst);
    const auto pd = checked("pooling backward", [&] {
      return dnnl::pooling_backward::primitive_desc(ctx.engine, algorithm, diff_src, diff_dst, d.strides, d.kernel,
                                                    memory::dims{0, 0}, d.left, d.right, hint, user_scratchpad());
    });
    if (algorithm == dnnl::algorithm::pooling_max) plan->workspace = unbound(hint.workspace_desc(), ctx.engine);
    plan->make(ctx, diff_dst, diff_src, pd.scratchpad_desc(), dnnl::pooling_backward(pd));
    return plan;
  });
  if (!ctx.planning) p.run(ctx, a.dy.data, a.dx.data, a.saved, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC);
}

template <std::size_t K, std::size_t S, std::size_t P, Rounding R, class T>
struct Kernel<MaxPool<K, S, P, R>, T> {
  using L = MaxPool<K, S, P, R>;
  static constexpr bool has_backward = true;
  template <ShapeType In>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    pooling_forward<L, In>(ctx, a, L::template geometry<In>, dnnl::algorithm::pooling_max);
  }
  template <ShapeType In>
  static void backward(Context<T>& ctx, const BackwardArgs<T>& a) {
    pooling_backward<In>(ctx, a, L::template geometry<In>, dnnl::algorithm::pooling_max);
  }
};

// Every window within [-P, extent + P): oneDNN's divisor (K*K) is then PyTorch's.
template <class L, ShapeType In>
constexpr bool avg_pool_on_onednn() {
  constexpr PoolGeometry g = L::template geometry<In>;
  return (g.out_height - 1) * g.stride + g.kernel <= g.in_height + 2 * g.padding &&
         (g.out_width - 1) * g.stride + g.kernel <= g.in_width + 2 * g.padding;
}

template <std::size_t K, std::size_t S, std::size_t P, Rounding R, class T>
struct Kernel<AvgPool<K, S, P, R>, T> {
  using L = AvgPool<K, S, P, R>;
  static constexpr bool has_backward = true;
  template <ShapeType In>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    if constexpr (avg_pool_on_onednn<L, In>())
      pooling_forward<L, In>(ctx, a, L::template geometry<In>, dnnl::algorithm::pooling_avg_include_padding);
    else
      eigen_forward<L, In>(ctx, a);
  }
  template <ShapeType In>
  static void backward(Context<T>& ctx, const BackwardArgs<T>& a) {
    if constexpr (avg_pool_on_onednn<L, In>())
      pooling_backward<In>(ctx, a, L::template geometry<In>, dnnl::algorithm::pooling_avg_include_padding);
    else
      eigen_backward<L, In>(ctx, a);
  }
};

// Equal windows where OH and OW divide the input (GoogLeNet's global pooling).
template <std::size_t OH, std::size_t OW, ShapeType In>
constexpr bool adaptive_pool_on_onednn() {
  return In::height % OH == 0 && In::width % OW == 0 && In::height / OH == In::width / OW;
}
template <std::size_t OH, std::size_t OW, ShapeType In>
constexpr PoolGeometry adaptive_pool_geometry() {
  constexpr std::size_t k = In::height / OH;
  return {In::channels, k, k, 0, In::height, In::width, OH, OW};
}

template <std::size_t OH, std::size_t OW, class T>
struct Kernel<AdaptiveAvgPool<OH, OW>, T> {
  using L = AdaptiveAvgPool<OH, OW>;
  static constexpr bool has_backward = true;
  template <ShapeType In>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    if constexpr (adaptive_pool_on_onednn<OH, OW, In>())
      pooling_forward<L, In>(ctx, a, adaptive_pool_geometry<OH, OW, In>(), dnnl::algorithm::pooling_avg_exclude_padding);
    else
      eigen_forward<L, In>(ctx, a);
  }
  template <ShapeType In>
  static void backward(Context<T>& ctx, const BackwardArgs<T>& a) {
    if constexpr (adaptive_pool_on_onednn<OH, OW, In>())
      pooling_backward<In>(ctx, a, adaptive_pool_geometry<OH, OW, In>(), dnnl::algorithm::pooling_avg_exclude_padding);
    else
      eigen_backward<L, In>(ctx, a);
  }
};

}  // namespace onednn
}  // namespace ctnn
