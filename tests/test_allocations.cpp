// After the first forward at a batch size, a forward pass performs no heap allocation.
//
// Every allocation in this program is counted: operator new always, and malloc as well where
// no sanitizer replaces it (Eigen and OpenMP allocate through malloc, not operator new).

#include <doctest/doctest.h>

#include <atomic>   // std::atomic
#include <cstdlib>  // std::malloc, std::free
#include <new>      // std::bad_alloc

#include <ctnn/ctnn.hpp>   // ctnn::GoogLeNet, ctnn::Model

namespace {
std::atomic<long> allocations{0};
}

void* operator new(std::size_t size) {
  ++allocations;
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(CTNN_SANITIZE)
extern "C" void* __libc_malloc(std::size_t);
extern "C" void* __libc_memalign(std::size_t, std::size_t);
extern "C" void* malloc(std::size_t size) {
  ++allocations;
  return __libc_malloc(size);
}
extern "C" void* aligned_alloc(std::size_t alignment, std::size_t size) {
  ++allocations;
  return __libc_memalign(alignment, size);
}
extern "C" int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
  ++allocations;
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
