#pragma once
// ctnn::reference_uniform_fill: the "reference initialisation", a deterministic fill of a tensor from
// (name, PyTorch shape, seed) that tools/ctnn_reference.py (reference_uniform / init_module)
// reproduces bit-exactly. Whole-network parity tests build GoogLeNet with it on both sides, so no
// trained weights have to be committed.
//
// Exact specification (keep identical to tools/ctnn_reference.py):
//
//   fnv1a_64(bytes): h = 0xcbf29ce484222325; for each byte b: h ^= b; h = (h * 0x100000001b3) mod 2^64
//   state = seed ^ fnv1a_64(utf8 name)
//   for i in 0..n-1:  state = (state + 0x9E3779B97F4A7C15) mod 2^64; z = state
//                     z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) mod 2^64
//                     z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) mod 2^64
//                     z = z ^ (z >> 31)
//                     u_i   = float32(z >> 40) * 2^-24            (exact, in [0, 1))
//                     sym_i = float32(2 * u_i - 1)                (exact, in [-1, 1))
//   value by name (shape is PyTorch's shape of the tensor, i is the row-major flat index):
//     name ends with ".weight" and ndim >= 2 : fan_in = prod(shape[1:]);
//                                              bound = float32(sqrt(6.0 / fan_in)) computed in double
//                                              then rounded; value = float32(sym_i * bound)
//     name ends with ".bias"                  : bound = float32(1.0 / sqrt(bias_fan_in)) in double then
//                                              rounded; value = float32(sym_i * bound)
//     name ends with ".weight" and ndim < 2   : (BatchNorm gamma) value = 1.0f + 0.25f * sym_i (float32)
//     name ends with ".running_mean"          : value = 0.1f * sym_i
//     name ends with ".running_var"           : value = 0.5f + u_i
//     name ends with ".num_batches_tracked"   : 0
//     anything else (inputs such as "input")  : value = sym_i
//   bias_fan_in is the fan-in of the sibling ".weight": prod(weight_shape[1:]) (1 for a BatchNorm's
//   1-D weight). The sequence is SplitMix64; the weight rule is Kaiming-uniform with gain sqrt(2) and
//   the bias rule PyTorch's default bias bound, so deep ReLU networks keep activations of order one.
//
// Why it is bit-exact across languages: every float step is either exact or one IEEE float32
// operation rounded once (sqrt and division are correctly rounded in double, then rounded to float
// once). A fused multiply-add cannot change 1.0f + 0.25f * sym because 0.25f * sym is exact.
// Values are produced in PyTorch's row-major element order; converting to another layout is the
// caller's job.

#include <cmath>          // std::sqrt
#include <cstddef>        // std::size_t
#include <cstdint>        // std::uint64_t, std::int64_t
#include <span>           // std::span
#include <string>         // std::string, std::to_string
#include <string_view>    // std::string_view
#include <type_traits>    // std::is_floating_point_v

#include "ctnn/error.hpp"  // ctnn::Error

namespace ctnn {

namespace reference_init_detail {

// FNV-1a over the UTF-8 bytes of the name: decorrelates tensors that share a seed.
constexpr std::uint64_t fnv1a_64(std::string_view bytes) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);  // bytes, not (possibly signed) chars
    h *= 0x100000001b3ULL;               // unsigned arithmetic wraps mod 2^64
  }
  return h;
}

// One SplitMix64 step: advances `state` and returns the mixed output.
constexpr std::uint64_t splitmix64_next(std::uint64_t& state) noexcept {
  state += 0x9E3779B97F4A7C15ULL;
  std::uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Which rule of the specification a tensor name selects.
enum class Rule { kWeight, kBias, kGamma, kRunningMean, kRunningVar, kZero, kPlain };

inline Rule rule_for(std::string_view name, std::size_t ndim) noexcept {
  if (name.ends_with(".weight")) return ndim >= 2 ? Rule::kWeight : Rule::kGamma;
  if (name.ends_with(".bias")) return Rule::kBias;
  if (name.ends_with(".running_mean")) return Rule::kRunningMean;
  if (name.ends_with(".running_var")) return Rule::kRunningVar;
  if (name.ends_with(".num_batches_tracked")) return Rule::kZero;
  return Rule::kPlain;
}

inline std::string shape_text(std::span<const std::int64_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace reference_init_detail

// Fills `out` with the reference-initialisation values of the tensor `tensor_name` whose PyTorch
// shape is `pytorch_shape` (see the specification above). `bias_fan_in` is the fan-in of the sibling
// weight and is read only for names ending in ".bias" (where it must be > 0). For T = double the
// float32 value is converted to double, so float and double models start from identical weights.
// Throws ctnn::Error when a dimension is negative, the bias fan-in is missing, or out.size() is not
// the number of elements of the shape.
template <class T>
void reference_uniform_fill(std::string_view tensor_name, std::span<const std::int64_t> pytorch_shape,
                            std::int64_t bias_fan_in, std::uint64_t seed, std::span<T> out) {
  static_assert(std::is_floating_point_v<T>, "reference_uniform_fill fills float or double storage");
  namespace d = reference_init_detail;
  const std::string subject = "reference init of '" + std::string(tensor_name) + "'";

  // Element count and fan-in (product of all dimensions but the first), checking for bad shapes.
  std::uint64_t count = 1;
  std::uint64_t fan_in = 1;
  for (std::size_t i = 0; i < pytorch_shape.size(); ++i) {
    if (pytorch_shape[i] < 0) {
      throw Error(subject, "negative dimension in shape " + d::shape_text(pytorch_shape));
    }
    count *= static_cast<std::uint64_t>(pytorch_shape[i]);
    if (i > 0) fan_in *= static_cast<std::uint64_t>(pytorch_shape[i]);
  }
  if (count != out.size()) {
    throw Error(subject, "shape " + d::shape_text(pytorch_shape) + " has " + std::to_string(count) +
                             " elements, output span has " + std::to_string(out.size()));
  }

  const d::Rule rule = d::rule_for(tensor_name, pytorch_shape.size());
  if (rule == d::Rule::kBias && bias_fan_in <= 0) {
    throw Error(subject, "a bias needs the fan-in of its weight, got " + std::to_string(bias_fan_in));
  }
  if (rule == d::Rule::kZero) {
    for (T& v : out) v = T(0);
    return;
  }
  if (count == 0) return;  // nothing to fill (and a zero fan-in would make the bound infinite)

  // Bounds: correctly rounded double sqrt/division, rounded once to float (as numpy does).
  float bound = 1.0f;
  if (rule == d::Rule::kWeight) {
    bound = static_cast<float>(std::sqrt(6.0 / static_cast<double>(fan_in)));
  } else if (rule == d::Rule::kBias) {
    bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(bias_fan_in)));
  }

  std::uint64_t state = seed ^ d::fnv1a_64(tensor_name);
  for (T& v : out) {
    const std::uint64_t z = d::splitmix64_next(state);
    // 24-bit integer -> float is exact; scaling by 2^-24 is exact.
    const float u = static_cast<float>(z >> 40) * 0x1p-24f;
    const float sym = 2.0f * u - 1.0f;  // exact: at most 24 significant bits, |sym| <= 1
    float value = sym;
    switch (rule) {
      case d::Rule::kWeight:
      case d::Rule::kBias: value = sym * bound; break;
      case d::Rule::kGamma: value = 1.0f + 0.25f * sym; break;
      case d::Rule::kRunningMean: value = 0.1f * sym; break;
      case d::Rule::kRunningVar: value = 0.5f + u; break;
      case d::Rule::kZero:
      case d::Rule::kPlain: break;
    }
    v = static_cast<T>(value);
  }
}

}  // namespace ctnn
