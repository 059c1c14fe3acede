#pragma once
// ctnn::BatchNorm<C, Eps, Momentum>: nn.BatchNorm2d(C, eps=Eps, momentum=Momentum), with Eps and
// Momentum given as std::ratio (no floating-point template parameters):
//
//   BatchNorm<64>                       nn.BatchNorm2d(64)                  eps 1e-5, momentum 0.1
//   BatchNorm<64, std::ratio<1, 1000>>  nn.BatchNorm2d(64, eps=0.001)       torchvision's BasicConv2d
//
//   Shape<C, H, W> -> Shape<C, H, W>
//   parameters: weight [C] (gamma), bias [C] (beta)
//   buffers:    running_mean [C], running_var [C], num_batches_tracked [] (a count, stored as T)
//
// Evaluation normalises with the running statistics. Training normalises with the batch's own
// statistics over N*H*W values per channel (biased variance), and updates the running ones as
// PyTorch does:
//   running_mean = (1 - m) running_mean + m mean,   running_var = (1 - m) running_var + m var * M/(M-1)
//   CPU kernel: ctnn/cpu/batch_norm.hpp

#include <array>         // std::array
#include <concepts>      // std::convertible_to
#include <cstddef>       // std::size_t
#include <cstdint>       // std::intmax_t
#include <ratio>         // std::ratio
#include <string>        // std::to_string
#include <string_view>   // std::string_view

#include <ctnn/diagnostics.hpp>   // BatchNorm_receives_channels_but_was_declared_with_C, ...
#include <ctnn/error.hpp>         // ctnn::Error
#include <ctnn/evaluator.hpp>     // ctnn::ParamSpan
#include <ctnn/layer.hpp>         // ctnn::Layer, ctnn::TensorSpec, ctnn::TensorRole
#include <ctnn/shape.hpp>         // ctnn::ShapeType

namespace ctnn {

// A compile-time fraction, as std::ratio<1, 1000>.
template <class R>
concept Ratio = requires {
  { R::num } -> std::convertible_to<std::intmax_t>;
  { R::den } -> std::convertible_to<std::intmax_t>;
};

template <std::size_t C, Ratio Eps = std::ratio<1, 100000>, Ratio Momentum = std::ratio<1, 10>>
struct BatchNorm : Layer {
  static_assert(diagnostic::BatchNorm_C_must_be_positive<C>::ok);
  static_assert(diagnostic::BatchNorm_Eps_must_be_positive<Eps::num, Eps::den>::ok);
  static_assert(diagnostic::BatchNorm_Momentum_must_lie_in_0_to_1<Momentum::num, Momentum::den>::ok);

  static constexpr std::string_view type_name = "BatchNorm2d";
  static constexpr std::size_t channels = C;
  static constexpr double epsilon = static_cast<double>(Eps::num) / static_cast<double>(Eps::den);
  static constexpr double momentum = static_cast<double>(Momentum::num) / static_cast<double>(Momentum::den);

  static constexpr std::size_t parameter_count = 2 * C;
  static constexpr std::size_t buffer_count = 2 * C + 1;
  // Offsets inside the layer's parameters and buffers.
  static constexpr std::size_t weight_offset = 0, bias_offset = C;
  static constexpr std::size_t running_mean_offset = 0, running_var_offset = C, num_batches_tracked_offset = 2 * C;
  // Where each tensor lies in the layer's window of the model's buffers (gradients: nullptr
  // when frozen), for every backend's kernel.
  template <class T>
  struct Pointers {
    const T* weight;
    const T* bias;
    T* running_mean;
    T* running_var;
    T* num_batches_tracked;
    T* weight_grad;
    T* bias_grad;
  };
  template <class T>
  static Pointers<T> pointers(const ParamSpan<T>& p) {
    return {p.values + weight_offset,
            p.values + bias_offset,
            p.buffers + running_mean_offset,
            p.buffers + running_var_offset,
            p.buffers + num_batches_tracked_offset,
            p.gradients ? p.gradients + weight_offset : nullptr,
            p.gradients ? p.gradients + bias_offset : nullptr};
  }
  static constexpr std::array<TensorSpec, 5> tensors{{
      {"weight", {C}, 1, weight_offset, TensorRole::parameter},
      {"bias", {C}, 1, bias_offset, TensorRole::parameter},
      {"running_mean", {C}, 1, running_mean_offset, TensorRole::buffer},
      {"running_var", {C}, 1, running_var_offset, TensorRole::buffer},
      {"num_batches_tracked", {}, 0, num_batches_tracked_offset, TensorRole::buffer},
  }};

  // In place where the plan allows (evaluation). Training backward recomputes x-hat from x with
  // the saved statistics, so the output is not needed (and a following ReLU may overwrite it).
  static constexpr bool in_place = true;
  static constexpr bool backward_reads_input = true;
  static constexpr bool backward_reads_output = false;

  template <ShapeType Input>
    requires diagnostic::BatchNorm_receives_channels_but_was_declared_with_C<Input::channels, C>::ok
  using output_shape = Input;

  // The batch's mean and 1/sqrt(var + eps) per channel. `saved` is sized per image; the first
  // image's share holds the statistics of the whole batch.
  static constexpr std::size_t statistics_elements = 2 * C;
  template <ShapeType Input>
  static constexpr std::size_t saved_elements = align_elements(statistics_elements);
};

// Training's batch statistics need more than one value per channel (N*H*W = count, summed over
// the processes with SyncBatchNorm), as PyTorch's. Every device checks with this one message.
inline void require_batch_statistics(std::size_t count) {
  if (count < 2)
    throw Error("BatchNorm2d", "needs more than one value per channel in training (N*H*W is " + std::to_string(count) +
                                   "), as in PyTorch");
}

}  // namespace ctnn
