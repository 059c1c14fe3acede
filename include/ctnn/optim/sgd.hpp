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
#include <cstddef>     // std::size_t
#include <cstdint>     // std::uint64_t
#include <utility>     // std::forward
#include <vector>      // std::vector

#include <ctnn/error.hpp>              // ctnn::Error
#include <ctnn/optim/state.hpp>        // ctnn::optim::StateTensor, HostUpdates, detail::check_step
#include <ctnn/rules/optimizers.hpp>   // ctnn::rules::SgdStep

namespace ctnn::optim {

// PyTorch's defaults except lr, which torch.optim.SGD requires.
struct SGDOptions {
  double lr = 0.01;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

// SGD over any device's state and update loop (Updates: HostUpdates here, the GPU's in
// ctnn/cuda/optim.hpp); the update itself is rules::sgd_update.
template <class T, class Updates = HostUpdates>
class BasicSGD {
 public:
  using Options = SGDOptions;
  using Span = typename Updates::template Span<T>;
  using ConstSpan = typename Updates::template Span<const T>;

  // update_arguments go to Updates (the GPU's: the stream to run on).
  template <class... UpdateArguments>
  BasicSGD(std::size_t parameter_count, Options options, UpdateArguments&&... update_arguments)
      : options_(options), updates_(std::forward<UpdateArguments>(update_arguments)...),
        momentum_buffer_(updates_.template make_buffer<T>(options.momentum != 0 ? parameter_count : 0,
                                                          "SGD's momentum buffer")),
        parameter_count_(parameter_count), initialized_from_(parameter_count) {
    if (options.lr < 0) throw Error("SGD", "learning rate must not be negative");
    if (options.momentum < 0) throw Error("SGD", "momentum must not be negative");
    if (options.weight_decay < 0) throw Error("SGD", "weight decay must not be negative");
    if (options.nesterov && (options.momentum <= 0 || options.dampening != 0))
      throw Error("SGD", "Nesterov momentum requires a momentum and zero dampening");
  }

  // One update of params[first, size) from grads[first, size).
  void step(Span params, ConstSpan grads, std::size_t first = 0) {
    detail::check_step("SGD", parameter_count_, params.size(), grads.size(), first);
    const rules::SgdStep<T> step{static_cast<T>(options_.lr),
                                 static_cast<T>(options_.momentum),
                                 static_cast<T>(1 - options_.dampening),
                                 static_cast<T>(options_.weight_decay),
                                 options_.momentum != 0 ? 1 : 0,
                                 options_.nesterov ? 1 : 0,
                                 options_.weight_decay != 0 ? 1 : 0};
    // Buffers of parameters that train for the first time start as their gradient.
    updates_.sgd(step, first, parameter_count_, std::min(initialized_from_, parameter_count_), params.data(),
                 grads.data(), options_.momentum != 0 ? updates_.data(momentum_buffer_) : nullptr);
    initialized_from_ = std::min(initialized_from_, first);
    ++steps_;
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

  // Checkpoint state: "momentum_buffer" (absent without momentum) and the step count; host
  // spans (on a GPU: read, they download the state; written, it is uploaded before the next step).
  std::vector<StateTensor<T>> state_tensors() {
    if (options_.momentum == 0) return {};
    return {{"momentum_buffer", updates_.host(momentum_buffer_)}};
  }
  std::uint64_t step_count() const { return steps_; }
  // After loading a checkpoint: a count above 0 marks every momentum buffer as started.
  void set_step_count(std::uint64_t steps) {
    steps_ = steps;
    initialized_from_ = steps > 0 ? 0 : parameter_count_;
  }

 private:
  Options options_;
  Updates updates_;
  typename Updates::template Buffer<T> momentum_buffer_;
  std::size_t parameter_count_;
  std::size_t initialized_from_;  // parameters [initialized_from_, count) have a started buffer
  std::uint64_t steps_ = 0;
};

template <class T>
using SGD = BasicSGD<T, HostUpdates>;

}  // namespace ctnn::optim
