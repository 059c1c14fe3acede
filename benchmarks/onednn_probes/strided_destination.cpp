// oneDNN 3.x (tools/install-deps's): can a convolution or a matmul write its output into a channel
// slice of a wider tensor (what a free Concat needs) at the speed of a dense output?
// GoogLeNet-sized problems at batch 16, ReLU fused: a 3x3 convolution In -> Out channels at HxH and
// a 1x1 as a matmul [16*H*H, In] x [In, Out], writing Out of the concatenated output's channels
// (inception3a: 192 -> 128 at 28x28 into channels 64..191 of 256; also at 14x14 and 7x7).
// NHWC: a channel slice is strided at every pixel. Blocked nChw16c: a slice of whole 16-channel
// blocks is dense within each image, strided only from image to image, so the convolution is
// also tried on the whole batch into the slice and as one batch-1 primitive run per image.
// Prints the implementation oneDNN picks and GFLOP/s (best of 3 rounds; not timed where it is the
// reference implementation, which is 100-1000x slower), f32 and bf16.
//   built and run by benchmarks/onednn_probes/run

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {
engine eng(engine::kind::cpu, 0);
stream s(eng);

using Arguments = std::unordered_map<int, memory>;

// Times a pass: the primitive run once per entry of `pass` (one entry, or one per image).
template <class Primitive, class Pd>
void time(const char* what, const Pd& pd, const std::vector<Arguments>& pass, double flops) {
  const bool reference = std::string(pd.impl_info_str()).find("ref") != std::string::npos;
  if (reference) {  // oneDNN's reference code runs this size for minutes: its name says enough
    std::printf("  %-28s %-34s   (reference code, not timed)\n", what, pd.impl_info_str());
    return;
  }
  Primitive primitive(pd);
  const int runs = 20, rounds = 3;
  for (const Arguments& args : pass) primitive.execute(s, args);
  s.wait();
  double best = 1e30;
  for (int round = 0; round < rounds; ++round) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < runs; ++i)
      for (const Arguments& args : pass) primitive.execute(s, args);
    s.wait();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / runs);
  }
  std::printf("  %-28s %-34s %8.1f GFLOP/s\n", what, pd.impl_info_str(), flops / best / 1e9);
}
}  // namespace

struct Problem {
  const char* name;
  memory::dim in, out, size, total, offset;  // channels in and out, HxH, the output's channels, the slice's first
};

int main() {
  setvbuf(stdout, nullptr, _IONBF, 0);
  const Problem problems[] = {{"inception3a-sized: 192 -> 128 at 28x28, channels 64..191 of 256", 192, 128, 28, 256, 64},
                              {"inception4a-sized: 96 -> 208 at 14x14, channels 192..399 of 512", 96, 208, 14, 512, 192},
                              {"inception5b-sized: 192 -> 384 at 7x7, channels 384..767 of 1024", 192, 384, 7, 1024, 384}};
  post_ops relu;
  relu.append_eltwise(algorithm::eltwise_relu, 0, 0);
  primitive_attr attr;
  attr.set_post_ops(relu);
  for (const Problem& problem : problems) {
    for (const dt type : {dt::f32, dt::bf16}) {
      const memory::dim N = 16, IC = problem.in, OC = problem.out, H = problem.size, total = problem.total,
                        offset = problem.offset, M = N * H * H;
      std::printf("%s, %s:\n", problem.name, type == dt::f32 ? "f32" : "bf16");
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
                                  {{{DNNL_ARG_SRC, memory(pd.src_desc(), eng)},
                                   {DNNL_ARG_WEIGHTS, memory(pd.weights_desc(), eng)},
                                   {DNNL_ARG_BIAS, memory(pd.bias_desc(), eng)},
                                   {DNNL_ARG_DST, y}}},
                                  2.0 * N * OC * H * H * IC * 9);
      }
      // Blocked: the same convolution with nChw16c activations (weights `any`).
      const memory::desc wide_blocked({N, total, H, H}, type, tag::nChw16c);
      const memory wide_blocked_buffer(wide_blocked, eng);
      const memory blocked_input(memory::desc({N, IC, H, H}, type, tag::nChw16c), eng);
      for (const int variant : {0, 1, 2}) {  // dense, slice of the batch, per image into the slice
        const memory::dim images = variant == 2 ? 1 : N;
        // Per image, the slice is a dense batch-1 tensor at an offset: a plain desc and a pointer.
        const memory::desc out = variant == 1 ? wide_blocked.submemory_desc({N, OC, H, H}, {0, offset, 0, 0})
                                              : memory::desc({images, OC, H, H}, type, tag::nChw16c);
        const convolution_forward::primitive_desc pd(
            eng, prop_kind::forward_inference, algorithm::convolution_direct,
            memory::desc({images, IC, H, H}, type, tag::nChw16c), memory::desc({OC, IC, 3, 3}, type, tag::any),
            memory::desc({OC}, dt::f32, tag::x), out, {1, 1}, {1, 1}, {1, 1}, attr);
        const memory weights(pd.weights_desc(), eng), bias(pd.bias_desc(), eng);
        std::vector<Arguments> pass;
        if (variant < 2) {
          const memory y = variant == 0 ? memory(out, eng) : memory(out, eng, wide_blocked_buffer.get_data_handle());
          pass.push_back({{DNNL_ARG_SRC, blocked_input}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, y}});
        } else {
          const std::size_t value = type == dt::f32 ? 4 : 2;
          auto* input = static_cast<char*>(blocked_input.get_data_handle());
          auto* wide = static_cast<char*>(wide_blocked_buffer.get_data_handle());
          for (memory::dim n = 0; n < N; ++n)  // image n's input, and its channels offset.. of the wide output
            pass.push_back({{DNNL_ARG_SRC, memory(pd.src_desc(), eng, input + n * IC * H * H * value)},
                            {DNNL_ARG_WEIGHTS, weights},
                            {DNNL_ARG_BIAS, bias},
                            {DNNL_ARG_DST, memory(out, eng, wide + (n * total + offset) * H * H * value)}});
        }
        const char* what = variant == 0 ? "3x3 conv, nChw16c dense" : variant == 1 ? "3x3 conv, nChw16c slice" : "3x3 conv, nChw16c per image";
        time<convolution_forward>(what, pd, pass, 2.0 * N * OC * H * H * IC * 9);
      }
      const memory::desc wide_rows({M, total}, type, tag::ab);
      const memory wide_rows_buffer(wide_rows, eng);
      for (const bool slice : {false, true}) {
        const memory::desc out = slice ? memory::desc({M, OC}, type, memory::dims{total, 1}) : memory::desc({M, OC}, type, tag::ab);
        const matmul::primitive_desc pd(eng, memory::desc({M, IC}, type, tag::ab), memory::desc({IC, OC}, type, tag::any),
                                        memory::desc({1, OC}, dt::f32, tag::ab), out, attr);
        const memory y = slice ? memory(out, eng, wide_rows_buffer.get_data_handle()) : memory(out, eng);
        time<matmul>(slice ? "1x1 as matmul, slice" : "1x1 as matmul, dense", pd,
                     {{{DNNL_ARG_SRC, memory(pd.src_desc(), eng)},
                      {DNNL_ARG_WEIGHTS, memory(pd.weights_desc(), eng)},
                      {DNNL_ARG_BIAS, memory(pd.bias_desc(), eng)},
                      {DNNL_ARG_DST, y}}},
                     2.0 * M * IC * OC);
      }
    }
  }
}
