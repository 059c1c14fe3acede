#pragma once
// ctnn's own AVX-512 kernels beside oneDNN's (winograd.hpp, batch_norm_relu.hpp): where they
// compile and when they run.
//
// They compile on x86-64 with a per-function target attribute (CTNN_AVX512), so the rest of a
// user's program needs no -mavx512f. They run only where the processor has AVX-512 and oneDNN
// chose an AVX-512 instruction set too, so ONEDNN_MAX_CPU_ISA=AVX2 turns them off with oneDNN's
// own AVX-512 code and the layer tests' AVX2 run checks the paths that replace them.

#include <algorithm>   // std::min
#include <cstddef>     // std::size_t

#include <dnnl.hpp>   // dnnl::get_effective_cpu_isa

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>   // __m512 and the AVX-512 intrinsics
#define CTNN_ONEDNN_X86 1
#define CTNN_AVX512 __attribute__((target("avx512f")))
#else
#define CTNN_ONEDNN_X86 0
#endif

namespace ctnn::onednn {

// Whether this process runs ctnn's AVX-512 kernels (see above).
inline bool avx512_kernels_supported() {
#if CTNN_ONEDNN_X86
  static const bool supported = [] {
    const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
    const auto avx512 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core);
    return __builtin_cpu_supports("avx512f") && (isa & avx512) == avx512;
  }();
  return supported;
#else
  return false;
#endif
}

#if CTNN_ONEDNN_X86
// The lanes of channels [channel, channel + 16) that exist among `channels`.
CTNN_AVX512 inline __mmask16 lanes(std::size_t channel, std::size_t channels) {
  const std::size_t left = channels - std::min(channel, channels);
  return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1);
}
#endif

}  // namespace ctnn::onednn
