#pragma once
// Test support: reading PyTorch reference tensors (comparisons: compare.hpp).

#include <algorithm>     // std::copy
#include <cstdlib>       // std::getenv
#include <filesystem>    // std::filesystem::path, read_symlink
#include <fstream>       // std::ofstream
#include <map>           // std::map
#include <memory>        // std::unique_ptr
#include <set>           // std::set
#include <span>          // std::span
#include <string>        // std::string
#include <string_view>   // std::string_view
#include <vector>        // std::vector

#include <unistd.h>   // getpid

#include <ctnn/io/safetensors.hpp>   // ctnn::safetensors::Reader
#include <ctnn/parameters.hpp>       // ctnn::named_tensors

#include "compare.hpp"   // ctnn::test::relative_error, worse, ...

#ifndef CTNN_TEST_DATA_DIR
#define CTNN_TEST_DATA_DIR "tests/data"
#endif

namespace ctnn::test {

inline std::string data_path(const std::string& relative) { return std::string(CTNN_TEST_DATA_DIR) + "/" + relative; }

// ---- Which reference tensors the tests read --------------------------------------------------
// With CTNN_REFERENCE_READS=<dir> in the environment, each test process writes the names it
// looked up in a ReferenceFile to <dir>/<executable>-<pid>.txt ("<file>\t<tensor>" lines) when it
// exits. tools/audit_reference_data.py compares them with the names the generators wrote, so a
// reference nobody reads (one that was meant to be asserted) does not go unnoticed.
class ReferenceReads {
 public:
  static ReferenceReads& instance() {
    static ReferenceReads reads;
    return reads;
  }
  void add(const std::string& file, std::string_view name) { names_.emplace(file, std::string(name)); }
  ~ReferenceReads() {
    const char* directory = std::getenv("CTNN_REFERENCE_READS");
    if (!directory || !*directory || names_.empty()) return;
    std::error_code error;
    std::filesystem::create_directories(directory, error);
    const std::string executable = std::filesystem::read_symlink("/proc/self/exe", error).filename().string();
    std::ofstream out(std::filesystem::path(directory) /
                      ((executable.empty() ? std::string("test") : executable) + "-" + std::to_string(getpid()) + ".txt"));
    for (const auto& [file, name] : names_) out << file << '\t' << name << '\n';
  }

 private:
  std::set<std::pair<std::string, std::string>> names_;
};

// A reference file under tests/data, opened once per process; find() records the names looked up.
class ReferenceFile : public safetensors::Reader {
 public:
  // `relative` is the path under tests/data, e.g. "reference/layers.safetensors".
  static const ReferenceFile& open(const std::string& relative) {
    static std::map<std::string, std::unique_ptr<ReferenceFile>> files;
    auto& file = files[relative];
    if (!file) file.reset(new ReferenceFile(relative, safetensors::Reader::open(data_path(relative))));
    return *file;
  }
  const safetensors::TensorInfo* find(std::string_view name) const {
    ReferenceReads::instance().add(relative_, name);
    return Reader::find(name);
  }
  const std::string& relative_path() const { return relative_; }

 private:
  ReferenceFile(std::string relative, safetensors::Reader reader)
      : Reader(std::move(reader)), relative_(std::move(relative)) {}
  std::string relative_;
};

// A tensor of a ReferenceFile (recorded) or of any other safetensors::Reader, converted to T.
template <class T = float, class File>
std::vector<T> read_tensor(const File& file, const std::string& name) {
  const safetensors::TensorInfo* info = file.find(name);
  if (!info) throw Error(file.label(), "reference tensor '" + name + "' is missing");
  std::vector<T> values(info->element_count());
  file.read_as(*info, std::span<T>(values));
  return values;
}

// Copies every parameter and buffer of `model` from "<prefix><PyTorch name>" in `file`.
template <class Model>
void load_parameters(Model& model, const ReferenceFile& file, const std::string& prefix) {
  using T = typename Model::scalar;
  for (const NamedTensor& t : named_tensors<typename Model::network, typename Model::input_shape>()) {
    auto storage = t.role == TensorRole::parameter ? model.parameters() : model.buffers();
    const std::vector<T> values = read_tensor<T>(file, prefix + t.name);
    if (values.size() != t.count) throw Error(prefix + t.name, "size differs from the model's");
    std::copy(values.begin(), values.end(), storage.begin() + static_cast<std::ptrdiff_t>(t.offset));
  }
}

}  // namespace ctnn::test
