#pragma once
// Status checks for every CUDA, cuDNN, cuBLAS and NVRTC call, turned into ctnn::Error.
//
//   CTNN_CUDNN_CHECK(cudnnConvolutionForward(handle, ...));
//   -> ctnn::Error: subject "cudnnConvolutionForward",
//      reason "CUDNN_STATUS_BAD_PARAM: ... (include/ctnn/cuda/conv.hpp:212)"
//
// The subject is the API function's name (the call's text up to its first parenthesis); the
// reason is the library's own status name and description, then the file and line of the call.
// Error::source_file() / source_line() carry the same location.

#include <cstddef>       // std::size_t
#include <string>        // std::string, std::to_string
#include <string_view>   // std::string_view

#include <cublas_v2.h>      // cublasStatus_t, cublasGetStatusName, cublasGetStatusString
#include <cuda_runtime.h>   // cudaError_t, cudaGetErrorName, cudaGetErrorString
#include <cudnn.h>          // cudnnStatus_t, cudnnGetErrorString, cudnnGetLastErrorString
#include <nvrtc.h>          // nvrtcResult, nvrtcGetErrorString

#include <ctnn/error.hpp>   // ctnn::Error

namespace ctnn::cuda::detail {

// "cudaMalloc(&p, bytes)" -> "cudaMalloc"
inline std::string call_name(std::string_view call) {
  const std::size_t open = call.find('(');
  std::string_view name = call.substr(0, open);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\n')) name.remove_suffix(1);
  return std::string(name);
}

inline std::string location(const char* file, unsigned line) {
  return std::string(" (") + file + ":" + std::to_string(line) + ")";
}

inline void check_cuda(cudaError_t status, const char* call, const char* file, unsigned line) {
  if (status == cudaSuccess) return;
  // A sticky error stays for the rest of the process; a recoverable one is cleared so the next
  // check reports its own call.
  (void)cudaGetLastError();
  throw Error(call_name(call), std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status) +
                                   location(file, line),
              file, line);
}

inline void check_cudnn(cudnnStatus_t status, const char* call, const char* file, unsigned line) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  std::string reason = cudnnGetErrorString(status);
  // cuDNN 9 keeps a description of what it refused, e.g. which descriptor field.
  char detail[512] = {};
  cudnnGetLastErrorString(detail, sizeof(detail));
  if (detail[0] != '\0') reason += std::string(": ") + detail;
  throw Error(call_name(call), reason + location(file, line), file, line);
}

inline void check_cublas(cublasStatus_t status, const char* call, const char* file, unsigned line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  throw Error(call_name(call), std::string(cublasGetStatusName(status)) + ": " + cublasGetStatusString(status) +
                                   location(file, line),
              file, line);
}

inline void check_nvrtc(nvrtcResult status, const char* call, const char* file, unsigned line) {
  if (status == NVRTC_SUCCESS) return;
  throw Error(call_name(call), std::string(nvrtcGetErrorString(status)) + location(file, line), file, line);
}

}  // namespace ctnn::cuda::detail

// Each evaluates `call` once and throws ctnn::Error unless it succeeded.
#define CTNN_CUDA_CHECK(call) ::ctnn::cuda::detail::check_cuda((call), #call, __FILE__, __LINE__)
#define CTNN_CUDNN_CHECK(call) ::ctnn::cuda::detail::check_cudnn((call), #call, __FILE__, __LINE__)
#define CTNN_CUBLAS_CHECK(call) ::ctnn::cuda::detail::check_cublas((call), #call, __FILE__, __LINE__)
#define CTNN_NVRTC_CHECK(call) ::ctnn::cuda::detail::check_nvrtc((call), #call, __FILE__, __LINE__)
