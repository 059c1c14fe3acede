// expect: reference_uniform_fill fills float or double storage
// The reference initialisation produces float32 values; integer storage would truncate them.
// The twin fills floats.

#include <array>     // std::array
#include <cstdint>   // std::int64_t
#include <span>      // std::span

#include <ctnn/reference_init.hpp>   // ctnn::reference_uniform_fill

#ifdef CTNN_SHOULD_FAIL
using Storage = int;
#else
using Storage = float;
#endif

void fill_conv_weight() {
  std::array<Storage, 8 * 3 * 3 * 3> weight{};
  const std::array<std::int64_t, 4> shape{8, 3, 3, 3};
  ctnn::reference_uniform_fill<Storage>("conv.weight", shape, 0, 1, std::span<Storage>(weight));
}
