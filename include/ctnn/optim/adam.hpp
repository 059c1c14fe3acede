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

#include <cmath>     // std::pow, std::sqrt
#include <cstddef>   // std::size_t
#include <cstdint>   // std::uint64_t
#include <string>    // std::string
#include <utility>   // std::forward
#include <vector>    // std::vector

#include <ctnn/error.hpp>              // ctnn::Error
#include <ctnn/optim/state.hpp>        // ctnn::optim::StateTensor, HostUpdates, detail::check_step
#include <ctnn/rules/optimizers.hpp>   // ctnn::rules::AdamStep

namespace ctnn::optim {

// PyTorch's defaults: Adam has no weight decay, AdamW 0.01.
template <bool DecoupledWeightDecay>
struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = DecoupledWeightDecay ? 1e-2 : 0.0;
  bool amsgrad = false;
};

// Adam and AdamW over any device's state and update loop (see BasicSGD); the update itself is
// rules::adam_update.
template <class T, bool DecoupledWeightDecay, class Updates = HostUpdates>
class AdamFamily {
 public:
  using Options = AdamOptions<DecoupledWeightDecay>;
  using Span = typename Updates::template Span<T>;
  using ConstSpan = typename Updates::template Span<const T>;
  static constexpr const char* name = DecoupledWeightDecay ? "AdamW" : "Adam";

  template <class... UpdateArguments>
  AdamFamily(std::size_t parameter_count, Options options, UpdateArguments&&... update_arguments)
      : options_(options), updates_(std::forward<UpdateArguments>(update_arguments)...),
        exp_avg_(updates_.template make_buffer<T>(parameter_count, (std::string(name) + "'s exp_avg").c_str())),
        exp_avg_sq_(updates_.template make_buffer<T>(parameter_count, (std::string(name) + "'s exp_avg_sq").c_str())),
        max_exp_avg_sq_(updates_.template make_buffer<T>(options.amsgrad ? parameter_count : 0,
                                                         (std::string(name) + "'s max_exp_avg_sq").c_str())),
        parameter_count_(parameter_count) {
    if (options.lr < 0) throw Error(name, "learning rate must not be negative");
    if (options.eps < 0) throw Error(name, "eps must not be negative");
    if (options.beta1 < 0 || options.beta1 >= 1 || options.beta2 < 0 || options.beta2 >= 1)
      throw Error(name, "betas must lie in [0, 1)");
    if (options.weight_decay < 0) throw Error(name, "weight decay must not be negative");
  }

  // One update of params[first, size) from grads[first, size).
  void step(Span params, ConstSpan grads, std::size_t first = 0) {
    detail::check_step(name, parameter_count_, params.size(), grads.size(), first);
    ++steps_;
    // The bias corrections in double, as Python computes them.
    const double t = static_cast<double>(steps_);
    const double bias_correction1 = 1 - std::pow(options_.beta1, t);
    const double bias_correction2_sqrt = std::sqrt(1 - std::pow(options_.beta2, t));
    const rules::AdamStep<T> step{static_cast<T>(options_.lr / bias_correction1),
                                  static_cast<T>(options_.beta1),
                                  static_cast<T>(options_.beta2),
                                  static_cast<T>(1 - options_.beta1),
                                  static_cast<T>(1 - options_.beta2),
                                  static_cast<T>(bias_correction2_sqrt),
                                  static_cast<T>(options_.eps),
                                  static_cast<T>(options_.weight_decay),
                                  static_cast<T>(1 - options_.lr * options_.weight_decay),
                                  options_.weight_decay != 0 ? 1 : 0,
                                  options_.amsgrad ? 1 : 0,
                                  DecoupledWeightDecay ? 1 : 0};
    updates_.adam(step, first, parameter_count_, params.data(), grads.data(), updates_.data(exp_avg_),
                  updates_.data(exp_avg_sq_), options_.amsgrad ? updates_.data(max_exp_avg_sq_) : nullptr);
  }

  // The model's parameters and gradients, its frozen prefix left alone.
  template <class Model>
  void step(Model& model) {
    updates_.bind(model);
    step(Updates::parameters(model), Updates::gradients(model), model.trainable_from());
  }

  double learning_rate() const { return options_.lr; }
  void set_learning_rate(double lr) { options_.lr = lr; }
  const Options& options() const { return options_; }

  // Checkpoint state: "exp_avg", "exp_avg_sq", with amsgrad "max_exp_avg_sq"; and the step count.
  std::vector<StateTensor<T>> state_tensors() {
    std::vector<StateTensor<T>> tensors{{"exp_avg", updates_.host(exp_avg_)}, {"exp_avg_sq", updates_.host(exp_avg_sq_)}};
    if (options_.amsgrad) tensors.push_back({"max_exp_avg_sq", updates_.host(max_exp_avg_sq_)});
    return tensors;
  }
  std::uint64_t step_count() const { return steps_; }
  void set_step_count(std::uint64_t steps) { steps_ = steps; }

 private:
  Options options_;
  Updates updates_;
  typename Updates::template Buffer<T> exp_avg_, exp_avg_sq_, max_exp_avg_sq_;
  std::size_t parameter_count_;
  std::uint64_t steps_ = 0;
};

template <class T>
using Adam = AdamFamily<T, false>;
template <class T>
using AdamW = AdamFamily<T, true>;

}  // namespace ctnn::optim
