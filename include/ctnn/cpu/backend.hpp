#pragma once
// The CPU as a device of ctnn::Model (see ctnn/backend.hpp for what a device supplies): host
// memory, 64-byte aligned, and the CPU context. Host and device are one memory here, so nothing
// is copied or downloaded, and evaluation reads the caller's images where they are.

#include <algorithm>   // std::copy_n, std::fill_n, std::max
#include <cstddef>     // std::size_t
#include <memory>      // std::unique_ptr
#include <span>        // std::span
#include <utility>     // std::swap

#include <ctnn/backend.hpp>       // ctnn::Backend, ctnn::BackendTypes, ctnn::HostResult, ctnn::PassMemory
#include <ctnn/cpu/context.hpp>   // ctnn::cpu::Context, default_thread_count
#include <ctnn/cpu/gemm.hpp>      // ctnn::cpu::detail::allocate_aligned
#include <ctnn/evaluator.hpp>     // ctnn::Cpu
#include <ctnn/layer.hpp>         // ctnn::Mode

namespace ctnn {

namespace cpu {
// A zero-initialised, 64-byte aligned array of T that only changes size when asked.
template <class T>
class Array {
 public:
  Array() = default;
  explicit Array(std::size_t count) { resize(count); }
  Array(const Array& other) : Array(other.size_) { std::copy_n(other.data(), size_, data()); }
  Array& operator=(const Array& other) {
    if (this != &other) {
      Array copy(other);
      std::swap(storage_, copy.storage_);
      std::swap(size_, copy.size_);
    }
    return *this;
  }
  Array(Array&&) noexcept = default;
  Array& operator=(Array&&) noexcept = default;

  void resize(std::size_t count) {
    storage_ = detail::allocate_aligned<T>(count);
    size_ = count;
    std::fill_n(storage_.get(), count, T(0));
  }
  T* data() { return storage_.get(); }
  const T* data() const { return storage_.get(); }
  std::size_t size() const { return size_; }
  std::span<T> span() { return {data(), size_}; }
  std::span<const T> span() const { return {data(), size_}; }
  // The model front end's names (ctnn/backend.hpp): on the CPU all four are this memory.
  std::span<T> host() { return span(); }
  std::span<const T> host_view() const { return span(); }
  std::span<T> device() { return span(); }
  std::span<const T> device_view() const { return span(); }

 private:
  std::unique_ptr<T, detail::FreeDeleter> storage_;
  std::size_t size_ = 0;
};
}  // namespace cpu

template <class T>
class Backend<Cpu, T> : public BackendTypes<cpu::Context<T>, cpu::Array, false> {
 public:
  using typename BackendTypes<cpu::Context<T>, cpu::Array, false>::context_type;

  Backend() { set_threads(cpu::default_thread_count()); }

  context_type& context() { return context_; }
  const context_type& context() const { return context_; }

  void set_threads(int threads) {
    context_.threads = std::max(1, threads);
    context_.blocking.resize(static_cast<std::size_t>(context_.threads));
  }

  template <class U>
  cpu::Array<U> make_array(std::size_t count, const char*) const {
    return cpu::Array<U>(count);
  }

  T* reserve_arena(std::size_t elements, std::size_t) {
    if (elements > arena_.size()) arena_.resize(elements);
    return arena_.data();
  }
  std::size_t arena_bytes() const { return arena_.size() * sizeof(T); }

  // Per-thread work space (im2col); convolution backward keeps col(x) and its gradient side by
  // side, so at least two slices.
  std::size_t workspace_elements(std::size_t per_thread) const {
    return per_thread * static_cast<std::size_t>(std::max(context_.threads, 2));
  }
  void attach_workspace(T* at, std::size_t per_thread) {
    context_.workspace = at;
    context_.workspace_per_thread = per_thread;
  }

  void copy_in(std::span<const T> images, T* to) { std::copy_n(images.data(), images.size(), to); }
  void begin_staging(std::size_t) {}
  const T* stage(std::span<const T> host, std::size_t) { return host.data(); }
  void zero(T* at, std::size_t count) { std::fill_n(at, count, T(0)); }
  std::span<const T> host_view(HostResult, const T* data, std::size_t count) const { return {data, count}; }
  void results_changed(bool) {}

  bool needs_replan() const { return false; }
  template <class Passes>
  void plan(Passes&&) {}  // the CPU kernels need no plans
  template <class Queue>
  void run_forward(Mode, const PassMemory<T>&, Queue&& queue) {
    queue();
  }
  void finish_host_call() {}

 private:
  context_type context_;
  cpu::Array<T> arena_;
};

}  // namespace ctnn
