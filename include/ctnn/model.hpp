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
// recorded_output(); ctnn/features.hpp).
//
// Memory (DESIGN.md section 2):
//   parameters   one buffer, layer offsets fixed at compile time (parameter_count_v<Net>)
//   gradients    one buffer laid out like the parameters
//   buffers      one buffer of non-trainable state (BatchNorm running statistics)
//   arena        one allocation per (batch size, mode): output, saved state for backward, scratch,
//                the input copy and gradient (training), per-thread work space; sized from the
//                static shapes times the batch
// After the first forward at a batch size, a forward or backward pass allocates nothing.

#include <algorithm>   // std::max, std::copy_n, std::fill_n
#include <array>       // std::array
#include <cstddef>     // std::size_t
#include <cstdint>     // std::uint64_t
#include <optional>    // std::optional
#include <span>        // std::span
#include <string>      // std::string, std::to_string
#include <string_view> // std::string_view
#include <utility>     // std::move
#include <vector>      // std::vector

#include <ctnn/cpu/context.hpp>   // ctnn::cpu::Context
#include <ctnn/cpu/gemm.hpp>      // ctnn::cpu::detail::allocate_aligned
#include <ctnn/error.hpp>         // ctnn::Error
#include <ctnn/evaluator.hpp>     // ctnn::evaluator_t, ctnn::Cpu
#include <ctnn/find_layer.hpp>    // ctnn::find_layer, ctnn::LayerInfo
#include <ctnn/layer.hpp>         // ctnn::Mode, ctnn::parameter_count_v
#include <ctnn/shape.hpp>         // ctnn::ShapeType, ctnn::output_shape_t
#include <ctnn/training_hooks.hpp>  // ctnn::TrainingHooks

namespace ctnn {

namespace detail {
// A zero-initialised, 64-byte aligned array of T that only changes size when asked.
template <class T>
class AlignedArray {
 public:
  AlignedArray() = default;
  explicit AlignedArray(std::size_t count) { resize(count); }
  AlignedArray(const AlignedArray& other) : AlignedArray(other.size_) { std::copy_n(other.data(), size_, data()); }
  AlignedArray& operator=(const AlignedArray& other) {
    if (this != &other) {
      AlignedArray copy(other);
      std::swap(storage_, copy.storage_);
      std::swap(size_, copy.size_);
    }
    return *this;
  }
  AlignedArray(AlignedArray&&) noexcept = default;
  AlignedArray& operator=(AlignedArray&&) noexcept = default;

  void resize(std::size_t count) {
    storage_ = cpu::detail::allocate_aligned<T>(count);
    size_ = count;
    std::fill_n(storage_.get(), count, T(0));
  }
  T* data() { return storage_.get(); }
  const T* data() const { return storage_.get(); }
  std::size_t size() const { return size_; }
  std::span<T> span() { return {data(), size_}; }
  std::span<const T> span() const { return {data(), size_}; }

 private:
  std::unique_ptr<T, cpu::detail::FreeDeleter> storage_;
  std::size_t size_ = 0;
};

inline std::string shape_text(std::size_t c, std::size_t h, std::size_t w) {
  return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}
}  // namespace detail

template <class Net, ShapeType In, class T = float, class Device = Cpu>
class Model;

template <class Net, ShapeType In, class T>
class Model<Net, In, T, Cpu> {
 public:
  using network = Net;
  using input_shape = In;
  using output_shape = output_shape_t<Net, In>;
  using scalar = T;
  using device = Cpu;

  static constexpr std::size_t parameter_count = Net::parameter_count;
  static constexpr std::size_t buffer_count = Net::buffer_count;

  Model() : parameters_(parameter_count), gradients_(parameter_count), buffers_(std::max<std::size_t>(buffer_count, 1)) {
    set_threads(cpu::default_thread_count());
  }

  // The activation arena holds pointers into itself: a copy would point into the original's
  // memory, so a model moves but does not copy (copy the parameters() span instead).
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  Model(Model&&) noexcept = default;
  Model& operator=(Model&&) noexcept = default;

  // ---- state ------------------------------------------------------------------------------
  std::span<T> parameters() { return parameters_.span(); }
  std::span<const T> parameters() const { return parameters_.span(); }
  std::span<T> gradients() { return gradients_.span(); }
  std::span<const T> gradients() const { return gradients_.span(); }
  std::span<T> buffers() { return buffers_.span().first(buffer_count); }
  std::span<const T> buffers() const { return buffers_.span().first(buffer_count); }

  void train(bool on = true) { mode_ = on ? Mode::train : Mode::eval; }
  void eval() { mode_ = Mode::eval; }
  bool is_training() const { return mode_ == Mode::train; }
  Mode mode() const { return mode_; }

  // OpenMP threads used by the kernels (default: omp_get_max_threads()).
  void set_threads(int threads) {
    context_.threads = std::max(1, threads);
    context_.blocking.resize(static_cast<std::size_t>(context_.threads));
    planned_batch_ = 0;  // the work space depends on the thread count
  }
  int threads() const { return context_.threads; }
  // Seeds the generator behind dropout masks.
  void seed(std::uint64_t seed) { context_.generator.seed(seed); }
  std::mt19937_64& generator() { return context_.generator; }
  // false (default): backward overwrites the gradients; true: it adds to them.
  void accumulate_gradients(bool on) { context_.accumulate_parameter_gradients = on; }
  // Data parallelism's hooks into training passes (ctnn/training_hooks.hpp); {} removes them.
  void set_training_hooks(TrainingHooks hooks) { context_.hooks = hooks; }
  TrainingHooks training_hooks() const { return context_.hooks; }

  // ---- training switches --------------------------------------------------------------------
  // true: Dropout passes its input through in training too (deterministic training, parity
  // tests against a reference run without dropout). Evaluation never drops.
  void disable_dropout(bool on) { context_.dropout_disabled = on; }
  bool dropout_disabled() const { return context_.dropout_disabled; }

  // Parameters [0, offset) are frozen: backward computes no gradient for them (they stay zero)
  // and skips every layer that holds only frozen parameters and whose input gradient nothing
  // needs; optimizers given trainable_from() leave them alone. 0 (default): all trainable.
  // ctnn::freeze_up_to(model, "inception4e") sets it from a layer name.
  void set_trainable_from(std::size_t offset) {
    if (offset > parameter_count)
      throw Error("set_trainable_from", "offset " + std::to_string(offset) + " is past the " +
                                            std::to_string(parameter_count) + " parameters");
    trainable_from_ = offset;
    std::fill_n(gradients_.data(), offset, T(0));
  }
  std::size_t trainable_from() const { return trainable_from_; }

  // true: backward also computes the gradient with respect to the input images, read with
  // input_gradient(). Takes effect from the next forward (the arena is re-planned).
  void compute_input_gradient(bool on) {
    if (on != compute_input_gradient_) {
      planned_batch_ = 0;
      input_gradient_ = nullptr;
    }
    compute_input_gradient_ = on;
  }
  // dL/dx of the last backward: N images of In, as forward's input.
  std::span<const T> input_gradient() const {
    if (!compute_input_gradient_ || input_gradient_ == nullptr)
      throw Error("input_gradient", "call compute_input_gradient(true) before the training forward");
    return {input_gradient_, context_.batch * In::size};
  }

  // ---- recording a layer's output ----------------------------------------------------------
  // Every forward from now on copies the output of the layer at `path` (its PyTorch module path,
  // e.g. "avgpool" or "inception4e.branch2") aside: recorded_output() after the forward.
  // Layers of auxiliary heads run, and are recorded, in training mode only. "" stops recording.
  // Takes effect from the next forward (the arena is re-planned).
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
  // The recorded layer (path, output shape), if any.
  const std::optional<LayerInfo>& recorded_layer() const { return recorded_layer_; }
  // The recorded layer's output in the last forward: N images of its output shape.
  std::span<const T> recorded_output() const {
    if (!recorded_layer_) throw Error("recorded_output", "no layer is recorded: call record_output_of(path) first");
    if (!context_.recorded)
      throw Error("recorded_output", "layer '" + recorded_layer_->path +
                                         "' did not run in the last forward (auxiliary heads run in training mode only)");
    return {recorded_.data(), context_.batch * recorded_layer_->output_size};
  }

  // ---- forward ----------------------------------------------------------------------------
  // Runs the network on `images`: N images of In, NCHW, N = images.size() / In::size.
  // Returns N outputs of output_shape, contiguous, valid until the next forward.
  std::span<const T> forward(std::span<const T> images) {
    if (images.empty() || images.size() % In::size != 0)
      throw Error("input", "has " + std::to_string(images.size()) + " values, not a whole number of " +
                               detail::shape_text(In::channels, In::height, In::width) + " images");
    const std::size_t batch = images.size() / In::size;
    prepare(batch, mode_);
    ConstSlot<T> x{images.data(), In::size};
    if (mode_ == Mode::train) {
      // backward reads the input again; keep a copy the caller cannot change in between.
      std::copy_n(images.data(), images.size(), input_copy_);
      x = {input_copy_, In::size};
    }
    context_.aux_output_count = 0;
    context_.node = 0;
    context_.recorded = false;
    evaluator_t<Net, Cpu, T>::template forward<In>(context_, ParamSpan<T>{parameters_.data(), nullptr, buffers_.data()},
                                                    x, Slot<T>{output_, output_shape::size}, saved_, scratch_);
    // The root has no parent to record it.
    context_.record_if(Net::node_count - 1, ConstSlot<T>{output_, output_shape::size}, output_shape::size);
    last_forward_ = mode_;
    last_input_ = x;
    return {output_, batch * output_shape::size};
  }

  // Checks the tensor's dimensions [N, C, H, W] (or [N, F] for features) against In first.
  std::span<const T> forward(std::span<const T> images, std::span<const std::size_t> dims) {
    const bool matches = (dims.size() == 4 && dims[1] == In::channels && dims[2] == In::height && dims[3] == In::width) ||
                         (dims.size() == 2 && In::height == 1 && In::width == 1 && dims[1] == In::channels);
    std::size_t count = 1;
    for (auto d : dims) count *= d;
    if (!matches || count != images.size())
      throw Error("input", "has shape " + dims_text(dims) + " but the model takes [N, " +
                               std::to_string(In::channels) + ", " + std::to_string(In::height) + ", " +
                               std::to_string(In::width) + "]");
    return forward(images);
  }

  std::size_t batch_size() const { return context_.batch; }
  // The outputs of the last forward.
  std::span<const T> output() const { return {output_, context_.batch * output_shape::size}; }
  // Auxiliary outputs of the last training forward, in forward order (GoogLeNet: aux1, aux2).
  std::size_t aux_output_count() const { return context_.aux_output_count; }
  std::span<const T> aux_output(std::size_t k) const {
    if (k >= context_.aux_output_count)
      throw Error("aux_output", "index " + std::to_string(k) + " of " + std::to_string(context_.aux_output_count) +
                                    " auxiliary outputs (they exist after a forward in training mode)");
    return {context_.aux_outputs[k].data, context_.batch * context_.aux_output_sizes[k]};
  }

  // ---- backward ---------------------------------------------------------------------------
  // Gradients of the loss with respect to the last training forward's outputs -> gradients().
  // aux_gradients: one per auxiliary output, in forward order.
  void backward(std::span<const T> output_gradient, std::span<const std::span<const T>> aux_gradients = {}) {
    if (last_forward_ != Mode::train)
      throw Error("backward", "needs a forward in training mode first (call train() before forward)");
    const std::size_t batch = context_.batch;
    if (output_gradient.size() != batch * output_shape::size)
      throw Error("output gradient", "has " + std::to_string(output_gradient.size()) + " values; the output has " +
                                         std::to_string(batch * output_shape::size));
    if (aux_gradients.size() != context_.aux_output_count)
      throw Error("aux gradients", std::to_string(aux_gradients.size()) + " given for " +
                                       std::to_string(context_.aux_output_count) + " auxiliary outputs");
    for (std::size_t k = 0; k < aux_gradients.size(); ++k) {
      if (aux_gradients[k].size() != batch * context_.aux_output_sizes[k])
        throw Error("aux gradient " + std::to_string(k), "has " + std::to_string(aux_gradients[k].size()) +
                                                              " values; the output has " +
                                                              std::to_string(batch * context_.aux_output_sizes[k]));
      context_.aux_gradients[k] = {aux_gradients[k].data(), context_.aux_output_sizes[k]};
    }
    context_.aux_gradients_pending = aux_gradients.size();
    context_.parameter_base = parameters_.data();
    context_.trainable_from = trainable_from_;
    const Slot<T> input_gradient = compute_input_gradient_ ? Slot<T>{input_gradient_, In::size} : Slot<T>{};
    evaluator_t<Net, Cpu, T>::template backward<In>(
        context_, ParamSpan<T>{parameters_.data(), gradients_.data(), buffers_.data()}, last_input_,
        ConstSlot<T>{output_, output_shape::size}, ConstSlot<T>{output_gradient.data(), output_shape::size},
        input_gradient, false, saved_, scratch_);
  }

  // ---- memory -----------------------------------------------------------------------------
  // Bytes of the activation arena planned for the current batch size and mode.
  std::size_t arena_bytes() const { return arena_.size() * sizeof(T); }

  // Sizes the arena for `batch` images in `mode`; forward calls it, and calling it up front
  // moves the one allocation out of the first forward. The per-thread GEMM buffers grow during
  // the first pass at a new size.
  void prepare(std::size_t batch, Mode mode) {
    if (batch == planned_batch_ && mode == planned_mode_) {
      context_.batch = batch;
      context_.mode = mode;
      return;
    }
    const bool training = mode == Mode::train;
    const std::size_t output = align_elements(batch * output_shape::size);
    const std::size_t saved = training ? batch * Net::template saved_elements<In> : 0;
    const std::size_t scratch = batch * Net::template scratch_elements<In>;
    const std::size_t input = training ? align_elements(batch * In::size) : 0;
    const std::size_t input_gradient = training && compute_input_gradient_ ? align_elements(batch * In::size) : 0;
    // Convolution backward keeps col(x) and its gradient side by side: at least two slices.
    const std::size_t per_thread = align_elements(Net::template workspace_elements<In>);
    const std::size_t workspace = per_thread * static_cast<std::size_t>(std::max(context_.threads, 2));
    const std::size_t total = output + saved + scratch + input + input_gradient + workspace;
    if (total > arena_.size()) arena_.resize(total);
    T* at = arena_.data();
    output_ = at, at += output;
    saved_ = at, at += saved;
    scratch_ = at, at += scratch;
    input_copy_ = at, at += input;
    input_gradient_ = input_gradient ? at : nullptr, at += input_gradient;
    context_.workspace = at;
    context_.workspace_per_thread = per_thread;
    context_.batch = batch;
    context_.mode = mode;
    planned_batch_ = batch;
    planned_mode_ = mode;
    last_forward_ = Mode::eval;  // saved state no longer matches
    const std::size_t recorded = recorded_layer_ ? batch * recorded_layer_->output_size : 0;
    if (recorded > recorded_.size()) recorded_.resize(recorded);
    context_.recorded_node = recorded_layer_ ? recorded_layer_->ordinal : cpu::no_node;
    context_.recorded_output = {recorded_.data(), recorded_layer_ ? recorded_layer_->output_size : 0};
    context_.recorded_elements = recorded_layer_ ? recorded_layer_->output_size : 0;
  }

 private:
  static std::string dims_text(std::span<const std::size_t> dims) {
    std::string text = "[";
    for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
    return text + "]";
  }

  detail::AlignedArray<T> parameters_, gradients_, buffers_, arena_, recorded_;
  cpu::Context<T> context_;
  Mode mode_ = Mode::eval;
  Mode planned_mode_ = Mode::eval;
  Mode last_forward_ = Mode::eval;
  std::size_t planned_batch_ = 0;
  T* output_ = nullptr;
  T* saved_ = nullptr;
  T* scratch_ = nullptr;
  T* input_copy_ = nullptr;
  T* input_gradient_ = nullptr;
  ConstSlot<T> last_input_{};
  std::size_t trainable_from_ = 0;
  bool compute_input_gradient_ = false;
  std::optional<LayerInfo> recorded_layer_;
};

}  // namespace ctnn
