#pragma once
// MPI for data parallelism: the library's lifetime, a communicator of ctnn's own, and what a
// run needs from it (rank, world size, local rank, broadcast, sums, a clean abort).
//
//   int main(int argc, char** argv) {
//     ctnn::distributed::Environment mpi(argc, argv);           // MPI_Init_thread ... MPI_Finalize
//     ctnn::distributed::Communicator world = ctnn::distributed::Communicator::world();
//     return ctnn::distributed::run_or_abort(world, [&] { ...; return 0; });
//   }
//
// Standard MPI-3 only (Open MPI, MPICH, Intel MPI): MPI_Iallreduce, MPI_Comm_split_type.
// Every failed call throws ctnn::Error naming the call and MPI's message: ctnn's communicators
// return errors (MPI_ERRORS_RETURN) instead of aborting inside MPI.
//
// A process that fails must take the others down, or they wait in their next collective for
// ever: run_or_abort catches the exception, prints it with the rank, and calls MPI_Abort, which
// ends every process of the job (mpirun exits non-zero). A process killed by a signal is seen by
// the launcher (mpirun, srun), which ends the others.

#include <mpi.h>   // MPI_*

#include <algorithm>     // std::min
#include <cstddef>       // std::size_t, std::byte
#include <cstdint>       // std::int32_t, std::int64_t, std::uint64_t
#include <cstdio>        // std::fprintf, std::fflush
#include <cstdlib>       // std::getenv, std::abort
#include <exception>     // std::exception
#include <span>          // std::span
#include <string>        // std::string, std::to_string
#include <string_view>   // std::string_view
#include <type_traits>   // std::is_same_v, std::remove_const_t
#include <utility>       // std::exchange

#include <ctnn/error.hpp>   // ctnn::Error

namespace ctnn::distributed {

namespace detail {
inline std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, static_cast<std::size_t>(length));
}
inline void check_mpi(int code, const char* call) {
  if (code != MPI_SUCCESS) throw Error(call, "failed: " + mpi_error_text(code));
}
}  // namespace detail

// Runs an MPI call; a failure throws ctnn::Error naming the call and MPI's message.
#define CTNN_MPI_CHECK(call) ::ctnn::distributed::detail::check_mpi((call), #call)

// The MPI datatype of T.
template <class T>
MPI_Datatype mpi_type() {
  using U = std::remove_const_t<T>;
  if constexpr (std::is_same_v<U, float>) return MPI_FLOAT;
  else if constexpr (std::is_same_v<U, double>) return MPI_DOUBLE;
  else if constexpr (std::is_same_v<U, std::int32_t>) return MPI_INT32_T;
  else if constexpr (std::is_same_v<U, std::int64_t>) return MPI_INT64_T;
  else if constexpr (std::is_same_v<U, std::uint64_t>) return MPI_UINT64_T;
  else if constexpr (std::is_same_v<U, std::byte> || std::is_same_v<U, char> || std::is_same_v<U, unsigned char>)
    return MPI_BYTE;
  else static_assert(sizeof(U) == 0, "ctnn::distributed::mpi_type: no MPI datatype for this type");
}

// MPI counts are int: a span longer than that goes in pieces.
inline constexpr std::size_t max_mpi_count = 1u << 30;

// ---------------------------------------------------------------------------------------------
// The library's lifetime. Threads: MPI_THREAD_FUNNELED (OpenMP threads compute, the main thread
// alone calls MPI). Initialises only when nobody did before, finalises only what it initialised.
// ---------------------------------------------------------------------------------------------
class Environment {
 public:
  Environment(int& argc, char**& argv) {
    int initialized = 0;
    CTNN_MPI_CHECK(MPI_Initialized(&initialized));
    if (initialized) return;
    int provided = 0;
    CTNN_MPI_CHECK(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided));
    owns_ = true;
  }
  Environment() {
    int initialized = 0;
    CTNN_MPI_CHECK(MPI_Initialized(&initialized));
    if (initialized) return;
    int provided = 0;
    CTNN_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
    owns_ = true;
  }
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
  ~Environment() {
    if (!owns_) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }

 private:
  bool owns_ = false;
};

// ---------------------------------------------------------------------------------------------
// A communicator of ctnn's own (a duplicate, so ctnn's collectives never meet the caller's), with
// errors returned as ctnn::Error. Moves, does not copy; frees its handles before MPI_Finalize
// when it goes out of scope first.
// ---------------------------------------------------------------------------------------------
class Communicator {
 public:
  // A duplicate of MPI_COMM_WORLD: every process of the job.
  static Communicator world() { return Communicator(MPI_COMM_WORLD); }

  // A duplicate of `comm`.
  explicit Communicator(MPI_Comm comm) {
    CTNN_MPI_CHECK(MPI_Comm_dup(comm, &comm_));
    CTNN_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
    CTNN_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
    CTNN_MPI_CHECK(MPI_Comm_size(comm_, &size_));
    // The processes sharing this one's memory (its host): local rank and count.
    MPI_Comm local = MPI_COMM_NULL;
    CTNN_MPI_CHECK(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local));
    MPI_Comm_rank(local, &local_rank_);
    MPI_Comm_size(local, &local_size_);
    MPI_Comm_free(&local);
  }
  Communicator(Communicator&& other) noexcept
      : comm_(std::exchange(other.comm_, MPI_COMM_NULL)), rank_(other.rank_), size_(other.size_),
        local_rank_(other.local_rank_), local_size_(other.local_size_) {}
  Communicator& operator=(Communicator&& other) noexcept {
    if (this != &other) {
      release();
      comm_ = std::exchange(other.comm_, MPI_COMM_NULL);
      rank_ = other.rank_, size_ = other.size_, local_rank_ = other.local_rank_, local_size_ = other.local_size_;
    }
    return *this;
  }
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  ~Communicator() { release(); }

  // Another communicator over the same processes (for collectives that must not interleave).
  Communicator duplicate() const { return Communicator(comm_); }

  int rank() const { return rank_; }
  int size() const { return size_; }
  // Rank and count among the processes on this host (MPI_COMM_TYPE_SHARED): which GPU to take.
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  bool is_root() const { return rank_ == 0; }
  MPI_Comm handle() const { return comm_; }

  void barrier() const { CTNN_MPI_CHECK(MPI_Barrier(comm_)); }

  // values on every process = values on `root`.
  template <class T>
  void broadcast(std::span<T> values, int root = 0) const {
    for (std::size_t at = 0; at < values.size(); at += max_mpi_count) {
      const std::size_t count = std::min(max_mpi_count, values.size() - at);
      CTNN_MPI_CHECK(MPI_Bcast(values.data() + at, static_cast<int>(count), mpi_type<T>(), root, comm_));
    }
  }
  // A string on every process = the string on `root`.
  void broadcast(std::string& text, int root = 0) const {
    std::uint64_t length = text.size();
    broadcast(std::span<std::uint64_t>(&length, 1), root);
    text.resize(length);
    broadcast(std::span<char>(text.data(), text.size()), root);
  }

  // values = their elementwise sum over every process (blocking).
  template <class T>
  void sum(std::span<T> values) const {
    for (std::size_t at = 0; at < values.size(); at += max_mpi_count) {
      const std::size_t count = std::min(max_mpi_count, values.size() - at);
      CTNN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, values.data() + at, static_cast<int>(count), mpi_type<T>(), MPI_SUM, comm_));
    }
  }
  template <class T>
  T sum(T value) const {
    sum(std::span<T>(&value, 1));
    return value;
  }

  // Ends every process of the job with exit status `code`, after printing `message` with the rank.
  [[noreturn]] void abort(int code, std::string_view message) const {
    std::fprintf(stderr, "rank %d of %d: %.*s\n", rank_, size_, static_cast<int>(message.size()), message.data());
    std::fflush(stderr);
    std::fflush(stdout);
    MPI_Abort(comm_ != MPI_COMM_NULL ? comm_ : MPI_COMM_WORLD, code);
    std::abort();  // MPI_Abort does not return; if an implementation did, end this process at least
  }

 private:
  void release() noexcept {
    if (comm_ == MPI_COMM_NULL) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
    comm_ = MPI_COMM_NULL;
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
};

// Runs fn() and returns its exit status; an exception ends every process of the job (exit
// status 1) with the message and the rank, so no other process waits for ever.
template <class Fn>
int run_or_abort(const Communicator& comm, Fn&& fn) {
  try {
    return fn();
  } catch (const std::exception& error) {
    comm.abort(1, error.what());
  } catch (...) {
    comm.abort(1, "unknown exception");
  }
}

// True when this process was started by an MPI launcher (mpirun, mpiexec, srun with PMI): the
// variables Open MPI, MPICH/Hydra, Intel MPI and Slurm's PMI set. A program may then take the
// data-parallel path; started alone, it runs as before.
inline bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS", "PMI_RANK"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

}  // namespace ctnn::distributed
