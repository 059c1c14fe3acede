#pragma once
// Classification losses on the device: ctnn::cuda::ClassificationObjective<T> is
// ctnn::ClassificationObjective<T> (ctnn/loss.hpp) with the logits never leaving the GPU.
//
//   ctnn::cuda::ClassificationObjective<float> objective;      // aux weight 0.3, as GoogLeNet
//   model.train(); model.forward(device_images);
//   objective.backward(model, device_labels);                   // main + 0.3 * (aux1 + aux2)
//   ctnn::ClassificationLoss<float> loss = objective.loss();    // downloads N values per output
//
// Per output: log-softmax through cuDNN (cudnnSoftmaxForward, LOG, per instance), then one kernel
// for the gradient (softmax - onehot) * weight / N and each example's loss -log p[label]: the
// CPU loss's own arithmetic (ctnn/rules/cross_entropy.hpp). Labels are int32 in [0, classes); a
// label outside is reported by loss() (device labels: the first bad example, as on the CPU) or
// before anything runs (host labels, checked by the CPU loss's check).

#include <array>     // std::array
#include <cstddef>   // std::size_t
#include <cstdint>   // std::int32_t
#include <span>      // std::span
#include <string>    // std::to_string
#include <vector>    // std::vector

#include <cudnn.h>   // cudnnSoftmaxForward

#include <ctnn/cuda/context.hpp>   // ctnn::cuda::max_aux_outputs
#include <ctnn/cuda/cudnn.hpp>     // ctnn::cuda::TensorDescriptor, one, zero
#include <ctnn/cuda/error.hpp>     // CTNN_CUDNN_CHECK, CTNN_CUDA_CHECK
#include <ctnn/cuda/kernels.hpp>   // ctnn::cuda::launch, Kernel
#include <ctnn/cuda/memory.hpp>    // ctnn::cuda::DeviceBuffer, DeviceSpan, copy_to_host
#include <ctnn/error.hpp>          // ctnn::Error
#include <ctnn/loss.hpp>           // ctnn::AuxWeighted, ctnn::ClassificationLoss, ctnn::detail::check_labels
#include <ctnn/rules/cross_entropy.hpp>   // ctnn::rules::no_bad_example

namespace ctnn::cuda {

template <class T>
class ClassificationObjective : public AuxWeighted<T> {
 public:
  using AuxWeighted<T>::AuxWeighted;

  // Gradients of the losses of the model's last training forward, then model.backward() with
  // them; all queued on the model's stream. labels: N int32 on the device.
  template <class Model>
  void backward(Model& model, DeviceSpan<const std::int32_t> labels) {
    auto& ctx = model.context();
    const std::size_t batch = labels.size();
    const std::size_t outputs = 1 + model.aux_output_count();
    if (batch != model.batch_size())
      throw Error("ClassificationObjective", std::to_string(batch) + " labels for a batch of " +
                                                 std::to_string(model.batch_size()));
    std::array<DeviceSpan<const T>, 1 + max_aux_outputs> logits{};
    logits[0] = model.device_output();
    for (std::size_t k = 1; k < outputs; ++k) logits[k] = model.device_aux_output(k - 1);
    std::size_t total = 0;
    for (std::size_t k = 0; k < outputs; ++k) total += logits[k].size();
    reserve(total, batch * outputs);
    // All bits set: rules::no_bad_example(), the value atomicMin lowers.
    CTNN_CUDA_CHECK(cudaMemsetAsync(first_bad_example_.data(), 0xff, sizeof(unsigned), ctx.stream()));

    std::array<DeviceSpan<const T>, max_aux_outputs> aux_gradients{};
    T* gradient = gradients_.data();
    for (std::size_t k = 0; k < outputs; ++k) {
      const std::size_t classes = logits[k].size() / batch;
      descriptor_.template set_images<T>(batch, classes, 1, 1, classes);
      CTNN_CUDNN_CHECK(cudnnSoftmaxForward(ctx.cudnn(), CUDNN_SOFTMAX_LOG, CUDNN_SOFTMAX_MODE_INSTANCE,
                                           one<T>.get(), descriptor_, logits[k].data(), zero<T>.get(), descriptor_,
                                           log_probabilities_.data()));
      const T weight = k == 0 ? T(1) : this->aux_weight_;
      const auto count = static_cast<long long>(logits[k].size());
      launch<T>(*ctx.kernels, Kernel::cross_entropy_backward, count, ctx.stream(), count,
                static_cast<long long>(classes), static_cast<const T*>(log_probabilities_.data()), labels.data(),
                gradient, losses_.data() + k * batch, static_cast<T>(weight / static_cast<T>(batch)),
                first_bad_example_.data());
      if (k > 0) aux_gradients[k - 1] = {gradient, logits[k].size()};
      if (k == 0) main_gradient_ = {gradient, logits[0].size()};
      gradient += logits[k].size();
    }
    batch_ = batch;
    outputs_ = outputs;
    stream_ = ctx.stream();
    labels_ = labels;
    model.backward(main_gradient_, std::span<const DeviceSpan<const T>>(aux_gradients.data(), outputs - 1));
  }

  // Host labels: checked, uploaded, then as above.
  template <class Model>
  void backward(Model& model, std::span<const std::int32_t> labels) {
    ctnn::detail::check_labels(labels, Model::output_shape::size);
    if (labels.size() > uploaded_labels_.size())
      uploaded_labels_.allocate(labels.size(), "the uploaded labels");
    copy_to_device_async<std::int32_t>(labels, uploaded_labels_.span().first(labels.size()),
                                       model.context().stream());
    backward(model, DeviceSpan<const std::int32_t>(uploaded_labels_.data(), labels.size()));
    model.synchronize();  // the host labels may change once this returns
  }

  // The losses of the last backward: main, each auxiliary output, and main + weight * sum of
  // aux, as ctnn::ClassificationObjective computes them. Waits for the device.
  ClassificationLoss<T> loss() const {
    ClassificationLoss<T> result;
    if (outputs_ == 0) throw Error("ClassificationObjective::loss", "call backward() first");
    std::vector<T> losses(batch_ * outputs_);
    unsigned bad = rules::no_bad_example();
    copy_to_host<T>(DeviceSpan<const T>(losses_.data(), losses.size()), std::span<T>(losses), stream_);
    copy_to_host<unsigned>(DeviceSpan<const unsigned>(first_bad_example_.data(), 1), std::span<unsigned>(&bad, 1),
                           stream_);
    if (bad != rules::no_bad_example()) {
      std::int32_t label = 0;
      copy_to_host<std::int32_t>(labels_.subspan(bad, 1), std::span<std::int32_t>(&label, 1), stream_);
      throw Error("cross_entropy", "label " + std::to_string(label) + " of example " + std::to_string(bad) +
                                       " is outside the classes");
    }
    for (std::size_t k = 0; k < outputs_; ++k) {
      double sum = 0;
      for (std::size_t n = 0; n < batch_; ++n) sum += static_cast<double>(losses[k * batch_ + n]);
      result.add_output(k, static_cast<T>(sum / static_cast<double>(batch_)), this->aux_weight_);
    }
    return result;
  }

  // d(total)/d(main output) of the last backward, on the device.
  DeviceSpan<const T> main_gradient() const { return main_gradient_; }

 private:
  void reserve(std::size_t logits, std::size_t losses) {
    if (logits > gradients_.size()) {
      gradients_.allocate(logits, "the loss gradients");
      log_probabilities_.allocate(logits, "the log-probabilities");
    }
    if (losses > losses_.size()) losses_.allocate(losses, "the per-example losses");
    if (first_bad_example_.size() == 0) first_bad_example_.allocate(1, "the label check");
  }

  TensorDescriptor descriptor_;
  DeviceBuffer<T> gradients_, log_probabilities_, losses_;
  DeviceBuffer<unsigned> first_bad_example_;
  DeviceBuffer<std::int32_t> uploaded_labels_;
  DeviceSpan<const T> main_gradient_;
  DeviceSpan<const std::int32_t> labels_;
  std::size_t batch_ = 0, outputs_ = 0;
  cudaStream_t stream_ = nullptr;
};

}  // namespace ctnn::cuda
