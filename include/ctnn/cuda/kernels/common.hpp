#pragma once
// CUDA source of what every ctnn kernel shares: the grid-stride loop, correctly rounded
// arithmetic for T = float and double, infinities. Compiled at run time by NVRTC together with
// the other kernels/*.hpp sources (see ctnn/cuda/kernels.hpp); nothing here is host code.
//
// Kernels are templates over T in namespace ctnn_kernels; the host asks NVRTC for
// "ctnn_kernels::<name><float>" and "<double>". Sizes and strides are long long, geometry is a
// struct of ints: the host passes exactly these types (ctnn/cuda/kernels.hpp).

#include <string_view>   // std::string_view

namespace ctnn::cuda::kernels {

inline constexpr std::string_view common_source = R"cuda(
namespace ctnn_kernels {

// Thread i of the grid visits i, i + gridDim * blockDim, ... below `total`.
#define CTNN_FOR_EACH(i, total) \
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (total); \
       i += (long long)gridDim.x * blockDim.x)

// Products and sums rounded once each, never contracted into a fused multiply-add, where the
// CPU kernel's result is to be reproduced bit for bit.
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ inline float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ inline double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ inline float div_rn(float a, float b) { return __fdiv_rn(a, b); }
__device__ inline double div_rn(double a, double b) { return __ddiv_rn(a, b); }

template <class T> __device__ inline T negative_infinity();
template <> __device__ inline float negative_infinity<float>() { return __int_as_float(0xff800000); }
template <> __device__ inline double negative_infinity<double>() {
  return __longlong_as_double(0xfff0000000000000LL);
}

template <class T> __device__ inline bool is_nan(T v) { return v != v; }

}  // namespace ctnn_kernels
)cuda";

}  // namespace ctnn::cuda::kernels
