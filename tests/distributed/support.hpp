#pragma once
// What the data-parallel test programs share. They run under mpirun (tests/distributed/run_mpi),
// so a failed check ends every process (MPI_Abort): a doctest-style "report and carry on" would
// leave the other processes waiting in their next collective.

#include <cstddef>     // std::size_t
#include <cstdint>     // std::int32_t, std::uint64_t
#include <cstdio>      // std::printf
#include <cstring>     // std::memcmp
#include <random>      // std::mt19937_64, std::normal_distribution
#include <span>        // std::span
#include <string>      // std::string
#include <vector>      // std::vector

#include <ctnn/distributed/mpi.hpp>   // ctnn::distributed::Communicator
#include <ctnn/parameters.hpp>        // ctnn::named_tensors

#include "../support/compare.hpp"   // ctnn::test::relative_error, max_difference

namespace ctnn::test {

// Ends the job with `what` unless `ok`.
inline void require(const distributed::Communicator& comm, bool ok, const std::string& what) {
  if (!ok) comm.abort(1, "FAILED: " + what);
}

// `count` images of `size` values, normal(0, 1), from `seed`: the same on every process.
template <class T = float>
std::vector<T> random_images(std::size_t count, std::size_t size, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<T> images(count * size);
  for (T& v : images) v = static_cast<T>(normal(generator));
  return images;
}
inline std::vector<std::int32_t> random_labels(std::size_t count, std::size_t classes, std::uint64_t seed) {
  std::mt19937_64 generator(seed ^ 0xabcdefULL);
  std::vector<std::int32_t> labels(count);
  for (auto& label : labels) label = static_cast<std::int32_t>(generator() % classes);
  return labels;
}

// Process `rank`'s strided rows (rank, rank + world, ...) of a global batch of rows of `size`
// values: DistributedSampler's share, as BatchLoader::shard hands it out.
template <class V>
std::vector<V> strided_rows(std::span<const V> all, std::size_t size, std::size_t rank, std::size_t world) {
  std::vector<V> rows;
  for (std::size_t row = rank; row * size < all.size(); row += world)
    rows.insert(rows.end(), all.begin() + static_cast<std::ptrdiff_t>(row * size),
                all.begin() + static_cast<std::ptrdiff_t>((row + 1) * size));
  return rows;
}

// True on every process when every process holds the same bits as rank 0.
template <class T>
bool identical_across_processes(const distributed::Communicator& comm, std::span<const T> values) {
  if (values.empty()) return true;  // e.g. the buffers of a network without batch norm, on every process
  std::vector<T> root(values.begin(), values.end());
  comm.broadcast(std::span<T>(root));
  const double differ = std::memcmp(root.data(), values.data(), values.size_bytes()) == 0 ? 0.0 : 1.0;
  return comm.sum(differ) == 0.0;
}

// The largest, over the tensors of Net, of max |a - b| / max |b| (a tensor's own scale: an
// element near zero does not make the relative error meaningless); names the worst tensor.
// NaN-proof (tests/support/compare.hpp): a value that is not finite makes it +infinity.
struct Difference {
  double relative = 0;
  std::string tensor;
};
template <class Net, class In, class T>
Difference relative_difference(std::span<const T> a, std::span<const T> b, bool buffers = false) {
  Difference worst;
  for (const NamedTensor& t : named_tensors<Net, In>()) {
    if ((t.role == TensorRole::buffer) != buffers) continue;
    const double relative = relative_error(a.subspan(t.offset, t.count), b.subspan(t.offset, t.count));
    if (relative >= worst.relative) worst = {relative, t.name};  // never NaN: +infinity instead
  }
  return worst;
}

}  // namespace ctnn::test
