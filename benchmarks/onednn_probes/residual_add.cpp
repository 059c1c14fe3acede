// oneDNN 3.x (tools/install-deps's): would a ResNet block's sum and ReLU cost less inside the
// convolution that ends its body? ResNet-50's last 1x1 convolution of a bottleneck at each
// stage, batch 16, NHWC, 2 threads, f32 and bf16, milliseconds (best of 20):
//   plain + add + relu   the convolution, then a binary add of the shortcut and a ReLU, each
//                        oneDNN's primitive in place (what ctnn runs, its add ctnn's own copy)
//   binary + relu        the shortcut added as a binary post-op, the ReLU a post-op after it
//   copy + sum + relu    the shortcut copied into the output first, then a sum post-op
//   built and run by benchmarks/onednn_probes/run

#include <cstdio>
#include <unordered_map>

#include <oneapi/dnnl/dnnl.hpp>

#include "best_of.hpp"   // best_ms

using namespace dnnl;
using tag = memory::format_tag;

namespace {
engine eng(engine::kind::cpu, 0);
stream s(eng);

enum class PostOps { none, binary_relu, sum_relu };

struct Layer {
  memory::dim in, out, size;
};

void probe(const Layer& l, memory::data_type type) {
  const memory::desc src({16, l.in, l.size, l.size}, type, tag::nhwc), dst({16, l.out, l.size, l.size}, type, tag::nhwc),
      weights({l.out, l.in, 1, 1}, type, tag::any), bias({l.out}, memory::data_type::f32, tag::a);
  memory x(src, eng), y(dst, eng), shortcut(dst, eng), b(bias, eng);
  const auto convolution = [&](PostOps kind, const char** implementation) {
    primitive_attr attr;
    post_ops ops;
    if (kind == PostOps::binary_relu) ops.append_binary(algorithm::binary_add, dst);
    if (kind == PostOps::sum_relu) ops.append_sum(1.f);
    if (kind != PostOps::none) ops.append_eltwise(algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(ops);
    const convolution_forward::primitive_desc pd(eng, prop_kind::forward_inference, algorithm::convolution_direct, src,
                                                 weights, bias, dst, {1, 1}, {0, 0}, {0, 0}, attr);
    if (implementation) *implementation = pd.impl_info_str();
    memory w(pd.weights_desc(), eng);
    const convolution_forward primitive(pd);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, y}};
    if (kind == PostOps::binary_relu) args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1] = shortcut;
    return best_ms(20, [&] { primitive.execute(s, args); s.wait(); });
  };
  const char* implementation = "";
  const double plain = convolution(PostOps::none, &implementation);
  const double binary_relu = convolution(PostOps::binary_relu, nullptr);
  const double sum_relu = convolution(PostOps::sum_relu, nullptr);
  const binary add(binary::primitive_desc(eng, algorithm::binary_add, dst, dst, dst));
  const eltwise_forward relu(eltwise_forward::primitive_desc(eng, prop_kind::forward_inference, algorithm::eltwise_relu, dst, dst, 0.f, 0.f));
  const reorder copy(shortcut, y);
  const double add_ms = best_ms(20, [&] { add.execute(s, {{DNNL_ARG_SRC_0, y}, {DNNL_ARG_SRC_1, shortcut}, {DNNL_ARG_DST, y}}); s.wait(); });
  const double relu_ms = best_ms(20, [&] { relu.execute(s, {{DNNL_ARG_SRC, y}, {DNNL_ARG_DST, y}}); s.wait(); });
  const double copy_ms = best_ms(20, [&] { copy.execute(s, shortcut, y); s.wait(); });
  std::printf("%-4s %4ld -> %4ld %2ldx%-2ld %-28s plain + add + relu %6.2f   binary + relu %6.2f   copy + sum + relu %6.2f\n",
              type == memory::data_type::f32 ? "f32" : "bf16", static_cast<long>(l.in), static_cast<long>(l.out),
              static_cast<long>(l.size), static_cast<long>(l.size), implementation, plain + add_ms + relu_ms, binary_relu,
              copy_ms + sum_relu);
}
}  // namespace

int main() {
  for (memory::data_type type : {memory::data_type::f32, memory::data_type::bf16})
    for (const Layer& l : {Layer{64, 256, 56}, Layer{128, 512, 28}, Layer{256, 1024, 14}, Layer{512, 2048, 7}})
      probe(l, type);
}
