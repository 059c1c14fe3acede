#pragma once
// ctnn::Model<Net, In, T, Cuda>: the same network type on an NVIDIA GPU.
//
//   ctnn::Model<ctnn::GoogLeNet<1000, false>, ctnn::Shape<3, 224, 224>, float, ctnn::Cuda> model;
//   ctnn::init::googlenet_seed(model, 42);                 // writes the host copy of the parameters
//   std::span<const float> logits = model.forward(images); // host in, host out
//   ctnn::cuda::DeviceSpan<const float> out = model.forward(device_images);  // device in and out
//
// Everything the CPU model does is the one front end's (ctnn/model.hpp); the device's memory,
// planning and graph replay are ctnn/cuda/backend.hpp's. This class adds device spans and the
// GPU's settings.
//
// Memory, as on the CPU, plus:
//   workspace    one device buffer shared by every cuDNN and cuBLAS call, sized by planning
// After the first forward (or prepare()) at a batch size, a forward or backward pass allocates
// nothing.
//
// Host and device copies. parameters(), gradients() and buffers() are host spans of a mirror
// (ctnn::cuda::Mirrored): reading one downloads what the device has changed, writing through one
// is uploaded before the device next uses it; device_parameters() and the like never leave the
// device. forward() and backward() given host spans copy them over and return host spans; given
// device spans they queue work on stream() and return device spans, transferring nothing.
//
// Inference at a fixed batch size replays a CUDA graph of the whole forward pass (see
// ctnn/cuda/backend.hpp).

#include <array>         // std::array
#include <cstddef>       // std::size_t
#include <cstdint>       // std::uint64_t
#include <span>          // std::span
#include <string>        // std::string
#include <type_traits>   // std::remove_const_t
#include <vector>        // std::vector

#include <cuda_runtime.h>   // cudaStream_t

#include <ctnn/cuda/backend.hpp>   // ctnn::Backend<Cuda, T>, ctnn::cuda::current_device
#include <ctnn/cuda/context.hpp>   // ctnn::cuda::Context, AlgorithmSearch
#include <ctnn/cuda/error.hpp>     // CTNN_CUDA_CHECK
#include <ctnn/cuda/memory.hpp>    // ctnn::cuda::DeviceBuffer, DeviceSpan
#include <ctnn/model.hpp>          // ctnn::Model, ctnn::ModelFrontEnd
#include <ctnn/shape.hpp>          // ctnn::ShapeType

namespace ctnn {

template <class Net, ShapeType In, class T>
class Model<Net, In, T, Cuda> : public ModelFrontEnd<Net, In, T, Cuda> {
  using Base = ModelFrontEnd<Net, In, T, Cuda>;

 public:
  using typename Base::output_shape;
  using Base::backward;
  using Base::forward;

  // Creates the model on `device` (default: the current one). Compiles ctnn's kernels for its
  // architecture the first time in the process. Parameters, gradients and buffers start at zero.
  explicit Model(int device = cuda::current_device()) : Base(device) {}

  // ---- state: on the device ---------------------------------------------------------------
  cuda::DeviceSpan<T> device_parameters() { return this->parameters_.device(); }
  cuda::DeviceSpan<const T> device_parameters() const { return this->parameters_.device_view(); }
  cuda::DeviceSpan<T> device_gradients() { return this->gradients_.device(); }
  cuda::DeviceSpan<const T> device_gradients() const { return this->gradients_.device_view(); }
  cuda::DeviceSpan<T> device_buffers() { return this->buffers_.device().first(Base::buffer_count); }
  cuda::DeviceSpan<const T> device_buffers() const { return this->buffers_.device_view().first(Base::buffer_count); }
  // Explicit transfers of parameters and buffers (the mirrors otherwise transfer on first use).
  void upload() {
    this->parameters_.upload();
    this->buffers_.upload();
  }
  void download() const {
    this->parameters_.download();
    this->buffers_.download();
  }

  // The GPU backend runs no host threads; kept so code written for the CPU model compiles.
  void set_threads(int) {}
  int threads() const { return 1; }
  // Seeds cuDNN's dropout generator (its masks differ from the CPU backend's for a seed).
  void seed(std::uint64_t seed) {
    this->context().dropout_seed = seed;
    this->context().dropout_states_ready = false;
  }

  cuda::DeviceSpan<const T> device_input_gradient() const {
    return {this->checked_input_gradient(), this->context().batch * In::size};
  }
  cuda::DeviceSpan<const T> device_recorded_output() const {
    return {this->checked_recorded_output(), this->context().batch * this->recorded_layer_->output_size};
  }

  // ---- forward ----------------------------------------------------------------------------
  // Device images in, device outputs back: queued on stream(), nothing transferred. Images
  // already in input_buffer(N) are used where they are.
  cuda::DeviceSpan<const T> forward(cuda::DeviceSpan<const T> images) {
    const std::size_t batch = Base::check_input(images.size());
    this->prepare(batch, this->mode_);
    if (images.data() != this->input_)
      CTNN_CUDA_CHECK(
          cudaMemcpyAsync(this->input_, images.data(), images.size_bytes(), cudaMemcpyDeviceToDevice, stream()));
    this->run_forward({this->input_, In::size});
    return device_output();
  }
  // The model's own device input for `batch` images in the current mode, to be filled before
  // forward(input_buffer(batch)); spares a copy.
  cuda::DeviceSpan<T> input_buffer(std::size_t batch) {
    this->prepare(batch, this->mode_);
    return {this->input_, batch * In::size};
  }
  cuda::DeviceSpan<const T> device_output() const { return {this->output_, this->context().batch * output_shape::size}; }
  cuda::DeviceSpan<const T> device_aux_output(std::size_t k) const {
    this->check_aux_index(k);
    return {this->context().aux_outputs[k].data, this->context().batch * this->context().aux_output_sizes[k]};
  }

  // ---- backward ---------------------------------------------------------------------------
  // Device gradients: queued on stream(); device_gradients() holds the result.
  void backward(cuda::DeviceSpan<const T> output_gradient, std::span<const cuda::DeviceSpan<const T>> aux_gradients = {}) {
    this->check_backward(output_gradient.size(), aux_gradients.size());
    std::array<const T*, max_aux_outputs> aux{};
    for (std::size_t k = 0; k < aux_gradients.size(); ++k) {
      this->check_aux_gradient(k, aux_gradients[k].size());
      aux[k] = aux_gradients[k].data();
    }
    this->run_backward(output_gradient.data(), std::span<const T* const>(aux.data(), aux_gradients.size()));
  }

  // ---- memory -----------------------------------------------------------------------------
  std::size_t workspace_bytes() const { return this->backend_.workspace_bytes(); }

  // ---- transfers on the model's stream ------------------------------------------------------
  // A new device buffer holding `host` (e.g. images for forward(DeviceSpan)), after the work
  // queued so far; and a device span's values on the host, once the work queued so far is done.
  cuda::DeviceBuffer<T> to_device(std::span<const T> host) const {
    cuda::DeviceBuffer<T> buffer(host.size(), "a copy of host data");
    cuda::copy_to_device<T>(host, buffer.span(), stream());
    return buffer;
  }
  template <class U>
  std::vector<std::remove_const_t<U>> to_host(cuda::DeviceSpan<U> device) const {
    using V = std::remove_const_t<U>;
    std::vector<V> host(device.size());
    cuda::copy_to_host<V>(cuda::DeviceSpan<const V>(device.data(), device.size()), std::span<V>(host), stream());
    return host;
  }

  // ---- GPU settings -----------------------------------------------------------------------
  // Replay a CUDA graph for evaluation-mode forwards at a fixed batch size (default on).
  void use_cuda_graphs(bool on) { this->backend_.use_graphs(on); }
  bool uses_cuda_graphs() const { return this->backend_.uses_graphs(); }
  // Whether the last forward launched a captured graph, and why capturing failed if it did.
  bool replayed_graph() const { return this->backend_.replayed_graph(); }
  const std::string& graph_error() const { return this->backend_.graph_error(); }
  // TF32 tensor cores for float convolutions (default on, as PyTorch's cudnn.allow_tf32).
  void allow_tf32(bool on) { this->backend_.settings().allow_tf32 = on; }
  void set_algorithm_search(cuda::AlgorithmSearch search) { this->backend_.settings().algorithm_search = search; }
  // The largest workspace one convolution algorithm may use (default 1 GiB).
  void set_workspace_limit(std::size_t bytes) { this->backend_.settings().workspace_limit = bytes; }
  // Leave out cuDNN's FFT and Winograd convolution algorithms (default: all algorithms): their
  // float results differ from a direct convolution's by more than rounding.
  void exclude_transform_algorithms(bool on) { this->backend_.settings().exclude_transform_algorithms = on; }

  cudaStream_t stream() const { return this->backend_.stream(); }
  void synchronize() const { this->backend_.synchronize(); }
  cuda::Context<T>& context() { return this->backend_.context(); }
  const cuda::Context<T>& context() const { return this->backend_.context(); }
  // Distinct cuDNN plans made so far (descriptors and chosen algorithms).
  std::size_t plan_count() const { return this->backend_.plan_count(); }
};

}  // namespace ctnn
