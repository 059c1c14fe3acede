#pragma once
// Test support: reading PyTorch reference tensors (comparisons: compare.hpp).

#include <algorithm>   // std::copy
#include <span>        // std::span
#include <string>      // std::string
#include <vector>      // std::vector

#include <ctnn/io/safetensors.hpp>   // ctnn::safetensors::Reader
#include <ctnn/parameters.hpp>       // ctnn::named_tensors

#include "compare.hpp"   // ctnn::test::relative_error, worse, ...

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
