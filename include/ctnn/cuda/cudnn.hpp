#pragma once
// Owning wrappers of cuDNN descriptors, and the descriptor of a ctnn::Slot.
//
// A Slot of N images, each C x H x W contiguous and image n at data + n * image_stride, is the
// 4-D tensor [N, C, H, W] with strides [image_stride, H*W, W, 1]: a channel slice of an
// Inception block's output is an ordinary strided tensor to cuDNN, and the branch writes into it
// directly.
//
//   TensorDescriptor x;
//   x.set_images<float>(batch, 64, 56, 56, x_slot.image_stride);

#include <cstddef>       // std::size_t
#include <string>        // std::to_string
#include <type_traits>   // std::is_same_v
#include <utility>       // std::exchange

#include <cudnn.h>   // cudnn*Descriptor_t, cudnnCreate*, cudnnSet*

#include <ctnn/cuda/error.hpp>   // CTNN_CUDNN_CHECK
#include <ctnn/error.hpp>        // ctnn::Error

namespace ctnn::cuda {

template <class T>
inline constexpr cudnnDataType_t cudnn_data_type = std::is_same_v<T, double> ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;

namespace detail {
// cuDNN's legacy descriptors take int extents and strides.
inline int to_int(std::size_t value, const char* what) {
  if (value > 0x7fffffffu)
    throw Error("cuDNN", std::string(what) + " " + std::to_string(value) + " does not fit cuDNN's 32-bit descriptors");
  return static_cast<int>(value);
}

// One cuDNN descriptor type: Create and Destroy functions, move-only ownership.
template <class Handle, cudnnStatus_t (*Create)(Handle*), cudnnStatus_t (*Destroy)(Handle)>
class Descriptor {
 public:
  Descriptor() { CTNN_CUDNN_CHECK(Create(&handle_)); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  Descriptor(Descriptor&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Descriptor& operator=(Descriptor&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~Descriptor() { reset(); }
  Handle get() const { return handle_; }
  operator Handle() const { return handle_; }

 private:
  void reset() noexcept {
    if (handle_ != nullptr) (void)Destroy(handle_);
    handle_ = nullptr;
  }
  Handle handle_ = nullptr;
};
}  // namespace detail

class TensorDescriptor
    : public detail::Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor> {
 public:
  // N images of C x H x W, image n starting image_stride elements after image n - 1.
  template <class T>
  void set_images(std::size_t n, std::size_t c, std::size_t h, std::size_t w, std::size_t image_stride) {
    using detail::to_int;
    CTNN_CUDNN_CHECK(cudnnSetTensor4dDescriptorEx(get(), cudnn_data_type<T>, to_int(n, "batch"), to_int(c, "channels"),
                                                  to_int(h, "height"), to_int(w, "width"),
                                                  to_int(image_stride, "image stride"), to_int(h * w, "plane"),
                                                  to_int(w, "width"), 1));
  }
  // A packed [n, c, h, w] tensor, e.g. a bias [1, C, 1, 1].
  template <class T>
  void set_packed(std::size_t n, std::size_t c, std::size_t h, std::size_t w) {
    set_images<T>(n, c, h, w, c * h * w);
  }
};

class FilterDescriptor
    : public detail::Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor> {
 public:
  // PyTorch's OIHW weights.
  template <class T>
  void set(std::size_t out, std::size_t in, std::size_t kh, std::size_t kw) {
    using detail::to_int;
    CTNN_CUDNN_CHECK(cudnnSetFilter4dDescriptor(get(), cudnn_data_type<T>, CUDNN_TENSOR_NCHW, to_int(out, "channels"),
                                                to_int(in, "channels"), to_int(kh, "kernel"), to_int(kw, "kernel")));
  }
};

class ConvolutionDescriptor
    : public detail::Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
                                cudnnDestroyConvolutionDescriptor> {
 public:
  // Cross-correlation (PyTorch's convolution) with square stride and padding, no dilation, the
  // arithmetic in T; tensor cores (TF32 for float) where `allow_tensor_cores`.
  template <class T>
  void set(std::size_t padding, std::size_t stride, bool allow_tensor_cores) {
    using detail::to_int;
    CTNN_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(get(), to_int(padding, "padding"), to_int(padding, "padding"),
                                                     to_int(stride, "stride"), to_int(stride, "stride"), 1, 1,
                                                     CUDNN_CROSS_CORRELATION, cudnn_data_type<T>));
    CTNN_CUDNN_CHECK(cudnnSetConvolutionMathType(get(), allow_tensor_cores ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
  }
};

class ActivationDescriptor
    : public detail::Descriptor<cudnnActivationDescriptor_t, cudnnCreateActivationDescriptor,
                                cudnnDestroyActivationDescriptor> {
 public:
  void set_relu() {
    CTNN_CUDNN_CHECK(cudnnSetActivationDescriptor(get(), CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0));
  }
  // min(max(x, 0), ceiling): ReLU6 at ceiling 6.
  void set_clipped_relu(double ceiling) {
    CTNN_CUDNN_CHECK(
        cudnnSetActivationDescriptor(get(), CUDNN_ACTIVATION_CLIPPED_RELU, CUDNN_NOT_PROPAGATE_NAN, ceiling));
  }
};

class DropoutDescriptor
    : public detail::Descriptor<cudnnDropoutDescriptor_t, cudnnCreateDropoutDescriptor, cudnnDestroyDropoutDescriptor> {
};

// alpha and beta scaling factors as cuDNN reads them: double for double tensors, else float.
template <class T>
struct Scale {
  T value;
  const void* get() const { return &value; }
};
template <class T>
inline const Scale<T> one{T(1)};
template <class T>
inline const Scale<T> zero{T(0)};
// beta: 1 adds to the destination, 0 overwrites it.
template <class T>
const void* blend(bool accumulate) {
  return accumulate ? one<T>.get() : zero<T>.get();
}

}  // namespace ctnn::cuda
