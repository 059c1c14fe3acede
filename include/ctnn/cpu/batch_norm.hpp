#pragma once
// CPU kernel of ctnn::BatchNorm. Per channel c, over the M = N*H*W values of the batch:
//
//   evaluation  y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta
//   training    mean = sum x / M,  var = sum (x - mean)^2 / M  (biased),  invstd = 1 / sqrt(var + eps)
//               y = (x - mean) * invstd * gamma + beta;  mean and invstd are saved for backward,
//               the running statistics move by the momentum (unbiased variance) and
//               num_batches_tracked counts the step
//   backward    x_hat = (x - mean) * invstd (recomputed from x)
//               dgamma = sum dy * x_hat,  dbeta = sum dy
//               training:   dx = gamma * invstd * (dy - dbeta / M - x_hat * dgamma / M)
//               evaluation: dx = gamma * invstd * dy   (statistics are constants)
//
// Each channel is handled by one thread from start to end, so its sums (accumulated in double)
// do not depend on the thread count.

#include <cmath>     // std::sqrt
#include <cstddef>   // std::size_t, std::ptrdiff_t
#include <span>      // std::span
#include <tuple>     // std::tie
#include <utility>   // std::pair

#include <ctnn/cpu/context.hpp>         // ctnn::cpu::Context
#include <ctnn/evaluator.hpp>           // ctnn::Evaluator, ctnn::ForwardArgs, ctnn::BackwardArgs
#include <ctnn/layers/batch_norm.hpp>   // ctnn::BatchNorm, require_batch_statistics
#include <ctnn/pass_state.hpp>           // ctnn::BatchStatisticsHook (SyncBatchNorm)

namespace ctnn::cpu {

// A batch of C planes of `plane` values each, per image.
struct BatchNormGeometry {
  std::size_t channels, plane;
  double epsilon, momentum;
};

// Runs fn(c) for every channel, in parallel when the work is worth it.
template <class T, class Fn>
void parallel_over_channels(const Context<T>& ctx, std::size_t channels, std::size_t work_per_channel, Fn&& fn) {
  const std::ptrdiff_t total = static_cast<std::ptrdiff_t>(channels);
#pragma omp parallel for schedule(static) num_threads(ctx.threads) if (channels * work_per_channel > 32768)
  for (std::ptrdiff_t c = 0; c < total; ++c) fn(static_cast<std::size_t>(c));
}

// sum over images n and positions i of term(n, i), in double, for one channel: eight partial
// sums side by side, so the additions vectorise (one running sum is a chain of dependent adds).
// The order of the additions depends only on the shape, never on the thread count.
template <class Term>
double channel_sum(std::size_t batch, std::size_t plane, Term&& term) {
  constexpr std::size_t lanes = 8;
  double partial[lanes] = {};
  for (std::size_t n = 0; n < batch; ++n) {
    std::size_t i = 0;
    for (; i + lanes <= plane; i += lanes)
      for (std::size_t lane = 0; lane < lanes; ++lane) partial[lane] += term(n, i + lane);
    for (; i < plane; ++i) partial[i % lanes] += term(n, i);
  }
  double total = 0;
  for (double value : partial) total += value;
  return total;
}

// 1 / sqrt(running_var + eps) in T, as PyTorch computes it for evaluation.
template <class T>
T running_inverse_std(const BatchNormGeometry& g, T running_var) {
  return T(1) / std::sqrt(running_var + static_cast<T>(g.epsilon));
}

template <class T>
void batch_norm_forward_eval(const Context<T>& ctx, const BatchNormGeometry& g, const T* gamma, const T* beta,
                             const T* running_mean, const T* running_var, ConstSlot<T> x, Slot<T> y) {
  parallel_over_channels(ctx, g.channels, ctx.batch * g.plane, [&](std::size_t c) {
    // y = x * scale + shift, the affine form PyTorch's CPU kernel uses.
    const T scale = gamma[c] * running_inverse_std(g, running_var[c]);
    const T shift = beta[c] - running_mean[c] * scale;
    for (std::size_t n = 0; n < ctx.batch; ++n) {
      const T* in = x.image(n) + c * g.plane;
      T* out = y.image(n) + c * g.plane;
      for (std::size_t i = 0; i < g.plane; ++i) out[i] = in[i] * scale + shift;
    }
  });
}

// Normalises with the batch's statistics, writes them to mean[C] and invstd[C], and updates the
// running statistics (buffers: running_mean [C], running_var [C], num_batches_tracked).
// With a batch-statistics hook (SyncBatchNorm, ctnn/pass_state.hpp) the batch is the global one:
// the per-channel sums and the count are summed over every process between passes.
template <class T>
void batch_norm_forward_train(const Context<T>& ctx, const BatchNormGeometry& g, const T* gamma, const T* beta,
                              T* running_mean, T* running_var, T* num_batches_tracked, ConstSlot<T> x, Slot<T> y,
                              T* mean, T* invstd) {
  const std::size_t count = ctx.batch * g.plane;  // M
  const auto value = [&](std::size_t c) {
    return [&x, &g, c](std::size_t n, std::size_t i) { return static_cast<double>(x.image(n)[c * g.plane + i]); };
  };
  const auto squares_about = [&](std::size_t c, double batch_mean) {
    return channel_sum(ctx.batch, g.plane, [&, c, batch_mean](std::size_t n, std::size_t i) {
      const double d = value(c)(n, i) - batch_mean;
      return d * d;
    });
  };
  // Normalises channel c and moves its running statistics, given the sums over m values.
  const auto finish_channel = [&](std::size_t c, double batch_mean, double squares, double m) {
    const double batch_var = squares / m;
    const double inverse_std = 1.0 / std::sqrt(batch_var + g.epsilon);
    const T scale = static_cast<T>(gamma[c] * inverse_std);
    const T shift = static_cast<T>(beta[c] - batch_mean * gamma[c] * inverse_std);
    for (std::size_t n = 0; n < ctx.batch; ++n) {
      const T* in = x.image(n) + c * g.plane;
      T* out = y.image(n) + c * g.plane;
      for (std::size_t i = 0; i < g.plane; ++i) out[i] = in[i] * scale + shift;
    }
    mean[c] = static_cast<T>(batch_mean);
    invstd[c] = static_cast<T>(inverse_std);
    const double unbiased_var = squares / (m - 1);
    running_mean[c] = static_cast<T>((1 - g.momentum) * running_mean[c] + g.momentum * batch_mean);
    running_var[c] = static_cast<T>((1 - g.momentum) * running_var[c] + g.momentum * unbiased_var);
  };

  if (const BatchStatisticsHook& hook = ctx.batch_statistics_sum; hook.sum != nullptr) {
    // Three passes with two sums over the processes in between: [sum x | M], then sum (x - mean)^2.
    const std::span<double> workspace = hook.workspace(hook.user, 2 * g.channels + 1);
    const std::span<double> sums = workspace.first(g.channels + 1), squares = workspace.subspan(g.channels + 1);
    parallel_over_channels(ctx, g.channels, count, [&](std::size_t c) { sums[c] = channel_sum(ctx.batch, g.plane, value(c)); });
    sums[g.channels] = static_cast<double>(count);
    hook.sum(hook.user, sums);
    const double m = sums[g.channels];
    require_batch_statistics(static_cast<std::size_t>(m));
    for (std::size_t c = 0; c < g.channels; ++c) sums[c] /= m;  // the global means
    parallel_over_channels(ctx, g.channels, count, [&](std::size_t c) { squares[c] = squares_about(c, sums[c]); });
    hook.sum(hook.user, squares);
    parallel_over_channels(ctx, g.channels, count, [&](std::size_t c) { finish_channel(c, sums[c], squares[c], m); });
  } else {
    // One pass per channel, its values still in cache; two sums: no cancellation when the mean is large.
    require_batch_statistics(count);
    const double m = static_cast<double>(count);
    parallel_over_channels(ctx, g.channels, count, [&](std::size_t c) {
      const double batch_mean = channel_sum(ctx.batch, g.plane, value(c)) / m;
      finish_channel(c, batch_mean, squares_about(c, batch_mean), m);
    });
  }
  *num_batches_tracked += T(1);
}

// Backward with per-channel statistics (mean, invstd): the batch's in training, the running
// ones in evaluation. gamma_grad/beta_grad may be nullptr (no parameter gradients wanted), and
// dx.data too. With a batch-statistics hook (SyncBatchNorm, batch statistics only) dx uses sum dy,
// sum dy * x_hat and M over every process; gamma_grad and beta_grad stay this process's share
// (data parallelism averages them with every other gradient).
template <class T>
void batch_norm_backward(const Context<T>& ctx, const BatchNormGeometry& g, const T* gamma, const T* mean,
                         const T* invstd, bool batch_statistics, ConstSlot<T> x, ConstSlot<T> dy, Slot<T> dx,
                         bool accumulate_dx, T* gamma_grad, T* beta_grad) {
  const std::size_t count = ctx.batch * g.plane;
  // sum dy and sum dy * x_hat of channel c; writes the parameter gradients from them.
  const auto channel_sums = [&](std::size_t c) {
    const double sum_dy = channel_sum(ctx.batch, g.plane, [&](std::size_t n, std::size_t i) {
      return static_cast<double>(dy.image(n)[c * g.plane + i]);
    });
    const double sum_dy_xhat = channel_sum(ctx.batch, g.plane, [&](std::size_t n, std::size_t i) {
      const std::size_t at = c * g.plane + i;
      return static_cast<double>(dy.image(n)[at]) * ((x.image(n)[at] - mean[c]) * invstd[c]);
    });
    if (gamma_grad) {
      gamma_grad[c] = static_cast<T>(ctx.accumulate_parameter_gradients ? gamma_grad[c] + sum_dy_xhat : sum_dy_xhat);
      beta_grad[c] = static_cast<T>(ctx.accumulate_parameter_gradients ? beta_grad[c] + sum_dy : sum_dy);
    }
    return std::pair{sum_dy, sum_dy_xhat};
  };
  // dx = k * (dy - a - x_hat * b); the batch's statistics depend on x, giving a and b.
  const auto input_gradient = [&](std::size_t c, double sum_dy, double sum_dy_xhat, double m) {
    const T k = gamma[c] * invstd[c];
    const T a = batch_statistics ? static_cast<T>(sum_dy / m) : T(0);
    const T b = batch_statistics ? static_cast<T>(sum_dy_xhat / m) : T(0);
    for (std::size_t n = 0; n < ctx.batch; ++n) {
      const T* in = x.image(n) + c * g.plane;
      const T* gradient = dy.image(n) + c * g.plane;
      T* input_grad = dx.image(n) + c * g.plane;
      for (std::size_t i = 0; i < g.plane; ++i) {
        const T x_hat = (in[i] - mean[c]) * invstd[c];
        const T value = k * (gradient[i] - a - x_hat * b);
        input_grad[i] = accumulate_dx ? input_grad[i] + value : value;
      }
    }
  };

  if (const BatchStatisticsHook& hook = ctx.batch_statistics_sum; hook.sum != nullptr && batch_statistics && dx) {
    // [sum dy (C) | sum dy * x_hat (C) | M], summed over the processes between two passes.
    const std::span<double> sums = hook.workspace(hook.user, 2 * g.channels + 1);
    parallel_over_channels(ctx, g.channels, 2 * count, [&](std::size_t c) {
      std::tie(sums[c], sums[g.channels + c]) = channel_sums(c);
    });
    sums[2 * g.channels] = static_cast<double>(count);
    hook.sum(hook.user, sums);
    parallel_over_channels(ctx, g.channels, count, [&](std::size_t c) {
      input_gradient(c, sums[c], sums[g.channels + c], sums[2 * g.channels]);
    });
    return;
  }
  const double m = static_cast<double>(count);
  parallel_over_channels(ctx, g.channels, 2 * count, [&](std::size_t c) {
    const auto [sum_dy, sum_dy_xhat] = channel_sums(c);
    if (dx) input_gradient(c, sum_dy, sum_dy_xhat, m);
  });
}

}  // namespace ctnn::cpu

namespace ctnn {

template <std::size_t C, Ratio Eps, Ratio Momentum, class T>
struct Evaluator<BatchNorm<C, Eps, Momentum>, Cpu, T> {
  using Layer = BatchNorm<C, Eps, Momentum>;

  template <ShapeType I>
  static cpu::BatchNormGeometry geometry() {
    return {C, I::plane, Layer::epsilon, Layer::momentum};
  }

  template <ShapeType I>
  static void forward(cpu::Context<T>& ctx, const ForwardArgs<T>& a) {
    const auto t = Layer::pointers(a.params);
    if (ctx.mode == Mode::train) {
      cpu::batch_norm_forward_train(ctx, geometry<I>(), t.weight, t.bias, t.running_mean, t.running_var,
                                    t.num_batches_tracked, a.x, a.y, a.saved, a.saved + C);
    } else {
      cpu::batch_norm_forward_eval(ctx, geometry<I>(), t.weight, t.bias, t.running_mean, t.running_var, a.x, a.y);
    }
  }

  template <ShapeType I>
  static void backward(cpu::Context<T>& ctx, const BackwardArgs<T>& a) {
    const auto t = Layer::pointers(a.params);
    if (ctx.mode == Mode::train) {
      cpu::batch_norm_backward(ctx, geometry<I>(), t.weight, a.saved, a.saved + C, true, a.x, a.dy, a.dx,
                               a.accumulate_dx, t.weight_grad, t.bias_grad);
      return;
    }
    // Evaluation: the running statistics are constants; invstd as the forward computed it.
    T invstd[C];
    for (std::size_t c = 0; c < C; ++c) invstd[c] = cpu::running_inverse_std(geometry<I>(), t.running_var[c]);
    cpu::batch_norm_backward(ctx, geometry<I>(), t.weight, t.running_mean, invstd, false, a.x, a.dy, a.dx,
                             a.accumulate_dx, t.weight_grad, t.bias_grad);
  }
};

}  // namespace ctnn
