#pragma once
// ctnn::cpu::Context<T>: what CPU kernels share during one forward or backward pass: the batch
// size, the mode, the OpenMP thread count, per-thread work space and GEMM packing buffers, the
// dropout generator, the auxiliary outputs published by AuxOutput taps, and the training
// switches: dropout off, the frozen parameter prefix, the one layer whose output is recorded.
//
// Every buffer here is sized when the model plans a batch size; kernels never allocate.

#include <array>     // std::array
#include <cstddef>   // std::size_t, std::ptrdiff_t
#include <random>    // std::mt19937_64
#include <vector>    // std::vector

#include <ctnn/cpu/gemm.hpp>    // ctnn::cpu::GemmBlocking
#include <ctnn/error.hpp>       // ctnn::Error
#include <ctnn/evaluator.hpp>   // ctnn::Slot, ctnn::Cpu
#include <ctnn/layer.hpp>       // ctnn::Mode
#include <ctnn/training_hooks.hpp>   // ctnn::TrainingHooks

#if defined(_OPENMP)
#include <omp.h>   // omp_get_max_threads, omp_get_thread_num
#endif

namespace ctnn::cpu {

inline int default_thread_count() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

inline int current_thread() {
#if defined(_OPENMP)
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// At most this many auxiliary outputs per network (GoogLeNet has two).
inline constexpr std::size_t max_aux_outputs = 8;

// No layer's output is being recorded (Context::recorded_node).
inline constexpr std::size_t no_node = static_cast<std::size_t>(-1);

template <class T>
struct Context;
template <class T>
void copy_images(const Context<T>& ctx, ConstSlot<T> src, Slot<T> dst, std::size_t elements, bool accumulate);

template <class T>
struct Context {
  using device = Cpu;
  using scalar = T;

  std::size_t batch = 0;
  Mode mode = Mode::eval;
  int threads = 1;
  // Per-thread work space: thread t owns [workspace + t * workspace_per_thread, +workspace_per_thread).
  // A kernel that runs its products across all threads may use the whole span.
  T* workspace = nullptr;
  std::size_t workspace_per_thread = 0;
  std::vector<GemmBlocking<T>> blocking;  // one per thread
  std::mt19937_64 generator{0x5eedULL};
  // false: backward overwrites the parameter gradients (zero_grad() then backward() in PyTorch);
  // true: it adds to them, for gradient accumulation over several batches.
  bool accumulate_parameter_gradients = false;

  // Auxiliary outputs, in forward order, and the gradients the loss gives them for backward.
  std::array<Slot<T>, max_aux_outputs> aux_outputs{};
  std::array<std::size_t, max_aux_outputs> aux_output_sizes{};
  std::size_t aux_output_count = 0;
  std::array<ConstSlot<T>, max_aux_outputs> aux_gradients{};
  std::size_t aux_gradients_pending = 0;

  // Dropout layers pass their input through unchanged even in training (Model::disable_dropout).
  bool dropout_disabled = false;

  // Frozen parameters (Model::set_trainable_from): those before parameter_base + trainable_from
  // get no gradient, and backward skips the layers that hold only frozen parameters when nothing
  // needs their input gradient.
  const T* parameter_base = nullptr;
  std::size_t trainable_from = 0;

  // Recording one layer's output during forward (Model::record_output_of). Layers are numbered
  // in walk order (children before parents, see walk.hpp): a composite's children occupy
  // [node, node + L::node_count) where `node` is what the parent set before calling it.
  std::size_t node = 0;
  std::size_t recorded_node = no_node;
  Slot<T> recorded_output{};
  std::size_t recorded_elements = 0;
  bool recorded = false;

  // Data parallelism (ctnn/training_hooks.hpp): gradient-ready reports, SyncBatchNorm sums.
  TrainingHooks hooks{};

  T* thread_workspace(int thread) const { return workspace + static_cast<std::size_t>(thread) * workspace_per_thread; }

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

  // Copies `output` (images of `elements` each) aside when layer `ordinal` is the recorded one.
  void record_if(std::size_t ordinal, ConstSlot<T> output, std::size_t elements) {
    if (ordinal != recorded_node) return;
    if (elements != recorded_elements)
      throw Error("record_output_of", "the recorded layer's output size does not match the plan");
    copy_images(*this, output, recorded_output, elements, false);
    recorded = true;
  }
};

// Runs fn(image, begin, end) over every image's elements [0, elements), in parallel chunks.
template <class T, class Fn>
void parallel_over_images(const Context<T>& ctx, std::size_t elements, Fn&& fn) {
  constexpr std::size_t chunk = 1 << 14;
  const std::size_t chunks_per_image = (elements + chunk - 1) / chunk;
  const std::ptrdiff_t total = static_cast<std::ptrdiff_t>(ctx.batch * chunks_per_image);
#pragma omp parallel for schedule(static) num_threads(ctx.threads) if (total > 1 && ctx.batch * elements > 32768)
  for (std::ptrdiff_t job = 0; job < total; ++job) {
    const std::size_t image = static_cast<std::size_t>(job) / chunks_per_image;
    const std::size_t begin = static_cast<std::size_t>(job) % chunks_per_image * chunk;
    fn(image, begin, std::min(elements, begin + chunk));
  }
}

// Copies (or adds) N images of `elements` each from src to dst; used by views and taps.
template <class T>
void copy_images(const Context<T>& ctx, ConstSlot<T> src, Slot<T> dst, std::size_t elements, bool accumulate) {
  parallel_over_images(ctx, elements, [&](std::size_t n, std::size_t begin, std::size_t end) {
    const T* s = src.image(n);
    T* d = dst.image(n);
    if (accumulate) {
      for (std::size_t i = begin; i < end; ++i) d[i] += s[i];
    } else if (s != d) {
      for (std::size_t i = begin; i < end; ++i) d[i] = s[i];
    }
  });
}

}  // namespace ctnn::cpu
