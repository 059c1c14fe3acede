#pragma once
// ctnn::cpu::Context<T>: what CPU kernels share during one forward or backward pass: the pass
// state of every device (batch, mode, auxiliary outputs, frozen prefix, recording; see
// ctnn/pass_state.hpp) and the CPU's own: the OpenMP thread count, per-thread work space and GEMM
// packing buffers, the dropout generator.
//
// Every buffer here is sized when the model plans a batch size; kernels never allocate.

#include <cstddef>   // std::size_t, std::ptrdiff_t
#include <random>    // std::mt19937_64
#include <vector>    // std::vector

#include <ctnn/cpu/gemm.hpp>     // ctnn::cpu::GemmBlocking
#include <ctnn/evaluator.hpp>    // ctnn::Slot, ctnn::Cpu
#include <ctnn/pass_state.hpp>   // ctnn::PassState

#if defined(_OPENMP)
#include <omp.h>   // omp_get_max_threads, omp_get_thread_num
#endif

namespace ctnn::cpu {

inline int default_thread_count() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

inline int current_thread() {
#if defined(_OPENMP)
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// The pass state every device shares (ctnn/pass_state.hpp) and the CPU's executor.
template <class T>
struct Context : PassState<T> {
  using device = Cpu;
  using scalar = T;

  int threads = 1;
  // Per-thread work space: thread t owns [workspace + t * workspace_per_thread, +workspace_per_thread).
  // A kernel that runs its products across all threads may use the whole span.
  T* workspace = nullptr;
  std::size_t workspace_per_thread = 0;
  std::vector<GemmBlocking<T>> blocking;  // one per thread
  std::mt19937_64 generator{0x5eedULL};

  T* thread_workspace(int thread) const { return workspace + static_cast<std::size_t>(thread) * workspace_per_thread; }
};

// Runs fn(image, begin, end) over every image's elements [0, elements), in parallel chunks.
template <class T, class Fn>
void parallel_over_images(const Context<T>& ctx, std::size_t elements, Fn&& fn) {
  constexpr std::size_t chunk = 1 << 14;
  const std::size_t chunks_per_image = (elements + chunk - 1) / chunk;
  const std::ptrdiff_t total = static_cast<std::ptrdiff_t>(ctx.batch * chunks_per_image);
#pragma omp parallel for schedule(static) num_threads(ctx.threads) if (total > 1 && ctx.batch * elements > 32768)
  for (std::ptrdiff_t job = 0; job < total; ++job) {
    const std::size_t image = static_cast<std::size_t>(job) / chunks_per_image;
    const std::size_t begin = static_cast<std::size_t>(job) % chunks_per_image * chunk;
    fn(image, begin, std::min(elements, begin + chunk));
  }
}

// Copies (or adds) N images of `elements` each from src to dst; used by views and taps.
template <class T>
void copy_images(const Context<T>& ctx, ConstSlot<T> src, Slot<T> dst, std::size_t elements, bool accumulate) {
  parallel_over_images(ctx, elements, [&](std::size_t n, std::size_t begin, std::size_t end) {
    const T* s = src.image(n);
    T* d = dst.image(n);
    if (accumulate) {
      for (std::size_t i = begin; i < end; ++i) d[i] += s[i];
    } else if (s != d) {
      for (std::size_t i = begin; i < end; ++i) d[i] = s[i];
    }
  });
}

}  // namespace ctnn::cpu
