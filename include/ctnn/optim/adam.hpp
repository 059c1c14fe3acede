#pragma once
// ctnn::optim::Adam<T> and AdamW<T>: PyTorch's torch.optim.Adam and torch.optim.AdamW update
// rules element for element (step t counted from 1):
//
//   Adam:   g = grad + weight_decay * param                      (L2 penalty in the gradient)
//   AdamW:  g = grad;  param *= 1 - lr * weight_decay            (decoupled weight decay)
//   m = beta1 * m + (1 - beta1) * g                              exp_avg
//   v = beta2 * v + (1 - beta2) * g^2                            exp_avg_sq
//   amsgrad: v_max = max(v_max, v), used in place of v below     max_exp_avg_sq
//   param -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
//
// eps is added after the square root and the bias correction, as PyTorch does. The bias
// corrections are computed in double, as Python computes them.
//
//   ctnn::optim::AdamW<float> adamw(model.parameter_count, {.lr = 1e-3});
//   adamw.step(model);
//
// Parameters before `first` (the model's trainable_from()) are frozen. The step count t is one
// for all parameters (PyTorch counts per tensor: the two differ only for parameters unfrozen
// after training started).

#include <algorithm>   // std::max
#include <cmath>       // std::pow, std::sqrt
#include <cstddef>     // std::size_t, std::ptrdiff_t
#include <cstdint>     // std::uint64_t
#include <span>        // std::span
#include <vector>      // std::vector

#include <ctnn/error.hpp>         // ctnn::Error
#include <ctnn/optim/state.hpp>   // ctnn::optim::StateTensor, detail::check_step

namespace ctnn::optim {

template <class T, bool DecoupledWeightDecay>
class AdamFamily {
 public:
  // PyTorch's defaults: Adam has no weight decay, AdamW 0.01.
  struct Options {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = DecoupledWeightDecay ? 1e-2 : 0.0;
    bool amsgrad = false;
  };

  AdamFamily(std::size_t parameter_count, Options options)
      : options_(options), exp_avg_(parameter_count), exp_avg_sq_(parameter_count),
        max_exp_avg_sq_(options.amsgrad ? parameter_count : 0), parameter_count_(parameter_count) {
    const char* name = DecoupledWeightDecay ? "AdamW" : "Adam";
    if (options.lr < 0) throw Error(name, "learning rate must not be negative");
    if (options.eps < 0) throw Error(name, "eps must not be negative");
    if (options.beta1 < 0 || options.beta1 >= 1 || options.beta2 < 0 || options.beta2 >= 1)
      throw Error(name, "betas must lie in [0, 1)");
    if (options.weight_decay < 0) throw Error(name, "weight decay must not be negative");
  }

  // One update of params[first, size) from grads[first, size).
  void step(std::span<T> params, std::span<const T> grads, std::size_t first = 0) {
    detail::check_step(DecoupledWeightDecay ? "AdamW" : "Adam", parameter_count_, params.size(), grads.size(), first);
    ++steps_;
    const double t = static_cast<double>(steps_);
    const double bias_correction1 = 1 - std::pow(options_.beta1, t);
    const double bias_correction2_sqrt = std::sqrt(1 - std::pow(options_.beta2, t));
    const T step_size = static_cast<T>(options_.lr / bias_correction1);
    const T beta1 = static_cast<T>(options_.beta1), beta2 = static_cast<T>(options_.beta2);
    const T one_minus_beta1 = static_cast<T>(1 - options_.beta1), one_minus_beta2 = static_cast<T>(1 - options_.beta2);
    const T correction2 = static_cast<T>(bias_correction2_sqrt), eps = static_cast<T>(options_.eps);
    const T decay = static_cast<T>(options_.weight_decay);
    const T decoupled_scale = static_cast<T>(1 - options_.lr * options_.weight_decay);
    const bool use_decay = options_.weight_decay != 0, amsgrad = options_.amsgrad;
    T* p = params.data();
    const T* grad = grads.data();
    T* m = exp_avg_.data();
    T* v = exp_avg_sq_.data();
    T* v_max = max_exp_avg_sq_.data();
    const std::ptrdiff_t n = static_cast<std::ptrdiff_t>(parameter_count_);
#pragma omp parallel for schedule(static) if (n - static_cast<std::ptrdiff_t>(first) > (1 << 16))
    for (std::ptrdiff_t i = static_cast<std::ptrdiff_t>(first); i < n; ++i) {
      T g = grad[i];
      if constexpr (DecoupledWeightDecay) {
        if (use_decay) p[i] *= decoupled_scale;
      } else {
        if (use_decay) g += decay * p[i];
      }
      m[i] = beta1 * m[i] + one_minus_beta1 * g;
      v[i] = beta2 * v[i] + one_minus_beta2 * g * g;
      T second = v[i];
      if (amsgrad) second = v_max[i] = std::max(v_max[i], v[i]);
      const T denominator = std::sqrt(second) / correction2 + eps;
      p[i] -= step_size * (m[i] / denominator);
    }
  }

  // The model's parameters and gradients, its frozen prefix left alone.
  template <class Model>
  void step(Model& model) {
    step(model.parameters(), model.gradients(), model.trainable_from());
  }

  double learning_rate() const { return options_.lr; }
  void set_learning_rate(double lr) { options_.lr = lr; }
  const Options& options() const { return options_; }

  // Checkpoint state: "exp_avg", "exp_avg_sq", with amsgrad "max_exp_avg_sq"; and the step count.
  std::vector<StateTensor<T>> state_tensors() {
    std::vector<StateTensor<T>> tensors{{"exp_avg", exp_avg_}, {"exp_avg_sq", exp_avg_sq_}};
    if (options_.amsgrad) tensors.push_back({"max_exp_avg_sq", max_exp_avg_sq_});
    return tensors;
  }
  std::uint64_t step_count() const { return steps_; }
  void set_step_count(std::uint64_t steps) { steps_ = steps; }

 private:
  Options options_;
  std::vector<T> exp_avg_, exp_avg_sq_, max_exp_avg_sq_;
  std::size_t parameter_count_;
  std::uint64_t steps_ = 0;
};

template <class T>
using Adam = AdamFamily<T, false>;
template <class T>
using AdamW = AdamFamily<T, true>;

}  // namespace ctnn::optim
