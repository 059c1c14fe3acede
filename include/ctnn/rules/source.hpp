#pragma once
// Arithmetic written once for the host compiler and for NVRTC.
//
//   CTNN_SHARED_SOURCE(optimizer_rules_source,
//     template <class T>
//     CTNN_HOST_DEVICE inline T twice(T v) { return v + v; }
//   )
// defines twice() here, for the CPU kernels, and `optimizer_rules_source`, the same code as text,
// which ctnn/cuda/kernels.hpp hands to NVRTC inside namespace ctnn_kernels after device_prelude
// below. The code may call only what both sides provide: the operators, sqrt, exp_of, tanh_of
// and atomic_min (host twins below; device ones in device_prelude). No preprocessor lines inside,
// and no comments the NVRTC text needs (they vanish from it).

#include <cmath>         // std::sqrt, std::exp, std::tanh
#include <string_view>   // std::string_view

#include <ctnn/config.hpp>   // CTNN_HOST_DEVICE

#define CTNN_SHARED_SOURCE(name, ...) \
  __VA_ARGS__                         \
  inline constexpr std::string_view name = #__VA_ARGS__;

namespace ctnn::rules {

// The host's side of what shared code may call. atomic_min is plain here: the host runs the
// shared per-element code from one thread per element range, never two on one counter.
using std::sqrt;
inline float exp_of(float v) { return std::exp(v); }
inline double exp_of(double v) { return std::exp(v); }
inline float tanh_of(float v) { return std::tanh(v); }
inline double tanh_of(double v) { return std::tanh(v); }
inline void atomic_min(unsigned* value, unsigned candidate) {
  if (candidate < *value) *value = candidate;
}

// The device's side, first in NVRTC's text (inside namespace ctnn_kernels).
inline constexpr std::string_view device_prelude = R"cuda(
#define CTNN_HOST_DEVICE __device__
__device__ inline float exp_of(float v) { return expf(v); }
__device__ inline double exp_of(double v) { return exp(v); }
__device__ inline float tanh_of(float v) { return tanhf(v); }
__device__ inline double tanh_of(double v) { return tanh(v); }
__device__ inline void atomic_min(unsigned* value, unsigned candidate) { atomicMin(value, candidate); }
)cuda";

}  // namespace ctnn::rules
