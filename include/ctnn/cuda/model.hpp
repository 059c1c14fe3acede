#pragma once
// ctnn::Model<Net, In, T, Cuda>: the same network type on an NVIDIA GPU.
//
//   ctnn::Model<ctnn::GoogLeNet<1000, false>, ctnn::Shape<3, 224, 224>, float, ctnn::Cuda> model;
//   ctnn::init::googlenet_seed(model, 42);                 // writes the host copy of the parameters
//   std::span<const float> logits = model.forward(images); // host in, host out
//   ctnn::cuda::DeviceSpan<const float> out = model.forward(device_images);  // device in and out
//
// The API is the CPU Model's (ctnn/model.hpp), plus device spans and the GPU's settings.
//
// Memory, as on the CPU (DESIGN.md section 2):
//   parameters   one device buffer, layer offsets fixed at compile time
//   gradients    one device buffer laid out like the parameters
//   buffers      one device buffer of non-trainable state (BatchNorm running statistics)
//   arena        one device allocation per (batch size, mode): input, output, saved state for
//                backward, scratch, input gradient, recorded layer output
//   workspace    one device buffer shared by every cuDNN and cuBLAS call, sized by planning
// After the first forward (or prepare()) at a batch size, a forward or backward pass allocates
// nothing.
//
// Host and device copies. parameters(), gradients() and buffers() are host spans of a mirror
// (ctnn::cuda::Mirrored): reading one downloads what the device has changed, writing through one
// is uploaded before the device next uses it; device_parameters() and the like never leave the
// device. forward() and backward() given host spans copy them over and return host spans; given
// device spans they queue work on stream() and return device spans, transferring nothing.
//
// Inference at a fixed batch size replays a CUDA graph of the whole forward pass: the second
// evaluation-mode forward at a batch size captures the pass (the first runs it directly, which
// also loads every kernel), and every later one launches the graph.

#include <algorithm>     // std::max
#include <array>         // std::array
#include <cstddef>       // std::size_t
#include <cstdint>       // std::uint64_t
#include <memory>        // std::unique_ptr, std::make_unique
#include <optional>      // std::optional
#include <span>          // std::span
#include <string>        // std::string, std::to_string
#include <string_view>   // std::string_view
#include <type_traits>   // std::remove_const_t
#include <vector>        // std::vector

#include <cuda_runtime.h>   // cudaGraph_t, cudaGraphExec_t, cudaStreamBeginCapture

#include <ctnn/cuda/context.hpp>   // ctnn::cuda::Context, AlgorithmSearch
#include <ctnn/cuda/error.hpp>     // CTNN_CUDA_CHECK
#include <ctnn/cuda/memory.hpp>    // ctnn::cuda::DeviceBuffer, DeviceSpan, Mirrored
#include <ctnn/error.hpp>          // ctnn::Error
#include <ctnn/evaluator.hpp>      // ctnn::evaluator_t, ctnn::Cuda
#include <ctnn/find_layer.hpp>     // ctnn::find_layer, ctnn::LayerInfo
#include <ctnn/layer.hpp>          // ctnn::Mode, ctnn::align_elements
#include <ctnn/model.hpp>          // ctnn::Model (the primary template), detail::shape_text
#include <ctnn/shape.hpp>          // ctnn::ShapeType, ctnn::output_shape_t
#include <ctnn/training_hooks.hpp>  // ctnn::TrainingHooks

namespace ctnn {

namespace cuda {
// The device the runtime uses for this thread (cudaSetDevice), 0 unless set.
inline int current_device() {
  int device = 0;
  CTNN_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}
}  // namespace cuda

template <class Net, ShapeType In, class T>
class Model<Net, In, T, Cuda> {
 public:
  using network = Net;
  using input_shape = In;
  using output_shape = output_shape_t<Net, In>;
  using scalar = T;
  using device = Cuda;

  static constexpr std::size_t parameter_count = Net::parameter_count;
  static constexpr std::size_t buffer_count = Net::buffer_count;

  // Creates the model on `device` (default: the current one). Compiles ctnn's kernels for its
  // architecture the first time in the process. Parameters, gradients and buffers start at zero.
  explicit Model(int device = cuda::current_device())
      : context_(std::make_unique<cuda::Context<T>>(device)),
        parameters_(parameter_count, "the parameters"),
        gradients_(parameter_count, "the gradients"),
        buffers_(std::max<std::size_t>(buffer_count, 1), "the buffers (running statistics)") {
    for (auto* mirror : {&parameters_, &gradients_, &buffers_}) mirror->set_stream(context_->stream());
  }
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  ~Model() { drop_graph(); }

  // ---- state: host mirrors ----------------------------------------------------------------
  std::span<T> parameters() { return parameters_.host(); }
  std::span<const T> parameters() const { return parameters_.host_view(); }
  std::span<T> gradients() { return gradients_.host(); }
  std::span<const T> gradients() const { return gradients_.host_view(); }
  std::span<T> buffers() { return buffers_.host().first(buffer_count); }
  std::span<const T> buffers() const { return buffers_.host_view().first(buffer_count); }

  // ---- state: on the device ---------------------------------------------------------------
  cuda::DeviceSpan<T> device_parameters() { return parameters_.device(); }
  cuda::DeviceSpan<const T> device_parameters() const { return parameters_.device_view(); }
  cuda::DeviceSpan<T> device_gradients() { return gradients_.device(); }
  cuda::DeviceSpan<const T> device_gradients() const { return gradients_.device_view(); }
  cuda::DeviceSpan<T> device_buffers() { return buffers_.device().first(buffer_count); }
  cuda::DeviceSpan<const T> device_buffers() const { return buffers_.device_view().first(buffer_count); }
  // Explicit transfers of parameters and buffers (the mirrors otherwise transfer on first use).
  void upload() {
    parameters_.upload();
    buffers_.upload();
  }
  void download() const {
    parameters_.download();
    buffers_.download();
  }

  void train(bool on = true) { mode_ = on ? Mode::train : Mode::eval; }
  void eval() { mode_ = Mode::eval; }
  bool is_training() const { return mode_ == Mode::train; }
  Mode mode() const { return mode_; }

  // The GPU backend runs no host threads; kept so code written for the CPU model compiles.
  void set_threads(int) {}
  int threads() const { return 1; }
  // Seeds cuDNN's dropout generator (its masks differ from the CPU backend's for a seed).
  void seed(std::uint64_t seed) {
    context_->dropout_seed = seed;
    context_->dropout_states_ready = false;
  }
  void accumulate_gradients(bool on) { context_->accumulate_parameter_gradients = on; }
  // Data parallelism's hooks into training passes (ctnn/training_hooks.hpp); {} removes them.
  void set_training_hooks(TrainingHooks hooks) { context_->hooks = hooks; }
  TrainingHooks training_hooks() const { return context_->hooks; }

  // ---- training switches (as on the CPU) ------------------------------------------------------
  void disable_dropout(bool on) {
    if (on != context_->dropout_disabled) planned_batch_ = 0;
    context_->dropout_disabled = on;
  }
  bool dropout_disabled() const { return context_->dropout_disabled; }

  void set_trainable_from(std::size_t offset) {
    if (offset > parameter_count)
      throw Error("set_trainable_from", "offset " + std::to_string(offset) + " is past the " +
                                            std::to_string(parameter_count) + " parameters");
    trainable_from_ = offset;
    if (offset > 0) {
      CTNN_CUDA_CHECK(cudaMemsetAsync(gradients_.device().data(), 0, offset * sizeof(T), stream()));
      synchronize();
    }
    planned_batch_ = 0;  // backward skips other layers: plan again
  }
  std::size_t trainable_from() const { return trainable_from_; }

  void compute_input_gradient(bool on) {
    if (on != compute_input_gradient_) planned_batch_ = 0;
    compute_input_gradient_ = on;
  }
  std::span<const T> input_gradient() const {
    return download_once(device_input_gradient(), input_gradient_host_, input_gradient_downloaded_);
  }
  cuda::DeviceSpan<const T> device_input_gradient() const {
    if (!compute_input_gradient_ || input_gradient_ == nullptr)
      throw Error("input_gradient", "call compute_input_gradient(true) before the training forward");
    return {input_gradient_, context_->batch * In::size};
  }

  // ---- recording a layer's output (as on the CPU) -----------------------------------------------
  void record_output_of(std::string_view path) {
    planned_batch_ = 0;
    if (path.empty()) {
      recorded_layer_.reset();
      return;
    }
    auto layer = find_layer<Net, In>(path);
    if (!layer)
      throw Error("record_output_of", "the network has no layer '" + std::string(path) +
                                          "' (top-level layers: " + top_level_layer_names<Net, In>() + ")");
    recorded_layer_ = std::move(layer);
  }
  const std::optional<LayerInfo>& recorded_layer() const { return recorded_layer_; }
  std::span<const T> recorded_output() const {
    return download_once(device_recorded_output(), recorded_host_, recorded_downloaded_);
  }
  cuda::DeviceSpan<const T> device_recorded_output() const {
    if (!recorded_layer_) throw Error("recorded_output", "no layer is recorded: call record_output_of(path) first");
    if (!context_->recorded)
      throw Error("recorded_output", "layer '" + recorded_layer_->path +
                                         "' did not run in the last forward (auxiliary heads run in training mode only)");
    return {context_->recorded_output.data, context_->batch * recorded_layer_->output_size};
  }

  // ---- forward ----------------------------------------------------------------------------
  // Host images in, host outputs back (valid until the next forward): N = images.size() / In::size.
  std::span<const T> forward(std::span<const T> images) {
    const std::size_t batch = check_input(images.size());
    prepare(batch, mode_);
    cuda::copy_to_device_async<T>(images, cuda::DeviceSpan<T>{input_, batch * In::size}, stream());
    run_forward();
    return output();
  }
  std::span<const T> forward(std::span<const T> images, std::span<const std::size_t> dims) {
    const bool matches = (dims.size() == 4 && dims[1] == In::channels && dims[2] == In::height && dims[3] == In::width) ||
                         (dims.size() == 2 && In::height == 1 && In::width == 1 && dims[1] == In::channels);
    std::size_t count = 1;
    for (auto d : dims) count *= d;
    if (!matches || count != images.size())
      throw Error("input", "has shape " + dims_text(dims) + " but the model takes [N, " + std::to_string(In::channels) +
                               ", " + std::to_string(In::height) + ", " + std::to_string(In::width) + "]");
    return forward(images);
  }
  // Device images in, device outputs back: queued on stream(), nothing transferred. Images
  // already in input_buffer(N) are used where they are.
  cuda::DeviceSpan<const T> forward(cuda::DeviceSpan<const T> images) {
    const std::size_t batch = check_input(images.size());
    prepare(batch, mode_);
    if (images.data() != input_)
      CTNN_CUDA_CHECK(cudaMemcpyAsync(input_, images.data(), images.size_bytes(), cudaMemcpyDeviceToDevice, stream()));
    run_forward();
    return device_output();
  }
  // The model's own device input for `batch` images in the current mode, to be filled before
  // forward(input_buffer(batch)); spares a copy.
  cuda::DeviceSpan<T> input_buffer(std::size_t batch) {
    prepare(batch, mode_);
    return {input_, batch * In::size};
  }

  std::size_t batch_size() const { return context_->batch; }
  std::span<const T> output() const { return download_once(device_output(), output_host_, output_downloaded_); }
  cuda::DeviceSpan<const T> device_output() const { return {output_, context_->batch * output_shape::size}; }
  std::size_t aux_output_count() const { return context_->aux_output_count; }
  std::span<const T> aux_output(std::size_t k) const {
    const cuda::DeviceSpan<const T> device = device_aux_output(k);
    return download_once(device, aux_host_[k], aux_downloaded_[k]);
  }
  cuda::DeviceSpan<const T> device_aux_output(std::size_t k) const {
    if (k >= context_->aux_output_count)
      throw Error("aux_output", "index " + std::to_string(k) + " of " + std::to_string(context_->aux_output_count) +
                                    " auxiliary outputs (they exist after a forward in training mode)");
    return {context_->aux_outputs[k].data, context_->batch * context_->aux_output_sizes[k]};
  }

  // ---- backward ---------------------------------------------------------------------------
  // Host gradients of the loss with respect to the outputs (and auxiliary outputs, in forward
  // order): copied to the device, then as below. Afterwards gradients() holds the result.
  void backward(std::span<const T> output_gradient, std::span<const std::span<const T>> aux_gradients = {}) {
    check_backward(output_gradient.size(), aux_gradients.size());
    std::array<cuda::DeviceSpan<const T>, cuda::max_aux_outputs> aux{};
    T* at = gradient_upload_.data();
    cuda::copy_to_device_async<T>(output_gradient, {at, output_gradient.size()}, stream());
    at += output_gradient.size();
    for (std::size_t k = 0; k < aux_gradients.size(); ++k) {
      check_aux_gradient(k, aux_gradients[k].size());
      cuda::copy_to_device_async<T>(aux_gradients[k], {at, aux_gradients[k].size()}, stream());
      aux[k] = {at, aux_gradients[k].size()};
      at += aux_gradients[k].size();
    }
    backward(cuda::DeviceSpan<const T>{gradient_upload_.data(), output_gradient.size()},
             std::span<const cuda::DeviceSpan<const T>>(aux.data(), aux_gradients.size()));
    synchronize();  // the host spans may change once this returns
  }
  // Device gradients: queued on stream(); device_gradients() holds the result.
  void backward(cuda::DeviceSpan<const T> output_gradient,
                std::span<const cuda::DeviceSpan<const T>> aux_gradients = {}) {
    check_backward(output_gradient.size(), aux_gradients.size());
    cuda::Context<T>& ctx = *context_;
    for (std::size_t k = 0; k < aux_gradients.size(); ++k) {
      check_aux_gradient(k, aux_gradients[k].size());
      ctx.aux_gradients[k] = {aux_gradients[k].data(), ctx.aux_output_sizes[k]};
    }
    ctx.aux_gradients_pending = aux_gradients.size();
    const T* values = parameters_.device_view().data();
    ctx.parameter_base = values;
    ctx.trainable_from = trainable_from_;
    const Slot<T> input_gradient = compute_input_gradient_ ? Slot<T>{input_gradient_, In::size} : Slot<T>{};
    evaluator_t<Net, Cuda, T>::template backward<In>(
        ctx, ParamSpan<T>{values, gradients_.device().data(), buffers_.device().data()}, last_input_,
        ConstSlot<T>{output_, output_shape::size}, ConstSlot<T>{output_gradient.data(), output_shape::size},
        input_gradient, false, saved_, scratch_);
    input_gradient_downloaded_ = false;
  }

  // ---- memory -----------------------------------------------------------------------------
  std::size_t arena_bytes() const { return arena_.size_bytes(); }
  std::size_t workspace_bytes() const { return context_->workspace.size_bytes(); }

  // Plans `batch` images in `mode`: sizes the arena, makes every layer's plan (choosing the
  // convolution algorithms) and sizes the workspace. forward calls it; calling it up front moves
  // all of that out of the first forward.
  void prepare(std::size_t batch, Mode mode) {
    cuda::Context<T>& ctx = *context_;
    if (batch == planned_batch_ && mode == planned_mode_ && settings_ == planned_settings_) {
      ctx.batch = batch;
      ctx.mode = mode;
      return;
    }
    const bool training = mode == Mode::train;
    const std::size_t input = align_elements(batch * In::size);
    const std::size_t output = align_elements(batch * output_shape::size);
    const std::size_t saved = training ? align_elements(batch * Net::template saved_elements<In>) : 0;
    const std::size_t scratch = align_elements(batch * Net::template scratch_elements<In>);
    const std::size_t input_gradient = training && compute_input_gradient_ ? input : 0;
    const std::size_t recorded = recorded_layer_ ? align_elements(batch * recorded_layer_->output_size) : 0;
    const std::size_t total = input + output + saved + scratch + input_gradient + recorded;
    if (total > arena_.size()) {
      synchronize();  // queued work may still use the old arena
      arena_.allocate(total, "the activation arena (batch " + std::to_string(batch) + ")");
      // Defined values everywhere: nothing reads uninitialised memory, even multiplied by 0.
      CTNN_CUDA_CHECK(cudaMemsetAsync(arena_.data(), 0, arena_.size_bytes(), stream()));
    }
    T* at = arena_.data();
    input_ = at, at += input;
    output_ = at, at += output;
    saved_ = at, at += saved;
    scratch_ = at, at += scratch;
    input_gradient_ = input_gradient ? at : nullptr, at += input_gradient;
    T* recorded_at = at;
    ctx.batch = batch;
    ctx.mode = mode;
    ctx.recorded_node = recorded_layer_ ? recorded_layer_->ordinal : cuda::no_node;
    ctx.recorded_output = {recorded_at, recorded_layer_ ? recorded_layer_->output_size : 0};
    ctx.recorded_elements = recorded_layer_ ? recorded_layer_->output_size : 0;
    ctx.allow_tf32 = settings_.allow_tf32;
    ctx.algorithm_search = settings_.algorithm_search;
    ctx.workspace_limit = settings_.workspace_limit;
    plan_passes(training);
    // Host-side transfer buffers for backward(host spans): the outputs' gradients.
    if (training) {
      std::size_t gradients = batch * output_shape::size;
      for (std::size_t k = 0; k < ctx.aux_output_count; ++k) gradients += batch * ctx.aux_output_sizes[k];
      if (gradients > gradient_upload_.size()) {
        synchronize();
        gradient_upload_.allocate(gradients, "the uploaded output gradients");
      }
    }
    ctx.aux_output_count = 0;
    planned_batch_ = batch;
    planned_mode_ = mode;
    planned_settings_ = settings_;
    last_forward_ = Mode::eval;  // saved state no longer matches
  }

  // ---- transfers on the model's stream ------------------------------------------------------
  // A new device buffer holding `host` (e.g. images for forward(DeviceSpan)), after the work
  // queued so far; and a device span's values on the host, once the work queued so far is done.
  cuda::DeviceBuffer<T> to_device(std::span<const T> host) const {
    cuda::DeviceBuffer<T> buffer(host.size(), "a copy of host data");
    cuda::copy_to_device<T>(host, buffer.span(), stream());
    return buffer;
  }
  template <class U>
  std::vector<std::remove_const_t<U>> to_host(cuda::DeviceSpan<U> device) const {
    using V = std::remove_const_t<U>;
    std::vector<V> host(device.size());
    cuda::copy_to_host<V>(cuda::DeviceSpan<const V>(device.data(), device.size()), std::span<V>(host), stream());
    return host;
  }

  // ---- GPU settings -----------------------------------------------------------------------
  // Replay a CUDA graph for evaluation-mode forwards at a fixed batch size (default on).
  void use_cuda_graphs(bool on) {
    if (!on) drop_graph();
    use_graphs_ = on;
  }
  bool uses_cuda_graphs() const { return use_graphs_; }
  // Whether the last forward launched a captured graph, and why capturing failed if it did.
  bool replayed_graph() const { return replayed_graph_; }
  const std::string& graph_error() const { return graph_error_; }
  // TF32 tensor cores for float convolutions (default on, as PyTorch's cudnn.allow_tf32).
  void allow_tf32(bool on) { settings_.allow_tf32 = on; }
  void set_algorithm_search(cuda::AlgorithmSearch search) { settings_.algorithm_search = search; }
  // The largest workspace one convolution algorithm may use (default 1 GiB).
  void set_workspace_limit(std::size_t bytes) { settings_.workspace_limit = bytes; }

  cudaStream_t stream() const { return context_->stream(); }
  void synchronize() const { CTNN_CUDA_CHECK(cudaStreamSynchronize(context_->stream())); }
  cuda::Context<T>& context() { return *context_; }
  // Distinct cuDNN plans made so far (descriptors and chosen algorithms).
  std::size_t plan_count() const { return context_->plans.size(); }

 private:
  struct Settings {
    bool allow_tf32 = true;
    cuda::AlgorithmSearch algorithm_search = cuda::AlgorithmSearch::benchmark;
    std::size_t workspace_limit = std::size_t{1} << 30;
    bool operator==(const Settings&) const = default;
  };

  static std::string dims_text(std::span<const std::size_t> dims) {
    std::string text = "[";
    for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
    return text + "]";
  }
  static std::size_t check_input(std::size_t size) {
    if (size == 0 || size % In::size != 0)
      throw Error("input", "has " + std::to_string(size) + " values, not a whole number of " +
                               detail::shape_text(In::channels, In::height, In::width) + " images");
    return size / In::size;
  }
  void check_backward(std::size_t output_gradient, std::size_t aux_gradients) const {
    if (last_forward_ != Mode::train)
      throw Error("backward", "needs a forward in training mode first (call train() before forward)");
    if (output_gradient != context_->batch * output_shape::size)
      throw Error("output gradient", "has " + std::to_string(output_gradient) + " values; the output has " +
                                         std::to_string(context_->batch * output_shape::size));
    if (aux_gradients != context_->aux_output_count)
      throw Error("aux gradients", std::to_string(aux_gradients) + " given for " +
                                       std::to_string(context_->aux_output_count) + " auxiliary outputs");
  }
  void check_aux_gradient(std::size_t k, std::size_t size) const {
    if (size != context_->batch * context_->aux_output_sizes[k])
      throw Error("aux gradient " + std::to_string(k), "has " + std::to_string(size) + " values; the output has " +
                                                            std::to_string(context_->batch *
                                                                           context_->aux_output_sizes[k]));
  }

  // A device span's values on the host, downloaded once per forward or backward.
  std::span<const T> download_once(cuda::DeviceSpan<const T> device, std::vector<T>& host, bool& done) const {
    if (!done) {
      host.resize(device.size());
      cuda::copy_to_host<T>(device, std::span<T>(host), stream());
      done = true;
    }
    return {host.data(), device.size()};
  }

  // The planning pass: forward (and backward when training) with ctx.planning set. Leaves make
  // their plans and launch nothing; then the workspace is sized.
  void plan_passes(bool training) {
    cuda::Context<T>& ctx = *context_;
    ctx.planning = true;
    struct Reset {
      cuda::Context<T>& ctx;
      ~Reset() { ctx.planning = false; }
    } reset{ctx};
    // Views: planning writes nothing, so neither host copy goes stale.
    const T* values = parameters_.device_view().data();
    T* buffers = const_cast<T*>(buffers_.device_view().data());
    T* gradients = const_cast<T*>(gradients_.device_view().data());
    ctx.aux_output_count = 0;
    ctx.node = 0;
    ctx.recorded = false;
    evaluator_t<Net, Cuda, T>::template forward<In>(ctx, ParamSpan<T>{values, nullptr, buffers},
                                                    ConstSlot<T>{input_, In::size}, Slot<T>{output_, output_shape::size},
                                                    saved_, scratch_);
    if (training) {
      // Stand-in gradients: planning reads only their strides.
      for (std::size_t k = 0; k < ctx.aux_output_count; ++k)
        ctx.aux_gradients[k] = {output_, ctx.aux_output_sizes[k]};
      ctx.aux_gradients_pending = ctx.aux_output_count;
      ctx.parameter_base = values;
      ctx.trainable_from = trainable_from_;
      const Slot<T> input_gradient = compute_input_gradient_ ? Slot<T>{input_gradient_, In::size} : Slot<T>{};
      evaluator_t<Net, Cuda, T>::template backward<In>(
          ctx, ParamSpan<T>{values, gradients, buffers}, ConstSlot<T>{input_, In::size},
          ConstSlot<T>{output_, output_shape::size}, ConstSlot<T>{output_, output_shape::size}, input_gradient, false,
          saved_, scratch_);
    }
    ctx.planning = false;
    ctx.ensure_workspace();
  }

  // Queues the network on the stream.
  void queue_forward(const T* values, T* buffers) {
    cuda::Context<T>& ctx = *context_;
    ctx.aux_output_count = 0;
    ctx.node = 0;
    ctx.recorded = false;
    evaluator_t<Net, Cuda, T>::template forward<In>(ctx, ParamSpan<T>{values, nullptr, buffers},
                                                    ConstSlot<T>{input_, In::size}, Slot<T>{output_, output_shape::size},
                                                    saved_, scratch_);
    ctx.record_if(Net::node_count - 1, ConstSlot<T>{output_, output_shape::size}, output_shape::size);
  }

  void run_forward() {
    cuda::Context<T>& ctx = *context_;
    const T* values = parameters_.device_view().data();
    T* buffers = mode_ == Mode::train ? buffers_.device().data() : const_cast<T*>(buffers_.device_view().data());
    replayed_graph_ = false;
    if (mode_ == Mode::eval && use_graphs_) {
      // A graph holds addresses: it serves while the batch size, the memory layout and the plans
      // are those it was captured with (they come back after a training interlude).
      const GraphKey key = graph_key();
      if (graph_ != nullptr && !(key == graph_key_)) drop_graph();
      if (!(key == eager_key_)) {
        eager_key_ = key;
        eager_runs_ = 0;
      }
      if (graph_ == nullptr && eager_runs_ >= 1) {
        capture(values, buffers);
        graph_key_ = key;
      }
      if (graph_ != nullptr) {
        CTNN_CUDA_CHECK(cudaGraphLaunch(graph_, stream()));
        ctx.aux_output_count = 0;
        ctx.recorded = graph_recorded_;
        replayed_graph_ = true;
      } else {
        queue_forward(values, buffers);
        ++eager_runs_;
      }
    } else {
      queue_forward(values, buffers);
    }
    last_forward_ = mode_;
    last_input_ = {input_, In::size};
    output_downloaded_ = recorded_downloaded_ = false;
    aux_downloaded_.fill(false);
  }

  // Captures one forward pass into graph_; on failure leaves graph_ empty, keeps the reason in
  // graph_error_ and runs eagerly from then on.
  void capture(const T* values, T* buffers) {
    cudaGraph_t graph = nullptr;
    CTNN_CUDA_CHECK(cudaStreamBeginCapture(stream(), cudaStreamCaptureModeThreadLocal));
    try {
      queue_forward(values, buffers);
    } catch (const Error& error) {
      (void)cudaStreamEndCapture(stream(), &graph);
      if (graph != nullptr) (void)cudaGraphDestroy(graph);
      (void)cudaGetLastError();
      graph_error_ = error.what();
      use_graphs_ = false;
      return;
    }
    CTNN_CUDA_CHECK(cudaStreamEndCapture(stream(), &graph));
    const cudaError_t instantiated = cudaGraphInstantiate(&graph_, graph, 0);
    (void)cudaGraphDestroy(graph);
    if (instantiated != cudaSuccess) {
      (void)cudaGetLastError();
      graph_ = nullptr;
      graph_error_ = std::string("cudaGraphInstantiate: ") + cudaGetErrorString(instantiated);
      use_graphs_ = false;
      return;
    }
    graph_recorded_ = context_->recorded;
  }

  void drop_graph() noexcept {
    if (graph_ != nullptr) (void)cudaGraphExecDestroy(graph_);
    graph_ = nullptr;
    eager_runs_ = 0;
  }

  // What a captured forward depends on besides the parameters' and buffers' fixed addresses.
  struct GraphKey {
    std::size_t batch = 0;
    const T* input = nullptr;
    const T* output = nullptr;
    const T* scratch = nullptr;
    const T* recorded = nullptr;
    std::size_t recorded_node = 0;
    const std::byte* workspace = nullptr;
    Settings settings{};
    bool operator==(const GraphKey&) const = default;
  };
  GraphKey graph_key() const {
    return {context_->batch, input_, output_, scratch_, context_->recorded_output.data, context_->recorded_node,
            context_->workspace.data(), planned_settings_};
  }

  // context_ first: the buffers below are freed before the stream and handles go.
  std::unique_ptr<cuda::Context<T>> context_;
  cuda::Mirrored<T> parameters_, gradients_, buffers_;
  cuda::DeviceBuffer<T> arena_, gradient_upload_;
  Mode mode_ = Mode::eval;
  Mode planned_mode_ = Mode::eval;
  Mode last_forward_ = Mode::eval;
  std::size_t planned_batch_ = 0;
  Settings settings_, planned_settings_;
  T* input_ = nullptr;
  T* output_ = nullptr;
  T* saved_ = nullptr;
  T* scratch_ = nullptr;
  T* input_gradient_ = nullptr;
  ConstSlot<T> last_input_{};
  std::size_t trainable_from_ = 0;
  bool compute_input_gradient_ = false;
  std::optional<LayerInfo> recorded_layer_;

  // The forward pass as a CUDA graph (evaluation mode, the planned batch size).
  bool use_graphs_ = true;
  cudaGraphExec_t graph_ = nullptr;
  GraphKey graph_key_{}, eager_key_{};
  std::size_t eager_runs_ = 0;  // evaluation forwards run directly with eager_key_
  bool graph_recorded_ = false;
  bool replayed_graph_ = false;
  std::string graph_error_;

  // Host copies of device results, downloaded on first request after each pass.
  mutable std::vector<T> output_host_, input_gradient_host_, recorded_host_;
  mutable std::array<std::vector<T>, cuda::max_aux_outputs> aux_host_;
  mutable bool output_downloaded_ = false, input_gradient_downloaded_ = false, recorded_downloaded_ = false;
  mutable std::array<bool, cuda::max_aux_outputs> aux_downloaded_{};
};

}  // namespace ctnn
