#pragma once
// ctnn::PassState<T>: what one forward or backward pass shares on every device. Each device's
// context (cpu::Context, cuda::Context) derives from it and adds its executor: threads and GEMM
// buffers on the CPU, the stream, handles and plans on the GPU. The model front end
// (ctnn/model.hpp) fills it; the generic composites (Sequential, Concat, Sum, AuxOutput) read it.
//
//   batch, mode                        the pass: N images, training or evaluation
//   accumulate_parameter_gradients     backward adds to the gradients instead of overwriting
//   dropout_disabled                   Dropout passes through in training too; set by forward
//                                      and read again by backward, so both see the same choice
//   aux outputs / gradients            AuxOutput publishes, in forward order; backward takes them
//                                      back in reverse order
//   parameter_base, trainable_from     the frozen prefix: frozen_parameter_count(values)
//   node, recorded_*                   walk positions (walk.hpp order) and the one layer whose
//                                      output is copied aside (Model::record_output_of)
//   gradient_ready                     the gradient hook below
//   batch_statistics_sum               the batch-statistics hook below
//
// The gradient hook. Backward calls gradient_ready(begin, end) each time the parameter gradients
// [begin, end) of the model's flat gradient buffer are final: after each leaf layer's backward,
// in backward order (last layer first), once per layer that computed gradients (frozen layers
// and layers without parameters say nothing). On the GPU the work that fills the range has been
// queued on the context's stream, not necessarily finished. A data-parallel trainer starts the
// all-reduce of a bucket when every range inside it has been reported. By default there is no
// hook: one test of a null pointer per layer.
//
// The batch-statistics hook (SyncBatchNorm). BatchNorm in training, with a hook, normalises with
// the statistics of the batch of every process together: between its passes over the values it
// hands its per-channel sums (and its count of values) to sum(), which replaces them by their sums
// over the processes, in a workspace() the hook owns, so the kernel allocates nothing. The CPU
// backend's BatchNorm (cpu/batch_norm.hpp) calls it; the CUDA backend's refuses a hook. By default
// there is none, and BatchNorm takes the one-pass-per-channel path it always took.

#include <array>     // std::array
#include <cstddef>   // std::size_t, std::ptrdiff_t
#include <span>      // std::span

#include <ctnn/error.hpp>       // ctnn::Error
#include <ctnn/evaluator.hpp>   // ctnn::Slot
#include <ctnn/layer.hpp>       // ctnn::Mode

namespace ctnn {

// At most this many auxiliary outputs per network (GoogLeNet has two).
inline constexpr std::size_t max_aux_outputs = 8;

// No layer's output is being recorded (PassState::recorded_node).
inline constexpr std::size_t no_node = static_cast<std::size_t>(-1);

// Called as backward makes gradients [begin, end) final; see the file comment.
struct GradientReadyHook {
  void (*notify)(void* user, std::size_t begin, std::size_t end) = nullptr;
  void* user = nullptr;
};

// Sums BatchNorm's per-channel statistics over every process; see the file comment.
struct BatchStatisticsHook {
  // Room for `count` doubles, owned by `user` (grown once, reused by every call).
  std::span<double> (*workspace)(void* user, std::size_t count) = nullptr;
  // Replaces `values` by their elementwise sums over every process.
  void (*sum)(void* user, std::span<double> values) = nullptr;
  void* user = nullptr;
};

template <class T>
struct PassState {
  std::size_t batch = 0;
  Mode mode = Mode::eval;
  bool accumulate_parameter_gradients = false;
  bool dropout_disabled = false;

  // Auxiliary outputs, in forward order, and the gradients the loss gives them for backward.
  std::array<Slot<T>, max_aux_outputs> aux_outputs{};
  std::array<std::size_t, max_aux_outputs> aux_output_sizes{};
  std::size_t aux_output_count = 0;
  std::array<ConstSlot<T>, max_aux_outputs> aux_gradients{};
  std::size_t aux_gradients_pending = 0;

  // Frozen parameters: those before parameter_base + trainable_from get no gradient, and
  // backward skips the layers that hold only frozen parameters when nothing needs their input
  // gradient.
  const T* parameter_base = nullptr;
  std::size_t trainable_from = 0;

  // Layers are numbered in walk order (children before parents, see walk.hpp): a composite's
  // children occupy [node, node + L::node_count) where `node` is what the parent set before
  // calling it.
  std::size_t node = 0;
  std::size_t recorded_node = no_node;
  Slot<T> recorded_output{};
  std::size_t recorded_elements = 0;
  bool recorded = false;

  // Where the model's gradient buffer starts, for the offsets the hook reports.
  const T* gradient_base = nullptr;
  GradientReadyHook gradient_ready{};
  BatchStatisticsHook batch_statistics_sum{};

  // Forgets what the last forward published and recorded.
  void begin_forward() {
    aux_output_count = 0;
    node = 0;
    recorded = false;
  }

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

  // How many of the parameters starting at `values` are frozen (0 when none is).
  std::size_t frozen_parameter_count(const T* values) const {
    if (parameter_base == nullptr) return 0;
    const std::ptrdiff_t frozen = (parameter_base + trainable_from) - values;
    return frozen > 0 ? static_cast<std::size_t>(frozen) : 0;
  }

  // `count` gradients starting at `gradients` are final (backward_layer calls it for leaves).
  void gradients_final(const T* gradients, std::size_t count) const {
    if (gradient_ready.notify == nullptr || gradient_base == nullptr) return;
    const auto begin = static_cast<std::size_t>(gradients - gradient_base);
    gradient_ready.notify(gradient_ready.user, begin, begin + count);
  }
};

// Copies `output` (images of `elements` each) aside when layer `ordinal` is the recorded one.
// copy_images is the device's, found by argument-dependent lookup.
template <class Context>
void record_if(Context& ctx, std::size_t ordinal, ConstSlot<typename Context::scalar> output, std::size_t elements) {
  if (ordinal != ctx.recorded_node) return;
  if (elements != ctx.recorded_elements)
    throw Error("record_output_of", "the recorded layer's output size does not match the plan");
  copy_images(ctx, output, ctx.recorded_output, elements, false);
  ctx.recorded = true;
}

}  // namespace ctnn
