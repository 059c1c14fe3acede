#pragma once
// Sub-buffers of the one cuDNN/cuBLAS workspace (ctnn/cuda/context.hpp). Each starts on a
// 256-byte boundary — cudaMalloc's alignment, and the most a cuDNN kernel asks of a pointer —
// and the total counts the padding, so whatever part an evaluator hands cuDNN is as aligned as a
// buffer of its own.
//
//   workspace_layout<3>({algorithm bytes 1000, packed x 4 * 729, packed y 4 * 100})
//     -> offsets {0, 1024, 1024 + 2816}, total 1024 + 2816 + 512 = 4352
//
// Plain C++ without CUDA headers: tests/cuda/test_build_checks.cpp checks it without a GPU.

#include <array>     // std::array
#include <cstddef>   // std::size_t

namespace ctnn::cuda {

inline constexpr std::size_t workspace_alignment = 256;

// bytes rounded up to the next 256-byte boundary.
constexpr std::size_t align_workspace(std::size_t bytes) {
  return (bytes + workspace_alignment - 1) / workspace_alignment * workspace_alignment;
}

template <std::size_t N>
struct WorkspaceLayout {
  std::array<std::size_t, N> offsets{};  // each a multiple of 256
  std::size_t total = 0;                 // bytes to ask for, padding included
};

// Parts of `bytes[i]` bytes, one after another (an empty part takes no room).
template <std::size_t N>
constexpr WorkspaceLayout<N> workspace_layout(const std::array<std::size_t, N>& bytes) {
  WorkspaceLayout<N> layout;
  for (std::size_t i = 0; i < N; ++i) {
    layout.offsets[i] = layout.total;
    layout.total += align_workspace(bytes[i]);
  }
  return layout;
}

// The largest power of two, up to 256, that divides `address`: what a plan made for one pointer
// may assume of another (plans are keyed on it, see ctnn/cuda/conv.hpp).
constexpr std::size_t pointer_alignment(std::size_t address) {
  std::size_t alignment = 1;
  while (alignment < workspace_alignment && address % (2 * alignment) == 0) alignment *= 2;
  return alignment;
}

}  // namespace ctnn::cuda
