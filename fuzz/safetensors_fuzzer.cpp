// libFuzzer target for ctnn::safetensors::Reader (see fuzz/README.md for building and running).
//
// Every input is parsed as a safetensors file. The reader may refuse it only by throwing ctnn::Error;
// any other exception, crash or sanitizer report is a bug. Inputs it accepts must also satisfy the
// format's invariants, read back through every accessor, and survive serialize -> parse unchanged.

#include <algorithm>  // std::equal
#include <cstddef>    // std::size_t
#include <cstdint>    // std::uint8_t, std::int64_t
#include <cstdio>     // std::fprintf
#include <cstdlib>    // std::abort
#include <optional>   // std::optional
#include <span>       // std::span
#include <vector>     // std::vector

#include "ctnn/error.hpp"           // ctnn::Error
#include "ctnn/io/safetensors.hpp"  // ctnn::safetensors

namespace {

namespace st = ctnn::safetensors;

// A broken invariant: report it and crash so libFuzzer saves the input.
void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "safetensors_fuzzer: invariant broken: %s\n", what);
    std::abort();
  }
}

bool is_float(st::DType dtype) {
  return dtype == st::DType::F64 || dtype == st::DType::F32 || dtype == st::DType::F16 ||
         dtype == st::DType::BF16;
}

// Calls read_as into a T buffer; it must succeed exactly when the dtype converts to T.
template <class T>
void read_into(const st::Reader& reader, const st::TensorInfo& info, bool convertible) {
  std::vector<T> values(static_cast<std::size_t>(info.element_count()));
  try {
    reader.read_as(info, std::span<T>(values));
    require(convertible, "read_as accepted a dtype it should refuse");
  } catch (const ctnn::Error&) {
    require(!convertible, "read_as refused a convertible dtype");
  }
  // A destination of the wrong size is always refused.
  values.push_back(T{});
  try {
    reader.read_as(info, std::span<T>(values));
    require(false, "read_as accepted a destination of the wrong size");
  } catch (const ctnn::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::optional<st::Reader> reader;
  try {
    reader.emplace(st::Reader::from_bytes(std::vector<std::uint8_t>(data, data + size), "fuzz-input"));
  } catch (const ctnn::Error&) {
    return 0;  // refused cleanly: fine
  }

  // The tensors tile the data section in order, and each one's bytes match its shape and dtype.
  std::uint64_t covered_to = 0;
  for (const st::TensorInfo& info : reader->tensors()) {
    require(info.begin == covered_to, "tensors are not contiguous");
    covered_to = info.end;
    const std::span<const std::uint8_t> bytes = reader->raw(info);
    require(bytes.size() == info.element_count() * st::dtype_size(info.dtype), "byte count mismatch");
    require(reader->find(info.name) == &info, "find does not return the tensor");

    read_into<float>(*reader, info, is_float(info.dtype));
    read_into<double>(*reader, info, is_float(info.dtype));
    read_into<std::int64_t>(*reader, info, !is_float(info.dtype));
  }

  // Writing back what was read and reading it again gives the same tensors and metadata, and
  // writing that again gives the same bytes.
  std::vector<st::TensorView> views;
  for (const st::TensorInfo& info : reader->tensors()) {
    views.push_back({info.name, info.dtype, info.shape, reader->raw(info)});
  }
  const std::vector<std::uint8_t> written = st::serialize(views, reader->metadata());
  const st::Reader reread = st::Reader::from_bytes(written, "fuzz-reread");
  require(reread.metadata() == reader->metadata(), "metadata changed in a round trip");
  require(reread.tensors().size() == reader->tensors().size(), "tensor count changed in a round trip");
  for (const st::TensorInfo& info : reader->tensors()) {
    const st::TensorInfo* again = reread.find(info.name);
    require(again != nullptr, "tensor lost in a round trip");
    require(again->dtype == info.dtype && again->shape == info.shape, "tensor changed in a round trip");
    const std::span<const std::uint8_t> before = reader->raw(info), after = reread.raw(*again);
    require(std::equal(before.begin(), before.end(), after.begin(), after.end()), "bytes changed in a round trip");
  }
  std::vector<st::TensorView> reread_views;
  for (const st::TensorInfo& info : reread.tensors()) {
    reread_views.push_back({info.name, info.dtype, info.shape, reread.raw(info)});
  }
  require(st::serialize(reread_views, reread.metadata()) == written, "serialize is not stable");
  return 0;
}
