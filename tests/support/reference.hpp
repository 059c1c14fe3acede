#pragma once
// Test support: reading PyTorch reference tensors and comparing results.

#include <algorithm>   // std::max
#include <cmath>       // std::abs
#include <span>        // std::span
#include <string>      // std::string
#include <vector>      // std::vector

#include <ctnn/io/safetensors.hpp>   // ctnn::safetensors::Reader
#include <ctnn/parameters.hpp>       // ctnn::named_tensors

#ifndef CTNN_TEST_DATA_DIR
#define CTNN_TEST_DATA_DIR "tests/data"
#endif

namespace ctnn::test {

inline std::string data_path(const std::string& relative) { return std::string(CTNN_TEST_DATA_DIR) + "/" + relative; }

template <class T = float>
std::vector<T> read_tensor(const safetensors::Reader& file, const std::string& name) {
  const safetensors::TensorInfo* info = file.find(name);
  if (!info) throw Error(file.label(), "reference tensor '" + name + "' is missing");
  std::vector<T> values(info->element_count());
  file.read_as(*info, std::span<T>(values));
  return values;
}

// max |a - b| / max |b|: the error relative to the reference's scale.
template <class A, class B>
double relative_error(std::span<const A> actual, std::span<const B> expected) {
  if (actual.size() != expected.size()) return 1e30;
  double difference = 0, scale = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    difference = std::max(difference, std::abs(double(actual[i]) - double(expected[i])));
    scale = std::max(scale, std::abs(double(expected[i])));
  }
  return scale == 0 ? difference : difference / scale;
}

// Copies every parameter and buffer of `model` from "<prefix><PyTorch name>" in `file`.
template <class Model>
void load_parameters(Model& model, const safetensors::Reader& file, const std::string& prefix) {
  using T = typename Model::scalar;
  for (const NamedTensor& t : named_tensors<typename Model::network, typename Model::input_shape>()) {
    auto storage = t.role == TensorRole::parameter ? model.parameters() : model.buffers();
    const std::vector<T> values = read_tensor<T>(file, prefix + t.name);
    if (values.size() != t.count) throw Error(prefix + t.name, "size differs from the model's");
    std::copy(values.begin(), values.end(), storage.begin() + static_cast<std::ptrdiff_t>(t.offset));
  }
}

}  // namespace ctnn::test
