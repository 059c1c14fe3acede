#pragma once
// What every ctnn optimizer shares: its named state tensors, for checkpoints, the check of the
// spans it is given, and HostUpdates: where the CPU optimizers keep their state and run their
// update rules (ctnn/rules/optimizers.hpp). The GPU's are ctnn/cuda/optim.hpp's DeviceUpdates;
// the optimizer classes (sgd.hpp, adam.hpp) are written once over either.
//
//   for (auto [name, values] : optimizer.state_tensors()) save(name, values);  // "exp_avg", ...
//   optimizer.step_count()  /  optimizer.set_step_count(n)                      // the scalar state
//
// State tensors are laid out like the parameters: element i belongs to parameter i.

#include <cstddef>       // std::size_t, std::ptrdiff_t
#include <span>          // std::span
#include <string>        // std::to_string
#include <string_view>   // std::string_view
#include <utility>       // std::as_const
#include <vector>        // std::vector

#include <ctnn/error.hpp>                // ctnn::Error
#include <ctnn/rules/optimizers.hpp>     // ctnn::rules::sgd_update, adam_update

namespace ctnn::optim {

template <class T>
struct StateTensor {
  std::string_view name;  // PyTorch's per-parameter state key: "momentum_buffer", "exp_avg", ...
  std::span<T> values;    // one per parameter
};

namespace detail {
inline void check_step(const char* optimizer, std::size_t state, std::size_t params, std::size_t grads,
                       std::size_t first) {
  if (params != state || grads != state)
    throw Error(optimizer, "was built for " + std::to_string(state) + " parameters; step() got " +
                               std::to_string(params) + " parameters and " + std::to_string(grads) + " gradients");
  if (first > state)
    throw Error(optimizer, "first trainable parameter " + std::to_string(first) + " is past the " +
                               std::to_string(state) + " parameters");
}
}  // namespace detail

// The CPU: state in host vectors, the rules in an OpenMP loop over [first, n), the model's host
// spans.
struct HostUpdates {
  template <class T>
  using Buffer = std::vector<T>;
  template <class T>
  using Span = std::span<T>;

  template <class T>
  Buffer<T> make_buffer(std::size_t count, const char*) const {
    return Buffer<T>(count);
  }
  template <class T>
  std::span<T> host(Buffer<T>& buffer) const {
    return buffer;
  }
  template <class T>
  T* data(Buffer<T>& buffer) const {
    return buffer.data();
  }
  template <class Model>
  static auto parameters(Model& model) {
    return model.parameters();
  }
  template <class Model>
  static auto gradients(Model& model) {
    return std::as_const(model).gradients();
  }
  template <class Model>
  void bind(Model&) {}

  template <class T>
  void sgd(const rules::SgdStep<T>& step, std::size_t first, std::size_t n, std::size_t fresh_end, T* p, const T* grad,
           T* buf) {
    const auto end = static_cast<std::ptrdiff_t>(n), fresh = static_cast<std::ptrdiff_t>(fresh_end);
#pragma omp parallel for schedule(static) if (end - static_cast<std::ptrdiff_t>(first) > (1 << 16))
    for (std::ptrdiff_t i = static_cast<std::ptrdiff_t>(first); i < end; ++i)
      rules::sgd_update(step, i, i < fresh, p, grad, buf);
  }
  template <class T>
  void adam(const rules::AdamStep<T>& step, std::size_t first, std::size_t n, T* p, const T* grad, T* m, T* v,
            T* v_max) {
    const auto end = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for schedule(static) if (end - static_cast<std::ptrdiff_t>(first) > (1 << 16))
    for (std::ptrdiff_t i = static_cast<std::ptrdiff_t>(first); i < end; ++i)
      rules::adam_update(step, i, p, grad, m, v, v_max);
  }
};

}  // namespace ctnn::optim
