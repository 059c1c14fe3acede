#pragma once
// Test support: scratch directories, whole files as bytes, and safetensors files damaged on purpose.

#include <unistd.h>   // getpid

#include <algorithm>    // std::sort
#include <cstdint>      // std::uint8_t, std::uint64_t
#include <cstring>      // std::memcpy
#include <filesystem>   // std::filesystem
#include <fstream>      // std::ifstream, std::ofstream
#include <iterator>     // std::istreambuf_iterator
#include <map>          // std::map
#include <string>       // std::string
#include <vector>       // std::vector

#include <ctnn/error.hpp>              // ctnn::Error
#include <ctnn/io/safetensors.hpp>     // ctnn::safetensors::Reader, serialize
#include <ctnn/train/checkpoint.hpp>   // ctnn::train::checkpoint_checksum, checksum_key

namespace ctnn::test {

using Bytes = std::vector<std::uint8_t>;

// "<temp>/ctnn_<name>_<pid>", made empty, readable by every user (a program run as another user
// reads its data there), removed with its contents at scope exit.
class TemporaryDirectory {
 public:
  explicit TemporaryDirectory(const std::string& name)
      : path_(std::filesystem::temp_directory_path() / ("ctnn_" + name + "_" + std::to_string(getpid()))) {
    namespace fs = std::filesystem;
    fs::remove_all(path_);
    fs::create_directories(path_);
    fs::permissions(path_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                               fs::perms::others_exec);
  }
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
  ~TemporaryDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  // The names in it, sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path_)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::filesystem::path path_;
};

inline Bytes file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// The byte offset of element `index` of tensor `name` in the safetensors file `file`.
inline std::size_t element_offset(const Bytes& file, const std::string& name, std::size_t index) {
  std::uint64_t header_size = 0;
  for (std::size_t i = 0; i < 8; ++i) header_size |= std::uint64_t{file.at(i)} << (8 * i);
  const safetensors::Reader reader = safetensors::Reader::from_bytes(file, "file");
  const safetensors::TensorInfo* info = reader.find(name);
  if (info == nullptr) throw Error(name, "no such tensor in the file");
  return 8 + static_cast<std::size_t>(header_size + info->begin) + index * safetensors::dtype_size(info->dtype);
}

// Overwrites element `index` of the F32 tensor `name` of a safetensors file.
inline void set_float(Bytes& file, const std::string& name, std::size_t index, float value) {
  std::memcpy(file.data() + element_offset(file, name, index), &value, sizeof value);
}

// The checkpoint `file` with its checksum recomputed (or, with checksum = false, removed): a
// changed checkpoint that only its values can give away.
inline Bytes with_new_checksum(const Bytes& file, bool checksum = true) {
  const safetensors::Reader reader = safetensors::Reader::from_bytes(file, "checkpoint");
  std::vector<safetensors::TensorView> views;
  for (const safetensors::TensorInfo& info : reader.tensors()) views.push_back({info.name, info.dtype, info.shape, reader.raw(info)});
  std::map<std::string, std::string> metadata = reader.metadata();
  metadata.erase(std::string(train::checksum_key));
  if (checksum) metadata[std::string(train::checksum_key)] = train::checkpoint_checksum(views, metadata);
  return safetensors::serialize(views, metadata);
}

}  // namespace ctnn::test
