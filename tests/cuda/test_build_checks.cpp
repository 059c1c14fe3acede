// What of the CUDA backend can be checked without a GPU, so it runs (and passes) everywhere the
// backend builds: ctnn's kernels compile with NVRTC for the architectures ctnn targets, every
// status is turned into ctnn::Error with the call, the status string and file:line, an
// allocation failure names its bytes, device_status() explains a missing device, the CPU
// umbrella header brings in no CUDA header, workspace parts are 256-byte aligned, and the loss
// kernel's shared step reports the first bad label.
//
// Unlike the other GPU tests this one needs no device and does not skip.

#include <ctnn/ctnn.hpp>   // the CPU library alone, first

// ctnn.hpp must not depend on CUDA: nothing of the toolkit may have been included so far.
#if defined(__CUDA_RUNTIME_H__) || defined(CUDNN_H_) || defined(CUBLAS_V2_H_) || defined(__NVRTC_H__)
#error "ctnn/ctnn.hpp includes a CUDA header; the CPU library must not need the CUDA toolkit"
#endif

#include <doctest/doctest.h>   // TEST_CASE, CHECK, REQUIRE

#include <array>    // std::array
#include <cmath>    // std::exp, std::log
#include <cstdint>  // std::int32_t
#include <cstdio>   // std::printf
#include <span>     // std::span
#include <string>   // std::string
#include <vector>   // std::vector

#include <ctnn/cuda.hpp>                  // ctnn::cuda::compile_kernels, CTNN_*_CHECK, device_status
#include <ctnn/cuda/workspace.hpp>        // ctnn::cuda::workspace_layout, pointer_alignment
#include <ctnn/rules/cross_entropy.hpp>   // ctnn::rules::cross_entropy_element

using namespace ctnn;

namespace {
bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("ctnn's kernels compile with NVRTC for Hopper, Ampere and Turing, with every kernel for float and double") {
  for (auto [major, minor] : {std::pair{9, 0}, std::pair{8, 0}, std::pair{7, 5}}) {
    CAPTURE(major);
    CAPTURE(minor);
    const cuda::CompiledKernels compiled = cuda::compile_kernels(major, minor);
    CHECK(compiled.target == "sm_" + std::to_string(major * 10 + minor));
    CHECK_FALSE(compiled.is_ptx);
    CHECK(compiled.image.size() > 1000);
    INFO("NVRTC log: " << compiled.log);
    for (std::size_t k = 0; k < cuda::kernel_count; ++k) {
      CHECK(contains(compiled.lowered_names[2 * k], std::string(cuda::kernel_names[k])));
      CHECK(contains(compiled.lowered_names[2 * k + 1], std::string(cuda::kernel_names[k])));
      CHECK(compiled.lowered_names[2 * k] != compiled.lowered_names[2 * k + 1]);  // float vs double
    }
  }
}

TEST_CASE("an architecture newer than NVRTC knows gets PTX for the newest it does") {
  const cuda::CompiledKernels compiled = cuda::compile_kernels(99, 9);
  CHECK(compiled.is_ptx);
  CHECK(compiled.target.rfind("compute_", 0) == 0);
}

TEST_CASE("statuses become ctnn::Error naming the call, the status and the place") {
  try {
    CTNN_CUDNN_CHECK(cudnnStatus_t{CUDNN_STATUS_BAD_PARAM});
    FAIL("no exception");
  } catch (const Error& e) {
    CHECK(e.subject() == "cudnnStatus_t{CUDNN_STATUS_BAD_PARAM}");
    CHECK(contains(e.reason(), "CUDNN_STATUS_BAD_PARAM"));
    CHECK(contains(e.reason(), "test_build_checks.cpp:"));
    CHECK(contains(e.source_file(), "test_build_checks.cpp"));
  }
  auto cublas_call = [](int) { return CUBLAS_STATUS_NOT_INITIALIZED; };
  try {
    CTNN_CUBLAS_CHECK(cublas_call(1));
    FAIL("no exception");
  } catch (const Error& e) {
    CHECK(e.subject() == "cublas_call");
    CHECK(contains(e.reason(), "CUBLAS_STATUS_NOT_INITIALIZED"));
    CHECK(contains(e.what(), "ctnn: cublas_call: CUBLAS_STATUS_NOT_INITIALIZED"));
  }
  auto cuda_call = [] { return cudaErrorInvalidValue; };
  try {
    CTNN_CUDA_CHECK(cuda_call());
    FAIL("no exception");
  } catch (const Error& e) {
    CHECK(e.subject() == "cuda_call");
    CHECK(contains(e.reason(), "cudaErrorInvalidValue"));
    CHECK(contains(e.reason(), "invalid argument"));
  }
  CHECK_THROWS_WITH_AS(CTNN_NVRTC_CHECK(NVRTC_ERROR_INVALID_OPTION), doctest::Contains("NVRTC_ERROR_INVALID_OPTION"),
                       Error);
  CHECK_NOTHROW(CTNN_CUDNN_CHECK(CUDNN_STATUS_SUCCESS));
}

TEST_CASE("a failed device allocation names the bytes asked for and their purpose") {
  // Without a device this fails too, for want of a driver; the message still names the call.
  try {
    cuda::DeviceBuffer<float> huge(std::size_t{1} << 50, "a test's impossible buffer");
    FAIL("no exception");
  } catch (const Error& e) {
    MESSAGE(std::string(e.what()));
    CHECK(e.subject() == "cudaMalloc");
    if (cuda::device_status().available) {
      CHECK(contains(e.reason(), "out of device memory: 4503599627370496 bytes"));
      CHECK(contains(e.reason(), "a test's impossible buffer"));
    }
  }
}

TEST_CASE("device_status explains a missing device instead of throwing") {
  const cuda::DeviceStatus status = cuda::device_status();
  if (status.available) {
    MESSAGE("device: " << status.name);
    CHECK(status.count > 0);
  } else {
    MESSAGE("no device: " << status.reason);
    CHECK(contains(status.reason, "cudaGetDeviceCount"));
    CHECK(status.count == 0);
  }
}

TEST_CASE("a Slot's cuDNN descriptor is the strided [N, C, H, W] view of a channel slice") {
  // Descriptors are host objects; cuDNN describes them without a device.
  cuda::TensorDescriptor slice;
  slice.set_images<float>(4, 64, 28, 28, 256 * 28 * 28);  // channels [.., +64) of a 256-channel block
  cudnnDataType_t type{};
  int n = 0, c = 0, h = 0, w = 0, ns = 0, cs = 0, hs = 0, ws = 0;
  CTNN_CUDNN_CHECK(cudnnGetTensor4dDescriptor(slice, &type, &n, &c, &h, &w, &ns, &cs, &hs, &ws));
  CHECK(type == CUDNN_DATA_FLOAT);
  CHECK((n == 4 && c == 64 && h == 28 && w == 28));
  CHECK((ns == 256 * 28 * 28 && cs == 28 * 28 && hs == 28 && ws == 1));
}

TEST_CASE("the convolution descriptors give ctnn's output shapes, and the other plans' descriptors are accepted") {
  // Everything below is host-side cuDNN: descriptors are set and queried without a device.
  auto check_conv = [](std::size_t in, std::size_t out, std::size_t k, std::size_t s, std::size_t p, std::size_t h,
                       std::size_t w) {
    cuda::TensorDescriptor x;
    cuda::FilterDescriptor filter;
    cuda::ConvolutionDescriptor convolution;
    x.set_images<float>(3, in, h, w, in * h * w + 16);
    filter.set<float>(out, in, k, k);
    for (bool tensor_cores : {true, false}) convolution.set<float>(p, s, tensor_cores);
    int n = 0, c = 0, oh = 0, ow = 0;
    CTNN_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(convolution, x, filter, &n, &c, &oh, &ow));
    CHECK(n == 3);
    CHECK(c == static_cast<int>(out));
    CHECK(oh == static_cast<int>(conv_output_size(h, k, s, p)));
    CHECK(ow == static_cast<int>(conv_output_size(w, k, s, p)));
  };
  check_conv(3, 64, 7, 2, 3, 224, 224);   // GoogLeNet's conv1 -> 112x112
  check_conv(64, 192, 3, 1, 1, 56, 56);   // conv3
  check_conv(480, 16, 5, 1, 2, 14, 14);   // a 5x5 branch
  check_conv(3, 4, 5, 3, 2, 11, 13);

  cuda::ActivationDescriptor relu;
  relu.set_relu();
  cuda::TensorDescriptor x, bn;
  x.set_images<double>(2, 6, 5, 5, 8 * 25);
  CTNN_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(bn, x, CUDNN_BATCHNORM_SPATIAL));
  cudnnDataType_t type{};
  int n = 0, c = 0, h = 0, w = 0, ns = 0, cs = 0, hs = 0, ws = 0;
  CTNN_CUDNN_CHECK(cudnnGetTensor4dDescriptor(bn, &type, &n, &c, &h, &w, &ns, &cs, &hs, &ws));
  CHECK((type == CUDNN_DATA_DOUBLE && n == 1 && c == 6 && h == 1 && w == 1));
  cuda::TensorDescriptor features;  // Linear's and Dropout's view: [N, F, 1, 1] with a row stride
  features.set_images<float>(4, 1024, 1, 1, 1040);
  cuda::DropoutDescriptor dropout;
  CHECK(dropout.get() != nullptr);
  CHECK_THROWS_WITH_AS(x.set_images<float>(1, std::size_t{1} << 32, 1, 1, 1), doctest::Contains("32-bit"), Error);
}

TEST_CASE("every part of the workspace starts on a 256-byte boundary, and the total counts the padding") {
  // A staged convolution: 1000 bytes of algorithm workspace, then packed copies of a 729-float
  // input (a Concat slice's size) and a 100-float output.
  constexpr auto layout = cuda::workspace_layout<3>({1000, 729 * sizeof(float), 100 * sizeof(float)});
  static_assert(layout.offsets[0] == 0 && layout.offsets[1] == 1024 && layout.offsets[2] == 1024 + 3072);
  static_assert(layout.total == 1024 + 3072 + 512);
  for (std::size_t offset : layout.offsets) CHECK(offset % cuda::workspace_alignment == 0);
  // An empty part takes no room; exact multiples take no padding.
  static_assert(cuda::workspace_layout<3>({0, 256, 512}).offsets == std::array<std::size_t, 3>{0, 0, 256});
  static_assert(cuda::workspace_layout<3>({0, 256, 512}).total == 768);
  // A branch 729 floats into a Concat's output is 4-byte aligned: its convolution plans differ.
  static_assert(cuda::pointer_alignment(729 * sizeof(float)) == 4);
  static_assert(cuda::pointer_alignment(784 * sizeof(float)) == 64);
  static_assert(cuda::pointer_alignment(4096) == 256);
}

TEST_CASE("the loss kernel's element step, as NVRTC compiles it, names the first bad example in any order") {
  // rules::cross_entropy_element is the text the kernel runs; here it runs on the host, over the
  // elements in reverse, as a grid may visit them. Examples 1 and 3 have labels outside [0, 3).
  constexpr long long classes = 3;
  const std::vector<int> labels{2, 7, 0, -1};
  std::vector<double> logits{0.5, -1.0, 2.0, 0.1, 0.2, 0.3, 1.5, 1.0, -0.5, 0.0, 0.0, 0.0};
  std::vector<double> log_probabilities(logits.size());
  for (std::size_t n = 0; n < labels.size(); ++n) {
    double sum = 0;
    for (long long c = 0; c < classes; ++c) sum += std::exp(logits[n * classes + c]);
    for (long long c = 0; c < classes; ++c) log_probabilities[n * classes + c] = logits[n * classes + c] - std::log(sum);
  }
  std::vector<double> dlogits(logits.size(), -9.0), losses(labels.size(), -9.0);
  const double scale = 1.0 / static_cast<double>(labels.size());
  const long long total = static_cast<long long>(logits.size());
  unsigned forwards = rules::no_bad_example(), backwards = rules::no_bad_example();
  for (long long i = 0; i < total; ++i)
    rules::cross_entropy_element(i, classes, log_probabilities.data(), labels.data(), dlogits.data(), losses.data(),
                                 scale, &forwards);
  for (long long i = total - 1; i >= 0; --i)
    rules::cross_entropy_element(i, classes, log_probabilities.data(), labels.data(), dlogits.data(), losses.data(),
                                 scale, &backwards);
  // The last one to report (an exchange) would be example 3 in one order and 1 in the other.
  CHECK(forwards == 1u);
  CHECK(backwards == 1u);
  // Examples with good labels: the CPU loss's gradient and loss, term for term.
  for (std::size_t n : {std::size_t{0}, std::size_t{2}}) {
    std::vector<double> one_dlogits(classes);
    const double loss = cross_entropy<double>(std::span<const double>(logits).subspan(n * classes, classes),
                                              std::span<const std::int32_t>(labels).subspan(n, 1), classes, one_dlogits);
    CHECK(losses[n] == doctest::Approx(loss).epsilon(1e-14));
    for (long long c = 0; c < classes; ++c)
      CHECK(dlogits[n * classes + c] == doctest::Approx(one_dlogits[c] * scale).epsilon(1e-14));
  }
  CHECK(dlogits[1 * classes] == 0.0);  // a bad example sends no gradient
}
