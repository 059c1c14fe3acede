#pragma once
// The oneDNN device: its tag, the precisions it computes in, what the processor offers, and how
// a oneDNN failure becomes a ctnn::Error.
//
//   ctnn::Model<Net, In, float, ctnn::OneDnn> model;     // f32, the fastest kernels oneDNN has here
//   model.set_precision(ctnn::onednn::Precision::bf16);  // bf16 activations and weights where the
//                                                        // processor has AVX512-BF16 or AMX
//   model.calibrate(images);                             // int8 inference (ctnn/onednn/quantisation.hpp)
//   model.set_precision(ctnn::onednn::Precision::int8);
//
// oneDNN is the CPU twin of cuDNN (the library PyTorch, OpenVINO and TensorFlow run on): it picks
// kernels for the instruction set found at run time (AVX2, AVX-512, AMX); ONEDNN_MAX_CPU_ISA=AVX2
// limits it, as the AVX2 ctest does.

#include <optional>      // std::optional
#include <string>        // std::string
#include <string_view>   // std::string_view

#include <dnnl.hpp>   // dnnl::get_effective_cpu_isa, dnnl::error

#include <ctnn/error.hpp>   // ctnn::Error

namespace ctnn {

// The device tag of the oneDNN backend (<ctnn/onednn.hpp>).
struct OneDnn {
  static constexpr const char* name = "OneDnn";
  static constexpr bool host_memory = true;
};

namespace onednn {

// What a model computes in. Parameters stay f32 (master weights) in every precision.
//   f32   activations and weights in f32: the Eigen reference's numbers within rounding
//   bf16  activations and packed weights in bfloat16, accumulation in f32 (AMX, AVX512-BF16)
//   int8  inference only: Conv and Linear read their input quantised to u8 / s8 and s8 weights
//         (per-output-channel scales from calibration) and accumulate in s32; a Conv + ReLU
//         writes u8 for the max pooling, Concat or Conv after it, other layers compute in f32
//         (ctnn/onednn/quantisation.hpp)
enum class Precision { f32, bf16, int8 };

// How f32 convolutions compute:
//   automatic  3x3 stride-1 convolutions as Winograd's F(4x4, 3x3) where it is faster
//              (ctnn/onednn/winograd.hpp), the others oneDNN's direct convolution
//   direct     oneDNN's direct convolution everywhere
enum class ConvolutionAlgorithm { automatic, direct };

inline const char* precision_name(Precision p) {
  switch (p) {
    case Precision::bf16: return "bf16";
    case Precision::int8: return "int8";
    default: return "f32";
  }
}

// The precision named "f32", "bf16" or "int8" (a command line's), if it is one.
inline std::optional<Precision> precision_named(std::string_view name) {
  for (const Precision p : {Precision::f32, Precision::bf16, Precision::int8})
    if (name == precision_name(p)) return p;
  return std::nullopt;
}

// Whether this processor (as oneDNN sees it, ONEDNN_MAX_CPU_ISA included) computes in bf16.
inline bool has_bf16() {
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
  return (isa & bf16) == bf16;
}
// Whether the processor has int8 dot products (AVX512-VNNI, AVX-VNNI, AMX). Without them oneDNN
// computes int8 with 16-bit pair sums (vpmaddubsw), which saturate unless the weights keep to
// 7 bits (quantisation.hpp).
inline bool has_int8_dot_product() {
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto avx2_vnni = static_cast<unsigned>(dnnl::cpu_isa::avx2_vnni);
  const auto avx512_vnni = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_vnni);
  return (isa & avx2_vnni) == avx2_vnni || (isa & avx512_vnni) == avx512_vnni;
}
// Whether oneDNN uses AMX tiles here (bf16 and int8 matrix units).
inline bool has_amx() {
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto amx = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_amx);
  return (isa & amx) == amx;
}
// The instruction set oneDNN dispatches to, in words.
inline std::string isa_name() {
  if (has_amx()) return "AVX-512 with AMX";
  if (has_bf16()) return "AVX-512 with BF16";
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  if ((isa & static_cast<unsigned>(dnnl::cpu_isa::avx512_core)) == static_cast<unsigned>(dnnl::cpu_isa::avx512_core))
    return "AVX-512";
  if ((isa & static_cast<unsigned>(dnnl::cpu_isa::avx2)) == static_cast<unsigned>(dnnl::cpu_isa::avx2)) return "AVX2";
  return "SSE4.1 or older";
}

// Runs `call` (oneDNN's C++ API) and turns its dnnl::error into a ctnn::Error naming `what`.
template <class Call>
decltype(auto) checked(const char* what, Call&& call) {
  try {
    return call();
  } catch (const dnnl::error& e) {
    throw Error(std::string("oneDNN ") + what, e.what());
  }
}

inline void check_status(dnnl_status_t status, const char* what) {
  if (status != dnnl_success)
    throw Error(std::string("oneDNN ") + what, "failed with status " + std::to_string(static_cast<int>(status)));
}

}  // namespace onednn
}  // namespace ctnn
