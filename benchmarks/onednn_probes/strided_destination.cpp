// oneDNN 3.x (tools/install-deps's): can a convolution or a matmul write its output into a channel
// slice of a wider NHWC tensor (what a free Concat needs) at the speed of a dense output?
// inception3a-sized problems at batch 16: a 3x3 convolution 192 -> 128 channels at 28x28, and a
// 1x1 as a matmul [16*28*28, 192] x [192, 128], ReLU fused; the slice is channels 64..191 of 256.
// Prints the implementation oneDNN picks and GFLOP/s (best of 3 rounds; 1 run where it is the
// reference implementation, which is slow), f32 and bf16.
//   built and run by benchmarks/onednn_probes/run

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <unordered_map>

#include <oneapi/dnnl/dnnl.hpp>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {
engine eng(engine::kind::cpu, 0);
stream s(eng);

template <class Primitive, class Pd>
void time(const char* what, const Pd& pd, const std::unordered_map<int, memory>& args, double flops) {
  Primitive primitive(pd);
  const bool reference = std::string(pd.impl_info_str()).find("ref") != std::string::npos;
  const int runs = reference ? 1 : 20, rounds = reference ? 1 : 3;
  primitive.execute(s, args);
  s.wait();
  double best = 1e30;
  for (int round = 0; round < rounds; ++round) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < runs; ++i) primitive.execute(s, args);
    s.wait();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / runs);
  }
  std::printf("  %-26s %-34s %8.1f GFLOP/s\n", what, pd.impl_info_str(), flops / best / 1e9);
}
}  // namespace

int main() {
  setvbuf(stdout, nullptr, _IONBF, 0);
  const memory::dim N = 16, IC = 192, OC = 128, H = 28, total = 256, offset = 64, M = N * H * H;
  post_ops relu;
  relu.append_eltwise(algorithm::eltwise_relu, 0, 0);
  primitive_attr attr;
  attr.set_post_ops(relu);
  for (const dt type : {dt::f32, dt::bf16}) {
    std::printf("%s:\n", type == dt::f32 ? "f32" : "bf16");
    const memory::desc wide({N, total, H, H}, type, tag::nhwc);
    const memory wide_buffer(wide, eng);
    for (const bool slice : {false, true}) {
      const memory::desc out = slice ? wide.submemory_desc({N, OC, H, H}, {0, offset, 0, 0})
                                     : memory::desc({N, OC, H, H}, type, tag::nhwc);
      const convolution_forward::primitive_desc pd(
          eng, prop_kind::forward_inference, algorithm::convolution_direct, memory::desc({N, IC, H, H}, type, tag::nhwc),
          memory::desc({OC, IC, 3, 3}, type, tag::any), memory::desc({OC}, dt::f32, tag::x), out, {1, 1}, {1, 1},
          {1, 1}, attr);
      const memory y = slice ? memory(out, eng, wide_buffer.get_data_handle()) : memory(out, eng);
      time<convolution_forward>(slice ? "3x3 conv, channel slice" : "3x3 conv, dense", pd,
                                {{DNNL_ARG_SRC, memory(pd.src_desc(), eng)},
                                 {DNNL_ARG_WEIGHTS, memory(pd.weights_desc(), eng)},
                                 {DNNL_ARG_BIAS, memory(pd.bias_desc(), eng)},
                                 {DNNL_ARG_DST, y}},
                                2.0 * N * OC * H * H * IC * 9);
    }
    const memory::desc wide_rows({M, total}, type, tag::ab);
    const memory wide_rows_buffer(wide_rows, eng);
    for (const bool slice : {false, true}) {
      const memory::desc out = slice ? memory::desc({M, OC}, type, memory::dims{total, 1}) : memory::desc({M, OC}, type, tag::ab);
      const matmul::primitive_desc pd(eng, memory::desc({M, IC}, type, tag::ab), memory::desc({IC, OC}, type, tag::any),
                                      memory::desc({1, OC}, dt::f32, tag::ab), out, attr);
      const memory y = slice ? memory(out, eng, wide_rows_buffer.get_data_handle()) : memory(out, eng);
      time<matmul>(slice ? "1x1 as matmul, slice" : "1x1 as matmul, dense", pd,
                   {{DNNL_ARG_SRC, memory(pd.src_desc(), eng)},
                    {DNNL_ARG_WEIGHTS, memory(pd.weights_desc(), eng)},
                    {DNNL_ARG_BIAS, memory(pd.bias_desc(), eng)},
                    {DNNL_ARG_DST, y}},
                   2.0 * M * IC * OC);
    }
  }
}
