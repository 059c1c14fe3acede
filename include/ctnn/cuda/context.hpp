#pragma once
// ctnn::cuda::Context<T>: what the CUDA evaluators share during a forward or backward pass.
//
//   - what the composite evaluators (Sequential, Concat, AuxOutput) use on every device, with the
//     CPU context's meaning: batch, mode, auxiliary outputs, the recorded layer, frozen prefix,
//     dropout switch, gradient accumulation (see ctnn/cpu/context.hpp);
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
// can be captured in a CUDA graph.

#include <algorithm>          // std::max
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
#include <ctnn/cuda/kernels.hpp>   // ctnn::cuda::KernelLibrary, launch
#include <ctnn/cuda/memory.hpp>    // ctnn::cuda::DeviceBuffer
#include <ctnn/error.hpp>          // ctnn::Error
#include <ctnn/evaluator.hpp>      // ctnn::Slot, ctnn::Cuda
#include <ctnn/layer.hpp>          // ctnn::Mode
#include <ctnn/training_hooks.hpp>  // ctnn::TrainingHooks

namespace ctnn::cuda {

// At most this many auxiliary outputs per network (GoogLeNet has two); as on the CPU.
inline constexpr std::size_t max_aux_outputs = 8;
// No layer's output is being recorded (Context::recorded_node).
inline constexpr std::size_t no_node = static_cast<std::size_t>(-1);

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

template <class T>
struct Context;
template <class T>
void copy_images(const Context<T>& ctx, ConstSlot<T> src, Slot<T> dst, std::size_t elements, bool accumulate);

template <class T>
struct Context {
  using device = Cuda;
  using scalar = T;

  explicit Context(int device) : handles(device), kernels(&KernelLibrary::current()) {}
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // ---- as on the CPU (ctnn/cpu/context.hpp) ---------------------------------------------------
  std::size_t batch = 0;
  Mode mode = Mode::eval;
  bool accumulate_parameter_gradients = false;
  std::array<Slot<T>, max_aux_outputs> aux_outputs{};
  std::array<std::size_t, max_aux_outputs> aux_output_sizes{};
  std::size_t aux_output_count = 0;
  std::array<ConstSlot<T>, max_aux_outputs> aux_gradients{};
  std::size_t aux_gradients_pending = 0;
  bool dropout_disabled = false;
  const T* parameter_base = nullptr;
  std::size_t trainable_from = 0;
  std::size_t node = 0;
  std::size_t recorded_node = no_node;
  Slot<T> recorded_output{};
  std::size_t recorded_elements = 0;
  bool recorded = false;
  TrainingHooks hooks{};  // data parallelism (ctnn/training_hooks.hpp)

  // ---- the device ----------------------------------------------------------------------------
  Handles handles;
  const KernelLibrary* kernels;
  cudaStream_t stream() const { return handles.stream(); }
  cudnnHandle_t cudnn() const { return handles.cudnn(); }
  cublasHandle_t cublas() const { return handles.cublas(); }

  // ---- planning ------------------------------------------------------------------------------
  // true while Model::prepare walks the network: leaves make their plans and launch nothing.
  bool planning = false;
  PlanCache plans;
  AlgorithmSearch algorithm_search = AlgorithmSearch::benchmark;
  // TF32 tensor cores for float convolutions, as PyTorch's torch.backends.cudnn.allow_tf32
  // (default true there too). Linear layers use cuBLAS's default full float32 arithmetic, as
  // PyTorch's torch.backends.cuda.matmul.allow_tf32 = False.
  bool allow_tf32 = true;
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
  // Allocates the workspace for what the plans asked for (nothing when it is big enough).
  void ensure_workspace() {
    if (workspace.size_bytes() >= workspace_needed) return;
    CTNN_CUDA_CHECK(cudaStreamSynchronize(stream()));  // queued work may still use the old buffer
    workspace.allocate(workspace_needed, "the cuDNN/cuBLAS workspace");
    CTNN_CUBLAS_CHECK(cublasSetWorkspace(cublas(), workspace.data(), workspace.size_bytes()));
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

  // ---- as on the CPU: auxiliary outputs, frozen parameters, recording ------------------------
  void publish_aux_output(Slot<T> output, std::size_t elements_per_image) {
    if (aux_output_count == max_aux_outputs)
      throw Error("AuxOutput", "a network may publish at most 8 auxiliary outputs");
    aux_outputs[aux_output_count] = output;
    aux_output_sizes[aux_output_count] = elements_per_image;
    ++aux_output_count;
  }
  ConstSlot<T> take_aux_gradient() {
    if (aux_gradients_pending == 0)
      throw Error("AuxOutput", "backward reached an auxiliary head with no gradient for its output");
    return aux_gradients[--aux_gradients_pending];
  }
  std::size_t frozen_parameter_count(const T* values) const {
    if (parameter_base == nullptr) return 0;
    const std::ptrdiff_t frozen = (parameter_base + trainable_from) - values;
    return frozen > 0 ? static_cast<std::size_t>(frozen) : 0;
  }
  void record_if(std::size_t ordinal, ConstSlot<T> output, std::size_t elements) {
    if (ordinal != recorded_node) return;
    if (elements != recorded_elements)
      throw Error("record_output_of", "the recorded layer's output size does not match the plan");
    copy_images(*this, output, recorded_output, elements, false);
    recorded = true;
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
