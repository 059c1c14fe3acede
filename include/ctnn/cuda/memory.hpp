#pragma once
// Device memory: spans, owning buffers, host mirrors, and the copies between host and device.
//
//   ctnn::cuda::DeviceBuffer<float> images(32 * 3 * 224 * 224, "input images");  // one cudaMalloc
//   ctnn::cuda::copy_to_device(host_images, images.span());                      // host -> device
//   std::vector<float> back = ctnn::cuda::to_host(images.span());                 // device -> host
//
// An allocation that fails names the bytes asked for, what they were for and what was free:
//   ctnn: cudaMalloc: out of device memory: 17179869184 bytes (16384.0 MiB) asked for the
//   activation arena; 1203.5 MiB free of 81079.1 MiB

#include <cstddef>       // std::size_t
#include <cstdio>        // std::snprintf
#include <span>          // std::span
#include <string>        // std::string, std::to_string
#include <type_traits>   // std::remove_const_t
#include <utility>       // std::exchange
#include <vector>        // std::vector

#include <cuda_runtime.h>   // cudaMalloc, cudaFree, cudaMemcpyAsync, cudaMemGetInfo

#include <ctnn/cuda/error.hpp>   // CTNN_CUDA_CHECK
#include <ctnn/error.hpp>        // ctnn::Error

namespace ctnn::cuda {

// `size` elements of T in device memory; not owning. Like std::span, but never dereferenced on
// the host.
template <class T>
struct DeviceSpan {
  T* data_ = nullptr;
  std::size_t size_ = 0;

  DeviceSpan() = default;
  DeviceSpan(T* data, std::size_t size) : data_(data), size_(size) {}
  operator DeviceSpan<const T>() const { return {data_, size_}; }

  T* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::size_t size_bytes() const { return size_ * sizeof(T); }
  bool empty() const { return size_ == 0; }
  DeviceSpan subspan(std::size_t offset, std::size_t count) const {
    if (offset > size_ || count > size_ - offset)
      throw Error("DeviceSpan::subspan", "[" + std::to_string(offset) + ", +" + std::to_string(count) +
                                             ") lies outside the span of " + std::to_string(size_));
    return {data_ + offset, count};
  }
  DeviceSpan first(std::size_t count) const { return subspan(0, count); }
};

namespace detail {
inline std::string mebibytes(std::size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}
}  // namespace detail

// cudaMalloc that reports an out-of-memory failure with the bytes asked for and their purpose.
inline void* device_allocate(std::size_t bytes, const std::string& what) {
  if (bytes == 0) return nullptr;
  void* pointer = nullptr;
  const cudaError_t status = cudaMalloc(&pointer, bytes);
  if (status == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    std::size_t free = 0, total = 0;
    std::string state;
    if (cudaMemGetInfo(&free, &total) == cudaSuccess)
      state = "; " + detail::mebibytes(free) + " free of " + detail::mebibytes(total);
    (void)cudaGetLastError();
    throw Error("cudaMalloc", "out of device memory: " + std::to_string(bytes) + " bytes (" + detail::mebibytes(bytes) +
                                  ") asked for " + what + state);
  }
  detail::check_cuda(status, "cudaMalloc", __FILE__, __LINE__);
  return pointer;
}

// One cudaMalloc of `count` elements of T, freed on destruction. Move-only.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(std::size_t count, const std::string& what) { allocate(count, what); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~DeviceBuffer() { release(); }

  // Replaces the contents with `count` uninitialised elements (nothing happens when the size is
  // unchanged). Callers synchronise first when queued work may still use the old memory.
  void allocate(std::size_t count, const std::string& what) {
    if (count == size_ && data_ != nullptr) return;
    release();
    data_ = static_cast<T*>(device_allocate(count * sizeof(T), what));
    size_ = count;
  }
  void release() noexcept {
    if (data_ != nullptr) (void)cudaFree(data_);  // nothing to report from a destructor
    data_ = nullptr;
    size_ = 0;
  }

  T* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::size_t size_bytes() const { return size_ * sizeof(T); }
  DeviceSpan<T> span() const { return {data_, size_}; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Copies. The *_async ones are queued on `stream`; the host memory must stay valid until the
// stream has run them. The others complete before returning: given a stream (a model's
// stream()), after the work queued on it; given none, after all work on the device.
// ---------------------------------------------------------------------------------------------
template <class T>
void copy_to_device_async(std::span<const T> host, DeviceSpan<T> device, cudaStream_t stream) {
  if (host.size() != device.size())
    throw Error("copy_to_device", std::to_string(host.size()) + " host values for a device span of " +
                                      std::to_string(device.size()));
  if (!host.empty())
    CTNN_CUDA_CHECK(cudaMemcpyAsync(device.data(), host.data(), host.size_bytes(), cudaMemcpyHostToDevice, stream));
}
template <class T>
void copy_to_host_async(DeviceSpan<const T> device, std::span<T> host, cudaStream_t stream) {
  if (host.size() != device.size())
    throw Error("copy_to_host", std::to_string(device.size()) + " device values for a host span of " +
                                    std::to_string(host.size()));
  if (!host.empty())
    CTNN_CUDA_CHECK(cudaMemcpyAsync(host.data(), device.data(), host.size_bytes(), cudaMemcpyDeviceToHost, stream));
}
template <class T>
void copy_to_device(std::span<const T> host, DeviceSpan<T> device, cudaStream_t stream = nullptr) {
  if (stream == nullptr) CTNN_CUDA_CHECK(cudaDeviceSynchronize());
  copy_to_device_async(host, device, stream);
  CTNN_CUDA_CHECK(cudaStreamSynchronize(stream));
}
template <class T>
void copy_to_host(DeviceSpan<const T> device, std::span<T> host, cudaStream_t stream = nullptr) {
  if (stream == nullptr) CTNN_CUDA_CHECK(cudaDeviceSynchronize());
  copy_to_host_async(device, host, stream);
  CTNN_CUDA_CHECK(cudaStreamSynchronize(stream));
}

// A new device buffer holding `host`'s values, and the reverse.
template <class T>
DeviceBuffer<std::remove_const_t<T>> to_device(std::span<T> host, cudaStream_t stream = nullptr) {
  using U = std::remove_const_t<T>;
  DeviceBuffer<U> buffer(host.size(), "a copy of host data");
  copy_to_device(std::span<const U>(host.data(), host.size()), buffer.span(), stream);
  return buffer;
}
template <class T>
std::vector<std::remove_const_t<T>> to_host(DeviceSpan<T> device, cudaStream_t stream = nullptr) {
  using U = std::remove_const_t<T>;
  std::vector<U> host(device.size());
  copy_to_host(DeviceSpan<const U>(device.data(), device.size()), std::span<U>(host), stream);
  return host;
}

// ---------------------------------------------------------------------------------------------
// Mirrored<T>: a device buffer with a host copy, transferred only when the other side is used.
//
//   host()         a host span, current: downloads first when the device copy is newer; the
//                  caller may write, so the device copy is refreshed before its next use
//   host_view()    the same, read-only: both copies stay current
//   device()       a device span, current: uploads first when the host copy is newer; the
//                  caller may write, so the host copy is refreshed before its next use
//   device_view()  the same, read-only
// A span from host() is good for writing until the next device() call, and the reverse.
// ---------------------------------------------------------------------------------------------
template <class T>
class Mirrored {
 public:
  Mirrored() = default;
  // Both copies start at zero; the device copy is zeroed on `stream`, the one its users queue
  // their work on, so that work is ordered after the fill (a non-blocking stream does not wait
  // for the legacy default stream a plain cudaMemset would use).
  Mirrored(std::size_t count, const std::string& what, cudaStream_t stream = nullptr)
      : device_(count, what), host_(count), stream_(stream) {
    if (count > 0) CTNN_CUDA_CHECK(cudaMemsetAsync(device_.data(), 0, count * sizeof(T), stream_));
  }

  std::size_t size() const { return host_.size(); }
  // Work on the new stream is not ordered after what was queued on the old one (the zero fill
  // included): wait for the old stream once, when the stream changes.
  void set_stream(cudaStream_t stream) {
    if (stream == stream_) return;
    CTNN_CUDA_CHECK(cudaStreamSynchronize(stream_));
    stream_ = stream;
  }

  std::span<T> host() {
    download();
    fresh_ = Fresh::host;
    return host_;
  }
  std::span<const T> host_view() const {
    download();
    return host_;
  }
  DeviceSpan<T> device() {
    upload();
    fresh_ = Fresh::device;
    return device_.span();
  }
  DeviceSpan<const T> device_view() const {
    upload();
    return device_.span();
  }

  // Brings the device copy up to date now (no-op when it is).
  void upload() const {
    if (fresh_ != Fresh::host) return;
    copy_to_device_async<T>(std::span<const T>(host_), device_.span(), stream_);
    // The host copy may be written again right after: the copy must have read it.
    CTNN_CUDA_CHECK(cudaStreamSynchronize(stream_));
    fresh_ = Fresh::both;
  }
  // Brings the host copy up to date now (no-op when it is).
  void download() const {
    if (fresh_ != Fresh::device) return;
    copy_to_host_async<T>(device_.span(), std::span<T>(host_), stream_);
    CTNN_CUDA_CHECK(cudaStreamSynchronize(stream_));
    fresh_ = Fresh::both;
  }

 private:
  enum class Fresh { both, host, device };  // which copy holds the latest values
  DeviceBuffer<T> device_;
  mutable std::vector<T> host_;
  mutable Fresh fresh_ = Fresh::both;
  cudaStream_t stream_ = nullptr;
};

}  // namespace ctnn::cuda
