#pragma once
// Softmax on the oneDNN device: softmax_forward (accurate: the maximum subtracted first, as
// PyTorch) over the channels, dimension 1 of both the [N, C] features and the N x C x H x W images
// (oneDNN's logical order, whatever the layout); backward: softmax_backward from y and dy.

#include <dnnl.hpp>   // dnnl::softmax_forward, dnnl::softmax_backward

#include <ctnn/layers/softmax.hpp>    // ctnn::Softmax
#include <ctnn/onednn/fallback.hpp>   // ctnn::onednn::Kernel
#include <ctnn/onednn/operand.hpp>    // unary_forward, unary_backward

namespace ctnn::onednn {

template <class T>
dnnl::softmax_forward::primitive_desc softmax_forward(const Context<T>& ctx, const memory::desc& src,
                                                      const memory::desc& dst) {
  return checked("softmax", [&] {
    return dnnl::softmax_forward::primitive_desc(ctx.engine, forward_kind(ctx), dnnl::algorithm::softmax_accurate, src,
                                                 dst, 1, user_scratchpad());
  });
}

template <class T>
struct Kernel<Softmax, T> {
  static constexpr bool has_backward = true;
  template <ShapeType In>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    unary_forward<dnnl::softmax_forward>(ctx, a, dims_of<In>, dims_of<In>, Rank::as_laid_out,
                                         [&](const memory::desc& src, const memory::desc& dst) {
                                           return softmax_forward(ctx, src, dst);
                                         });
  }
  // dx (+)= y * (dy - sum over the channels of dy * y).
  template <ShapeType In>
  static void backward(Context<T>& ctx, const BackwardArgs<T>& a) {
    unary_backward<dnnl::softmax_backward>(
        ctx, a, dims_of<In>, dims_of<In>, Rank::as_laid_out, Kept::output,
        [&](const memory::desc& diff_src, const memory::desc& diff_dst, const memory::desc& dst) {
          const auto hint = softmax_forward(ctx, dst, dst);
          return checked("softmax backward", [&] {
            return dnnl::softmax_backward::primitive_desc(ctx.engine, dnnl::algorithm::softmax_accurate, diff_src,
                                                          diff_dst, dst, 1, hint, user_scratchpad());
          });
        });
  }
};

}  // namespace ctnn::onednn
