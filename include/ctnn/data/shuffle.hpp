#pragma once
// Seeded shuffling that gives the same order on every standard library: BatchLoader's epoch
// order and DistributedSampler's both come from here, so one seed means one order everywhere.

#include <cstddef>   // std::size_t
#include <cstdint>   // std::uint64_t
#include <numeric>   // std::iota
#include <random>    // std::mt19937_64
#include <span>      // std::span
#include <utility>   // std::swap

namespace ctnn::data {

// Uniform in [0, bound), bound > 0. Rejection sampling keeps it unbiased and, unlike
// std::uniform_int_distribution, the same on every standard library, so seeds reproduce
// everywhere.
inline std::uint64_t uniform_below(std::mt19937_64& engine, std::uint64_t bound) {
  const std::uint64_t rejected_below = (0 - bound) % bound;  // 2^64 mod bound
  for (;;) {
    const std::uint64_t draw = engine();
    if (draw >= rejected_below) return draw % bound;
  }
}

// order = 0, 1, ..., size - 1, then Fisher-Yates shuffled with `engine` when `shuffle`: the order
// depends only on the engine's state at the start.
inline void arrange_order(std::span<std::size_t> order, bool shuffle, std::mt19937_64& engine) {
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (!shuffle) return;
  for (std::size_t last = order.size(); last > 1; --last) std::swap(order[last - 1], order[uniform_below(engine, last)]);
}

}  // namespace ctnn::data
