#pragma once
// The probes' timing: one warm-up call (it also packs weights and fills caches), then the fastest
// of `rounds` calls, in milliseconds. Interference on a shared machine only ever slows a call down,
// so the fastest is the closest to what the code costs.

#include <algorithm>   // std::min
#include <chrono>      // std::chrono::steady_clock

template <class Pass>
double best_ms(int rounds, Pass&& pass) {
  pass();
  double best = 1e30;
  for (int round = 0; round < rounds; ++round) {
    const auto start = std::chrono::steady_clock::now();
    pass();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best * 1e3;
}
