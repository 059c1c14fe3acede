#pragma once
// Initialisers for a model's parameters, each from a seedable generator.
//
//   init::googlenet_seed(model, seed)   the reference model's _initialize_weights: convolution
//                                       weights Kaiming normal (fan_out, ReLU gain), linear weights
//                                       normal(0, 0.01), biases zero
//   init::pytorch_default(model, seed)  what nn.Conv2d / nn.Linear do on construction:
//                                       weight and bias uniform(+-1/sqrt(fan_in))
//   init::reference_uniform(model, seed) the hash-based fill that tools/ctnn_reference.py repeats
//                                       bit for bit, so tests compare with PyTorch without
//                                       shipping weights
// BatchNorm starts as PyTorch's: weight 1, bias 0, running mean 0, running variance 1.

#include <cmath>     // std::sqrt
#include <cstdint>   // std::uint64_t, std::int64_t
#include <random>    // std::mt19937_64, std::normal_distribution, std::uniform_real_distribution
#include <span>      // std::span
#include <string>    // std::string
#include <vector>    // std::vector

#include <ctnn/parameters.hpp>       // ctnn::named_tensors
#include <ctnn/reference_init.hpp>   // ctnn::reference_uniform_fill

namespace ctnn::init {

namespace detail {
inline bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Calls fill(tensor, destination span) for every tensor of the model.
template <class Model, class Fill>
void for_each_tensor(Model& model, Fill&& fill) {
  for (const NamedTensor& t : named_tensors<typename Model::network, typename Model::input_shape>()) {
    auto storage = t.role == TensorRole::parameter ? model.parameters() : model.buffers();
    fill(t, storage.subspan(t.offset, t.count));
  }
}

// BatchNorm's tensors (1-D weight, bias, running statistics) as PyTorch initialises them.
template <class T>
bool batch_norm_default(const NamedTensor& t, std::span<T> out) {
  const bool batch_norm_weight = ends_with(t.name, ".weight") && t.shape.size() == 1;
  const bool batch_norm_bias = ends_with(t.name, ".bias") && t.weight_rank == 1;
  if (batch_norm_weight || ends_with(t.name, ".running_var")) {
    for (T& v : out) v = T(1);
    return true;
  }
  if (batch_norm_bias || ends_with(t.name, ".running_mean") || ends_with(t.name, ".num_batches_tracked")) {
    for (T& v : out) v = T(0);
    return true;
  }
  return false;
}
}  // namespace detail

template <class Model>
void googlenet_seed(Model& model, std::uint64_t seed) {
  using T = typename Model::scalar;
  std::mt19937_64 generator(seed);
  detail::for_each_tensor(model, [&](const NamedTensor& t, std::span<T> out) {
    if (detail::batch_norm_default(t, out)) return;
    if (detail::ends_with(t.name, ".bias")) {
      for (T& v : out) v = T(0);
    } else if (t.shape.size() == 4) {
      // kaiming_normal_(mode="fan_out", nonlinearity="relu"): std = sqrt(2 / (Out * K * K))
      const double fan_out = static_cast<double>(t.count / t.shape[1]);
      std::normal_distribution<double> normal(0.0, std::sqrt(2.0 / fan_out));
      for (T& v : out) v = static_cast<T>(normal(generator));
    } else {
      std::normal_distribution<double> normal(0.0, 0.01);
      for (T& v : out) v = static_cast<T>(normal(generator));
    }
  });
}

template <class Model>
void pytorch_default(Model& model, std::uint64_t seed) {
  using T = typename Model::scalar;
  std::mt19937_64 generator(seed);
  detail::for_each_tensor(model, [&](const NamedTensor& t, std::span<T> out) {
    if (detail::batch_norm_default(t, out)) return;
    // kaiming_uniform_(a=sqrt(5)) gives bound 1/sqrt(fan_in) for weights; biases use the same.
    const std::size_t fan_in = t.shape.size() >= 2 ? t.count / t.shape[0] : t.fan_in;
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    std::uniform_real_distribution<double> uniform(-bound, bound);
    for (T& v : out) v = static_cast<T>(uniform(generator));
  });
}

template <class Model>
void reference_uniform(Model& model, std::uint64_t seed) {
  using T = typename Model::scalar;
  detail::for_each_tensor(model, [&](const NamedTensor& t, std::span<T> out) {
    std::vector<std::int64_t> shape(t.shape.begin(), t.shape.end());
    reference_uniform_fill<T>(t.name, shape, static_cast<std::int64_t>(t.fan_in), seed, out);
  });
}

}  // namespace ctnn::init
