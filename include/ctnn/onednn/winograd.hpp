#pragma once
// The f32 forward and data gradient of a 3x3 convolution of stride 1 and padding 1
// (Conv<In, Out, 3, 1, 1>, not grouped) as Winograd's F(4x4, 3x3), with oneDNN's matmul doing the
// products. (The data gradient is such a convolution too: of dy, with the weights turned by 180
// degrees. The weight gradient has its own products, at the end of this file.) oneDNN 3.x dropped
// its own Winograd; its direct convolution runs at this machine's FMA peak, so doing fewer
// multiplications is the one way to a faster f32 pass (docs/benchmarks.md: "f32 Winograd").
//
// Each 4x4 block of outputs (a tile) is computed from the 6x6 block of inputs around it:
//
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A        d: 6x6 inputs, g: 3x3 weights, (.) elementwise
//
// which over all channels is 36 matrix products, one per position xi of the 6x6 block:
//
//   M[xi] (tiles x Out) = V[xi] (tiles x In) * U[xi] (In x Out)
//   V[xi] = (B^T d B)[xi] per tile and input channel     (input transform)
//   U[xi] = (G g G^T)[xi] per input and output channel   (weight transform, when weights change)
//   y     = A^T M A per tile and output channel, + bias, then the fused activation
//
// 36 products of 16 outputs each stand for 16 * 9 multiply-adds: 4x fewer. The tiles are cut
// into chunks that each thread takes in turn: transform a chunk's inputs, multiply (oneDNN's
// matmul, single-threaded inside the parallel region), transform its outputs, all within the
// thread's part of the scratchpad, so V and M stay in the core's cache. The transforms are
// AVX-512 code over 16 channels at a time. The layer runs direct where oneDNN or the processor
// has no AVX-512, in bf16 and int8, where there are too few tiles per thread for the larger
// transformed weights (36 values per weight pair instead of 9) to pay off (7x7 images at batch
// 1), and with fewer than 32 channels in or out.
//
// Numerics: the transforms' constants (1/4, 1/6, 1/24, ...) round, so outputs differ from the
// direct convolution by 3e-6 to 8e-6 of the largest output on GoogLeNet's layers
// (tests/test_onednn.cpp checks 1e-4 on whole networks against PyTorch). Context::convolution_algorithm = direct turns it off.

#include <algorithm>   // std::min, std::max, std::fill_n
#include <cstddef>     // std::size_t, std::byte, std::ptrdiff_t
#include <cstdint>     // std::uint64_t
#include <memory>      // std::make_unique
#include <optional>    // std::optional
#include <tuple>       // std::tie
#include <utility>     // std::move, std::pair
#include <vector>      // std::vector

#include <omp.h>      // omp_get_thread_num

#include <dnnl.hpp>   // dnnl::matmul, dnnl::stream

#include <ctnn/evaluator.hpp>        // ctnn::ForwardArgs
#include <ctnn/onednn/avx512.hpp>    // CTNN_AVX512, avx512_kernels_supported, lanes
#include <ctnn/onednn/context.hpp>   // Context, Plan, bind, unbound
#include <ctnn/onednn/operand.hpp>   // Operand, EltwiseFunction, record_range

namespace ctnn::onednn {

// The shape of one Winograd convolution for a batch: N images of In x H x W to Out x H x W.
struct WinogradShape {
  std::size_t images = 0, in_channels = 0, out_channels = 0, height = 0, width = 0;
  std::size_t tile_rows() const { return (height + 3) / 4; }
  std::size_t tile_columns() const { return (width + 3) / 4; }
  std::size_t tiles() const { return images * tile_rows() * tile_columns(); }
  // Channels rounded up to the 16 of an AVX-512 register (the products see zeros beyond).
  std::size_t in_padded() const { return (in_channels + 15) / 16 * 16; }
  std::size_t out_padded() const { return (out_channels + 15) / 16 * 16; }

  // Output tile `index` (images one after another, each row by row): its image, its 4x4 block
  // of outputs from (top, left), and how many of those rows and columns lie inside the image.
  struct Tile {
    std::size_t image, top, left, rows, columns;
  };
  Tile tile(std::size_t index) const {
    const std::size_t per_image = tile_rows() * tile_columns(), r = index % per_image;
    const std::size_t top = r / tile_columns() * 4, left = r % tile_columns() * 4;
    return {index / per_image, top, left, std::min<std::size_t>(4, height - top), std::min<std::size_t>(4, width - left)};
  }
};

// The activation the output transform applies: none, ReLU (LeakyReLU: `alpha` is its slope below
// 0) or a clip to [alpha, beta] (ReLU6); other activations keep the direct convolution.
struct WinogradActivation {
  enum class Kind { none, relu, clip } kind = Kind::none;
  float alpha = 0, beta = 0;
  static std::optional<WinogradActivation> of(EltwiseFunction f) {
    using dnnl::algorithm;
    switch (f.algorithm) {
      case algorithm::undef: return WinogradActivation{};
      case algorithm::eltwise_relu:
      case algorithm::eltwise_relu_use_dst_for_bwd: return WinogradActivation{Kind::relu, f.alpha, 0};
      case algorithm::eltwise_clip_v2:
      case algorithm::eltwise_clip_v2_use_dst_for_bwd: return WinogradActivation{Kind::clip, f.alpha, f.beta};
      default: return std::nullopt;
    }
  }
};

// Which weights a Winograd convolution multiplies by:
//   forward        the layer's, OIHW [Out][In][3][3]
//   backward_data  dx is the correlation of dy (padded by 1) with the layer's weights turned by
//                  180 degrees and In and Out swapped: the same convolution with Out channels in
//                  and In out
enum class WinogradWeights { forward, backward_data };

#if CTNN_ONEDNN_X86
namespace winograd_kernels {
// r = B^T d for six vectors d (a column or a row of the 6x6 block).
CTNN_AVX512 inline void input_1d(const __m512* d, __m512* r) {
  const __m512 two = _mm512_set1_ps(2.f), four = _mm512_set1_ps(4.f), five = _mm512_set1_ps(5.f);
  r[0] = _mm512_add_ps(_mm512_fnmadd_ps(five, d[2], _mm512_mul_ps(four, d[0])), d[4]);  // 4d0 - 5d2 + d4
  const __m512 d3_plus_d4 = _mm512_add_ps(d[3], d[4]), d4_minus_d3 = _mm512_sub_ps(d[4], d[3]);
  r[1] = _mm512_fnmadd_ps(four, _mm512_add_ps(d[1], d[2]), d3_plus_d4);   // -4d1 - 4d2 + d3 + d4
  r[2] = _mm512_fmadd_ps(four, _mm512_sub_ps(d[1], d[2]), d4_minus_d3);   //  4d1 - 4d2 - d3 + d4
  const __m512 d4_minus_d2 = _mm512_sub_ps(d[4], d[2]), twice = _mm512_mul_ps(two, _mm512_sub_ps(d[3], d[1]));
  r[3] = _mm512_add_ps(d4_minus_d2, twice);                                // -2d1 - d2 + 2d3 + d4
  r[4] = _mm512_sub_ps(d4_minus_d2, twice);                                //  2d1 - d2 - 2d3 + d4
  r[5] = _mm512_add_ps(_mm512_fnmadd_ps(five, d[3], _mm512_mul_ps(four, d[1])), d[5]);  // 4d1 - 5d3 + d5
}
// o = A^T m: six vectors to four.
CTNN_AVX512 inline void output_1d(const __m512* m, __m512* o) {
  const __m512 two = _mm512_set1_ps(2.f), four = _mm512_set1_ps(4.f), eight = _mm512_set1_ps(8.f);
  const __m512 s12 = _mm512_add_ps(m[1], m[2]), d12 = _mm512_sub_ps(m[1], m[2]);
  const __m512 s34 = _mm512_add_ps(m[3], m[4]), d34 = _mm512_sub_ps(m[3], m[4]);
  o[0] = _mm512_add_ps(_mm512_add_ps(m[0], s12), s34);               // m0 + m1 + m2 + m3 + m4
  o[1] = _mm512_fmadd_ps(two, d34, d12);                             // m1 - m2 + 2m3 - 2m4
  o[2] = _mm512_fmadd_ps(four, s34, s12);                            // m1 + m2 + 4m3 + 4m4
  o[3] = _mm512_add_ps(_mm512_fmadd_ps(eight, d34, d12), m[5]);     // m1 - m2 + 8m3 - 8m4 + m5
}

// (G g G^T)[xi] = sum over t of coefficient[xi][t] g[t], for the 3x3 weights g in row-major
// order: coefficient[6i + j][3a + b] = G[i][a] G[j][b], with
//   G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1].
struct WeightCoefficients {
  float value[36][9];
  constexpr WeightCoefficients() : value{} {
    constexpr double G[6][3] = {{1.0 / 4, 0, 0},         {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
    for (int i = 0; i < 6; ++i)
      for (int j = 0; j < 6; ++j)
        for (int a = 0; a < 3; ++a)
          for (int b = 0; b < 3; ++b) value[i * 6 + j][a * 3 + b] = static_cast<float>(G[i][a] * G[j][b]);
  }
};
inline constexpr WeightCoefficients weight_coefficients{};

// The transformed weights U[36][In][Out] (channels padded) of the Winograd convolution `s` from
// the layer's OIHW f32 weights (in training, every step). A thread takes an input channel, whose
// rows of U are contiguous over the output channels, 16 of them to a register.
CTNN_AVX512 inline void transform_weights(const WinogradShape& s, const float* oihw, WinogradWeights which, float* u) {
  const std::size_t cp = s.in_padded(), kp = s.out_padded();
  const auto in_count = static_cast<std::ptrdiff_t>(s.in_channels);
#pragma omp parallel for schedule(static)
  for (std::ptrdiff_t c_signed = 0; c_signed < in_count; ++c_signed) {
    const auto c = static_cast<std::size_t>(c_signed);
    for (std::size_t k0 = 0; k0 < s.out_channels; k0 += 16) {
      const std::size_t count = std::min<std::size_t>(16, s.out_channels - k0);
      alignas(64) float g[9][16] = {};  // g[t][k - k0]
      for (std::size_t k = 0; k < count; ++k) {
        if (which == WinogradWeights::forward) {
          const float* w = oihw + ((k0 + k) * s.in_channels + c) * 9;
          for (int t = 0; t < 9; ++t) g[t][k] = w[t];
        } else {  // the layer's weight [c][k], turned by 180 degrees
          const float* w = oihw + (c * s.out_channels + k0 + k) * 9;
          for (int t = 0; t < 9; ++t) g[t][k] = w[8 - t];
        }
      }
      __m512 column[9];
      for (int t = 0; t < 9; ++t) column[t] = _mm512_load_ps(g[t]);
      const __mmask16 mask = lanes(k0, s.out_channels);
      for (int xi = 0; xi < 36; ++xi) {
        __m512 sum = _mm512_mul_ps(_mm512_set1_ps(weight_coefficients.value[xi][0]), column[0]);
        for (int t = 1; t < 9; ++t) sum = _mm512_fmadd_ps(_mm512_set1_ps(weight_coefficients.value[xi][t]), column[t], sum);
        _mm512_mask_storeu_ps(u + (static_cast<std::size_t>(xi) * cp + c) * kp + k0, mask, sum);
      }
    }
  }
}

// V[xi][tile - first][In padded] for tiles [first, first + count), from NHWC x (zero outside
// the image: the padding of 1).
CTNN_AVX512 inline void transform_inputs(const WinogradShape& s, const float* x, std::size_t first, std::size_t count,
                                         std::size_t chunk, float* v) {
  const std::size_t cp = s.in_padded();
  for (std::size_t t = 0; t < count; ++t) {
    const WinogradShape::Tile tile = s.tile(first + t);
    const std::size_t n = tile.image;
    // The input tile is the output tile's 6x6 neighbourhood, one row and column above and left.
    const auto top = static_cast<std::ptrdiff_t>(tile.top) - 1, left = static_cast<std::ptrdiff_t>(tile.left) - 1;
    for (std::size_t c = 0; c < cp; c += 16) {
      const __mmask16 mask = lanes(c, s.in_channels);
      __m512 d[6][6];
      for (int i = 0; i < 6; ++i) {
        const std::ptrdiff_t y = top + i;
        for (int j = 0; j < 6; ++j) {
          const std::ptrdiff_t xx = left + j;
          if (y < 0 || xx < 0 || y >= static_cast<std::ptrdiff_t>(s.height) || xx >= static_cast<std::ptrdiff_t>(s.width)) {
            d[i][j] = _mm512_setzero_ps();
          } else {
            const std::size_t pixel = (n * s.height + static_cast<std::size_t>(y)) * s.width + static_cast<std::size_t>(xx);
            d[i][j] = _mm512_maskz_loadu_ps(mask, x + pixel * s.in_channels + c);
          }
        }
      }
      __m512 columns[6][6];  // B^T d
      for (int j = 0; j < 6; ++j) {
        __m512 column[6], transformed[6];
        for (int i = 0; i < 6; ++i) column[i] = d[i][j];
        input_1d(column, transformed);
        for (int i = 0; i < 6; ++i) columns[i][j] = transformed[i];
      }
      for (int i = 0; i < 6; ++i) {  // (B^T d) B
        __m512 transformed[6];
        input_1d(columns[i], transformed);
        for (int j = 0; j < 6; ++j)
          _mm512_storeu_ps(v + (static_cast<std::size_t>(i * 6 + j) * chunk + t) * cp + c, transformed[j]);
      }
    }
  }
}

// y (NHWC) for tiles [first, first + count) from M[xi][tile - first][Out padded], + bias, then
// the activation; the tiles' rows and columns beyond the image are not written.
CTNN_AVX512 inline void transform_outputs(const WinogradShape& s, const float* m, const float* bias,
                                          WinogradActivation activation, std::size_t first, std::size_t count,
                                          std::size_t chunk, float* y) {
  const std::size_t kp = s.out_padded();
  const __m512 zero = _mm512_setzero_ps(), alpha = _mm512_set1_ps(activation.alpha),
               beta = _mm512_set1_ps(activation.beta);
  for (std::size_t t = 0; t < count; ++t) {
    const auto [n, top, left, rows, columns] = s.tile(first + t);
    for (std::size_t k = 0; k < kp; k += 16) {
      const __mmask16 mask = lanes(k, s.out_channels);
      __m512 half[4][6];  // A^T M
      for (int j = 0; j < 6; ++j) {
        __m512 column[6], transformed[4];
        for (int i = 0; i < 6; ++i)
          column[i] = _mm512_loadu_ps(m + (static_cast<std::size_t>(i * 6 + j) * chunk + t) * kp + k);
        output_1d(column, transformed);
        for (int i = 0; i < 4; ++i) half[i][j] = transformed[i];
      }
      const __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + k) : zero;
      for (std::size_t i = 0; i < rows; ++i) {
        __m512 out[4];  // (A^T M) A
        output_1d(half[i], out);
        for (std::size_t j = 0; j < columns; ++j) {
          __m512 value = _mm512_add_ps(out[j], b);
          // NaN stays NaN: max and min return their second operand where either is NaN.
          if (activation.kind == WinogradActivation::Kind::relu && activation.alpha == 0) {
            value = _mm512_max_ps(zero, value);
          } else if (activation.kind == WinogradActivation::Kind::relu) {  // LeakyReLU
            const __mmask16 negative = _mm512_cmp_ps_mask(value, zero, _CMP_LT_OQ);
            value = _mm512_mask_mul_ps(value, negative, value, alpha);
          } else if (activation.kind == WinogradActivation::Kind::clip) {
            value = _mm512_min_ps(beta, _mm512_max_ps(alpha, value));
          }
          const std::size_t pixel = (n * s.height + top + i) * s.width + left + j;
          _mm512_mask_storeu_ps(y + pixel * s.out_channels + k, mask, value);
        }
      }
    }
  }
}

// m = A o for four vectors o (a column or a row of a 4x4 block of dy): the transpose of output_1d.
CTNN_AVX512 inline void gradient_1d(const __m512* o, __m512* m) {
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
// (zero beyond the image), and each output channel's sum of dy over those tiles added to
// `bias_sum` (Out padded; the bias gradient).
CTNN_AVX512 inline void transform_gradients(const WinogradShape& s, const float* dy, std::size_t first, std::size_t count,
                                            std::size_t chunk, float* w, float* bias_sum) {
  const std::size_t kp = s.out_padded();
  for (std::size_t t = 0; t < count; ++t) {
    const auto [n, top, left, rows, columns] = s.tile(first + t);
    for (std::size_t k = 0; k < kp; k += 16) {
      const __mmask16 mask = lanes(k, s.out_channels);
      __m512 half[6][4];  // A dY
      __m512 sum = _mm512_loadu_ps(bias_sum + k);
      for (std::size_t j = 0; j < 4; ++j) {
        __m512 column[4], transformed[6];
        for (std::size_t i = 0; i < 4; ++i) {
          column[i] = i < rows && j < columns
                          ? _mm512_maskz_loadu_ps(mask, dy + ((n * s.height + top + i) * s.width + left + j) * s.out_channels + k)
                          : _mm512_setzero_ps();
          sum = _mm512_add_ps(sum, column[i]);
        }
        gradient_1d(column, transformed);
        for (int i = 0; i < 6; ++i) half[i][j] = transformed[i];
      }
      _mm512_storeu_ps(bias_sum + k, sum);
      for (int i = 0; i < 6; ++i) {  // (A dY) A^T
        __m512 transformed[6];
        gradient_1d(half[i], transformed);
        for (int j = 0; j < 6; ++j)
          _mm512_storeu_ps(w + (static_cast<std::size_t>(i * 6 + j) * chunk + t) * kp + k, transformed[j]);
      }
    }
  }
}

// The weight gradient dW (OIHW [Out][In][3][3]) of input channel c: the threads' M[36][In
// padded][Out padded] added, then the weight transform's transpose, dW[k][c][tap] = sum over xi
// of coefficient[xi][tap] M[xi][c][k]; written, or added to what dW holds.
// Thread t's M is at m_first + t * thread_bytes.
CTNN_AVX512 inline void transform_back(const WinogradShape& s, const std::byte* m_first, std::size_t thread_bytes,
                                       std::size_t threads, std::size_t c, bool accumulate, float* dw) {
  const std::size_t cp = s.in_padded(), kp = s.out_padded();
  // Output channel k + lane lies lane * In * 9 values after output channel k.
  const __m512i stride = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                            _mm512_set1_epi32(static_cast<int>(s.in_channels * 9)));
  for (std::size_t k = 0; k < s.out_channels; k += 16) {
    const __mmask16 mask = lanes(k, s.out_channels);
    __m512 sum[36];
    for (std::size_t xi = 0; xi < 36; ++xi) {
      sum[xi] = _mm512_setzero_ps();
      for (std::size_t t = 0; t < threads; ++t) {
        const auto* m = reinterpret_cast<const float*>(m_first + t * thread_bytes);
        sum[xi] = _mm512_add_ps(sum[xi], _mm512_loadu_ps(m + (xi * cp + c) * kp + k));
      }
    }
    for (int tap = 0; tap < 9; ++tap) {
      __m512 value = _mm512_setzero_ps();
      for (int xi = 0; xi < 36; ++xi)
        value = _mm512_fmadd_ps(_mm512_set1_ps(weight_coefficients.value[xi][tap]), sum[xi], value);
      float* at = dw + (k * s.in_channels + c) * 9 + static_cast<std::size_t>(tap);
      if (accumulate) value = _mm512_add_ps(value, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, stride, at, 4));
      _mm512_mask_i32scatter_ps(at, mask, stride, value, 4);
    }
  }
}
}  // namespace winograd_kernels
#endif

// Whether this process can run the Winograd kernels: AVX-512 on the processor and in oneDNN's
// chosen instruction set (ONEDNN_MAX_CPU_ISA=AVX2 turns both off).
inline bool winograd_supported() { return avx512_kernels_supported(); }

// How the tiles of `s` are cut for `threads` threads: tiles per chunk (the products' rows) and
// chunks. At most 64 tiles a chunk, and as many chunks for each thread: ceil(784 / 128) = 7
// chunks of 56 tiles each for 2 threads and 784 tiles (inception3a, batch 16).
inline std::pair<std::size_t, std::size_t> winograd_chunks(const WinogradShape& s, std::size_t threads) {
  const std::size_t chunks_per_thread = (s.tiles() + threads * 64 - 1) / (threads * 64);
  const std::size_t chunk = (s.tiles() + threads * chunks_per_thread - 1) / (threads * chunks_per_thread);
  return {chunk, (s.tiles() + chunk - 1) / chunk};
}

// The plan of one Winograd convolution for a batch and mode.
struct WinogradPlan : Plan {
  WinogradShape shape;
  WinogradActivation activation;
  WinogradWeights which = WinogradWeights::forward;
  Operand src, dst;
  std::size_t chunk = 0;          // tiles per chunk (the matmul's rows)
  std::size_t chunks = 0;
  std::size_t thread_bytes = 0;   // each thread's scratchpad: V, M, then the matmul's own
  std::size_t v_bytes = 0, m_bytes = 0;
  int threads = 1;
  std::size_t layer = 0;          // forward: among Conv and Linear (Context::input_ranges)
  dnnl::matmul product;
  memory u;                       // the transformed weights, its own buffer
  std::vector<dnnl::stream> streams;                   // one per thread
  std::vector<memory> v, m, weights, scratchpads;      // per thread, bound at each pass
  PackedFrom packed_from;                              // the parameters U was made from

  void refresh_weights(std::uint64_t parameter_version, const float* values) {
    if (packed_from.current(parameter_version, values)) return;
#if CTNN_ONEDNN_X86
    winograd_kernels::transform_weights(shape, values, which, static_cast<float*>(u.get_data_handle()));
#endif
    packed_from.record(parameter_version, values);
  }
};

// Makes a plan of `shape` reading `src` and writing `dst` (their operands made by the caller).
template <class T>
std::unique_ptr<WinogradPlan> winograd_plan(Context<T>& ctx, const WinogradShape& shape, WinogradWeights which,
                                            EltwiseFunction activation, Operand src, Operand dst) {
  auto plan = std::make_unique<WinogradPlan>();
  plan->shape = shape;
  plan->which = which;
  plan->activation = *WinogradActivation::of(activation);  // use_winograd checked it
  plan->src = std::move(src);
  plan->dst = std::move(dst);
  plan->threads = std::max(1, ctx.threads);
  const auto threads = static_cast<std::size_t>(plan->threads);
  std::tie(plan->chunk, plan->chunks) = winograd_chunks(shape, threads);
  const auto dim = [](std::size_t v) { return static_cast<memory::dim>(v); };
  const memory::dim cp = dim(shape.in_padded()), kp = dim(shape.out_padded()), rows = dim(plan->chunk);
  const memory::desc v_md({36, rows, cp}, memory::data_type::f32, memory::format_tag::abc);
  const memory::desc u_md({36, cp, kp}, memory::data_type::f32, memory::format_tag::abc);
  const memory::desc m_md({36, rows, kp}, memory::data_type::f32, memory::format_tag::abc);
  const auto pd = checked("Winograd's matmul", [&] {
    return dnnl::matmul::primitive_desc(ctx.engine, v_md, u_md, m_md, user_scratchpad());
  });
  plan->product = dnnl::matmul(pd);
  // U's padded channels stay zero: the products then add nothing from them.
  plan->u = checked("Winograd's weights", [&] { return memory(u_md, ctx.engine); });
  std::fill_n(static_cast<float*>(plan->u.get_data_handle()), u_md.get_size() / sizeof(float), 0.f);
  plan->v_bytes = Context<T>::round_up(v_md.get_size());
  plan->m_bytes = Context<T>::round_up(m_md.get_size());
  plan->thread_bytes = plan->v_bytes + plan->m_bytes + Context<T>::round_up(pd.scratchpad_desc().get_size());
  ctx.need_scratchpad_bytes(plan->thread_bytes * threads);
  for (std::size_t t = 0; t < threads; ++t) {
    plan->streams.emplace_back(ctx.engine);
    plan->v.push_back(unbound(v_md, ctx.engine));
    plan->m.push_back(unbound(m_md, ctx.engine));
    plan->weights.push_back(memory(u_md, ctx.engine, plan->u.get_data_handle()));
    plan->scratchpads.push_back(unbound(pd.scratchpad_desc(), ctx.engine));
  }
  return plan;
}

// Runs plan `p` from the input slot to the output slot with the layer's OIHW weights and bias
// (none: nullptr). Each thread transforms, multiplies and transforms back its chunks of tiles.
template <class T>
void winograd_run(Context<T>& ctx, WinogradPlan& p, const void* input, void* output, const float* weights,
                  const float* bias) {
  if (ctx.planning) return;
#if CTNN_ONEDNN_X86
  const WinogradShape& shape = p.shape;
  p.src.load(ctx, input);
  const auto* x = static_cast<const float*>(p.src.mem.get_data_handle());
  if (p.which == WinogradWeights::forward)
    record_range(ctx, ctx.input_ranges, p.layer, shape.in_channels * shape.height * shape.width, x);
  p.dst.bind_output(ctx, output);
  auto* y = static_cast<float*>(p.dst.mem.get_data_handle());
  p.refresh_weights(ctx.parameter_version, weights);
  auto* base = static_cast<std::byte*>(ctx.scratchpad());
  const std::size_t tiles = shape.tiles();
#pragma omp parallel num_threads(p.threads)
  {
    const auto thread = static_cast<std::size_t>(omp_get_thread_num());
    std::byte* mine = base + thread * p.thread_bytes;
    auto* v = reinterpret_cast<float*>(mine);
    auto* m = reinterpret_cast<float*>(mine + p.v_bytes);
    // Qualified: std::byte* arguments would find std::bind by argument-dependent lookup.
    onednn::bind(p.v[thread], v);
    onednn::bind(p.m[thread], m);
    onednn::bind(p.scratchpads[thread], mine + p.v_bytes + p.m_bytes);
    for (std::size_t c = thread; c < p.chunks; c += static_cast<std::size_t>(p.threads)) {
      const std::size_t first = c * p.chunk, count = std::min(p.chunk, tiles - first);
      winograd_kernels::transform_inputs(shape, x, first, count, p.chunk, v);
      ctx.run_on(p.streams[thread], p.product,
                 {{DNNL_ARG_SRC, &p.v[thread]},
                  {DNNL_ARG_WEIGHTS, &p.weights[thread]},
                  {DNNL_ARG_DST, &p.m[thread]},
                  {DNNL_ARG_SCRATCHPAD, &p.scratchpads[thread]}});
      winograd_kernels::transform_outputs(shape, m, bias, p.activation, first, count, p.chunk, y);
    }
  }
  if (p.which == WinogradWeights::forward)
    record_range(ctx, ctx.output_ranges, p.layer, shape.out_channels * shape.height * shape.width, y);
  p.dst.store(ctx, output);
#else
  (void)p, (void)input, (void)output, (void)weights, (void)bias;
  throw Error("oneDNN backend", "Winograd convolution needs an x86-64 processor");
#endif
}

// Whether layer L on In can run as Winograd at all (the geometry alone; ConvTranspose2d has none).
template <class L, ShapeType In>
constexpr bool winograd_geometry() {
  if constexpr (requires { L::template geometry<In>; }) {
    constexpr auto g = L::template geometry<In>;
    return g.kernel == 3 && g.stride == 1 && g.padding == 1 && g.groups == 1;
  } else {
    return false;
  }
}

// Fewer tiles per thread than this and the matmul's rows no longer pay for reading the
// transformed weights (measured: 7x7 images at batch 1 run 2x slower, 14x14 at batch 1 even).
inline constexpr std::size_t winograd_minimum_tiles_per_thread = 8;
// Fewer channels in or out than this and the transforms outweigh the products (measured at
// batch 128: 1 -> 24 channels at 28x28 6x slower than direct, 16 -> 32 at 7x7 even).
inline constexpr std::size_t winograd_minimum_channels = 32;

// Whether this pass's convolution of `shape` with `activation` runs as Winograd.
template <class T>
bool use_winograd(const Context<T>& ctx, const WinogradShape& shape, EltwiseFunction activation) {
  if (ctx.convolution_algorithm != ConvolutionAlgorithm::automatic || ctx.precision != Precision::f32 ||
      !WinogradActivation::of(activation) || !winograd_supported())
    return false;
  const auto threads = static_cast<std::size_t>(std::max(1, ctx.threads));
  return shape.in_channels >= winograd_minimum_channels && shape.out_channels >= winograd_minimum_channels &&
         (shape.tiles() + threads - 1) / threads >= winograd_minimum_tiles_per_thread;
}

// Layer L's shape on In for this pass where it runs as Winograd (with `activation` fused).
template <class L, ShapeType In, class T>
std::optional<WinogradShape> winograd_shape(const Context<T>& ctx, EltwiseFunction activation) {
  if constexpr (winograd_geometry<L, In>()) {
    constexpr auto g = L::template geometry<In>;
    const WinogradShape shape{ctx.batch, g.in_channels, g.out_channels, g.out_height, g.out_width};
    if (use_winograd(ctx, shape, activation)) return shape;
  }
  return std::nullopt;
}

// y = conv(x) (+ bias), then the fused activation.
template <class T>
void winograd_forward(Context<T>& ctx, const ForwardArgs<T>& a, const WinogradShape& shape, EltwiseFunction activation,
                      std::optional<std::size_t> bias_offset) {
  auto& p = ctx.template plan<WinogradPlan>(Direction::forward, [&] {
    const Dims in{shape.in_channels, shape.height, shape.width}, out{shape.out_channels, shape.height, shape.width};
    auto plan = winograd_plan(ctx, shape, WinogradWeights::forward, activation, input_operand(ctx, a.x, in),
                              output_operand(ctx, a.y, out));
    plan->layer = ctx.weighted_layers++;
    ++ctx.winograd_convolutions;
    return plan;
  });
  winograd_run(ctx, p, a.x.data, a.y.data, a.params.values, bias_offset ? a.params.values + *bias_offset : nullptr);
}

// dx (+)= the correlation of dy with the turned weights; `layer` is the layer's shape (In -> Out),
// the convolution's the other way round.
template <class T>
void winograd_backward_data(Context<T>& ctx, const BackwardArgs<T>& a, const WinogradShape& layer) {
  const WinogradShape shape{layer.images, layer.out_channels, layer.in_channels, layer.height, layer.width};
  auto& p = ctx.template plan<WinogradPlan>(Direction::backward, [&] {
    const Dims dy{layer.out_channels, layer.height, layer.width}, dx{layer.in_channels, layer.height, layer.width};
    ++ctx.winograd_convolutions;
    return winograd_plan(ctx, shape, WinogradWeights::backward_data, {}, input_operand(ctx, a.dy, dy, 2),
                         gradient_operand(ctx, a.dx, dx, a.accumulate_dx));
  });
  winograd_run(ctx, p, a.dy.data, a.dx.data, a.params.values, nullptr);
}

// ---- the weight gradient ------------------------------------------------------------------------
// The forward's tile product Y = A^T [U (.) V] A is bilinear in U and V, so per tile
//   dU = (A dY A^T) (.) V          dY: the tile's 4x4 block of dy
//   dW = sum over tiles of G^T dU G  (G^T . G: the transpose of the weight transform)
// and over all tiles and channels, for each position xi of the 6x6 block,
//   M[xi] (In x Out) = V[xi]^T (In x tiles) * W[xi] (tiles x Out),   W = A dY A^T per tile
// Each thread adds its chunks' products into its own M (oneDNN's matmul with a sum post-op,
// reading V transposed); the threads' M are then added and transformed back into OIHW. The bias
// gradient, the sum of dy, is taken on the way. Measured: docs/benchmarks.md ("The weight
// gradient as Winograd").
struct WinogradWeightGradientPlan : Plan {
  WinogradShape shape;
  Operand src, diff_dst;
  std::size_t chunk = 0, chunks = 0;
  // Each thread's part of the scratchpad: V, W, M, the bias sums, then the matmul's own.
  std::size_t v_bytes = 0, w_bytes = 0, m_bytes = 0, bias_bytes = 0, thread_bytes = 0;
  int threads = 1;
  dnnl::matmul product;
  std::vector<dnnl::stream> streams;               // one per thread
  std::vector<memory> v, w, m, scratchpads;        // per thread, bound at each pass
};

// Fewer tiles than this and the weight gradient stays oneDNN's primitive: each thread's M (36
// values per weight pair) is zeroed, added and transformed back whatever the batch (measured
// 1.1-2x faster from 256 tiles on; GoogLeNet's 7x7 layers at batch 16 have 64).
inline constexpr std::size_t winograd_weight_gradient_minimum_tiles = 256;

// Layer L's shape on In where its weight gradient runs as Winograd in this pass.
template <class L, ShapeType In, class T>
std::optional<WinogradShape> winograd_weight_gradient_shape(const Context<T>& ctx) {
  const auto shape = winograd_shape<L, In>(ctx, {});
  if (shape && shape->tiles() >= winograd_weight_gradient_minimum_tiles) return shape;
  return std::nullopt;
}

// dW (and db, where `bias_offset` says where it goes) into params.gradients, written or added
// (Context::accumulate_parameter_gradients), from x and dy.
template <class T>
void winograd_weight_gradient(Context<T>& ctx, const BackwardArgs<T>& a, const WinogradShape& shape,
                              std::optional<std::size_t> bias_offset) {
  auto& p = ctx.template plan<WinogradWeightGradientPlan>(Direction::backward, [&] {
    auto plan = std::make_unique<WinogradWeightGradientPlan>();
    plan->shape = shape;
    plan->src = input_operand(ctx, a.x, {shape.in_channels, shape.height, shape.width}, 0);
    plan->diff_dst = input_operand(ctx, a.dy, {shape.out_channels, shape.height, shape.width}, 2);
    plan->threads = std::max(1, ctx.threads);
    const auto threads = static_cast<std::size_t>(plan->threads);
    std::tie(plan->chunk, plan->chunks) = winograd_chunks(shape, threads);
    const auto dim = [](std::size_t v) { return static_cast<memory::dim>(v); };
    const memory::dim cp = dim(shape.in_padded()), kp = dim(shape.out_padded()), rows = dim(plan->chunk);
    // V lies [36][tile][In padded] (transform_inputs); the product reads it as [36][In][tile].
    const memory::desc v_transposed({36, cp, rows}, memory::data_type::f32, memory::dims{rows * cp, 1, cp});
    const memory::desc w_md({36, rows, kp}, memory::data_type::f32, memory::format_tag::abc);
    const memory::desc m_md({36, cp, kp}, memory::data_type::f32, memory::format_tag::abc);
    const auto pd = checked("Winograd's weight gradient matmul", [&] {
      return dnnl::matmul::primitive_desc(ctx.engine, v_transposed, w_md, m_md, adding());
    });
    plan->product = dnnl::matmul(pd);
    plan->v_bytes = Context<T>::round_up(static_cast<std::size_t>(36 * rows * cp) * sizeof(float));
    plan->w_bytes = Context<T>::round_up(w_md.get_size());
    plan->m_bytes = Context<T>::round_up(m_md.get_size());
    plan->bias_bytes = Context<T>::round_up(static_cast<std::size_t>(kp) * sizeof(float));
    plan->thread_bytes = plan->v_bytes + plan->w_bytes + plan->m_bytes + plan->bias_bytes +
                         Context<T>::round_up(pd.scratchpad_desc().get_size());
    ctx.need_scratchpad_bytes(plan->thread_bytes * threads);
    for (std::size_t t = 0; t < threads; ++t) {
      plan->streams.emplace_back(ctx.engine);
      plan->v.push_back(unbound(v_transposed, ctx.engine));
      plan->w.push_back(unbound(w_md, ctx.engine));
      plan->m.push_back(unbound(m_md, ctx.engine));
      plan->scratchpads.push_back(unbound(pd.scratchpad_desc(), ctx.engine));
    }
    ++ctx.winograd_weight_gradients;
    return plan;
  });
  if (ctx.planning) return;
#if CTNN_ONEDNN_X86
  p.src.load(ctx, a.x.data);
  p.diff_dst.load(ctx, a.dy.data);
  const auto* x = static_cast<const float*>(p.src.mem.get_data_handle());
  const auto* dy = static_cast<const float*>(p.diff_dst.mem.get_data_handle());
  float* dw = a.params.gradients;
  const bool accumulate = ctx.accumulate_parameter_gradients;
  const std::size_t tiles = shape.tiles(), cp = shape.in_padded(), kp = shape.out_padded();
  const auto threads = static_cast<std::size_t>(p.threads);
  auto* base = static_cast<std::byte*>(ctx.scratchpad());
  const std::size_t m_offset = p.v_bytes + p.w_bytes, bias_offset_bytes = m_offset + p.m_bytes;
#pragma omp parallel num_threads(p.threads)
  {
    const auto thread = static_cast<std::size_t>(omp_get_thread_num());
    std::byte* mine = base + thread * p.thread_bytes;
    auto* v = reinterpret_cast<float*>(mine);
    auto* w = reinterpret_cast<float*>(mine + p.v_bytes);
    auto* m = reinterpret_cast<float*>(mine + m_offset);
    auto* bias_sum = reinterpret_cast<float*>(mine + bias_offset_bytes);
    std::fill_n(m, 36 * cp * kp, 0.f);
    std::fill_n(bias_sum, kp, 0.f);
    onednn::bind(p.v[thread], v);
    onednn::bind(p.w[thread], w);
    onednn::bind(p.m[thread], m);
    onednn::bind(p.scratchpads[thread], mine + bias_offset_bytes + p.bias_bytes);
    for (std::size_t c = thread; c < p.chunks; c += threads) {
      const std::size_t first = c * p.chunk, count = std::min(p.chunk, tiles - first);
      winograd_kernels::transform_inputs(shape, x, first, count, p.chunk, v);
      winograd_kernels::transform_gradients(shape, dy, first, count, p.chunk, w, bias_sum);
      for (std::size_t xi = 0; count < p.chunk && xi < 36; ++xi) {  // the rows beyond the last tile add nothing
        std::fill_n(v + (xi * p.chunk + count) * cp, (p.chunk - count) * cp, 0.f);
        std::fill_n(w + (xi * p.chunk + count) * kp, (p.chunk - count) * kp, 0.f);
      }
      ctx.run_on(p.streams[thread], p.product,
                 {{DNNL_ARG_SRC, &p.v[thread]},
                  {DNNL_ARG_WEIGHTS, &p.w[thread]},
                  {DNNL_ARG_DST, &p.m[thread]},
                  {DNNL_ARG_SCRATCHPAD, &p.scratchpads[thread]}});
    }
#pragma omp barrier
    const auto in_count = static_cast<std::ptrdiff_t>(shape.in_channels);
#pragma omp for schedule(static)
    for (std::ptrdiff_t c = 0; c < in_count; ++c)
      winograd_kernels::transform_back(shape, base + m_offset, p.thread_bytes, threads, static_cast<std::size_t>(c),
                                       accumulate, dw);
  }
  if (bias_offset) {
    float* db = dw + *bias_offset;
    for (std::size_t k = 0; k < shape.out_channels; ++k) {
      float sum = 0;
      for (std::size_t t = 0; t < threads; ++t)
        sum += reinterpret_cast<const float*>(base + t * p.thread_bytes + bias_offset_bytes)[k];
      db[k] = accumulate ? db[k] + sum : sum;
    }
  }
#else
  (void)p, (void)a, (void)bias_offset;
  throw Error("oneDNN backend", "Winograd convolution needs an x86-64 processor");
#endif
}

}  // namespace ctnn::onednn
