#pragma once
// ctnn's own CUDA kernels (pooling, element-wise, activations, upsampling, optimizer and loss
// steps), compiled at run time by NVRTC for the device present and launched through the CUDA
// runtime.
//
// Why at run time: every other part of the backend is cuDNN and cuBLAS calls, plain C++ that the
// host compiler builds. Compiling the kernels with NVRTC keeps it that way: a program using
// ctnn::Model<Net, In, float, Cuda> is an ordinary .cpp file, built by g++ or clang at their
// speed (nvcc takes several times longer on a GoogLeNet translation unit, and trips over Eigen),
// the library stays header-only, and no CMake project needs the CUDA language enabled. The
// source (kernels/*.hpp) is compiled once per process and architecture, in about a second, the
// first time a model is created on a device of that architecture.
//
//   const KernelLibrary& kernels = KernelLibrary::current();   // compiles on first use
//   launch<float>(kernels, Kernel::add_images, total, stream, total, elements, src, ...);
//
// compile_kernels() needs no device, so the kernels' source is checked on machines without one
// (tests/cuda/test_kernels_compile.cpp).

#include <algorithm>     // std::min, std::max
#include <array>         // std::array
#include <cstddef>       // std::size_t
#include <iterator>      // std::size
#include <map>           // std::map
#include <mutex>         // std::mutex, std::lock_guard
#include <string>        // std::string, std::to_string
#include <string_view>   // std::string_view
#include <type_traits>   // std::is_same_v
#include <vector>        // std::vector

#include <cuda_runtime.h>   // cudaLibrary_t, cudaKernel_t, cudaLaunchKernel
#include <nvrtc.h>          // nvrtcCreateProgram, nvrtcCompileProgram, ...

#include <ctnn/cuda/error.hpp>                 // CTNN_CUDA_CHECK, CTNN_NVRTC_CHECK
#include <ctnn/cuda/kernels/activations.hpp>   // kernels::activations_source
#include <ctnn/cuda/kernels/common.hpp>        // kernels::common_source
#include <ctnn/cuda/kernels/elementwise.hpp>   // kernels::elementwise_source
#include <ctnn/cuda/kernels/loss.hpp>          // kernels::loss_source
#include <ctnn/cuda/kernels/optim.hpp>         // kernels::optim_source
#include <ctnn/cuda/kernels/pooling.hpp>       // kernels::pooling_source
#include <ctnn/cuda/kernels/upsample.hpp>      // kernels::upsample_source
#include <ctnn/error.hpp>                      // ctnn::Error
#include <ctnn/rules/activations.hpp>          // rules::activation_rules_source
#include <ctnn/rules/cross_entropy.hpp>        // rules::cross_entropy_rules_source
#include <ctnn/rules/optimizers.hpp>           // rules::optimizer_rules_source
#include <ctnn/rules/source.hpp>               // rules::device_prelude
#include <ctnn/rules/upsample.hpp>             // rules::upsample_rules_source

namespace ctnn::cuda {

// Every kernel template of kernels/*.hpp; each is instantiated for float and double.
enum class Kernel : int {
  max_pool_forward,
  max_pool_backward,
  avg_pool_forward,
  avg_pool_backward,
  adaptive_avg_pool_forward,
  adaptive_avg_pool_backward,
  add_images,
  transform_input_forward,
  transform_input_backward,
  add_bias_rows,
  column_sums,
  add_scalar,
  sgd_step,
  adam_step,
  cross_entropy_backward,
  // Element-wise activations (kernels/activations.hpp).
  sigmoid_forward,
  sigmoid_backward,
  tanh_forward,
  tanh_backward,
  silu_forward,
  silu_backward,
  hardswish_forward,
  hardswish_backward,
  leaky_relu_forward,
  leaky_relu_backward,
  // Upsampling (kernels/upsample.hpp).
  upsample_forward,
  upsample_backward,
  count
};
inline constexpr std::size_t kernel_count = static_cast<std::size_t>(Kernel::count);
// The kernels' names in the source, in the enum's order.
inline constexpr std::string_view kernel_name_list[] = {
    "max_pool_forward",        "max_pool_backward",        "avg_pool_forward", "avg_pool_backward",
    "adaptive_avg_pool_forward", "adaptive_avg_pool_backward", "add_images",     "transform_input_forward",
    "transform_input_backward", "add_bias_rows",            "column_sums",      "add_scalar",
    "sgd_step",                "adam_step",                "cross_entropy_backward",
    // Element-wise activations.
    "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward", "silu_forward", "silu_backward",
    "hardswish_forward", "hardswish_backward", "leaky_relu_forward", "leaky_relu_backward",
    // Upsampling.
    "upsample_forward", "upsample_backward"};
static_assert(std::size(kernel_name_list) == kernel_count,
              "ctnn::cuda::Kernel and kernel_name_list must list the same kernels, in the same order");
inline constexpr std::array<std::string_view, kernel_count> kernel_names = [] {
  std::array<std::string_view, kernel_count> names{};
  for (std::size_t k = 0; k < kernel_count; ++k) names[k] = kernel_name_list[k];
  return names;
}();

// The whole CUDA source NVRTC compiles: what the kernels share, the rules shared with the CPU
// (ctnn/rules/), then the kernels.
inline std::string kernel_source() {
  std::string source(kernels::common_source);
  source += "namespace ctnn_kernels {\n";
  for (std::string_view rules : {rules::device_prelude, rules::optimizer_rules_source, rules::cross_entropy_rules_source,
                                 rules::activation_rules_source, rules::upsample_rules_source})
    (source += rules) += "\n";
  source += "}  // namespace ctnn_kernels\n";
  for (std::string_view part :
       {kernels::pooling_source, kernels::elementwise_source, kernels::optim_source, kernels::loss_source,
        kernels::activations_source, kernels::upsample_source})
    source += part;
  return source;
}

// "ctnn_kernels::add_images<float>"
inline std::string kernel_expression(Kernel kernel, bool is_double) {
  return "ctnn_kernels::" + std::string(kernel_names[static_cast<std::size_t>(kernel)]) +
         (is_double ? "<double>" : "<float>");
}

// NVRTC's output for one architecture: a cubin (or PTX when NVRTC does not know the device's
// architecture: the driver then compiles it), and each kernel's mangled name, float then double.
struct CompiledKernels {
  std::vector<char> image;
  bool is_ptx = false;
  std::array<std::string, 2 * kernel_count> lowered_names;
  std::string target;  // "sm_90" or "compute_90"
  std::string log;
};

// Compiles kernel_source() for compute capability major.minor. Needs no device.
inline CompiledKernels compile_kernels(int major, int minor) {
  CompiledKernels out;
  const int wanted = major * 10 + minor;
  int arch_count = 0;
  CTNN_NVRTC_CHECK(nvrtcGetNumSupportedArchs(&arch_count));
  std::vector<int> archs(static_cast<std::size_t>(arch_count));
  CTNN_NVRTC_CHECK(nvrtcGetSupportedArchs(archs.data()));
  int target = 0;
  for (int arch : archs)
    if (arch <= wanted) target = std::max(target, arch);
  if (target == 0)
    throw Error("NVRTC", "compute capability " + std::to_string(major) + "." + std::to_string(minor) +
                             " is older than every architecture this NVRTC supports");
  out.is_ptx = target != wanted;
  out.target = (out.is_ptx ? "compute_" : "sm_") + std::to_string(target);

  const std::string source = kernel_source();
  nvrtcProgram program = nullptr;
  CTNN_NVRTC_CHECK(nvrtcCreateProgram(&program, source.c_str(), "ctnn_kernels.cu", 0, nullptr, nullptr));
  struct Destroy {
    nvrtcProgram* program;
    ~Destroy() { nvrtcDestroyProgram(program); }
  } destroy{&program};

  std::array<std::string, 2 * kernel_count> expressions;
  for (std::size_t k = 0; k < kernel_count; ++k)
    for (int is_double = 0; is_double < 2; ++is_double) {
      expressions[2 * k + is_double] = kernel_expression(static_cast<Kernel>(k), is_double);
      CTNN_NVRTC_CHECK(nvrtcAddNameExpression(program, expressions[2 * k + is_double].c_str()));
    }
  const std::string arch_option = "--gpu-architecture=" + out.target;
  const char* options[] = {arch_option.c_str(), "-std=c++17", "--fmad=true"};
  const nvrtcResult compiled = nvrtcCompileProgram(program, 3, options);
  std::size_t log_size = 0;
  CTNN_NVRTC_CHECK(nvrtcGetProgramLogSize(program, &log_size));
  out.log.resize(log_size);
  CTNN_NVRTC_CHECK(nvrtcGetProgramLog(program, out.log.data()));
  while (!out.log.empty() && (out.log.back() == '\0' || out.log.back() == '\n')) out.log.pop_back();
  if (compiled != NVRTC_SUCCESS)
    throw Error("nvrtcCompileProgram", std::string(nvrtcGetErrorString(compiled)) + " for " + out.target +
                                           " compiling ctnn's kernels:\n" + out.log);

  std::size_t size = 0;
  if (out.is_ptx) {
    CTNN_NVRTC_CHECK(nvrtcGetPTXSize(program, &size));
    out.image.resize(size);
    CTNN_NVRTC_CHECK(nvrtcGetPTX(program, out.image.data()));
  } else {
    CTNN_NVRTC_CHECK(nvrtcGetCUBINSize(program, &size));
    out.image.resize(size);
    CTNN_NVRTC_CHECK(nvrtcGetCUBIN(program, out.image.data()));
  }
  for (std::size_t i = 0; i < expressions.size(); ++i) {
    const char* lowered = nullptr;
    CTNN_NVRTC_CHECK(nvrtcGetLoweredName(program, expressions[i].c_str(), &lowered));
    out.lowered_names[i] = lowered;
  }
  return out;
}

// The kernels loaded for one architecture: a cudaLibrary_t and a handle per kernel and type.
class KernelLibrary {
 public:
  // The library for the current device's architecture, compiled and loaded on first use.
  // Loaded libraries live as long as the process (unloading during exit would race the
  // runtime's own teardown).
  static const KernelLibrary& current() {
    int device = 0, major = 0, minor = 0;
    CTNN_CUDA_CHECK(cudaGetDevice(&device));
    CTNN_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    CTNN_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
    static std::mutex mutex;
    static std::map<int, const KernelLibrary*> libraries;
    const std::lock_guard<std::mutex> lock(mutex);
    const KernelLibrary*& library = libraries[major * 10 + minor];
    if (library == nullptr) library = new KernelLibrary(compile_kernels(major, minor));
    return *library;
  }

  template <class T>
  cudaKernel_t get(Kernel kernel) const {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "ctnn's kernels exist for float and double");
    return kernels_[2 * static_cast<std::size_t>(kernel) + (std::is_same_v<T, double> ? 1 : 0)];
  }
  const std::string& target() const { return target_; }

 private:
  explicit KernelLibrary(const CompiledKernels& compiled) : target_(compiled.target) {
    CTNN_CUDA_CHECK(cudaLibraryLoadData(&library_, compiled.image.data(), nullptr, nullptr, 0, nullptr, nullptr, 0));
    for (std::size_t i = 0; i < kernels_.size(); ++i)
      CTNN_CUDA_CHECK(cudaLibraryGetKernel(&kernels_[i], library_, compiled.lowered_names[i].c_str()));
  }

  cudaLibrary_t library_ = nullptr;
  std::array<cudaKernel_t, 2 * kernel_count> kernels_{};
  std::string target_;
};

// Launches `kernel` for T over `total` work items (grid-stride loops inside), 256 threads a
// block. The arguments must have exactly the kernel's parameter types: long long for sizes and
// strides, int for flags, T and T* for values.
template <class T, class... Args>
void launch(const KernelLibrary& library, Kernel kernel, long long total, cudaStream_t stream, Args... args) {
  if (total <= 0) return;
  constexpr long long threads = 256;
  const long long blocks = std::min<long long>((total + threads - 1) / threads, 1 << 20);
  void* pointers[] = {static_cast<void*>(&args)...};
  CTNN_CUDA_CHECK(cudaLaunchKernel(reinterpret_cast<const void*>(library.get<T>(kernel)),
                                   dim3(static_cast<unsigned>(blocks)), dim3(static_cast<unsigned>(threads)), pointers,
                                   0, stream));
}

}  // namespace ctnn::cuda
