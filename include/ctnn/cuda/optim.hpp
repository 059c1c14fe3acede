#pragma once
// Optimizers on the device: ctnn::cuda::optim::SGD<T>, Adam<T>, AdamW<T> update the flat
// parameter buffer from the flat gradient buffer in one kernel launch, with state buffers laid
// out like the parameters. The update rules, options, checks and state names are the CPU
// optimizers' (ctnn/optim/sgd.hpp, ctnn/optim/adam.hpp), which are PyTorch's.
//
//   ctnn::cuda::optim::SGD<float> sgd(model.parameter_count, {.lr = 0.01, .momentum = 0.9});
//   model.forward(images); objective.backward(model, labels); sgd.step(model);   // all on the GPU
//
// step(model) leaves the model's frozen prefix alone (trainable_from()) and runs on its stream.
// state_tensors() gives host spans for checkpoints: read, they download the state; written, the
// state is uploaded before the next step.

#include <algorithm>     // std::min
#include <cmath>         // std::pow, std::sqrt
#include <cstddef>       // std::size_t
#include <cstdint>       // std::uint64_t
#include <utility>       // std::as_const
#include <vector>        // std::vector

#include <cuda_runtime.h>   // cudaStream_t

#include <ctnn/cuda/kernels.hpp>   // ctnn::cuda::KernelLibrary, launch, Kernel
#include <ctnn/cuda/memory.hpp>    // ctnn::cuda::DeviceSpan, Mirrored
#include <ctnn/error.hpp>          // ctnn::Error
#include <ctnn/optim/adam.hpp>     // ctnn::optim::AdamFamily<T, D>::Options
#include <ctnn/optim/sgd.hpp>      // ctnn::optim::SGD<T>::Options
#include <ctnn/optim/state.hpp>    // ctnn::optim::StateTensor, detail::check_step

namespace ctnn::cuda::optim {

template <class T>
class SGD {
 public:
  using Options = typename ctnn::optim::SGD<T>::Options;

  // `stream`: where step(spans) runs (step(model) uses the model's).
  SGD(std::size_t parameter_count, Options options, cudaStream_t stream = nullptr)
      : options_(options), kernels_(&KernelLibrary::current()), stream_(stream),
        momentum_buffer_(options.momentum != 0 ? parameter_count : 0, "SGD's momentum buffer"),
        parameter_count_(parameter_count), initialized_from_(parameter_count) {
    if (options.lr < 0) throw Error("SGD", "learning rate must not be negative");
    if (options.momentum < 0) throw Error("SGD", "momentum must not be negative");
    if (options.weight_decay < 0) throw Error("SGD", "weight decay must not be negative");
    if (options.nesterov && (options.momentum <= 0 || options.dampening != 0))
      throw Error("SGD", "Nesterov momentum requires a momentum and zero dampening");
  }

  // One update of params[first, size) from grads[first, size), queued on the stream.
  void step(DeviceSpan<T> params, DeviceSpan<const T> grads, std::size_t first = 0) {
    ctnn::optim::detail::check_step("SGD", parameter_count_, params.size(), grads.size(), first);
    momentum_buffer_.set_stream(stream_);
    T* buffer = options_.momentum != 0 ? momentum_buffer_.device().data() : nullptr;
    const auto fresh_end = static_cast<long long>(std::min(initialized_from_, parameter_count_));
    const auto count = static_cast<long long>(parameter_count_ - first);
    launch<T>(*kernels_, Kernel::sgd_step, count, stream_, static_cast<long long>(first),
              static_cast<long long>(parameter_count_), fresh_end, params.data(), grads.data(), buffer,
              static_cast<T>(options_.lr), static_cast<T>(options_.momentum), static_cast<T>(1 - options_.dampening),
              static_cast<T>(options_.weight_decay), options_.momentum != 0 ? 1 : 0, options_.nesterov ? 1 : 0,
              options_.weight_decay != 0 ? 1 : 0);
    initialized_from_ = std::min(initialized_from_, first);
    ++steps_;
  }

  template <class Model>
  void step(Model& model) {
    stream_ = model.stream();
    step(model.device_parameters(), std::as_const(model).device_gradients(), model.trainable_from());
  }

  double learning_rate() const { return options_.lr; }
  void set_learning_rate(double lr) { options_.lr = lr; }
  const Options& options() const { return options_; }

  std::vector<ctnn::optim::StateTensor<T>> state_tensors() {
    if (options_.momentum == 0) return {};
    return {{"momentum_buffer", momentum_buffer_.host()}};
  }
  std::uint64_t step_count() const { return steps_; }
  void set_step_count(std::uint64_t steps) {
    steps_ = steps;
    initialized_from_ = steps > 0 ? 0 : parameter_count_;
  }

 private:
  Options options_;
  const KernelLibrary* kernels_;
  cudaStream_t stream_;
  Mirrored<T> momentum_buffer_;
  std::size_t parameter_count_;
  std::size_t initialized_from_;  // parameters [initialized_from_, count) have a started buffer
  std::uint64_t steps_ = 0;
};

template <class T, bool DecoupledWeightDecay>
class AdamFamily {
 public:
  using Options = typename ctnn::optim::AdamFamily<T, DecoupledWeightDecay>::Options;
  static constexpr const char* name = DecoupledWeightDecay ? "AdamW" : "Adam";

  AdamFamily(std::size_t parameter_count, Options options, cudaStream_t stream = nullptr)
      : options_(options), kernels_(&KernelLibrary::current()), stream_(stream),
        exp_avg_(parameter_count, std::string(name) + "'s exp_avg"),
        exp_avg_sq_(parameter_count, std::string(name) + "'s exp_avg_sq"),
        max_exp_avg_sq_(options.amsgrad ? parameter_count : 0, std::string(name) + "'s max_exp_avg_sq"),
        parameter_count_(parameter_count) {
    if (options.lr < 0) throw Error(name, "learning rate must not be negative");
    if (options.eps < 0) throw Error(name, "eps must not be negative");
    if (options.beta1 < 0 || options.beta1 >= 1 || options.beta2 < 0 || options.beta2 >= 1)
      throw Error(name, "betas must lie in [0, 1)");
    if (options.weight_decay < 0) throw Error(name, "weight decay must not be negative");
  }

  void step(DeviceSpan<T> params, DeviceSpan<const T> grads, std::size_t first = 0) {
    ctnn::optim::detail::check_step(name, parameter_count_, params.size(), grads.size(), first);
    ++steps_;
    // The bias corrections in double, as Python computes them (see ctnn/optim/adam.hpp).
    const double t = static_cast<double>(steps_);
    const double bias_correction1 = 1 - std::pow(options_.beta1, t);
    const double bias_correction2_sqrt = std::sqrt(1 - std::pow(options_.beta2, t));
    for (Mirrored<T>* state : {&exp_avg_, &exp_avg_sq_, &max_exp_avg_sq_}) state->set_stream(stream_);
    T* v_max = options_.amsgrad ? max_exp_avg_sq_.device().data() : nullptr;
    const auto count = static_cast<long long>(parameter_count_ - first);
    launch<T>(*kernels_, Kernel::adam_step, count, stream_, static_cast<long long>(first),
              static_cast<long long>(parameter_count_), params.data(), grads.data(), exp_avg_.device().data(),
              exp_avg_sq_.device().data(), v_max, static_cast<T>(options_.lr / bias_correction1),
              static_cast<T>(options_.beta1), static_cast<T>(options_.beta2), static_cast<T>(1 - options_.beta1),
              static_cast<T>(1 - options_.beta2), static_cast<T>(bias_correction2_sqrt), static_cast<T>(options_.eps),
              static_cast<T>(options_.weight_decay), static_cast<T>(1 - options_.lr * options_.weight_decay),
              options_.weight_decay != 0 ? 1 : 0, options_.amsgrad ? 1 : 0, DecoupledWeightDecay ? 1 : 0);
  }

  template <class Model>
  void step(Model& model) {
    stream_ = model.stream();
    step(model.device_parameters(), std::as_const(model).device_gradients(), model.trainable_from());
  }

  double learning_rate() const { return options_.lr; }
  void set_learning_rate(double lr) { options_.lr = lr; }
  const Options& options() const { return options_; }

  std::vector<ctnn::optim::StateTensor<T>> state_tensors() {
    std::vector<ctnn::optim::StateTensor<T>> tensors{{"exp_avg", exp_avg_.host()}, {"exp_avg_sq", exp_avg_sq_.host()}};
    if (options_.amsgrad) tensors.push_back({"max_exp_avg_sq", max_exp_avg_sq_.host()});
    return tensors;
  }
  std::uint64_t step_count() const { return steps_; }
  void set_step_count(std::uint64_t steps) { steps_ = steps; }

 private:
  Options options_;
  const KernelLibrary* kernels_;
  cudaStream_t stream_;
  Mirrored<T> exp_avg_, exp_avg_sq_, max_exp_avg_sq_;
  std::size_t parameter_count_;
  std::uint64_t steps_ = 0;
};

template <class T>
using Adam = AdamFamily<T, false>;
template <class T>
using AdamW = AdamFamily<T, true>;

}  // namespace ctnn::cuda::optim
