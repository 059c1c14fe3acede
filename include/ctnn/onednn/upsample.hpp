#pragma once
// Upsample on the oneDNN device: resampling_forward, nearest or linear, with the factor on both
// axes; backward: resampling_backward (dy summed back onto the pixels each output read).
//
// oneDNN's conventions are PyTorch's for an integer factor F with align_corners=False: output o
// reads input (o + 1/2) / F - 1/2, linear between its two neighbours clamped to the edges, and
// nearest rounds that position, which for an integer F is floor(o / F), PyTorch's nearest.

#include <cstddef>   // std::size_t
#include <vector>    // std::vector

#include <dnnl.hpp>   // dnnl::resampling_forward, dnnl::resampling_backward

#include <ctnn/layers/upsample.hpp>   // ctnn::Upsample, ctnn::UpsampleMode
#include <ctnn/onednn/fallback.hpp>   // ctnn::onednn::Kernel
#include <ctnn/onednn/operand.hpp>    // unary_forward, unary_backward

namespace ctnn::onednn {

template <std::size_t Factor, UpsampleMode M, class T>
struct Kernel<Upsample<Factor, M>, T> {
  using L = Upsample<Factor, M>;
  static constexpr bool has_backward = true;
  static constexpr dnnl::algorithm algorithm =
      M == UpsampleMode::bilinear ? dnnl::algorithm::resampling_linear : dnnl::algorithm::resampling_nearest;
  static std::vector<float> factors() { return {static_cast<float>(Factor), static_cast<float>(Factor)}; }

  static dnnl::resampling_forward::primitive_desc forward_description(const Context<T>& ctx, const memory::desc& src,
                                                                      const memory::desc& dst) {
    return checked("resampling", [&] {
      return dnnl::resampling_forward::primitive_desc(ctx.engine, forward_kind(ctx), algorithm, factors(), src, dst,
                                                      user_scratchpad());
    });
  }
  template <ShapeType In>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    using Out = output_shape_t<L, In>;
    unary_forward<dnnl::resampling_forward>(ctx, a, dims_of<In>, dims_of<Out>, Rank::four,
                                            [&](const memory::desc& src, const memory::desc& dst) {
                                              return forward_description(ctx, src, dst);
                                            });
  }
  template <ShapeType In>
  static void backward(Context<T>& ctx, const BackwardArgs<T>& a) {
    using Out = output_shape_t<L, In>;
    unary_backward<dnnl::resampling_backward>(
        ctx, a, dims_of<In>, dims_of<Out>, Rank::four, Kept::nothing,
        [&](const memory::desc& diff_src, const memory::desc& diff_dst, const memory::desc&) {
          const auto hint = forward_description(ctx, diff_src, diff_dst);
          return checked("resampling backward", [&] {
            return dnnl::resampling_backward::primitive_desc(ctx.engine, algorithm, factors(), diff_src, diff_dst,
                                                             hint, user_scratchpad());
          });
        });
  }
};

}  // namespace ctnn::onednn
