// oneDNN 2.x (Debian libdnnl-dev) only: its f32 Winograd convolution against the direct one on
// inception3a's 3x3 layer (96 -> 128 channels at 28x28), batch 16, `format any`. Prints each
// implementation's rate in GFLOP/s of direct-convolution work (best of 5 rounds of 20 runs), and
// how far Winograd's output is from the direct one's (max difference / largest output) on random
// inputs after a ReLU and weights of +-0.05. oneDNN 3.x has no f32 Winograd on x86.
//   built and run by benchmarks/onednn_probes/run

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

int main() {
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  const memory::dim N = 16, IC = 96, OC = 128, H = 28;
  const memory::dims src{N, IC, H, H}, wei{OC, IC, 3, 3}, dst{N, OC, H, H};
  std::mt19937 generator(1);
  std::uniform_real_distribution<float> uniform(-1, 1);
  std::vector<float> x(N * IC * H * H), w(OC * IC * 9);
  for (float& v : x) v = std::max(0.f, uniform(generator));
  for (float& v : w) v = 0.05f * uniform(generator);
  memory plain_x({src, dt::f32, tag::nchw}, eng, x.data()), plain_w({wei, dt::f32, tag::oihw}, eng, w.data());
  std::vector<float> outputs[2];
  int k = 0;
  for (const algorithm alg : {algorithm::convolution_direct, algorithm::convolution_winograd}) {
    const convolution_forward::primitive_desc pd(
        convolution_forward::desc(prop_kind::forward_inference, alg, memory::desc(src, dt::f32, tag::any),
                                  memory::desc(wei, dt::f32, tag::any), memory::desc(dst, dt::f32, tag::any), {1, 1},
                                  {1, 1}, {1, 1}),
        eng);
    memory x_any(pd.src_desc(), eng), w_any(pd.weights_desc(), eng), y_any(pd.dst_desc(), eng);
    reorder(plain_x, x_any).execute(s, plain_x, x_any);
    reorder(plain_w, w_any).execute(s, plain_w, w_any);
    convolution_forward conv(pd);
    const std::unordered_map<int, memory> args{{DNNL_ARG_SRC, x_any}, {DNNL_ARG_WEIGHTS, w_any}, {DNNL_ARG_DST, y_any}};
    for (int i = 0; i < 3; ++i) conv.execute(s, args);
    s.wait();
    double best = 1e30;
    for (int round = 0; round < 5; ++round) {
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < 20; ++i) conv.execute(s, args);
      s.wait();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 20);
    }
    const double flops = 2.0 * N * OC * H * H * IC * 9;
    std::printf("%-28s %7.1f GFLOP/s\n", pd.impl_info_str(), flops / best / 1e9);
    outputs[k].resize(N * OC * H * H);
    memory plain_y({dst, dt::f32, tag::nchw}, eng, outputs[k].data());
    reorder(y_any, plain_y).execute(s, y_any, plain_y);
    s.wait();
    ++k;
  }
  double difference = 0, largest = 0;
  for (std::size_t i = 0; i < outputs[0].size(); ++i) {
    difference = std::max(difference, static_cast<double>(std::fabs(outputs[0][i] - outputs[1][i])));
    largest = std::max(largest, static_cast<double>(std::fabs(outputs[0][i])));
  }
  std::printf("winograd against direct: max difference / largest output = %.3g\n", difference / largest);
}
