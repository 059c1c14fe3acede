// After the first forward at a batch size, a forward pass performs no heap allocation.
//
// Every allocation in this program is counted: operator new always, and malloc as well where
// no sanitizer replaces it (Eigen and OpenMP allocate through malloc, not operator new).
//
// On oneDNN (where the build has it) ctnn allocates nothing either: primitives, packed weights and
// the scratchpad are made while planning. oneDNN itself builds a small argument map for each
// primitive it executes (dnnl_primitive_execute, a few hundred bytes), which no caller can avoid;
// the test bounds those (no allocation of a tensor's size, a fixed count per pass) instead of
// pretending they are not there.

#include <doctest/doctest.h>

#include <atomic>   // std::atomic
#include <cstdlib>  // std::malloc, std::free
#include <new>      // std::bad_alloc

#include <dlfcn.h>   // dladdr: which library's code asked for memory

#include <ctnn/ctnn.hpp>   // ctnn::GoogLeNet, ctnn::Model

namespace {
std::atomic<long> allocations{0};
std::atomic<std::size_t> largest_allocation{0};  // bytes, since the last reset
// While `attributing`, allocations whose caller's code lies in this executable (ctnn's headers,
// the test) rather than in a shared library (oneDNN, libgomp, libstdc++).
std::atomic<bool> attributing{false};
std::atomic<long> from_executable{0};
bool in_executable(const void* caller) {
  Dl_info info{};
  if (dladdr(caller, &info) == 0 || info.dli_fname == nullptr) return true;
  static const void* const executable_base = [] {
    Dl_info self{};
    dladdr(reinterpret_cast<const void*>(&in_executable), &self);
    return self.dli_fbase;
  }();
  return info.dli_fbase == executable_base;
}
thread_local bool attributing_now = false;  // dladdr's own allocations, if any, are not attributed
void note(std::size_t size, const void* caller) {
  ++allocations;
  std::size_t seen = largest_allocation.load();
  while (size > seen && !largest_allocation.compare_exchange_weak(seen, size)) {
  }
  if (attributing && !attributing_now) {
    attributing_now = true;
    if (in_executable(caller)) ++from_executable;
    attributing_now = false;
  }
}
// operator new's own malloc is not a second allocation.
thread_local bool inside_operator_new = false;
void* allocate(std::size_t size, const void* caller) {
  note(size, caller);
  inside_operator_new = true;
  void* p = std::malloc(size ? size : 1);
  inside_operator_new = false;
  if (p) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t size) { return allocate(size, __builtin_return_address(0)); }
void* operator new[](std::size_t size) { return allocate(size, __builtin_return_address(0)); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(CTNN_SANITIZE)
extern "C" void* __libc_malloc(std::size_t);
extern "C" void* __libc_memalign(std::size_t, std::size_t);
extern "C" void* malloc(std::size_t size) {
  if (!inside_operator_new) note(size, __builtin_return_address(0));
  return __libc_malloc(size);
}
extern "C" void* aligned_alloc(std::size_t alignment, std::size_t size) {
  note(size, __builtin_return_address(0));
  return __libc_memalign(alignment, size);
}
extern "C" int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
  note(size, __builtin_return_address(0));
  *out = __libc_memalign(alignment, size);
  return *out ? 0 : 12;  // ENOMEM
}
constexpr bool counts_malloc = true;
#else
constexpr bool counts_malloc = false;
#endif

using namespace ctnn;

TEST_CASE("a second forward at the same batch size allocates nothing") {
  MESSAGE("malloc counted as well as operator new: " << counts_malloc);
  Model<GoogLeNet<1000, false>, Shape<3, 224, 224>> model;
  init::googlenet_seed(model, 1);
  std::vector<float> images(2 * 3 * 224 * 224, 0.25f);

  const long initial = allocations.load();
  model.forward(images);  // plans the arena and grows the GEMM packing buffers
  const long before = allocations.load();
  model.forward(images);
  const long after = allocations.load();
  // The counter sees the planning allocations (they use aligned_alloc, counted with malloc).
  if (counts_malloc) CHECK(before - initial > 0);
  CHECK(after - before == 0);

  SUBCASE("also in training mode, backward included") {
    model.train();
    std::vector<float> gradient(2 * 1000, 1e-3f);
    model.forward(images);
    model.backward(gradient);
    const long start = allocations.load();
    model.forward(images);
    model.backward(gradient);
    const long end = allocations.load();
    CHECK(end - start == 0);
  }
  SUBCASE("a new batch size plans again, then allocates nothing") {
    std::vector<float> one(3 * 224 * 224, 0.5f);
    model.forward(one);
    const long start = allocations.load();
    model.forward(one);
    const long end = allocations.load();
    CHECK(end - start == 0);
  }
}

#if defined(CTNN_WITH_ONEDNN)
#include <ctnn/onednn.hpp>   // ctnn::OneDnn

namespace {
// Allocations of one call of `pass`: all, those asked for by code of this executable (ctnn's),
// and the largest.
struct Counted {
  long count = 0;
  long by_ctnn = 0;
  std::size_t largest = 0;
};
template <class Pass>
Counted count_allocations(Pass&& pass) {
  largest_allocation = 0;
  from_executable = 0;
  attributing = true;
  const long start = allocations.load();
  pass();
  const long count = allocations.load() - start;
  attributing = false;
  return {count, from_executable.load(), largest_allocation.load()};
}
}  // namespace

TEST_CASE("the attribution sees an allocation made by this executable's code") {
  const Counted counted = count_allocations([] {
    auto* volatile p = new int(1);
    delete p;
  });
  CHECK(counted.by_ctnn == 1);
}

TEST_CASE("on oneDNN, a second pass at the same batch size allocates nothing of ctnn's, and oneDNN only its argument maps") {
  Model<GoogLeNet<1000, false>, Shape<3, 224, 224>, float, OneDnn> model;
  init::googlenet_seed(model, 1);
  std::vector<float> images(2 * 3 * 224 * 224, 0.25f);
  // The smallest activation of the network at batch 2 (1024 features, f32): no allocation may be
  // that large once planned.
  constexpr std::size_t smallest_tensor = 2 * 1024 * sizeof(float);
  const auto check_pass = [&](auto&& pass) {
    pass();  // plans: primitives, packed weights, scratchpad, arena
    const Counted second = count_allocations(pass);
    const Counted third = count_allocations(pass);
    CAPTURE(second.count);
    CAPTURE(second.largest);
    CHECK(second.by_ctnn == 0);
    CHECK(second.largest < smallest_tensor);
    CHECK(third.count == second.count);  // nothing grows from pass to pass
  };
  SUBCASE("f32 inference") {
    check_pass([&] { model.forward(images); });
  }
  SUBCASE("bf16 inference, where the processor has it") {
    model.set_precision(onednn::Precision::bf16);
    check_pass([&] { model.forward(images); });
  }
  SUBCASE("training: forward and backward") {
    model.train();
    std::vector<float> gradient(2 * 1000, 1e-3f);
    check_pass([&] {
      model.forward(images);
      model.backward(gradient);
    });
  }
}
#endif
