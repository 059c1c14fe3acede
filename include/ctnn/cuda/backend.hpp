#pragma once
// An NVIDIA GPU as a device of ctnn::Model (see ctnn/backend.hpp for what a device supplies):
// device memory with host mirrors, the CUDA context (stream, handles, plans, workspace), the
// planning pass, and the replay of evaluation forwards as a CUDA graph.
//
// Inference at a fixed batch size replays a CUDA graph of the whole forward pass: the second
// evaluation-mode forward at a batch size captures the pass (the first runs it directly, which
// also loads every kernel), and every later one launches the graph. A capture that fails — a
// call that cannot be captured, or a capture the runtime invalidates by the time it ends — is
// given up for good: the pass runs directly, from then on, and graph_error() says why.

#include <array>         // std::array
#include <cstddef>       // std::size_t
#include <memory>        // std::unique_ptr, std::make_unique
#include <span>          // std::span
#include <string>        // std::string, std::to_string
#include <utility>       // std::exchange
#include <vector>        // std::vector

#include <cuda_runtime.h>   // cudaGraph_t, cudaGraphExec_t, cudaStreamBeginCapture

#include <ctnn/backend.hpp>        // ctnn::Backend, ctnn::BackendTypes, ctnn::HostResult, ctnn::PassMemory
#include <ctnn/cuda/context.hpp>   // ctnn::cuda::Context, AlgorithmSearch
#include <ctnn/cuda/error.hpp>     // CTNN_CUDA_CHECK
#include <ctnn/cuda/memory.hpp>    // ctnn::cuda::DeviceBuffer, DeviceSpan, Mirrored
#include <ctnn/error.hpp>          // ctnn::Error
#include <ctnn/evaluator.hpp>      // ctnn::Cuda
#include <ctnn/layer.hpp>          // ctnn::Mode

namespace ctnn {

namespace cuda {
// The device the runtime uses for this thread (cudaSetDevice), 0 unless set.
inline int current_device() {
  int device = 0;
  CTNN_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

// What the GPU's plans depend on besides shapes and strides; changing one plans again.
struct Settings {
  bool allow_tf32 = true;
  AlgorithmSearch algorithm_search = AlgorithmSearch::benchmark;
  std::size_t workspace_limit = std::size_t{1} << 30;
  bool exclude_transform_algorithms = false;
  bool operator==(const Settings&) const = default;
};

// An instantiated CUDA graph, owned; moves, never copies.
class GraphExec {
 public:
  GraphExec() = default;
  GraphExec(const GraphExec&) = delete;
  GraphExec& operator=(const GraphExec&) = delete;
  GraphExec(GraphExec&& other) noexcept : exec_(std::exchange(other.exec_, nullptr)) {}
  GraphExec& operator=(GraphExec&& other) noexcept {
    if (this != &other) {
      reset();
      exec_ = std::exchange(other.exec_, nullptr);
    }
    return *this;
  }
  ~GraphExec() { reset(); }

  void reset() noexcept {
    if (exec_ != nullptr) (void)cudaGraphExecDestroy(exec_);
    exec_ = nullptr;
  }
  cudaGraphExec_t* out() { return &exec_; }
  cudaGraphExec_t get() const { return exec_; }
  explicit operator bool() const { return exec_ != nullptr; }

 private:
  cudaGraphExec_t exec_ = nullptr;
};
}  // namespace cuda

template <class T>
class Backend<Cuda, T> : public BackendTypes<cuda::Context<T>, cuda::Mirrored, true> {
 public:
  using typename BackendTypes<cuda::Context<T>, cuda::Mirrored, true>::context_type;

  explicit Backend(int device = cuda::current_device()) : context_(std::make_unique<context_type>(device)) {}

  context_type& context() { return *context_; }
  const context_type& context() const { return *context_; }
  cudaStream_t stream() const { return context_->stream(); }
  void synchronize() const { CTNN_CUDA_CHECK(cudaStreamSynchronize(stream())); }

  template <class U>
  cuda::Mirrored<U> make_array(std::size_t count, const char* what) const {
    return cuda::Mirrored<U>(count, what, stream());
  }

  T* reserve_arena(std::size_t elements, std::size_t batch) {
    if (elements > arena_.size()) {
      synchronize();  // queued work may still use the old arena
      arena_.allocate(elements, "the activation arena (batch " + std::to_string(batch) + ")");
      // Defined values everywhere: nothing reads uninitialised memory, even multiplied by 0.
      CTNN_CUDA_CHECK(cudaMemsetAsync(arena_.data(), 0, arena_.size_bytes(), stream()));
    }
    return arena_.data();
  }
  std::size_t arena_bytes() const { return arena_.size_bytes(); }
  std::size_t workspace_bytes() const { return context_->workspace.size_bytes(); }
  // cuDNN and cuBLAS share one workspace of their own (Context::workspace), not the arena.
  std::size_t workspace_elements(std::size_t) const { return 0; }
  void attach_workspace(T*, std::size_t) {}

  void copy_in(std::span<const T> images, T* to) {
    cuda::copy_to_device_async<T>(images, cuda::DeviceSpan<T>{to, images.size()}, stream());
  }
  // Host gradients for backward go to a buffer of their own, back to back: `total` values in
  // all, then each span at its offset. The buffer grows at the first backward of a size.
  void begin_staging(std::size_t total) {
    if (total > upload_.size()) {
      synchronize();
      upload_.allocate(total, "the uploaded output gradients");
    }
  }
  const T* stage(std::span<const T> host, std::size_t offset) {
    cuda::copy_to_device_async<T>(host, cuda::DeviceSpan<T>{upload_.data() + offset, host.size()}, stream());
    return upload_.data() + offset;
  }
  void zero(T* at, std::size_t count) {
    CTNN_CUDA_CHECK(cudaMemsetAsync(at, 0, count * sizeof(T), stream()));
    synchronize();
  }
  void finish_host_call() { synchronize(); }

  // A device result on the host, downloaded once per pass.
  std::span<const T> host_view(HostResult which, const T* data, std::size_t count) const {
    const auto k = static_cast<std::size_t>(which);
    if (!downloaded_[k]) {
      host_copies_[k].resize(count);
      cuda::copy_to_host<T>(cuda::DeviceSpan<const T>(data, count), std::span<T>(host_copies_[k]), stream());
      downloaded_[k] = true;
    }
    return {host_copies_[k].data(), count};
  }
  void results_changed(bool forward) {
    if (forward) {
      downloaded_.fill(false);
    } else {
      downloaded_[static_cast<std::size_t>(HostResult::input_gradient)] = false;
    }
  }

  // ---- settings and planning ----------------------------------------------------------------
  cuda::Settings& settings() { return settings_; }
  bool needs_replan() const { return !(settings_ == planned_settings_); }

  // The planning pass: passes(true) runs forward (and backward when training) with
  // ctx.planning set; leaves make their plans and launch nothing. Then the workspace is sized.
  template <class Passes>
  void plan(Passes&& passes) {
    context_type& ctx = *context_;
    ctx.allow_tf32 = settings_.allow_tf32;
    ctx.algorithm_search = settings_.algorithm_search;
    ctx.workspace_limit = settings_.workspace_limit;
    ctx.exclude_transform_algorithms = settings_.exclude_transform_algorithms;
    ctx.planning = true;
    struct Reset {
      context_type& ctx;
      ~Reset() { ctx.planning = false; }
    } reset{ctx};
    passes(true);
    ctx.planning = false;
    ctx.ensure_workspace();
    planned_settings_ = settings_;
  }

  // ---- running a forward pass ---------------------------------------------------------------
  template <class Queue>
  void run_forward(Mode mode, const PassMemory<T>& memory, Queue&& queue) {
    context_type& ctx = *context_;
    replayed_graph_ = false;
    if (mode != Mode::eval || !use_graphs_) {
      queue();
      return;
    }
    // A graph holds addresses: it serves while the batch size, the memory layout and the plans
    // are those it was captured with (they come back after a training interlude).
    const GraphKey key{ctx.batch, memory, ctx.recorded_output.data, ctx.recorded_node, ctx.workspace.data(),
                       planned_settings_};
    if (graph_ && !(key == graph_key_)) drop_graph();
    if (!(key == eager_key_)) {
      eager_key_ = key;
      eager_runs_ = 0;
    }
    if (!graph_ && eager_runs_ >= 1 && capture(queue)) graph_key_ = key;
    if (graph_) {
      CTNN_CUDA_CHECK(cudaGraphLaunch(graph_.get(), stream()));
      ctx.aux_output_count = 0;
      ctx.recorded = graph_recorded_;
      replayed_graph_ = true;
    } else {
      queue();
      ++eager_runs_;
    }
  }

  void use_graphs(bool on) {
    if (!on) drop_graph();
    use_graphs_ = on;
  }
  bool uses_graphs() const { return use_graphs_; }
  bool replayed_graph() const { return replayed_graph_; }
  const std::string& graph_error() const { return graph_error_; }
  std::size_t plan_count() const { return context_->plans.size(); }

 private:
  // What a captured forward depends on besides the parameters' and buffers' fixed addresses.
  struct GraphKey {
    std::size_t batch = 0;
    PassMemory<T> memory{};
    const T* recorded = nullptr;
    std::size_t recorded_node = 0;
    const std::byte* workspace = nullptr;
    cuda::Settings settings{};
    bool operator==(const GraphKey&) const = default;
  };

  void drop_graph() noexcept {
    graph_.reset();
    eager_runs_ = 0;
  }
  // A capture that fails leaves no graph, keeps the reason and turns graphs off.
  void give_up_graphs(std::string reason) {
    (void)cudaGetLastError();
    graph_.reset();
    graph_error_ = std::move(reason);
    use_graphs_ = false;
  }

  // Captures one forward pass into graph_; true on success. Every failure, at any step, is
  // handled alike: the pass then runs directly (run_forward's eager path) from now on.
  template <class Queue>
  bool capture(Queue& queue) {
    cudaGraph_t graph = nullptr;
    CTNN_CUDA_CHECK(cudaStreamBeginCapture(stream(), cudaStreamCaptureModeThreadLocal));
    try {
      queue();
    } catch (const Error& error) {
      (void)cudaStreamEndCapture(stream(), &graph);
      if (graph != nullptr) (void)cudaGraphDestroy(graph);
      give_up_graphs(error.what());
      return false;
    }
    // The runtime may have invalidated the capture (a call not allowed while capturing): the
    // end reports it, and the graph is then unusable.
    const cudaError_t ended = cudaStreamEndCapture(stream(), &graph);
    if (ended != cudaSuccess || graph == nullptr) {
      if (graph != nullptr) (void)cudaGraphDestroy(graph);
      give_up_graphs(std::string("cudaStreamEndCapture: ") + cudaGetErrorName(ended) + ": " + cudaGetErrorString(ended));
      return false;
    }
    const cudaError_t instantiated = cudaGraphInstantiate(graph_.out(), graph, 0);
    (void)cudaGraphDestroy(graph);
    if (instantiated != cudaSuccess) {
      give_up_graphs(std::string("cudaGraphInstantiate: ") + cudaGetErrorString(instantiated));
      return false;
    }
    graph_recorded_ = context_->recorded;
    return true;
  }

  // The context first: the buffers below are freed before the stream and handles go.
  std::unique_ptr<context_type> context_;
  cuda::DeviceBuffer<T> arena_, upload_;
  cuda::Settings settings_, planned_settings_;

  bool use_graphs_ = true;
  cuda::GraphExec graph_;
  GraphKey graph_key_{}, eager_key_{};
  std::size_t eager_runs_ = 0;  // evaluation forwards run directly with eager_key_
  bool graph_recorded_ = false;
  bool replayed_graph_ = false;
  std::string graph_error_;

  // Host copies of device results, downloaded on first request after each pass.
  mutable std::array<std::vector<T>, host_result_count> host_copies_;
  mutable std::array<bool, host_result_count> downloaded_{};
};

}  // namespace ctnn
