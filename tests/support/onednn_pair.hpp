#pragma once
// Test support for the oneDNN backend's tests: the same network on Eigen (the reference) and on
// oneDNN with the same parameters, and a deterministic input. Needs CTNN_WITH_ONEDNN.

#include <algorithm>   // std::copy
#include <cstddef>     // std::size_t
#include <cstdint>     // std::uint64_t
#include <vector>      // std::vector

#include <doctest/doctest.h>   // MESSAGE

#include <ctnn/ctnn.hpp>     // ctnn::Model, ctnn::init::reference_uniform, named_tensors
#include <ctnn/onednn.hpp>   // ctnn::OneDnn, ctnn::onednn::Precision

namespace ctnn::test {

template <class Net, ShapeType In>
using FastModel = Model<Net, In, float, OneDnn>;

// `count` values in [-scale / 2, scale / 2), the same on every run.
inline std::vector<float> pattern(std::size_t count, float scale = 1.0f) {
  std::vector<float> v(count);
  for (std::size_t i = 0; i < count; ++i) v[i] = scale * (static_cast<float>((i * 7919) % 255) / 255.0f - 0.5f);
  return v;
}

// The same network on Eigen and oneDNN with the same parameters and input.
template <class Net, ShapeType In>
struct Pair {
  Model<Net, In> reference;
  FastModel<Net, In> fast;
  explicit Pair(std::uint64_t seed) {
    init::reference_uniform(reference, seed);
    std::copy(reference.parameters().begin(), reference.parameters().end(), fast.parameters().begin());
    std::copy(reference.buffers().begin(), reference.buffers().end(), fast.buffers().begin());
  }
};

// Multiplies every batch norm's running variance by `factor` in both models: statistics written
// on the host after the oneDNN side folded them into its convolutions, which it must fold again.
template <class Net, ShapeType In>
void scale_running_variances(Pair<Net, In>& pair, float factor) {
  for (const NamedTensor& t : named_tensors<Net, In>())
    if (t.name.ends_with("running_var"))
      for (std::size_t i = t.offset; i < t.offset + t.count; ++i) {
        pair.reference.buffers()[i] *= factor;
        pair.fast.buffers()[i] *= factor;
      }
}

// Sets the oneDNN side to bf16; false (and a message saying why) where the processor lacks it.
template <class Net, ShapeType In>
bool runs_bf16(Pair<Net, In>& pair) {
  if (pair.fast.set_precision(onednn::Precision::bf16) == onednn::Precision::bf16) return true;
  MESSAGE("bf16 not run: " << pair.fast.precision_note());
  return false;
}

}  // namespace ctnn::test
