#pragma once
// Optimizers on the device: ctnn::cuda::optim::SGD<T>, Adam<T>, AdamW<T> update the flat
// parameter buffer from the flat gradient buffer in one kernel launch, with state buffers laid
// out like the parameters. They are the CPU optimizers' classes (ctnn/optim/sgd.hpp, adam.hpp)
// over DeviceUpdates below: the same options, checks, state names and update rules
// (ctnn/rules/optimizers.hpp, compiled by NVRTC), which are PyTorch's.
//
//   ctnn::cuda::optim::SGD<float> sgd(model.parameter_count, {.lr = 0.01, .momentum = 0.9});
//   model.forward(images); objective.backward(model, labels); sgd.step(model);   // all on the GPU
//
// step(model) leaves the model's frozen prefix alone (trainable_from()) and runs on its stream.
// state_tensors() gives host spans for checkpoints: read, they download the state; written, the
// state is uploaded before the next step.

#include <cstddef>   // std::size_t
#include <span>      // std::span
#include <utility>   // std::as_const

#include <cuda_runtime.h>   // cudaStream_t

#include <ctnn/cuda/kernels.hpp>       // ctnn::cuda::KernelLibrary, launch, Kernel
#include <ctnn/cuda/memory.hpp>        // ctnn::cuda::DeviceSpan, Mirrored
#include <ctnn/optim/adam.hpp>         // ctnn::optim::AdamFamily
#include <ctnn/optim/sgd.hpp>          // ctnn::optim::BasicSGD
#include <ctnn/rules/optimizers.hpp>   // ctnn::rules::SgdStep, AdamStep

namespace ctnn::cuda::optim {

// The GPU: state in Mirrored buffers (host spans for checkpoints), one kernel per step on
// `stream` (step(model) takes the model's), the model's device spans.
class DeviceUpdates {
 public:
  template <class T>
  using Buffer = Mirrored<T>;
  template <class T>
  using Span = DeviceSpan<T>;

  explicit DeviceUpdates(cudaStream_t stream = nullptr) : kernels_(&KernelLibrary::current()), stream_(stream) {}

  template <class T>
  Buffer<T> make_buffer(std::size_t count, const char* what) const {
    return Buffer<T>(count, what, stream_);
  }
  // The state's transfers run on the stream the steps run on.
  template <class T>
  std::span<T> host(Buffer<T>& buffer) const {
    buffer.set_stream(stream_);
    return buffer.host();
  }
  template <class T>
  T* data(Buffer<T>& buffer) const {
    buffer.set_stream(stream_);
    return buffer.device().data();
  }
  template <class Model>
  static auto parameters(Model& model) {
    return model.device_parameters();
  }
  template <class Model>
  static auto gradients(Model& model) {
    return std::as_const(model).device_gradients();
  }
  template <class Model>
  void bind(Model& model) {
    stream_ = model.stream();
  }

  template <class T>
  void sgd(const rules::SgdStep<T>& step, std::size_t first, std::size_t n, std::size_t fresh_end, T* p, const T* grad,
           T* buf) {
    const auto count = static_cast<long long>(n - first);
    launch<T>(*kernels_, Kernel::sgd_step, count, stream_, static_cast<long long>(first), static_cast<long long>(n),
              static_cast<long long>(fresh_end), p, grad, buf, step);
  }
  template <class T>
  void adam(const rules::AdamStep<T>& step, std::size_t first, std::size_t n, T* p, const T* grad, T* m, T* v,
            T* v_max) {
    const auto count = static_cast<long long>(n - first);
    launch<T>(*kernels_, Kernel::adam_step, count, stream_, static_cast<long long>(first), static_cast<long long>(n), p,
              grad, m, v, v_max, step);
  }

 private:
  const KernelLibrary* kernels_;
  cudaStream_t stream_;
};

template <class T>
using SGD = ctnn::optim::BasicSGD<T, DeviceUpdates>;
template <class T>
using Adam = ctnn::optim::AdamFamily<T, false, DeviceUpdates>;
template <class T>
using AdamW = ctnn::optim::AdamFamily<T, true, DeviceUpdates>;

}  // namespace ctnn::cuda::optim
