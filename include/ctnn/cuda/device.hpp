#pragma once
// Whether a CUDA device can be used, and if not, why — without throwing. Programs and tests ask
// before creating a model, so a machine without a GPU (or without a driver) gets a plain
// sentence instead of an exception from deep inside the runtime.
//
//   const ctnn::cuda::DeviceStatus status = ctnn::cuda::device_status();
//   if (!status.available) std::printf("no CUDA device (%s)\n", status.reason.c_str());
//   -> no CUDA device (cudaGetDeviceCount: cudaErrorInsufficientDriver: CUDA driver version is
//      insufficient for CUDA runtime version)

#include <string>   // std::string, std::to_string

#include <cuda_runtime.h>   // cudaGetDeviceCount, cudaGetDeviceProperties

namespace ctnn::cuda {

struct DeviceStatus {
  bool available = false;
  int count = 0;            // devices visible
  std::string reason;       // why none is usable, when !available
  std::string name;         // device 0 (or the current device): "NVIDIA H100 80GB HBM3"
  int major = 0, minor = 0; // its compute capability
};

inline DeviceStatus device_status() {
  DeviceStatus status;
  const cudaError_t counted = cudaGetDeviceCount(&status.count);
  if (counted != cudaSuccess) {
    (void)cudaGetLastError();
    status.count = 0;
    status.reason = std::string("cudaGetDeviceCount: ") + cudaGetErrorName(counted) + ": " + cudaGetErrorString(counted);
    return status;
  }
  if (status.count == 0) {
    status.reason = "cudaGetDeviceCount: 0 devices";
    return status;
  }
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) device = 0;
  cudaDeviceProp properties{};
  const cudaError_t described = cudaGetDeviceProperties(&properties, device);
  if (described != cudaSuccess) {
    (void)cudaGetLastError();
    status.reason = std::string("cudaGetDeviceProperties: ") + cudaGetErrorName(described) + ": " +
                    cudaGetErrorString(described);
    return status;
  }
  status.available = true;
  status.name = properties.name;
  status.major = properties.major;
  status.minor = properties.minor;
  return status;
}

}  // namespace ctnn::cuda
