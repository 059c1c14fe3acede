// oneDNN 3.x (tools/install-deps's): MobileNetV2's expansion 1x1 convolution and the depthwise 3x3
// after it, in evaluation (batch norms folded, ReLU6 after each), two ways, batch 16:
//   separate   the 1x1 writes the expanded tensor (6x the block's channels) to memory, the
//              depthwise convolution reads it back (what ctnn does)
//   fused      one primitive: the depthwise convolution as a post-op of the 1x1 (post_ops::append_dw),
//              which keeps the expanded rows in cache
// For each of MobileNetV2's 16 such pairs (features.2 to features.17): the implementations oneDNN
// picks and milliseconds (best of 20); then the sums, f32 and bf16. A fused pair that runs
// oneDNN's reference fusion (ref_fused_convolution) is counted as separate.
//   built and run by benchmarks/onednn_probes/run

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <oneapi/dnnl/dnnl.hpp>

#include "best_of.hpp"   // best_ms

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {
engine eng(engine::kind::cpu, 0);

// features.<block>: In -> Hidden (1x1) at Size x Size, then depthwise 3x3 of stride Stride.
struct Pair {
  int block;
  memory::dim in, hidden, size, stride;
};
constexpr Pair pairs[] = {{2, 16, 96, 112, 2},  {3, 24, 144, 56, 1},  {4, 24, 144, 56, 2},  {5, 32, 192, 28, 1},
                          {6, 32, 192, 28, 1},  {7, 32, 192, 28, 2},  {8, 64, 384, 14, 1},  {9, 64, 384, 14, 1},
                          {10, 64, 384, 14, 1}, {11, 64, 384, 14, 1}, {12, 96, 576, 14, 1}, {13, 96, 576, 14, 1},
                          {14, 96, 576, 14, 2}, {15, 160, 960, 7, 1}, {16, 160, 960, 7, 1}, {17, 160, 960, 7, 1}};

primitive_attr relu6_then(bool depthwise, dt type, memory::dim stride) {
  post_ops ops;
  ops.append_eltwise(algorithm::eltwise_clip_v2_use_dst_for_bwd, 0.f, 6.f);  // ctnn's ReLU6
  if (depthwise) {
    ops.append_dw(type, dt::f32, type, 3, stride, 1);
    ops.append_eltwise(algorithm::eltwise_clip_v2_use_dst_for_bwd, 0.f, 6.f);  // ctnn's ReLU6
  }
  primitive_attr attr;
  attr.set_post_ops(ops);
  return attr;
}

void probe(dt type) {
  const char* name = type == dt::f32 ? "f32" : "bf16";
  constexpr memory::dim n = 16;
  double separate_total = 0, fused_total = 0, best_total = 0;
  for (const Pair& p : pairs) {
    const memory::dim out = p.size / p.stride;
    stream s(eng);
    const memory::desc x({n, p.in, p.size, p.size}, type, tag::nhwc), mid({n, p.hidden, p.size, p.size}, type, tag::nhwc);
    const memory::desc y({n, p.hidden, out, out}, type, tag::nhwc), bias({p.hidden}, dt::f32, tag::a);
    const memory::desc pointwise_weights({p.hidden, p.in, 1, 1}, type, tag::any);
    const memory::desc depthwise_weights({p.hidden, 1, 1, 3, 3}, type, tag::any);
    const convolution_forward::primitive_desc pointwise_pd(eng, prop_kind::forward_inference,
                                                           algorithm::convolution_direct, x, pointwise_weights, bias,
                                                           mid, {1, 1}, {0, 0}, {0, 0}, relu6_then(false, type, 1));
    const convolution_forward::primitive_desc depthwise_pd(
        eng, prop_kind::forward_inference, algorithm::convolution_direct, mid, depthwise_weights, bias, y,
        {p.stride, p.stride}, {1, 1}, {1, 1}, relu6_then(false, type, 1));
    const convolution_forward::primitive_desc fused_pd(eng, prop_kind::forward_inference,
                                                       algorithm::convolution_direct, x, pointwise_weights, bias, mid,
                                                       {1, 1}, {0, 0}, {0, 0}, relu6_then(true, type, p.stride));
    memory x_mem(x, eng), mid_mem(mid, eng), y_mem(y, eng), bias_mem(bias, eng);
    memory pointwise_mem(pointwise_pd.weights_desc(), eng), depthwise_mem(depthwise_pd.weights_desc(), eng);
    const convolution_forward pointwise(pointwise_pd), depthwise(depthwise_pd), fused(fused_pd);
    memory fused_weights(fused_pd.weights_desc(), eng);
    memory fused_depthwise(fused_pd.query_md(query::exec_arg_md, DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS), eng);
    memory fused_y(fused_pd.dst_desc(), eng);
    const double separate_ms = best_ms(20, [&] {
      pointwise.execute(s, {{DNNL_ARG_SRC, x_mem}, {DNNL_ARG_WEIGHTS, pointwise_mem}, {DNNL_ARG_BIAS, bias_mem},
                            {DNNL_ARG_DST, mid_mem}});
      depthwise.execute(s, {{DNNL_ARG_SRC, mid_mem}, {DNNL_ARG_WEIGHTS, depthwise_mem}, {DNNL_ARG_BIAS, bias_mem},
                            {DNNL_ARG_DST, y_mem}});
      s.wait();
    });
    const double fused_ms = best_ms(20, [&] {
      fused.execute(s, {{DNNL_ARG_SRC, x_mem},
                        {DNNL_ARG_WEIGHTS, fused_weights},
                        {DNNL_ARG_BIAS, bias_mem},
                        {DNNL_ARG_DST, fused_y},
                        {DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS, fused_depthwise},
                        {DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS, bias_mem}});
      s.wait();
    });
    const bool reference = std::strstr(fused_pd.impl_info_str(), "ref_fused") != nullptr;
    separate_total += separate_ms;
    fused_total += fused_ms;
    best_total += reference ? separate_ms : std::min(separate_ms, fused_ms);
    std::printf("%-4s features.%-2d %3ld->%-3ld %3ldx%-3ld /%ld  separate %7.3f ms (%s + %s)  fused %7.3f ms (%s)  %.2fx\n",
                name, p.block, static_cast<long>(p.in), static_cast<long>(p.hidden), static_cast<long>(p.size),
                static_cast<long>(p.size), static_cast<long>(p.stride), separate_ms, pointwise_pd.impl_info_str(),
                depthwise_pd.impl_info_str(), fused_ms, fused_pd.impl_info_str(), separate_ms / fused_ms);
  }
  std::printf("%-4s all 16 pairs: separate %.3f ms, fused %.3f ms, fused where its kernel is jitted and faster %.3f ms\n",
              name, separate_total, fused_total, best_total);
}
}  // namespace

int main() {
  std::printf("MobileNetV2's expansion 1x1 + depthwise 3x3 (ReLU6 after each), batch 16\n");
  probe(dt::f32);
  probe(dt::bf16);
}
