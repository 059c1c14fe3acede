#pragma once
// oneDNN as a device of ctnn::Model (see ctnn/backend.hpp for what a device supplies): host
// memory like the CPU's, activations in the device layout (ctnn/onednn/context.hpp), and a
// planning pass that makes every primitive once per batch size, mode and precision.
//
//   copies_input   yes: forward reorders the caller's NCHW f32 images into the device layout
//   arrays         host memory whose mutable views count writes, so packed weights follow a
//                  change of the parameters (load_weights, an optimizer step)
//   plan           runs the passes with `planning` set, then allocates the scratchpad and the
//                  staging buffers once (the device memory)
//   host_view      the caller's parts are plain NCHW f32 already; auxiliary outputs in bf16 are
//                  converted once per pass

#include <algorithm>   // std::max, std::fill_n
#include <cstddef>     // std::size_t, std::byte
#include <cstdint>     // std::uint64_t, std::uint16_t
#include <memory>      // std::shared_ptr, std::make_shared
#include <span>        // std::span
#include <string>      // std::string
#include <vector>      // std::vector

#include <ctnn/backend.hpp>          // ctnn::Backend, ctnn::BackendTypes, ctnn::ArenaParts, ctnn::HostResult
#include <ctnn/cpu/backend.hpp>      // ctnn::cpu::Array
#include <ctnn/layer.hpp>            // ctnn::Mode
#include <ctnn/onednn/context.hpp>   // ctnn::onednn::Context, Boundary, convert_images
#include <ctnn/onednn/device.hpp>    // ctnn::OneDnn, Precision, has_bf16

#if defined(_OPENMP)
#include <omp.h>   // omp_set_num_threads
#endif

namespace ctnn {

namespace onednn {
// Host memory whose mutable views (host(), device()) count as writes of the model's state.
template <class U>
class Array : public cpu::Array<U> {
 public:
  Array() = default;
  Array(std::size_t count, std::shared_ptr<std::uint64_t> writes) : cpu::Array<U>(count), writes_(std::move(writes)) {}
  std::span<U> host() {
    wrote();
    return cpu::Array<U>::host();
  }
  std::span<U> device() {
    wrote();
    return cpu::Array<U>::device();
  }

 private:
  void wrote() {
    if (writes_) ++*writes_;
  }
  std::shared_ptr<std::uint64_t> writes_;
};

inline void use_threads(int threads) {
#if defined(_OPENMP)
  omp_set_num_threads(threads);
#else
  (void)threads;
#endif
}
}  // namespace onednn

template <class T>
class Backend<OneDnn, T> : public BackendTypes<onednn::Context<T>, onednn::Array, true> {
 public:
  using typename BackendTypes<onednn::Context<T>, onednn::Array, true>::context_type;

  Backend() : context_(std::make_unique<context_type>()) { set_threads(cpu::default_thread_count()); }

  context_type& context() { return *context_; }
  const context_type& context() const { return *context_; }

  void set_threads(int threads) {
    context_->threads = std::max(1, threads);
    context_->blocking.resize(static_cast<std::size_t>(context_->threads));
  }
  onednn::Precision precision() const { return precision_; }
  // bf16 where the processor computes in it; otherwise f32, and note() says why. int8 once
  // calibrated (Model::calibrate), else an error and no change.
  onednn::Precision set_precision(onednn::Precision wanted) {
    if (wanted == onednn::Precision::int8 && !context_->calibrated)
      throw Error("set_precision(int8)", "calibrate first: model.calibrate(images) records the ranges int8 quantises to");
    note_.clear();
    precision_ = wanted;
    if (wanted == onednn::Precision::bf16 && !onednn::has_bf16()) {
      precision_ = onednn::Precision::f32;
      note_ = "bf16 needs AVX512-BF16 or AMX, which this processor (" + onednn::isa_name() +
              " as oneDNN sees it) lacks: computing in f32";
    }
    return precision_;
  }
  const std::string& note() const { return note_; }

  template <class U>
  onednn::Array<U> make_array(std::size_t count, const char*) const {
    return onednn::Array<U>(count, writes_);
  }

  T* reserve_arena(std::size_t elements, std::size_t) {
    if (elements > arena_.size()) arena_.resize(elements);
    return arena_.data();
  }
  std::size_t arena_bytes() const { return arena_.size() * sizeof(T) + device_memory_.size(); }
  std::size_t workspace_elements(std::size_t per_thread) const {
    return per_thread * static_cast<std::size_t>(std::max(context_->threads, 2));
  }
  void attach_workspace(T* at, std::size_t per_thread) {
    context_->workspace = at;
    context_->workspace_per_thread = per_thread;
  }

  // The caller's parts and their shapes: plain NCHW f32. The input copy is in the device layout.
  void lay_out(const ArenaParts<T>& parts) {
    using onednn::Boundary;
    context_type& ctx = *context_;
    ctx.boundary = {};
    const auto dims = [](const std::array<std::size_t, 3>& d) { return onednn::Dims{d[0], d[1], d[2]}; };
    input_dims_ = dims(parts.input_dims);
    output_dims_ = dims(parts.output_dims);
    ctx.set_boundary(Boundary::output, parts.output, parts.batch, output_dims_.size(), output_dims_);
    ctx.set_boundary(Boundary::input_gradient, parts.input_gradient, parts.batch, input_dims_.size(), input_dims_);
    const onednn::Dims recorded = dims(parts.recorded_dims);
    ctx.set_boundary(Boundary::recorded, parts.recorded, parts.batch, recorded.size(), recorded);
    // Planning's stand-in for the output gradients is the output itself.
    ctx.set_boundary(Boundary::output_gradient, parts.output, parts.batch, output_dims_.size(), output_dims_);
  }

  void copy_in(std::span<const T> images, T* to) {
    context_type& ctx = *context_;
    onednn::convert_images(ctx, ConstSlot<T>{images.data(), input_dims_.size()}, true, Slot<T>{to, input_dims_.size()},
                           false, input_dims_, false);
  }
  // Backward's output gradients are read where the caller has them (plain NCHW f32).
  void begin_staging(std::size_t) {
    check_trainable("backward");
    context_type& ctx = *context_;
    onednn::use_threads(ctx.threads);
    ctx.begin_pass(onednn::Direction::backward);
    staged_ = 0;
    for (std::size_t k = 0; k < max_aux_outputs; ++k)
      ctx.boundary[static_cast<std::size_t>(onednn::Boundary::aux_gradient0) + k] = {};
  }
  const T* stage(std::span<const T> host, std::size_t) {
    context_type& ctx = *context_;
    const std::size_t batch = std::max<std::size_t>(ctx.batch, 1);
    if (staged_ == 0) {
      ctx.set_boundary(onednn::Boundary::output_gradient, host.data(), batch, output_dims_.size(), output_dims_);
    } else {
      const onednn::Dims d{host.size() / batch, 1, 1};
      ctx.set_boundary(static_cast<onednn::Boundary>(static_cast<std::size_t>(onednn::Boundary::aux_gradient0) + staged_ - 1),
                       host.data(), batch, d.size(), d);
    }
    ++staged_;
    return host.data();
  }
  void zero(T* at, std::size_t count) { std::fill_n(at, count, T(0)); }

  std::span<const T> host_view(HostResult which, const T* data, std::size_t count) const {
    const auto k = static_cast<std::size_t>(which);
    if (which < HostResult::aux0 || context_->float_activations()) return {data, count};
    // An auxiliary output (features) in bf16: converted once per pass.
    if (!converted_[k]) {
      host_copies_[k].resize(count);
      const std::size_t batch = std::max<std::size_t>(context_->batch, 1);
      const onednn::Dims d{count / batch, 1, 1};
      onednn::convert_images(*context_, ConstSlot<T>{data, d.size()}, false, Slot<T>{host_copies_[k].data(), d.size()},
                             true, d, false);
      converted_[k] = true;
    }
    return {host_copies_[k].data(), count};
  }
  void results_changed(bool) { converted_.fill(false); }

  // After a plan that failed, or in a new precision, the next forward plans again.
  bool needs_replan() const { return !planned_ || precision_ != planned_precision_; }
  template <class Passes>
  void plan(Passes&& passes) {
    context_type& ctx = *context_;
    planned_ = false;
    if (ctx.mode == Mode::train) check_trainable("training");
    onednn::use_threads(ctx.threads);
    ctx.precision = precision_;
    ctx.forget_plans();
    ctx.memory_base = nullptr;
    ctx.planning = true;
    struct Reset {
      context_type& ctx;
      ~Reset() { ctx.planning = false; }
    } reset{ctx};
    // int8 plans again while a layer finds a u8 hand-off it cannot read (quantisation.hpp). Each
    // planning that asks for another turns one more producer to f32 for good, so there are at
    // most as many as producers, plus the last.
    ctx.hand_offs.reset();
    for (std::size_t planning = 1;; ++planning) {
      ctx.begin_pass(onednn::Direction::forward);
      ctx.begin_pass(onednn::Direction::backward);
      ctx.hand_offs.begin_planning();
      passes(true);
      if (!ctx.hand_offs.replan()) break;
      if (planning > ctx.hand_offs.producers())
        throw Error("oneDNN backend", "int8's u8 hand-offs did not settle after " + std::to_string(planning) + " plannings");
      ctx.forget_plans();
    }
    ctx.planning = false;
    if (ctx.memory_bytes() > device_memory_.size()) device_memory_.resize(ctx.memory_bytes());
    ctx.memory_base = device_memory_.data();
    planned_precision_ = precision_;
    planned_ = true;
  }
  template <class Queue>
  void run_forward(Mode, const PassMemory<T>&, Queue&& queue) {
    context_type& ctx = *context_;
    onednn::use_threads(ctx.threads);
    ctx.parameter_version = *writes_;
    ctx.begin_pass(onednn::Direction::forward);
    queue();
  }
  void finish_host_call() {}

 private:
  void check_trainable(const char* what) const {
    if (precision_ == onednn::Precision::int8)
      throw Error(std::string(what) + " in int8 precision",
                  "int8 is for inference only (evaluation mode): set_precision(f32) or (bf16) to train");
  }

  std::unique_ptr<context_type> context_;  // plans point into it: it stays put when the model moves
  cpu::Array<T> arena_;
  cpu::Array<std::byte> device_memory_;
  std::shared_ptr<std::uint64_t> writes_ = std::make_shared<std::uint64_t>(0);
  onednn::Precision precision_ = onednn::Precision::f32;
  onednn::Precision planned_precision_ = onednn::Precision::f32;
  bool planned_ = false;
  std::string note_;
  onednn::Dims input_dims_{}, output_dims_{};
  std::size_t staged_ = 0;
  mutable std::array<std::vector<T>, host_result_count> host_copies_;
  mutable std::array<bool, host_result_count> converted_{};
};

}  // namespace ctnn
