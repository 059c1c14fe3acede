#pragma once
// ctnn::Model<Net, In, T, Device>: a network type bound to an input shape, with its memory.
//
//   using Net = ctnn::GoogLeNet<1000, false>;
//   ctnn::Model<Net, ctnn::Shape<3, 224, 224>> model;      // CPU, float
//   ctnn::init::googlenet_seed(model, 42);
//   std::span<const float> logits = model.forward(images); // images: N * 3 * 224 * 224 floats
//
// Training: train(), forward, backward(output gradient, aux gradients) -> gradients(); see
// ctnn/loss.hpp for the objective and ctnn/optim/ for the update. Switches for training:
// disable_dropout, set_trainable_from (a frozen prefix; ctnn/freeze.hpp names it by layer),
// compute_input_gradient (-> input_gradient()), record_output_of (a named layer's output ->
// recorded_output(); ctnn/features.hpp), set_gradient_ready_hook (gradients as backward makes
// them final, for an all-reduce) and set_batch_statistics_hook (SyncBatchNorm; both in
// ctnn/pass_state.hpp).
//
// One front end for every device. ModelFrontEnd below holds everything a model is — mode,
// freezing, recording, the checks of every argument, auxiliary outputs, the arena's layout,
// the order of a pass — and asks its device's Backend (ctnn/backend.hpp) only for memory and
// an executor. Model<Net, In, T, Cpu> adds the CPU's thread count; Model<..., Cuda>
// (ctnn/cuda/model.hpp) adds device spans, graph replay and the GPU's settings.
//
// Memory:
//   parameters   one buffer, layer offsets fixed at compile time (parameter_count_v<Net>)
//   gradients    one buffer laid out like the parameters
//   buffers      one buffer of non-trainable state (BatchNorm running statistics)
//   arena        one allocation per (batch size, mode), each part 64-byte aligned:
//                  [input copy][output][saved for backward][scratch][input gradient]
//                  [recorded layer output][kernels' work space]
//                sized from the static shapes times the batch; the input copy exists in
//                training (backward reads the input again) or where the device copies anyway
// After the first forward at a batch size, a forward or backward pass allocates nothing.

#include <algorithm>     // std::max
#include <array>         // std::array
#include <cstddef>       // std::size_t
#include <cstdint>       // std::uint64_t
#include <optional>      // std::optional
#include <random>        // std::mt19937_64
#include <span>          // std::span
#include <string>        // std::string, std::to_string
#include <string_view>   // std::string_view
#include <type_traits>   // std::type_identity, std::is_void_v
#include <utility>       // std::move

#include <ctnn/backend.hpp>       // ctnn::Backend, ctnn::HostResult, ctnn::PassMemory, ctnn::ArenaParts
#include <ctnn/container.hpp>     // ctnn::Container, ctnn::child_t
#include <ctnn/cpu/backend.hpp>   // ctnn::Backend<Cpu, T>
#include <ctnn/diagnostics.hpp>   // Layer_has_no_evaluator_for_the_device
#include <ctnn/error.hpp>         // ctnn::Error
#include <ctnn/evaluator.hpp>     // ctnn::EvaluatorFor, ctnn::forward_layer, ctnn::backward_layer
#include <ctnn/find_layer.hpp>    // ctnn::find_layer, ctnn::LayerInfo
#include <ctnn/layer.hpp>         // ctnn::Mode, ctnn::align_elements, ctnn::HasBody, ctnn::LayerDescription
#include <ctnn/pass_state.hpp>    // ctnn::record_if, the two hooks, ctnn::max_aux_outputs
#include <ctnn/shape.hpp>         // ctnn::ShapeType, ctnn::output_shape_t

namespace ctnn {

namespace detail {
inline std::string shape_text(std::size_t c, std::size_t h, std::size_t w) {
  return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}
inline std::string dims_text(std::span<const std::size_t> dims) {
  std::string text = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

// The first leaf of L without an evaluator for Device, as std::type_identity (of void: none).
template <class L, class Device, class T>
constexpr auto find_missing_evaluator();
template <class C, class Device, class T, std::size_t I = 0>
constexpr auto find_missing_evaluator_in_children() {
  if constexpr (I == C::child_count) {
    return std::type_identity<void>{};
  } else {
    using Found = decltype(find_missing_evaluator<child_t<C, I>, Device, T>());
    if constexpr (!std::is_void_v<typename Found::type>)
      return Found{};
    else
      return find_missing_evaluator_in_children<C, Device, T, I + 1>();
  }
}
template <class L, class Device, class T>
constexpr auto find_missing_evaluator() {
  using Layer = unnamed_t<L>;
  if constexpr (HasBody<Layer>)
    return find_missing_evaluator<typename Layer::body, Device, T>();
  else if constexpr (Container<Layer>)
    return find_missing_evaluator_in_children<Layer, Device, T>();
  else if constexpr (EvaluatorFor<Layer, Device, T>)
    return std::type_identity<void>{};
  else
    return std::type_identity<Layer>{};
}
}  // namespace detail

template <class Net, ShapeType In, class T = float, class Device = Cpu>
class Model;

// What every device's Model is; see the file comment. Derived classes add the device's own API.
template <class Net, ShapeType In, class T, class Device>
class ModelFrontEnd {
  static_assert(LayerDescription<Net>,
                "Model<Net, In, T, Device>: Net must be a layer description (derive it from ctnn::Layer, "
                "ctnn::Composed or a container such as ctnn::Sequential)");
  using missing_evaluator = typename decltype(detail::find_missing_evaluator<Net, Device, T>())::type;
  static constexpr bool evaluable = std::is_void_v<missing_evaluator>;
  // One error for a network with a layer the device cannot compute, naming layer and device.
  static_assert(diagnostic::Layer_has_no_evaluator_for_the_device<missing_evaluator, Device, evaluable>::ok);

 public:
  using network = Net;
  using input_shape = In;
  using output_shape = output_shape_t<Net, In>;
  using scalar = T;
  using device = Device;
  using backend_type = Backend<Device, T>;
  using context_type = typename backend_type::context_type;

  static constexpr std::size_t parameter_count = Net::parameter_count;
  static constexpr std::size_t buffer_count = Net::buffer_count;

  // ---- state ------------------------------------------------------------------------------
  // Host spans. On a device with memory of its own they are mirrors (ctnn/cuda/memory.hpp).
  std::span<T> parameters() { return parameters_.host(); }
  std::span<const T> parameters() const { return parameters_.host_view(); }
  std::span<T> gradients() { return gradients_.host(); }
  std::span<const T> gradients() const { return gradients_.host_view(); }
  std::span<T> buffers() { return buffers_.host().first(buffer_count); }
  std::span<const T> buffers() const { return buffers_.host_view().first(buffer_count); }

  void train(bool on = true) { mode_ = on ? Mode::train : Mode::eval; }
  void eval() { mode_ = Mode::eval; }
  bool is_training() const { return mode_ == Mode::train; }
  Mode mode() const { return mode_; }

  // false (default): backward overwrites the gradients; true: it adds to them.
  void accumulate_gradients(bool on) { context().accumulate_parameter_gradients = on; }

  // ---- training switches --------------------------------------------------------------------
  // true: Dropout passes its input through in training too (deterministic training, parity
  // tests against a reference run without dropout). Evaluation never drops. Takes effect from
  // the next forward; the backward after a forward follows the forward's choice.
  void disable_dropout(bool on) {
    if (on != dropout_disabled_) invalidate_plan();
    dropout_disabled_ = on;
  }
  bool dropout_disabled() const { return dropout_disabled_; }

  // Parameters [0, offset) are frozen: backward computes no gradient for them (they stay zero)
  // and skips every layer that holds only frozen parameters and whose input gradient nothing
  // needs; optimizers given trainable_from() leave them alone. 0 (default): all trainable.
  // ctnn::freeze_up_to(model, "inception4e") sets it from a layer name.
  void set_trainable_from(std::size_t offset) {
    if (offset > parameter_count)
      throw Error("set_trainable_from", "offset " + std::to_string(offset) + " is past the " +
                                            std::to_string(parameter_count) + " parameters");
    trainable_from_ = offset;
    if (offset > 0) backend_.zero(gradients_.device().data(), offset);
    invalidate_plan();  // backward skips other layers
  }
  std::size_t trainable_from() const { return trainable_from_; }

  // true: backward also computes the gradient with respect to the input images, read with
  // input_gradient(). Takes effect from the next forward (the arena is re-planned).
  void compute_input_gradient(bool on) {
    if (on != compute_input_gradient_) {
      invalidate_plan();
      input_gradient_ = nullptr;
    }
    compute_input_gradient_ = on;
  }
  // dL/dx of the last backward: N images of In, as forward's input.
  std::span<const T> input_gradient() const {
    const T* data = checked_input_gradient();
    return backend_.host_view(HostResult::input_gradient, data, context().batch * In::size);
  }

  // Backward reports each range of gradients it makes final (ctnn/pass_state.hpp), e.g. to start
  // an all-reduce while the rest of backward runs. An empty hook (default) reports nothing.
  void set_gradient_ready_hook(GradientReadyHook hook) { context().gradient_ready = hook; }
  GradientReadyHook gradient_ready_hook() const { return context().gradient_ready; }
  // BatchNorm in training sums its per-channel statistics over every process through this hook
  // (SyncBatchNorm; ctnn/pass_state.hpp); on the CPU devices (Cpu, OneDnn), the CUDA batch norm
  // refuses it. An empty hook (default): each process normalises with its own batch's statistics.
  // A hook that comes or goes plans the passes again (oneDNN's batch norm changes kernels).
  void set_batch_statistics_hook(BatchStatisticsHook hook) {
    if ((hook.sum != nullptr) != (context().batch_statistics_sum.sum != nullptr)) invalidate_plan();
    context().batch_statistics_sum = hook;
  }
  BatchStatisticsHook batch_statistics_hook() const { return context().batch_statistics_sum; }

  // ---- recording a layer's output ----------------------------------------------------------
  // Every forward from now on copies the output of the layer at `path` (its PyTorch module path,
  // e.g. "avgpool" or "inception4e.branch2") aside: recorded_output() after the forward.
  // Layers of auxiliary heads run, and are recorded, in training mode only. "" stops recording.
  // Takes effect from the next forward (the arena is re-planned).
  void record_output_of(std::string_view path) {
    if (path.empty()) {
      recorded_layer_.reset();
      invalidate_plan();
      return;
    }
    auto layer = find_layer<Net, In>(path);
    if (!layer)
      throw Error("record_output_of", "the network has no layer '" + std::string(path) +
                                          "' (top-level layers: " + top_level_layer_names<Net, In>() + ")");
    recorded_layer_ = std::move(layer);
    invalidate_plan();
  }
  // The recorded layer (path, output shape), if any.
  const std::optional<LayerInfo>& recorded_layer() const { return recorded_layer_; }
  // The recorded layer's output in the last forward: N images of its output shape.
  std::span<const T> recorded_output() const {
    const T* data = checked_recorded_output();
    return backend_.host_view(HostResult::recorded, data, context().batch * recorded_layer_->output_size);
  }

  // ---- forward ----------------------------------------------------------------------------
  // Runs the network on `images`: N images of In, NCHW, N = images.size() / In::size.
  // Returns N outputs of output_shape, contiguous, valid until the next forward.
  std::span<const T> forward(std::span<const T> images) {
    const std::size_t batch = check_input(images.size());
    prepare(batch, mode_);
    ConstSlot<T> x{images.data(), In::size};
    if (input_ != nullptr) {
      // backward reads the input again (or the device computes from its own memory): keep a
      // copy the caller cannot change in between.
      backend_.copy_in(images, input_);
      x = {input_, In::size};
    }
    run_forward(x);
    return output();
  }

  // Checks the tensor's dimensions [N, C, H, W] (or [N, F] for features) against In first.
  std::span<const T> forward(std::span<const T> images, std::span<const std::size_t> dims) {
    const bool matches = (dims.size() == 4 && dims[1] == In::channels && dims[2] == In::height && dims[3] == In::width) ||
                         (dims.size() == 2 && In::height == 1 && In::width == 1 && dims[1] == In::channels);
    std::size_t count = 1;
    for (auto d : dims) count *= d;
    if (!matches || count != images.size())
      throw Error("input", "has shape " + detail::dims_text(dims) + " but the model takes [N, " +
                               std::to_string(In::channels) + ", " + std::to_string(In::height) + ", " +
                               std::to_string(In::width) + "]");
    return forward(images);
  }

  std::size_t batch_size() const { return context().batch; }
  // The outputs of the last forward.
  std::span<const T> output() const {
    return backend_.host_view(HostResult::output, output_, context().batch * output_shape::size);
  }
  // Auxiliary outputs of the last training forward, in forward order (GoogLeNet: aux1, aux2).
  std::size_t aux_output_count() const { return context().aux_output_count; }
  std::span<const T> aux_output(std::size_t k) const {
    check_aux_index(k);
    return backend_.host_view(static_cast<HostResult>(static_cast<std::size_t>(HostResult::aux0) + k),
                              context().aux_outputs[k].data, context().batch * context().aux_output_sizes[k]);
  }

  // ---- backward ---------------------------------------------------------------------------
  // Gradients of the loss with respect to the last training forward's outputs -> gradients().
  // aux_gradients: one per auxiliary output, in forward order.
  void backward(std::span<const T> output_gradient, std::span<const std::span<const T>> aux_gradients = {}) {
    check_backward(output_gradient.size(), aux_gradients.size());
    for (std::size_t k = 0; k < aux_gradients.size(); ++k) check_aux_gradient(k, aux_gradients[k].size());
    std::size_t total = output_gradient.size();
    for (const std::span<const T>& g : aux_gradients) total += g.size();
    backend_.begin_staging(total);
    std::array<const T*, max_aux_outputs> aux{};
    std::size_t staged = output_gradient.size();
    const T* dy = backend_.stage(output_gradient, 0);
    for (std::size_t k = 0; k < aux_gradients.size(); ++k) {
      aux[k] = backend_.stage(aux_gradients[k], staged);
      staged += aux_gradients[k].size();
    }
    run_backward(dy, std::span<const T* const>(aux.data(), aux_gradients.size()));
    backend_.finish_host_call();  // the caller's spans may change once this returns
  }

  // ---- memory -----------------------------------------------------------------------------
  // Bytes of the activation arena planned for the current batch size and mode.
  std::size_t arena_bytes() const { return backend_.arena_bytes(); }

  // Plans `batch` images in `mode`: sizes the arena (and, on a device that plans its kernels,
  // makes every layer's plan); forward calls it, and calling it up front moves the one
  // allocation out of the first forward.
  void prepare(std::size_t batch, Mode mode) {
    context_type& ctx = context();
    if (batch == planned_batch_ && mode == planned_mode_ && !backend_.needs_replan()) {
      ctx.batch = batch;
      ctx.mode = mode;
      return;
    }
    const bool training = mode == Mode::train;
    const std::size_t recorded_size = recorded_layer_ ? recorded_layer_->output_size : 0;
    const std::size_t per_thread = align_elements(Net::template workspace_elements<In>);
    // Each part 64-byte aligned; in the order of the file comment.
    const std::size_t input = training || backend_type::copies_input ? align_elements(batch * In::size) : 0;
    const std::size_t output = align_elements(batch * output_shape::size);
    const std::size_t saved = training ? align_elements(batch * Net::template saved_elements<In>) : 0;
    const std::size_t scratch = align_elements(batch * Net::template scratch_elements<In>);
    const std::size_t input_gradient = training && compute_input_gradient_ ? align_elements(batch * In::size) : 0;
    const std::size_t recorded = align_elements(batch * recorded_size);
    const std::size_t workspace = backend_.workspace_elements(per_thread);
    T* at = backend_.reserve_arena(input + output + saved + scratch + input_gradient + recorded + workspace, batch);
    input_ = input ? at : nullptr, at += input;
    output_ = at, at += output;
    saved_ = at, at += saved;
    scratch_ = at, at += scratch;
    input_gradient_ = input_gradient ? at : nullptr, at += input_gradient;
    ctx.recorded_output = {at, recorded_size}, at += recorded;
    backend_.attach_workspace(at, per_thread);
    ctx.batch = batch;
    ctx.mode = mode;
    ctx.recorded_node = recorded_layer_ ? recorded_layer_->ordinal : no_node;
    ctx.recorded_elements = recorded_size;
    ctx.dropout_disabled = dropout_disabled_;
    last_forward_ = Mode::eval;  // saved state no longer matches
    if constexpr (requires(const ArenaParts<T>& parts) { backend_.lay_out(parts); })
      backend_.lay_out(ArenaParts<T>{batch, input_, output_, input_gradient_, recorded ? ctx.recorded_output.data : nullptr,
                                     {In::channels, In::height, In::width},
                                     {output_shape::channels, output_shape::height, output_shape::width},
                                     recorded_layer_ ? recorded_layer_->output_dims : std::array<std::size_t, 3>{}});
    backend_.plan([&](bool with_backward) { planning_passes(with_backward && training); });
    ctx.aux_output_count = 0;
    planned_batch_ = batch;
    planned_mode_ = mode;
  }

 protected:
  template <class... BackendArgs>
  explicit ModelFrontEnd(BackendArgs&&... args)
      : backend_(std::forward<BackendArgs>(args)...),
        parameters_(backend_.template make_array<T>(parameter_count, "the parameters")),
        gradients_(backend_.template make_array<T>(parameter_count, "the gradients")),
        buffers_(backend_.template make_array<T>(std::max<std::size_t>(buffer_count, 1),
                                                 "the buffers (running statistics)")) {}

  // The activation arena holds pointers into itself: a copy would point into the original's
  // memory, so a model moves but does not copy (copy the parameters() span instead).
  ModelFrontEnd(const ModelFrontEnd&) = delete;
  ModelFrontEnd& operator=(const ModelFrontEnd&) = delete;
  ModelFrontEnd(ModelFrontEnd&&) noexcept = default;
  ModelFrontEnd& operator=(ModelFrontEnd&&) noexcept = default;
  ~ModelFrontEnd() = default;

  context_type& context() { return backend_.context(); }
  const context_type& context() const { return backend_.context(); }
  // A setting the plan depends on has changed: the next forward plans again.
  void invalidate_plan() { planned_batch_ = 0; }

  static std::size_t check_input(std::size_t size) {
    if (size == 0 || size % In::size != 0)
      throw Error("input", "has " + std::to_string(size) + " values, not a whole number of " +
                               detail::shape_text(In::channels, In::height, In::width) + " images");
    return size / In::size;
  }
  void check_backward(std::size_t output_gradient, std::size_t aux_gradients) const {
    if (last_forward_ != Mode::train)
      throw Error("backward", "needs a forward in training mode first (call train() before forward)");
    if (output_gradient != context().batch * output_shape::size)
      throw Error("output gradient", "has " + std::to_string(output_gradient) + " values; the output has " +
                                         std::to_string(context().batch * output_shape::size));
    if (aux_gradients != context().aux_output_count)
      throw Error("aux gradients", std::to_string(aux_gradients) + " given for " +
                                       std::to_string(context().aux_output_count) + " auxiliary outputs");
  }
  void check_aux_gradient(std::size_t k, std::size_t size) const {
    const std::size_t expected = context().batch * context().aux_output_sizes[k];
    if (size != expected)
      throw Error("aux gradient " + std::to_string(k),
                  "has " + std::to_string(size) + " values; the output has " + std::to_string(expected));
  }
  void check_aux_index(std::size_t k) const {
    if (k >= context().aux_output_count)
      throw Error("aux_output", "index " + std::to_string(k) + " of " + std::to_string(context().aux_output_count) +
                                    " auxiliary outputs (they exist after a forward in training mode)");
  }
  const T* checked_input_gradient() const {
    if (!compute_input_gradient_ || input_gradient_ == nullptr)
      throw Error("input_gradient", "call compute_input_gradient(true) before the training forward");
    return input_gradient_;
  }
  const T* checked_recorded_output() const {
    if (!recorded_layer_) throw Error("recorded_output", "no layer is recorded: call record_output_of(path) first");
    if (!context().recorded)
      throw Error("recorded_output", "layer '" + recorded_layer_->path +
                                         "' did not run in the last forward (auxiliary heads run in training mode only)");
    return context().recorded_output.data;
  }

  // The pass on x (the caller's images or the arena's copy), run by the device's executor.
  void run_forward(ConstSlot<T> x) {
    context().dropout_disabled = dropout_disabled_;  // backward reads the same choice
    const T* values = parameters_.device_view().data();
    // Training moves BatchNorm's running statistics; evaluation leaves the host copy current.
    T* buffers = mode_ == Mode::train ? buffers_.device().data() : const_cast<T*>(buffers_.device_view().data());
    backend_.run_forward(mode_, PassMemory<T>{x.data, output_, scratch_}, [&] { queue_forward(values, buffers, x); });
    last_forward_ = mode_;
    last_input_ = x;
    backend_.results_changed(true);
  }

  // Backward of the last training forward from output gradients the device can read.
  void run_backward(const T* output_gradient, std::span<const T* const> aux_gradients) {
    context_type& ctx = context();
    for (std::size_t k = 0; k < aux_gradients.size(); ++k) ctx.aux_gradients[k] = {aux_gradients[k], ctx.aux_output_sizes[k]};
    ctx.aux_gradients_pending = aux_gradients.size();
    queue_backward(parameters_.device_view().data(), gradients_.device().data(), buffers_.device().data(),
                   last_input_, output_gradient, true);
    backend_.results_changed(false);
  }

  void queue_forward(const T* values, T* buffers, ConstSlot<T> x) {
    context_type& ctx = context();
    ctx.begin_forward();
    const Slot<T> y{output_, output_shape::size};
    if constexpr (evaluable) forward_layer<Net, In>(ctx, ForwardArgs<T>{{values, nullptr, buffers}, x, y, saved_, scratch_});
    // The root has no parent to record it.
    record_if(ctx, Net::node_count - 1, y, output_shape::size);
  }

  // report_gradients: the gradient hook hears of this pass (not of a planning pass).
  void queue_backward(const T* values, T* gradients, T* buffers, ConstSlot<T> x, const T* output_gradient,
                      bool report_gradients) {
    context_type& ctx = context();
    ctx.parameter_base = values;
    ctx.trainable_from = trainable_from_;
    ctx.gradient_base = report_gradients ? gradients : nullptr;
    const Slot<T> dx = compute_input_gradient_ ? Slot<T>{input_gradient_, In::size} : Slot<T>{};
    if constexpr (evaluable)
      backward_layer<Net, In>(ctx, BackwardArgs<T>{{values, gradients, buffers}, x, {output_, output_shape::size},
                                                   {output_gradient, output_shape::size}, dx, false, saved_, scratch_});
  }

  // For a device that plans its kernels (Backend::plan): a forward and, in training, a backward
  // on the arena, in the context's planning mode. Views of the state: planning writes nothing
  // that a host copy would need to see.
  void planning_passes(bool with_backward) {
    context_type& ctx = context();
    const T* values = parameters_.device_view().data();
    T* buffers = const_cast<T*>(buffers_.device_view().data());
    const ConstSlot<T> x{input_, In::size};
    queue_forward(values, buffers, x);
    if (!with_backward) return;
    // Stand-in gradients: planning reads only their strides.
    for (std::size_t k = 0; k < ctx.aux_output_count; ++k) ctx.aux_gradients[k] = {output_, ctx.aux_output_sizes[k]};
    ctx.aux_gradients_pending = ctx.aux_output_count;
    queue_backward(values, const_cast<T*>(gradients_.device_view().data()), buffers, x, output_, false);
  }

  // The device first: the arrays below are freed before its queue and handles go.
  backend_type backend_;
  typename backend_type::template Array<T> parameters_, gradients_, buffers_;
  Mode mode_ = Mode::eval;
  Mode planned_mode_ = Mode::eval;
  Mode last_forward_ = Mode::eval;
  std::size_t planned_batch_ = 0;
  T* input_ = nullptr;
  T* output_ = nullptr;
  T* saved_ = nullptr;
  T* scratch_ = nullptr;
  T* input_gradient_ = nullptr;
  ConstSlot<T> last_input_{};
  std::size_t trainable_from_ = 0;
  bool compute_input_gradient_ = false;
  bool dropout_disabled_ = false;
  std::optional<LayerInfo> recorded_layer_;
};

// The CPU model: the front end plus the CPU's thread count and dropout generator.
template <class Net, ShapeType In, class T>
class Model<Net, In, T, Cpu> : public ModelFrontEnd<Net, In, T, Cpu> {
 public:
  Model() = default;

  // OpenMP threads used by the kernels (default: omp_get_max_threads()).
  void set_threads(int threads) {
    this->backend_.set_threads(threads);
    this->invalidate_plan();  // the work space depends on the thread count
  }
  int threads() const { return this->context().threads; }
  // Seeds the generator behind dropout masks.
  void seed(std::uint64_t seed) { this->context().generator.seed(seed); }
  std::mt19937_64& generator() { return this->context().generator; }
};

}  // namespace ctnn
