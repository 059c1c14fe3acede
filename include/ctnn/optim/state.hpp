#pragma once
// What every ctnn optimizer shares: its named state tensors, for checkpoints, and the check of
// the spans it is given.
//
//   for (auto [name, values] : optimizer.state_tensors()) save(name, values);  // "exp_avg", ...
//   optimizer.step_count()  /  optimizer.set_step_count(n)                      // the scalar state
//
// State tensors are laid out like the parameters: element i belongs to parameter i.

#include <cstddef>       // std::size_t
#include <span>          // std::span
#include <string>        // std::to_string
#include <string_view>   // std::string_view

#include <ctnn/error.hpp>   // ctnn::Error

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

}  // namespace ctnn::optim
