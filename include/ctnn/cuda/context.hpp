#pragma once
// ctnn::cuda::Context<T>: what the CUDA evaluators share during a forward or backward pass.
//
//   - the pass state of every device (ctnn/pass_state.hpp): batch, mode, auxiliary outputs,
//     the recorded layer, frozen prefix, dropout switch, gradient accumulation;
//   - the stream all work is queued on, the cuDNN and cuBLAS handles bound to it, and the
//     kernels compiled for the device (ctnn/cuda/kernels.hpp);
//   - the plan cache: per layer geometry, tensor strides and batch size, the cuDNN descriptors
//     and the convolution algorithms chosen (by cuDNN's find or its heuristics) once;
//   - the one workspace shared by every cuDNN and cuBLAS call (they run one after another on
//     the stream).
//
// Planning. Model::prepare runs the network once with `planning` set: every leaf creates its
// plans (running cuDNN's algorithm search) and states the workspace it needs, and nothing is
// launched. The workspace is then allocated once, so the passes that follow allocate nothing and
// can be captured in a CUDA graph. Evaluators launch only through the context — run(call) for
// cuDNN and cuBLAS calls, launch(kernel, ...) for ctnn's kernels, copy_images — which do nothing
// while planning, so an evaluator states its plans and workspace and cannot launch by mistake.

#include <algorithm>          // std::max
#include <utility>            // std::swap
#include <array>              // std::array
#include <cstddef>            // std::size_t, std::byte, std::ptrdiff_t
#include <cstdint>            // std::int64_t, std::uint64_t
#include <initializer_list>   // std::initializer_list
#include <memory>             // std::unique_ptr
#include <unordered_map>      // std::unordered_map

#include <cublas_v2.h>      // cublasHandle_t
#include <cuda_runtime.h>   // cudaStream_t
#include <cudnn.h>          // cudnnHandle_t

#include <ctnn/cuda/cudnn.hpp>     // ctnn::cuda::DropoutDescriptor
#include <ctnn/cuda/error.hpp>     // CTNN_CUDA_CHECK, CTNN_CUDNN_CHECK, CTNN_CUBLAS_CHECK
#include <ctnn/cuda/kernels.hpp>   // ctnn::cuda::KernelLibrary, Kernel, launch
#include <ctnn/cuda/memory.hpp>    // ctnn::cuda::DeviceBuffer
#include <ctnn/error.hpp>          // ctnn::Error
#include <ctnn/evaluator.hpp>      // ctnn::Slot, ctnn::Cuda
#include <ctnn/pass_state.hpp>     // ctnn::PassState, ctnn::max_aux_outputs

namespace ctnn::cuda {

using ctnn::max_aux_outputs;

// How convolution algorithms are chosen, once per layer geometry and batch size.
enum class AlgorithmSearch {
  benchmark,  // cudnnFind*: time every algorithm on the device (PyTorch's cudnn.benchmark = True)
  heuristic,  // cudnnGet*_v7: cuDNN's heuristics, no timing
};

// ---------------------------------------------------------------------------------------------
// The plan cache. A key is a plan kind and the numbers that decide it (geometry, strides,
// batch, settings); layers of the same geometry at the same strides share their plans.
// ---------------------------------------------------------------------------------------------
struct PlanKey {
  int kind = 0;
  std::array<std::int64_t, 16> values{};

  PlanKey(int kind, std::initializer_list<std::int64_t> numbers) : kind(kind) {
    if (numbers.size() > values.size()) throw Error("PlanKey", "too many numbers in a plan key");
    std::size_t i = 0;
    for (std::int64_t v : numbers) values[i++] = v;
  }
  bool operator==(const PlanKey&) const = default;
};

struct PlanKeyHash {
  std::size_t operator()(const PlanKey& key) const noexcept {
    std::uint64_t h = 0xcbf29ce484222325ULL ^ static_cast<std::uint64_t>(key.kind);
    for (std::int64_t v : key.values) h = (h ^ static_cast<std::uint64_t>(v)) * 0x100000001b3ULL;
    return static_cast<std::size_t>(h);
  }
};

struct Plan {
  virtual ~Plan() = default;
};

class PlanCache {
 public:
  // The plan under `key`, made by make() the first time.
  template <class P, class Make>
  P& get(const PlanKey& key, Make&& make) {
    auto found = plans_.find(key);
    if (found == plans_.end()) found = plans_.emplace(key, std::unique_ptr<Plan>(make())).first;
    return static_cast<P&>(*found->second);
  }
  std::size_t size() const { return plans_.size(); }
  void clear() { plans_.clear(); }

 private:
  std::unordered_map<PlanKey, std::unique_ptr<Plan>, PlanKeyHash> plans_;
};

// Plan kinds, one per layer operation.
enum class PlanKind : int {
  conv_forward = 1,
  conv_backward_data,
  conv_backward_filter,
  conv_bias,
  activation,
  batch_norm,
  dropout,
  relu6,
  softmax,
};

// ---------------------------------------------------------------------------------------------
// The stream and library handles of one device, owned.
// ---------------------------------------------------------------------------------------------
class Handles {
 public:
  explicit Handles(int device) : device_(device) {
    CTNN_CUDA_CHECK(cudaSetDevice(device));
    CTNN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    CTNN_CUDNN_CHECK(cudnnCreate(&cudnn_));
    CTNN_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
    CTNN_CUBLAS_CHECK(cublasCreate(&cublas_));
    CTNN_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
    CTNN_CUBLAS_CHECK(cublasSetPointerMode(cublas_, CUBLAS_POINTER_MODE_HOST));
  }
  Handles(const Handles&) = delete;
  Handles& operator=(const Handles&) = delete;
  ~Handles() {
    if (cublas_) (void)cublasDestroy(cublas_);
    if (cudnn_) (void)cudnnDestroy(cudnn_);
    if (stream_) (void)cudaStreamDestroy(stream_);
  }

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  cudnnHandle_t cudnn() const { return cudnn_; }
  cublasHandle_t cublas() const { return cublas_; }

 private:
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
};

// The pass state every device shares (ctnn/pass_state.hpp) and the GPU's executor.
template <class T>
struct Context : PassState<T> {
  using device = Cuda;
  using scalar = T;

  explicit Context(int device) : handles(device), kernels(&KernelLibrary::current()) {}
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // ---- the device ----------------------------------------------------------------------------
  Handles handles;
  const KernelLibrary* kernels;
  cudaStream_t stream() const { return handles.stream(); }
  cudnnHandle_t cudnn() const { return handles.cudnn(); }
  cublasHandle_t cublas() const { return handles.cublas(); }

  // ---- launching: nothing happens while planning -----------------------------------------------
  // call(handles): cuDNN or cuBLAS calls on the stream.
  template <class Call>
  void run(Call&& call) {
    if (!planning) call(handles);
  }
  // One of ctnn's kernels over `total` work items (see cuda::launch for the argument types).
  template <class... Args>
  void launch(Kernel kernel, long long total, Args... args) {
    if (!planning) cuda::launch<T>(*kernels, kernel, total, stream(), args...);
  }

  // ---- planning ------------------------------------------------------------------------------
  // true while Model::prepare walks the network: leaves make their plans and launch nothing.
  bool planning = false;
  PlanCache plans;
  AlgorithmSearch algorithm_search = AlgorithmSearch::benchmark;
  // TF32 tensor cores for float convolutions, as PyTorch's torch.backends.cudnn.allow_tf32
  // (default true there too). Linear layers use cuBLAS's default full float32 arithmetic, as
  // PyTorch's torch.backends.cuda.matmul.allow_tf32 = False.
  bool allow_tf32 = true;
  // Leave out cuDNN's FFT and Winograd convolution algorithms, whose float results differ from
  // a direct convolution's by more than rounding (tests that compare with the CPU set it).
  bool exclude_transform_algorithms = false;
  // Largest workspace a convolution algorithm may ask for.
  std::size_t workspace_limit = std::size_t{1} << 30;

  // ---- the one workspace ---------------------------------------------------------------------
  // cuBLAS gets the whole buffer too: it needs its own from before a graph capture on, and calls
  // on one stream never overlap.
  static constexpr std::size_t minimum_workspace_bytes = std::size_t{32} << 20;
  DeviceBuffer<std::byte> workspace;
  std::size_t workspace_needed = minimum_workspace_bytes;

  // A plan states its workspace while planning; at run time the buffer already holds it.
  std::byte* workspace_for(std::size_t bytes) {
    workspace_needed = std::max(workspace_needed, bytes);
    if (!planning && bytes > workspace.size_bytes()) ensure_workspace();  // a pass that skipped planning
    return workspace.data();
  }
  // Allocates the workspace for what the plans asked for (nothing when it is big enough). The
  // new buffer is allocated and handed to cuBLAS before the old one is freed: should the
  // allocation fail, cuBLAS keeps a buffer that still exists.
  void ensure_workspace() {
    if (workspace.size_bytes() >= workspace_needed) return;
    CTNN_CUDA_CHECK(cudaStreamSynchronize(stream()));  // queued work may still use the old buffer
    DeviceBuffer<std::byte> grown(workspace_needed, "the cuDNN/cuBLAS workspace");
    CTNN_CUBLAS_CHECK(cublasSetWorkspace(cublas(), grown.data(), grown.size_bytes()));
    std::swap(workspace, grown);
  }

  // ---- dropout's random states (cuDNN), shared by every Dropout layer --------------------------
  std::uint64_t dropout_seed = 0x5eedULL;
  DeviceBuffer<std::byte> dropout_states;
  DropoutDescriptor dropout_base;  // initialises the states; layers restore from it
  bool dropout_states_ready = false;
  void ensure_dropout_states() {
    if (dropout_states_ready) return;
    std::size_t bytes = 0;
    CTNN_CUDNN_CHECK(cudnnDropoutGetStatesSize(cudnn(), &bytes));
    if (dropout_states.size_bytes() < bytes) dropout_states.allocate(bytes, "cuDNN's dropout states");
    CTNN_CUDNN_CHECK(cudnnSetDropoutDescriptor(dropout_base, cudnn(), 0.0f, dropout_states.data(),
                                               dropout_states.size_bytes(), dropout_seed));
    dropout_states_ready = true;
  }
};

// Copies (or adds) N images of `elements` each from src to dst, on the context's stream; used by
// views, taps and recording. Found by the composite evaluators through argument-dependent lookup.
template <class T>
void copy_images(const Context<T>& ctx, ConstSlot<T> src, Slot<T> dst, std::size_t elements, bool accumulate) {
  if (ctx.planning || ctx.batch == 0 || elements == 0) return;
  if (accumulate) {
    const auto total = static_cast<long long>(ctx.batch * elements);
    launch<T>(*ctx.kernels, Kernel::add_images, total, ctx.stream(), total, static_cast<long long>(elements), src.data,
              static_cast<long long>(src.image_stride), dst.data, static_cast<long long>(dst.image_stride));
  } else if (src.data != dst.data) {
    CTNN_CUDA_CHECK(cudaMemcpy2DAsync(dst.data, dst.image_stride * sizeof(T), src.data, src.image_stride * sizeof(T),
                                      elements * sizeof(T), ctx.batch, cudaMemcpyDeviceToDevice, ctx.stream()));
  }
}

}  // namespace ctnn::cuda
