#pragma once
// Training's BatchNorm followed by ReLU (torchvision's BasicConv2d) on the oneDNN device: ctnn's
// own AVX-512 code, the two layers in one call forward and one backward. Per channel, over the
// M = N*H*W values of the batch:
//
//   forward   mean, var (biased; saved for backward, as oneDNN's path saves them)
//             s = gamma / sqrt(var + eps), t = beta - mean s,  y = max(x s + t, 0)
//   backward  g = dy where x s + t > 0, else 0                  (ReLU's mask, from x)
//             dbeta = sum g,  dgamma = sum g (x - mean) / sqrt(var + eps)
//             dx = s (g - dbeta / M - (x - mean) / (var + eps) * sum g (x - mean) / M)
//
// Why: the step is bound by memory, and oneDNN runs the pair's backward as an eltwise pass
// (reads y and dy, writes ReLU's dx) and a batch norm pass (reads x and that dx twice, writes dx):
// 8 passes of a tensor through memory. Taking the mask from x makes it 5. Each thread reads
// the same rows in both halves of a pass, so a 7x7 layer's second read comes from its cache.
// oneDNN also has only AVX2 code for channel counts that are not a multiple of 16
// (FashionInception's 24); these kernels mask the last 16 channels instead.
//
// The backward's mask is exactly the forward's ReLU: both evaluate x s + t with one fused
// multiply-add, from s and t computed by the same code from the same statistics.
//
// Where it runs: training with f32 activations, AVX-512 (avx512.hpp), no layer output recorded
// (a recorded BatchNorm output keeps the layers apart) and no batch-statistics hook
// (SyncBatchNorm's batch norm is the Eigen evaluator's, then the ReLU: elementwise.hpp).
// Elsewhere oneDNN's batch norm runs with the ReLU fused forward (elementwise.hpp) and the two
// backward passes apart.

#include <algorithm>   // std::min, std::max
#include <cmath>       // std::sqrt, std::fma
#include <cstddef>     // std::size_t, std::byte
#include <memory>      // std::make_unique

#include <omp.h>   // omp_get_thread_num

#include <ctnn/error.hpp>               // ctnn::Error
#include <ctnn/evaluator.hpp>           // ctnn::Fusion, ForwardArgs, BackwardArgs
#include <ctnn/layers/batch_norm.hpp>   // ctnn::BatchNorm, require_batch_statistics
#include <ctnn/layers/relu.hpp>         // ctnn::ReLU
#include <ctnn/onednn/avx512.hpp>       // CTNN_AVX512, avx512_kernels_supported, lanes
#include <ctnn/onednn/context.hpp>      // Context, Plan, Dims
#include <ctnn/onednn/elementwise.hpp>  // batch_norm_forward (the other path), update_running_statistics
#include <ctnn/onednn/operand.hpp>      // Operand, input_operand, output_operand, gradient_operand

namespace ctnn {
namespace onednn {

// Whether this pass runs BatchNorm + ReLU as the kernels below (see the file comment).
template <class T>
bool own_batch_norm_relu(const Context<T>& ctx) {
  return ctx.mode == Mode::train && ctx.activation_type() == memory::data_type::f32 && ctx.recorded_node == no_node &&
         !sums_statistics_over_processes(ctx) && avx512_kernels_supported();
}

// The rows of an NHWC batch (N*H*W of `channels` contiguous values) and their share among threads.
struct ChannelRows {
  std::size_t rows = 0, channels = 0;
  std::size_t padded() const { return (channels + 15) / 16 * 16; }
  std::size_t first(int thread, int threads) const {
    return rows * static_cast<std::size_t>(thread) / static_cast<std::size_t>(threads);
  }
};

// The scratchpad of one pass: per channel, five f32 arrays the threads share (the shift or mean,
// s, t and dx's two coefficients), then each thread's sums: two f32 arrays for a block of rows
// and two f64 arrays for its whole share.
struct ChannelScratch {
  static constexpr std::size_t shared_arrays = 5, block_rows = 64;
  static std::size_t thread_bytes(std::size_t padded) { return (2 * padded * sizeof(float) + 2 * padded * sizeof(double) + 63) / 64 * 64; }
  static std::size_t bytes(std::size_t padded, int threads) {
    return shared_arrays * padded * sizeof(float) + static_cast<std::size_t>(threads) * thread_bytes(padded);
  }
  std::byte* base;
  std::size_t padded;
  float* shared(std::size_t i) const { return reinterpret_cast<float*>(base) + i * padded; }
  float* block(int thread, std::size_t i) const {
    return reinterpret_cast<float*>(base + shared_arrays * padded * sizeof(float) + static_cast<std::size_t>(thread) * thread_bytes(padded)) + i * padded;
  }
  double* total(int thread, std::size_t i) const { return reinterpret_cast<double*>(block(thread, 2)) + i * padded; }
};

// s and t of the file comment, for the forward and the backward alike. std::fma: no compiler may
// contract one and not the other.
inline void batch_norm_affine(std::size_t channels, const float* gamma, const float* beta, const float* mean,
                              const float* variance, double epsilon, float* s, float* t) {
  for (std::size_t c = 0; c < channels; ++c) {
    const float inverse_deviation = 1.f / std::sqrt(variance[c] + static_cast<float>(epsilon));
    s[c] = gamma[c] * inverse_deviation;
    t[c] = std::fma(-mean[c], s[c], beta[c]);
  }
}

#if CTNN_ONEDNN_X86
namespace batch_norm_relu_kernels {

// Adds the block's f32 sums into the thread's f64 totals and clears them (f32 sums of at most
// block_rows values keep 1e-7 of the total).
CTNN_AVX512 inline void flush(const ChannelScratch& scratch, int thread) {
  for (std::size_t i = 0; i < 2; ++i) {
    float* block = scratch.block(thread, i);
    double* total = scratch.total(thread, i);
    for (std::size_t c = 0; c < scratch.padded; ++c) total[c] += block[c], block[c] = 0;
  }
}
inline void clear(const ChannelScratch& scratch, int thread) {
  std::fill_n(scratch.block(thread, 0), 2 * scratch.padded, 0.f);
  std::fill_n(scratch.total(thread, 0), 2 * scratch.padded, 0.0);
}

// This thread's sums of (x - shift) and (x - shift)^2 over its rows.
CTNN_AVX512 inline void sum_deviations(const ChannelRows& r, const float* x, const ChannelScratch& scratch, int thread,
                                       int threads) {
  clear(scratch, thread);
  const float* shift = scratch.shared(0);
  float* sum = scratch.block(thread, 0);
  float* squares = scratch.block(thread, 1);
  const std::size_t last = r.first(thread + 1, threads);
  for (std::size_t row = r.first(thread, threads); row < last; ++row) {
    const float* values = x + row * r.channels;
    for (std::size_t c = 0; c < r.channels; c += 16) {
      const __mmask16 m = lanes(c, r.channels);
      const __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, values + c), _mm512_load_ps(shift + c));
      _mm512_store_ps(sum + c, _mm512_add_ps(_mm512_load_ps(sum + c), d));
      _mm512_store_ps(squares + c, _mm512_fmadd_ps(d, d, _mm512_load_ps(squares + c)));
    }
    if ((row + 1) % ChannelScratch::block_rows == 0) flush(scratch, thread);
  }
  flush(scratch, thread);
}

// y = max(x s + t, 0) over this thread's rows (NaN stays NaN: max returns its second operand).
CTNN_AVX512 inline void normalize_relu(const ChannelRows& r, const float* x, float* y, const float* s, const float* t,
                                       int thread, int threads) {
  const std::size_t last = r.first(thread + 1, threads);
  const __m512 zero = _mm512_setzero_ps();
  for (std::size_t row = r.first(thread, threads); row < last; ++row) {
    const float* in = x + row * r.channels;
    float* out = y + row * r.channels;
    for (std::size_t c = 0; c < r.channels; c += 16) {
      const __mmask16 m = lanes(c, r.channels);
      const __m512 v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, in + c), _mm512_load_ps(s + c), _mm512_load_ps(t + c));
      _mm512_mask_storeu_ps(out + c, m, _mm512_max_ps(zero, v));
    }
  }
}

// g = dy where x s + t > 0: the ReLU's gradient.
CTNN_AVX512 inline __m512 relu_gradient(__mmask16 m, const float* x, const float* dy, const float* s, const float* t,
                                        std::size_t c, __m512* value) {
  *value = _mm512_maskz_loadu_ps(m, x + c);
  const __m512 v = _mm512_fmadd_ps(*value, _mm512_load_ps(s + c), _mm512_load_ps(t + c));
  const __mmask16 positive = _mm512_mask_cmp_ps_mask(m, v, _mm512_setzero_ps(), _CMP_GT_OQ);
  return _mm512_maskz_loadu_ps(positive, dy + c);
}

// This thread's sums of g and g (x - mean).
CTNN_AVX512 inline void sum_gradients(const ChannelRows& r, const float* x, const float* dy, const float* mean,
                                      const float* s, const float* t, const ChannelScratch& scratch, int thread,
                                      int threads) {
  clear(scratch, thread);
  float* sum = scratch.block(thread, 0);
  float* products = scratch.block(thread, 1);
  const std::size_t last = r.first(thread + 1, threads);
  for (std::size_t row = r.first(thread, threads); row < last; ++row) {
    const float* in = x + row * r.channels;
    const float* gradient = dy + row * r.channels;
    for (std::size_t c = 0; c < r.channels; c += 16) {
      const __mmask16 m = lanes(c, r.channels);
      __m512 value;
      const __m512 g = relu_gradient(m, in, gradient, s, t, c, &value);
      _mm512_store_ps(sum + c, _mm512_add_ps(_mm512_load_ps(sum + c), g));
      const __m512 centred = _mm512_sub_ps(value, _mm512_load_ps(mean + c));
      _mm512_store_ps(products + c, _mm512_fmadd_ps(g, centred, _mm512_load_ps(products + c)));
    }
    if ((row + 1) % ChannelScratch::block_rows == 0) flush(scratch, thread);
  }
  flush(scratch, thread);
}

// dx = g k1 + x k2 + k3 over this thread's rows (dx may be dy's buffer: each value is read
// before it is written).
CTNN_AVX512 inline void input_gradient(const ChannelRows& r, const float* x, const float* dy, const float* s,
                                       const float* t, const float* k1, const float* k2, const float* k3, float* dx,
                                       int thread, int threads) {
  const std::size_t last = r.first(thread + 1, threads);
  for (std::size_t row = r.first(thread, threads); row < last; ++row) {
    const std::size_t at = row * r.channels;
    for (std::size_t c = 0; c < r.channels; c += 16) {
      const __mmask16 m = lanes(c, r.channels);
      __m512 value;
      const __m512 g = relu_gradient(m, x + at, dy + at, s, t, c, &value);
      const __m512 rest = _mm512_fmadd_ps(value, _mm512_load_ps(k2 + c), _mm512_load_ps(k3 + c));
      _mm512_mask_storeu_ps(dx + at + c, m, _mm512_fmadd_ps(g, _mm512_load_ps(k1 + c), rest));
    }
  }
}

}  // namespace batch_norm_relu_kernels
#endif

// What a forward and a backward plan share: the threads, and their scratchpad and count stated.
struct ChannelPassPlan : Plan {
  int threads = 1;
  template <class T>
  void make(Context<T>& ctx, const ChannelRows& r) {
    threads = std::max(1, ctx.threads);
    ctx.need_scratchpad_bytes(ChannelScratch::bytes(r.padded(), threads));
    ++ctx.fused_batch_norm_relu_passes;
  }
};

struct BatchNormReluForwardPlan : ChannelPassPlan {
  Operand src, dst;
};

// y = ReLU(BatchNorm(x)) with the batch's statistics, kept in `saved` (mean [C], biased
// variance [C]); the running statistics move as PyTorch moves them.
template <class L, ShapeType In, class T>
void batch_norm_relu_forward(Context<T>& ctx, const ForwardArgs<T>& a) {
  constexpr std::size_t C = L::channels;
  const ChannelRows r{ctx.batch * In::height * In::width, C};
  auto& p = ctx.template plan<BatchNormReluForwardPlan>(Direction::forward, [&] {
    auto plan = std::make_unique<BatchNormReluForwardPlan>();
    plan->src = input_operand(ctx, a.x, dims_of<In>, 0);
    plan->dst = output_operand(ctx, a.y, dims_of<In>, 1);
    plan->make(ctx, r);
    return plan;
  });
  if (ctx.planning) return;
  require_batch_statistics(r.rows);
#if CTNN_ONEDNN_X86
  const auto bn = L::pointers(a.params);
  p.src.load(ctx, a.x.data);
  p.dst.bind_output(ctx, a.y.data);
  const auto* x = static_cast<const float*>(p.src.mem.get_data_handle());
  auto* y = static_cast<float*>(p.dst.mem.get_data_handle());
  float* mean = a.saved;
  float* variance = a.saved + C;
  const ChannelScratch scratch{static_cast<std::byte*>(ctx.scratchpad()), r.padded()};
  std::fill_n(scratch.shared(0), r.padded(), 0.f);
  std::copy_n(x, C, scratch.shared(0));  // the first row: a shift that keeps the sums small
#pragma omp parallel num_threads(p.threads)
  {
    const int thread = omp_get_thread_num();
    batch_norm_relu_kernels::sum_deviations(r, x, scratch, thread, p.threads);
#pragma omp barrier
#pragma omp single
    {
      const double count = static_cast<double>(r.rows);
      for (std::size_t c = 0; c < C; ++c) {
        double sum = 0, squares = 0;
        for (int i = 0; i < p.threads; ++i) sum += scratch.total(i, 0)[c], squares += scratch.total(i, 1)[c];
        const double shifted_mean = sum / count;
        mean[c] = static_cast<float>(scratch.shared(0)[c] + shifted_mean);
        variance[c] = static_cast<float>(std::max(0.0, squares / count - shifted_mean * shifted_mean));
      }
      std::fill_n(scratch.shared(1), 2 * r.padded(), 0.f);
      batch_norm_affine(C, bn.weight, bn.bias, mean, variance, L::epsilon, scratch.shared(1), scratch.shared(2));
    }
    batch_norm_relu_kernels::normalize_relu(r, x, y, scratch.shared(1), scratch.shared(2), thread, p.threads);
  }
  p.dst.store(ctx, a.y.data);
  update_running_statistics<L>(bn, mean, variance, r.rows);
#else
  (void)p, (void)a;
  throw Error("oneDNN backend", "ctnn's BatchNorm + ReLU kernels need an x86-64 processor");
#endif
}

struct BatchNormReluBackwardPlan : ChannelPassPlan {
  Operand src, diff_dst, diff_src;
  bool input_gradient = false;
};

// dx (+)= the pair's input gradient; dgamma, dbeta written (or added, where the model
// accumulates gradients) unless frozen. x is BatchNorm's input, dy ReLU's output gradient.
template <class L, ShapeType In, class T>
void batch_norm_relu_backward(Context<T>& ctx, const BackwardArgs<T>& a) {
  constexpr std::size_t C = L::channels;
  const ChannelRows r{ctx.batch * In::height * In::width, C};
  auto& p = ctx.template plan<BatchNormReluBackwardPlan>(Direction::backward, [&] {
    auto plan = std::make_unique<BatchNormReluBackwardPlan>();
    plan->src = input_operand(ctx, a.x, dims_of<In>, 0);
    plan->diff_dst = input_operand(ctx, a.dy, dims_of<In>, 2);
    plan->input_gradient = static_cast<bool>(a.dx);
    if (plan->input_gradient) plan->diff_src = gradient_operand(ctx, a.dx, dims_of<In>, a.accumulate_dx, 3);
    plan->make(ctx, r);
    return plan;
  });
  if (ctx.planning) return;
#if CTNN_ONEDNN_X86
  const auto bn = L::pointers(a.params);
  p.src.load(ctx, a.x.data);
  p.diff_dst.load(ctx, a.dy.data);
  const bool input_gradient = p.input_gradient && a.dx;
  if (input_gradient) p.diff_src.bind_output(ctx, a.dx.data);
  const auto* x = static_cast<const float*>(p.src.mem.get_data_handle());
  const auto* dy = static_cast<const float*>(p.diff_dst.mem.get_data_handle());
  auto* dx = input_gradient ? static_cast<float*>(p.diff_src.mem.get_data_handle()) : nullptr;
  const float* mean = a.saved;
  const float* variance = a.saved + C;
  const ChannelScratch scratch{static_cast<std::byte*>(ctx.scratchpad()), r.padded()};
  float* mean_padded = scratch.shared(0);
  float* s = scratch.shared(1);
  float* t = scratch.shared(2);
  float* k1 = s;  // dx's coefficient of g is s itself
  float* k2 = scratch.shared(3);
  float* k3 = scratch.shared(4);
  std::fill_n(scratch.shared(0), ChannelScratch::shared_arrays * r.padded(), 0.f);
  std::copy_n(mean, C, mean_padded);
  batch_norm_affine(C, bn.weight, bn.bias, mean, variance, L::epsilon, s, t);
  const bool accumulate = ctx.accumulate_parameter_gradients;
#pragma omp parallel num_threads(p.threads)
  {
    const int thread = omp_get_thread_num();
    batch_norm_relu_kernels::sum_gradients(r, x, dy, mean_padded, s, t, scratch, thread, p.threads);
#pragma omp barrier
#pragma omp single
    {
      const double count = static_cast<double>(r.rows);
      for (std::size_t c = 0; c < C; ++c) {
        double sum = 0, products = 0;
        for (int i = 0; i < p.threads; ++i) sum += scratch.total(i, 0)[c], products += scratch.total(i, 1)[c];
        const double inverse_deviation = 1.0 / std::sqrt(static_cast<double>(variance[c]) + L::epsilon);
        if (bn.weight_grad) {
          const auto dgamma = static_cast<float>(products * inverse_deviation), dbeta = static_cast<float>(sum);
          bn.weight_grad[c] = accumulate ? bn.weight_grad[c] + dgamma : dgamma;
          bn.bias_grad[c] = accumulate ? bn.bias_grad[c] + dbeta : dbeta;
        }
        // dx = k1 g + k2 x + k3: k1 = s, k2 = -s sum g (x - mean) / ((var + eps) M),
        // k3 = -s sum g / M - k2 mean.
        const double scale = s[c];
        const double k2_value = -scale * products * inverse_deviation * inverse_deviation / count;
        k2[c] = static_cast<float>(k2_value);
        k3[c] = static_cast<float>(-scale * sum / count - k2_value * mean[c]);
      }
    }
    if (dx) batch_norm_relu_kernels::input_gradient(r, x, dy, s, t, k1, k2, k3, dx, thread, p.threads);
  }
  if (input_gradient) p.diff_src.store(ctx, a.dx.data);
#else
  (void)p, (void)a;
  throw Error("oneDNN backend", "ctnn's BatchNorm + ReLU kernels need an x86-64 processor");
#endif
}

}  // namespace onednn

// Forward in training too; backward as one call where own_batch_norm_relu says so this pass
// (Sequential asks fuses_backward), else ReLU's and BatchNorm's backward apart.
template <std::size_t C, Ratio Eps, Ratio Momentum, class T>
struct Fusion<BatchNorm<C, Eps, Momentum>, ReLU, OneDnn, T> {
  using L = BatchNorm<C, Eps, Momentum>;
  static constexpr bool available = true;
  static constexpr bool in_training = true;
  static bool fuses_backward(const onednn::Context<T>& ctx) { return onednn::own_batch_norm_relu(ctx); }
  template <ShapeType In>
  static void forward(onednn::Context<T>& ctx, const ForwardArgs<T>& a) {
    if (onednn::own_batch_norm_relu(ctx)) {
      onednn::batch_norm_relu_forward<L, In>(ctx, a);
    } else if (onednn::sums_statistics_over_processes(ctx)) {
      // SyncBatchNorm's batch norm, then the ReLU in place (backward runs them apart).
      onednn::Kernel<L, T>::template forward<In>(ctx, a);
      onednn::Kernel<ReLU, T>::template forward<In>(ctx, {.params = {}, .x = a.y, .y = a.y, .saved = nullptr, .scratch = a.scratch});
    } else {
      onednn::batch_norm_forward<L, In>(ctx, a, true);
    }
  }
  template <ShapeType In>
  static void backward(onednn::Context<T>& ctx, const BackwardArgs<T>& a) {
    onednn::batch_norm_relu_backward<L, In>(ctx, a);
  }
};

}  // namespace ctnn
