// Probe: the weight gradient of a 3x3 stride-1 convolution as Winograd's F(4x4, 3x3), against
// oneDNN 3.2's backward-weights primitive (jit:avx512_core in f32), on FashionInception's and
// GoogLeNet's 3x3 layers. A sketch for a next step of include/ctnn/onednn/winograd.hpp, not ctnn
// code: it reuses that file's input transform and weight coefficients.
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

// m = A o: four values to six (A: the transpose of the output transform's A^T).
CTNN_AVX512 void gradient_1d(const __m512* o, __m512* m) {
  const __m512 two = _mm512_set1_ps(2.f), four = _mm512_set1_ps(4.f);
  const __m512 s02 = _mm512_add_ps(o[0], o[2]), s13 = _mm512_add_ps(o[1], o[3]);
  const __m512 even = _mm512_fmadd_ps(four, o[2], o[0]);                     // o0 + 4 o2
  const __m512 odd = _mm512_mul_ps(two, _mm512_fmadd_ps(four, o[3], o[1]));  // 2 o1 + 8 o3
  m[0] = o[0];
  m[1] = _mm512_add_ps(s02, s13);
  m[2] = _mm512_sub_ps(s02, s13);
  m[3] = _mm512_add_ps(even, odd);
  m[4] = _mm512_sub_ps(even, odd);
  m[5] = o[3];
}

// W[xi][tile - first][Out padded] = (A dY A^T)[xi] for tiles [first, first + count) of NHWC dy
// (zero beyond the image).
CTNN_AVX512 void transform_gradients(const WinogradShape& s, const float* dy, std::size_t first, std::size_t count,
                                     std::size_t chunk, float* w) {
  const std::size_t kp = s.out_padded();
  for (std::size_t t = 0; t < count; ++t) {
    const auto [n, top, left, rows, columns] = s.tile(first + t);
    for (std::size_t k = 0; k < kp; k += 16) {
      const __mmask16 mask = lanes(k, s.out_channels);
      __m512 half[6][4];  // A dY
      for (std::size_t j = 0; j < 4; ++j) {
        __m512 column[4], transformed[6];
        for (std::size_t i = 0; i < 4; ++i)
          column[i] = i < rows && j < columns
                          ? _mm512_maskz_loadu_ps(mask, dy + ((n * s.height + top + i) * s.width + left + j) * s.out_channels + k)
                          : _mm512_setzero_ps();
        gradient_1d(column, transformed);
        for (int i = 0; i < 6; ++i) half[i][j] = transformed[i];
      }
      for (int i = 0; i < 6; ++i) {  // (A dY) A^T
        __m512 transformed[6];
        gradient_1d(half[i], transformed);
        for (int j = 0; j < 6; ++j) _mm512_storeu_ps(w + (static_cast<std::size_t>(i * 6 + j) * chunk + t) * kp + k, transformed[j]);
      }
    }
  }
}

// dW (OIHW) for input channel c from the threads' M: their sum, then the transposed weight transform.
CTNN_AVX512 void transform_back(const WinogradShape& s, const std::vector<std::vector<float>>& m, std::size_t c, float* dw) {
  const std::size_t cp = s.in_padded(), kp = s.out_padded();
  const __m512i stride = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                            _mm512_set1_epi32(static_cast<int>(s.in_channels * 9)));
  for (std::size_t k = 0; k < s.out_channels; k += 16) {
    const __mmask16 mask = lanes(k, s.out_channels);
    __m512 sum[36];
    for (int xi = 0; xi < 36; ++xi) {
      sum[xi] = _mm512_setzero_ps();
      for (const auto& mine : m) sum[xi] = _mm512_add_ps(sum[xi], _mm512_loadu_ps(mine.data() + (xi * cp + c) * kp + k));
    }
    for (int tap = 0; tap < 9; ++tap) {
      __m512 value = _mm512_setzero_ps();
      for (int xi = 0; xi < 36; ++xi)
        value = _mm512_fmadd_ps(_mm512_set1_ps(winograd_kernels::weight_coefficients.value[xi][tap]), sum[xi], value);
      _mm512_mask_i32scatter_ps(dw + (k * s.in_channels + c) * 9 + tap, mask, stride, value, 4);
    }
  }
}

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

  // Chunks of at most 64 tiles, as the forward's.
  const auto count_threads = static_cast<std::size_t>(threads), tiles = s.tiles();
  const std::size_t chunks_per_thread = (tiles + count_threads * 64 - 1) / (count_threads * 64);
  const std::size_t chunk = (tiles + count_threads * chunks_per_thread - 1) / (count_threads * chunks_per_thread);
  const std::size_t chunks = (tiles + chunk - 1) / chunk, cp = s.in_padded(), kp = s.out_padded();
  const memory::desc v_transposed({36, dim(cp), dim(chunk)}, memory::data_type::f32, memory::dims{dim(chunk * cp), 1, dim(cp)});
  const memory::desc w_md({36, dim(chunk), dim(kp)}, memory::data_type::f32, memory::format_tag::abc);
  const memory::desc m_md({36, dim(cp), dim(kp)}, memory::data_type::f32, memory::format_tag::abc);
  dnnl::primitive_attr adding;  // each thread's own scratchpad: the threads run it at once
  dnnl::post_ops ops;
  ops.append_sum(1.f);
  adding.set_post_ops(ops);
  adding.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const auto product_pd = dnnl::matmul::primitive_desc(engine, v_transposed, w_md, m_md, adding);
  const dnnl::matmul product(product_pd);
  std::vector<std::vector<float>> v(count_threads, std::vector<float>(36 * chunk * cp)),
      w(count_threads, std::vector<float>(36 * chunk * kp)), m(count_threads, std::vector<float>(36 * cp * kp));
  std::vector<std::vector<std::byte>> scratchpads(count_threads, std::vector<std::byte>(product_pd.scratchpad_desc().get_size() + 64));
  std::vector<dnnl::stream> streams;
  for (int t = 0; t < threads; ++t) streams.emplace_back(engine);
  const auto run_winograd = [&] {
#pragma omp parallel num_threads(threads)
    {
      const auto t = static_cast<std::size_t>(omp_get_thread_num());
      std::fill(m[t].begin(), m[t].end(), 0.f);
      memory v_memory(v_transposed, engine, v[t].data()), w_memory(w_md, engine, w[t].data()), m_memory(m_md, engine, m[t].data()),
          scratchpad(product_pd.scratchpad_desc(), engine, scratchpads[t].data());
      for (std::size_t c = t; c < chunks; c += count_threads) {
        const std::size_t first = c * chunk, count = std::min(chunk, tiles - first);
        winograd_kernels::transform_inputs(s, x.data(), first, count, chunk, v[t].data());
        transform_gradients(s, dy.data(), first, count, chunk, w[t].data());
        for (int xi = 0; count < chunk && xi < 36; ++xi)  // the last chunk's rows beyond its tiles add nothing
          std::fill_n(w[t].data() + (xi * chunk + count) * kp, (chunk - count) * kp, 0.f);
        product.execute(streams[t], {{DNNL_ARG_SRC, v_memory}, {DNNL_ARG_WEIGHTS, w_memory}, {DNNL_ARG_DST, m_memory},
                                     {DNNL_ARG_SCRATCHPAD, scratchpad}});
        streams[t].wait();
      }
#pragma omp barrier
#pragma omp for schedule(static)
      for (std::size_t c = 0; c < s.in_channels; ++c) transform_back(s, m, c, dw.data());
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
