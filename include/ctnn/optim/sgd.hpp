#pragma once
// ctnn::optim::SGD<T>: stochastic gradient descent with momentum, PyTorch's torch.optim.SGD
// update rule element for element:
//
//   g = grad + weight_decay * param
//   momentum != 0:  buf = g                                    on the first step
//                   buf = momentum * buf + (1 - dampening) * g afterwards
//                   g   = nesterov ? g + momentum * buf : buf
//   param -= lr * g
//
//   ctnn::optim::SGD<float> sgd(model.parameter_count, {.lr = 0.01, .momentum = 0.9, .weight_decay = 1e-4});
//   model.forward(x); objective.backward(model, labels); sgd.step(model);
//
// Parameters before `first` (the model's trainable_from(), see ctnn/freeze.hpp) are frozen:
// neither they nor their momentum change, and, as PyTorch does for a parameter that first gets a
// gradient late, a momentum buffer starts as g on the step its parameter first trains.

#include <algorithm>   // std::min
#include <cstddef>     // std::size_t, std::ptrdiff_t
#include <cstdint>     // std::uint64_t
#include <span>        // std::span
#include <vector>      // std::vector

#include <ctnn/error.hpp>          // ctnn::Error
#include <ctnn/optim/state.hpp>    // ctnn::optim::StateTensor, detail::check_step

namespace ctnn::optim {

template <class T>
class SGD {
 public:
  // PyTorch's defaults except lr, which torch.optim.SGD requires.
  struct Options {
    double lr = 0.01;
    double momentum = 0;
    double dampening = 0;
    double weight_decay = 0;
    bool nesterov = false;
  };

  SGD(std::size_t parameter_count, Options options)
      : options_(options), momentum_buffer_(options.momentum != 0 ? parameter_count : 0),
        parameter_count_(parameter_count), initialized_from_(parameter_count) {
    if (options.lr < 0) throw Error("SGD", "learning rate must not be negative");
    if (options.momentum < 0) throw Error("SGD", "momentum must not be negative");
    if (options.weight_decay < 0) throw Error("SGD", "weight decay must not be negative");
    if (options.nesterov && (options.momentum <= 0 || options.dampening != 0))
      throw Error("SGD", "Nesterov momentum requires a momentum and zero dampening");
  }

  // One update of params[first, size) from grads[first, size).
  void step(std::span<T> params, std::span<const T> grads, std::size_t first = 0) {
    detail::check_step("SGD", parameter_count_, params.size(), grads.size(), first);
    const T lr = static_cast<T>(options_.lr), momentum = static_cast<T>(options_.momentum),
            keep = static_cast<T>(1 - options_.dampening), decay = static_cast<T>(options_.weight_decay);
    const bool use_momentum = options_.momentum != 0, nesterov = options_.nesterov;
    const bool use_decay = options_.weight_decay != 0;
    T* p = params.data();
    const T* g = grads.data();
    T* buf = momentum_buffer_.data();
    // Buffers of parameters that train for the first time start as their gradient.
    const std::ptrdiff_t fresh_end = static_cast<std::ptrdiff_t>(std::min(initialized_from_, parameter_count_));
    const std::ptrdiff_t n = static_cast<std::ptrdiff_t>(parameter_count_);
#pragma omp parallel for schedule(static) if (n - static_cast<std::ptrdiff_t>(first) > (1 << 16))
    for (std::ptrdiff_t i = static_cast<std::ptrdiff_t>(first); i < n; ++i) {
      T d = g[i];
      if (use_decay) d += decay * p[i];
      if (use_momentum) {
        buf[i] = i < fresh_end ? d : momentum * buf[i] + keep * d;
        d = nesterov ? d + momentum * buf[i] : buf[i];
      }
      p[i] -= lr * d;
    }
    initialized_from_ = std::min(initialized_from_, first);
    ++steps_;
  }

  // The model's parameters and gradients, its frozen prefix left alone.
  template <class Model>
  void step(Model& model) {
    step(model.parameters(), model.gradients(), model.trainable_from());
  }

  double learning_rate() const { return options_.lr; }
  void set_learning_rate(double lr) { options_.lr = lr; }
  const Options& options() const { return options_; }

  // Checkpoint state: "momentum_buffer" (absent without momentum) and the step count.
  std::vector<StateTensor<T>> state_tensors() {
    if (momentum_buffer_.empty()) return {};
    return {{"momentum_buffer", momentum_buffer_}};
  }
  std::uint64_t step_count() const { return steps_; }
  // After loading a checkpoint: a count above 0 marks every momentum buffer as started.
  void set_step_count(std::uint64_t steps) {
    steps_ = steps;
    initialized_from_ = steps > 0 ? 0 : parameter_count_;
  }

 private:
  Options options_;
  std::vector<T> momentum_buffer_;
  std::size_t parameter_count_;
  std::size_t initialized_from_;  // parameters [initialized_from_, count) have a started buffer
  std::uint64_t steps_ = 0;
};

}  // namespace ctnn::optim
