#pragma once
// Matrix products on the CPU through Eigen's GEMM kernel, with packing buffers owned by ctnn.
//
// Eigen's product expressions allocate their packing buffers on every call; calling its kernel
// (general_matrix_matrix_product) with a blocking object whose buffers we keep makes a forward
// pass allocation-free once the buffers have grown to the largest product.
//
// All matrices are row-major: C[M x N] += alpha * op(A)[M x K] * op(B)[K x N], op = transpose
// where asked, leading dimensions as in BLAS.

#include <Eigen/Core>   // Eigen::internal::general_matrix_matrix_product, level3_blocking

#include <algorithm>   // std::max, std::min
#include <cstddef>     // std::size_t
#include <cstdlib>     // std::aligned_alloc, std::free
#include <memory>      // std::unique_ptr
#include <new>         // std::bad_alloc

#if defined(_OPENMP)
#include <omp.h>   // omp_get_thread_num
#endif

#if !EIGEN_VERSION_AT_LEAST(3, 4, 0)
#error "ctnn needs Eigen 3.4 or newer (its GEMM kernel interface)"
#endif

namespace ctnn::cpu {

using Index = Eigen::Index;

namespace detail {
struct FreeDeleter {
  void operator()(void* p) const noexcept { std::free(p); }
};
template <class T>
std::unique_ptr<T, FreeDeleter> allocate_aligned(std::size_t count) {
  const std::size_t bytes = std::max<std::size_t>(64, (count * sizeof(T) + 63) / 64 * 64);
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  return std::unique_ptr<T, FreeDeleter>(static_cast<T*>(p));
}
}  // namespace detail

// Eigen's blocking parameters plus packing buffers that only ever grow.
template <class T>
class GemmBlocking : public Eigen::internal::level3_blocking<T, T> {
 public:
  void prepare(Index rows, Index cols, Index depth) {
    Index kc = depth, mc = rows, nc = cols;
    Eigen::internal::computeProductBlockingSizes<T, T, 1, Index>(kc, mc, nc, 1);
    this->m_kc = kc;
    this->m_mc = mc;
    this->m_nc = nc;
    const std::size_t need_a = static_cast<std::size_t>(kc * std::min(mc, rows));
    const std::size_t need_b = static_cast<std::size_t>(kc * std::min(nc, cols));
    if (need_a > capacity_a_) {
      buffer_a_ = detail::allocate_aligned<T>(need_a);
      capacity_a_ = need_a;
    }
    if (need_b > capacity_b_) {
      buffer_b_ = detail::allocate_aligned<T>(need_b);
      capacity_b_ = need_b;
    }
    this->m_blockA = buffer_a_.get();
    this->m_blockB = buffer_b_.get();
  }

 private:
  std::unique_ptr<T, detail::FreeDeleter> buffer_a_, buffer_b_;
  std::size_t capacity_a_ = 0, capacity_b_ = 0;
};

namespace detail {
// Row-major C = A B is column-major C^T = B^T A^T: Eigen's kernel gets B as its left operand.
template <class T, bool TransA, bool TransB>
void gemm_kernel(GemmBlocking<T>& blocking, Index m, Index n, Index k, T alpha, const T* a, Index lda,
                 const T* b, Index ldb, T* c, Index ldc) {
  using Eigen::ColMajor;
  using Eigen::RowMajor;
  blocking.prepare(n, m, k);
  Eigen::internal::general_matrix_matrix_product<Index, T, TransB ? RowMajor : ColMajor, false, T,
                                                 TransA ? RowMajor : ColMajor, false, ColMajor, 1>::run(
      n, m, k, b, ldb, a, lda, c, 1, ldc, alpha, blocking, nullptr);
}
}  // namespace detail

// C += alpha * op(A) * op(B) on the calling thread.
template <class T>
void gemm_accumulate(GemmBlocking<T>& blocking, bool trans_a, bool trans_b, Index m, Index n, Index k, T alpha,
                     const T* a, Index lda, const T* b, Index ldb, T* c, Index ldc) {
  if (m == 0 || n == 0 || k == 0) return;
  if (!trans_a && !trans_b) detail::gemm_kernel<T, false, false>(blocking, m, n, k, alpha, a, lda, b, ldb, c, ldc);
  if (!trans_a && trans_b) detail::gemm_kernel<T, false, true>(blocking, m, n, k, alpha, a, lda, b, ldb, c, ldc);
  if (trans_a && !trans_b) detail::gemm_kernel<T, true, false>(blocking, m, n, k, alpha, a, lda, b, ldb, c, ldc);
  if (trans_a && trans_b) detail::gemm_kernel<T, true, true>(blocking, m, n, k, alpha, a, lda, b, ldb, c, ldc);
}

// The same product split over `threads` OpenMP threads, along C's longer side; each thread
// packs with its own blocking object.
template <class T>
void gemm_accumulate_parallel(GemmBlocking<T>* blockings, int threads, bool trans_a, bool trans_b, Index m,
                              Index n, Index k, T alpha, const T* a, Index lda, const T* b, Index ldb, T* c,
                              Index ldc) {
  // Below ~2 MFLOP the fork costs more than it saves.
  if (threads <= 1 || m * n * k < (Index{1} << 20)) {
    gemm_accumulate(blockings[0], trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, c, ldc);
    return;
  }
  const bool split_rows = m >= n;
#pragma omp parallel num_threads(threads)
  {
#if defined(_OPENMP)
    const int thread = omp_get_thread_num();
    const int count = omp_get_num_threads();
#else
    const int thread = 0, count = 1;
#endif
    const Index extent = split_rows ? m : n;
    // Chunks in multiples of 8 keep Eigen's register blocks whole.
    const Index chunk = ((extent + count - 1) / count + 7) / 8 * 8;
    const Index begin = std::min(extent, thread * chunk), end = std::min(extent, begin + chunk);
    if (begin < end) {
      if (split_rows) {
        const T* a_rows = trans_a ? a + begin : a + begin * lda;
        gemm_accumulate(blockings[thread], trans_a, trans_b, end - begin, n, k, alpha, a_rows, lda, b, ldb,
                        c + begin * ldc, ldc);
      } else {
        const T* b_cols = trans_b ? b + begin * ldb : b + begin;
        gemm_accumulate(blockings[thread], trans_a, trans_b, m, end - begin, k, alpha, a, lda, b_cols, ldb,
                        c + begin, ldc);
      }
    }
  }
}

}  // namespace ctnn::cpu
