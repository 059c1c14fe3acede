// Probe: the weight gradient of a 3x3 stride-1 convolution as Winograd's F(4x4, 3x3), against
// oneDNN 3.2's backward-weights primitive (jit:avx512_core in f32), on FashionInception's and
// GoogLeNet's 3x3 layers. Where this probe began; include/ctnn/onednn/winograd.hpp now runs it
// in training (winograd_weight_gradient), and the probe times that file's kernels in a loop of
// its own, outside a model.
//
// The forward's tile product Y = A^T [U (.) V] A is bilinear in U and V, so per tile
//   dU = (A dY A^T) (.) V          dY: the tile's 4x4 block of dy, V = B^T d B as forward
//   dW = sum over tiles of G^T dU G  (G^T . G is the transpose of the weight transform)
// and over all tiles and channels, for each of the 36 positions xi of the 6x6 block,
//   M[xi] (In x Out) = V[xi]^T (In x tiles) * W[xi] (tiles x Out),  W = A dY A^T per tile
//   dW[out][in][tap] = sum over xi of coefficient[xi][tap] * M[xi][in][out]
// Each thread transforms chunks of tiles and adds their products into its own M (oneDNN's matmul
// with a sum post-op, reading V transposed); the threads' M are then added and transformed back.
//
//   benchmarks/onednn_probes/run   (builds it against include/ and build-deps/onednn)

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <omp.h>

#include <ctnn/onednn.hpp>

using namespace ctnn::onednn;
using dnnl::memory;

namespace {

struct Layer {
  const char* name;
  std::size_t images, in, out, size;
};

template <class F>
double milliseconds(F&& run) {
  run();
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    const auto start = std::chrono::steady_clock::now();
    int passes = 0;
    while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 0.3) run(), ++passes;
    best = std::min(best, 1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / passes);
  }
  return best;
}

void probe(const Layer& layer, int threads) {
  const WinogradShape s{layer.images, layer.in, layer.out, layer.size, layer.size};
  std::mt19937 generator(1);
  std::uniform_real_distribution<float> uniform(-1, 1);
  std::vector<float> x(s.images * s.height * s.width * s.in_channels), dy(s.images * s.height * s.width * s.out_channels);
  for (float& v : x) v = uniform(generator);
  for (float& v : dy) v = uniform(generator);
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const auto dim = [](std::size_t v) { return static_cast<memory::dim>(v); };
  const memory::desc src({dim(s.images), dim(s.in_channels), dim(s.height), dim(s.width)}, memory::data_type::f32, memory::format_tag::nhwc);
  const memory::desc dst({dim(s.images), dim(s.out_channels), dim(s.height), dim(s.width)}, memory::data_type::f32, memory::format_tag::nhwc);
  const memory::desc any({dim(s.out_channels), dim(s.in_channels), 3, 3}, memory::data_type::f32, memory::format_tag::any);
  const memory::desc oihw({dim(s.out_channels), dim(s.in_channels), 3, 3}, memory::data_type::f32, memory::format_tag::oihw);
  const auto hint = dnnl::convolution_forward::primitive_desc(engine, dnnl::prop_kind::forward_training,
                                                              dnnl::algorithm::convolution_direct, src, any, dst, {1, 1}, {1, 1}, {1, 1});
  const auto pd = dnnl::convolution_backward_weights::primitive_desc(engine, dnnl::algorithm::convolution_direct, src, any, dst,
                                                                     {1, 1}, {1, 1}, {1, 1}, hint);
  std::vector<float> expected(s.out_channels * s.in_channels * 9), dw(expected.size());
  memory x_memory(src, engine, x.data()), dy_memory(dst, engine, dy.data()), dw_memory(pd.diff_weights_desc(), engine),
      expected_memory(oihw, engine, expected.data());
  const dnnl::convolution_backward_weights direct(pd);
  const auto run_direct = [&] {
    direct.execute(stream, {{DNNL_ARG_SRC, x_memory}, {DNNL_ARG_DIFF_DST, dy_memory}, {DNNL_ARG_DIFF_WEIGHTS, dw_memory}});
    stream.wait();
  };

  // Chunks as the forward's.
  const auto count_threads = static_cast<std::size_t>(threads), tiles = s.tiles();
  const auto [chunk, chunks] = winograd_chunks(s, count_threads);
  const std::size_t cp = s.in_padded(), kp = s.out_padded();
  const memory::desc v_transposed({36, dim(cp), dim(chunk)}, memory::data_type::f32, memory::dims{dim(chunk * cp), 1, dim(cp)});
  const memory::desc w_md({36, dim(chunk), dim(kp)}, memory::data_type::f32, memory::format_tag::abc);
  const memory::desc m_md({36, dim(cp), dim(kp)}, memory::data_type::f32, memory::format_tag::abc);
  // A sum post-op, and each thread's own scratchpad: the threads run the product at once.
  const auto product_pd = dnnl::matmul::primitive_desc(engine, v_transposed, w_md, m_md, adding());
  const dnnl::matmul product(product_pd);
  std::vector<std::vector<float>> v(count_threads, std::vector<float>(36 * chunk * cp)),
      w(count_threads, std::vector<float>(36 * chunk * kp));
  // The threads' M one after another (transform_back's layout), and their bias sums.
  const std::size_t m_floats = (36 * cp * kp + 15) / 16 * 16;
  std::vector<float> m(count_threads * m_floats), bias_sums(count_threads * kp);
  std::vector<std::vector<std::byte>> scratchpads(count_threads, std::vector<std::byte>(product_pd.scratchpad_desc().get_size() + 64));
  std::vector<dnnl::stream> streams;
  for (int t = 0; t < threads; ++t) streams.emplace_back(engine);
  const auto run_winograd = [&] {
#pragma omp parallel num_threads(threads)
    {
      const auto t = static_cast<std::size_t>(omp_get_thread_num());
      float* mine = m.data() + t * m_floats;
      std::fill_n(mine, m_floats, 0.f);
      std::fill_n(bias_sums.data() + t * kp, kp, 0.f);
      memory v_memory(v_transposed, engine, v[t].data()), w_memory(w_md, engine, w[t].data()), m_memory(m_md, engine, mine),
          scratchpad(product_pd.scratchpad_desc(), engine, scratchpads[t].data());
      for (std::size_t c = t; c < chunks; c += count_threads) {
        const std::size_t first = c * chunk, count = std::min(chunk, tiles - first);
        winograd_kernels::transform_inputs(s, x.data(), first, count, chunk, v[t].data());
        winograd_kernels::transform_gradients(s, dy.data(), first, count, chunk, w[t].data(), bias_sums.data() + t * kp);
        for (int xi = 0; count < chunk && xi < 36; ++xi)  // the last chunk's rows beyond its tiles add nothing
          std::fill_n(w[t].data() + (xi * chunk + count) * kp, (chunk - count) * kp, 0.f);
        product.execute(streams[t], {{DNNL_ARG_SRC, v_memory}, {DNNL_ARG_WEIGHTS, w_memory}, {DNNL_ARG_DST, m_memory},
                                     {DNNL_ARG_SCRATCHPAD, scratchpad}});
        streams[t].wait();
      }
#pragma omp barrier
#pragma omp for schedule(static)
      for (std::size_t c = 0; c < s.in_channels; ++c)
        winograd_kernels::transform_back(s, reinterpret_cast<const std::byte*>(m.data()), m_floats * sizeof(float),
                                         count_threads, c, false, dw.data());
    }
  };

  run_direct();
  dnnl::reorder(dw_memory, expected_memory).execute(stream, dw_memory, expected_memory);
  stream.wait();
  run_winograd();
  double difference = 0, largest = 0;
  for (std::size_t i = 0; i < dw.size(); ++i) {
    difference = std::max(difference, static_cast<double>(std::abs(dw[i] - expected[i])));
    largest = std::max(largest, static_cast<double>(std::abs(expected[i])));
  }
  const double direct_ms = milliseconds(run_direct), winograd_ms = milliseconds(run_winograd);
  std::printf("  %-44s %-18s %7.3f ms   Winograd (matmul %s) %7.3f ms   %.2fx   difference / largest %.2e\n", layer.name,
              pd.impl_info_str(), direct_ms, product_pd.impl_info_str(), winograd_ms, direct_ms / winograd_ms,
              difference / largest);
}

}  // namespace

int main() {
  const int threads = omp_get_max_threads();
  std::printf("weight gradient of a 3x3 convolution, f32, %d threads, best of 5 rounds\n", threads);
  for (const Layer& layer : {Layer{"FashionInception 3a.branch2 64->96 7x7, 128", 128, 64, 96, 7},
                             Layer{"FashionInception 3b.branch2 96->144 7x7, 128", 128, 96, 144, 7},
                             Layer{"GoogLeNet inception3a 96->128 28x28, 16", 16, 96, 128, 28},
                             Layer{"GoogLeNet inception4a 96->208 14x14, 16", 16, 96, 208, 14}})
    probe(layer, threads);
}
