// All-reduce bandwidth against message size, over MPI, as ctnn's data parallelism uses it: a
// float buffer summed in place, blocking (MPI_Allreduce) and non-blocking then waited
// (MPI_Iallreduce + MPI_Wait, GradientAllReduce's call).
//
//   mpirun -np 2 ctnn-allreduce-bandwidth [--seconds S] [--max-mb M]
// prints per size, on rank 0:
//   allreduce processes=2 bytes=1048576 call=blocking us=123.4 algbw_GBps=8.50 busbw_GBps=8.50
// algbw = bytes / time; busbw = algbw * 2(N-1)/N, what each link carries in a ring all-reduce
// (the convention of NCCL's tests), comparable across process counts.

#include <mpi.h>   // MPI_Allreduce, MPI_Iallreduce, MPI_Wtime

#include <algorithm>   // std::min
#include <cstdio>      // std::printf
#include <cstdlib>     // std::atof
#include <cstring>     // std::strcmp
#include <vector>      // std::vector

#include <ctnn/distributed/mpi.hpp>   // ctnn::distributed::Environment, Communicator, CTNN_MPI_CHECK

namespace {

// Seconds per all-reduce of `count` floats: the best of several timed batches of calls.
double time_all_reduce(const ctnn::distributed::Communicator& comm, std::vector<float>& buffer, std::size_t count,
                       bool blocking, double seconds) {
  const auto call = [&] {
    if (blocking) {
      CTNN_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buffer.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM, comm.handle()));
    } else {
      MPI_Request request = MPI_REQUEST_NULL;
      CTNN_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, buffer.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM,
                                    comm.handle(), &request));
      CTNN_MPI_CHECK(MPI_Wait(&request, MPI_STATUS_IGNORE));
    }
  };
  call();  // warm-up: connections, registration
  // Calls per batch so one batch takes ~1/10 of the time; rank 0 decides, everyone follows.
  double start = MPI_Wtime();
  call();
  double once = MPI_Wtime() - start;
  comm.broadcast(std::span<double>(&once, 1));
  const int per_batch = std::max(1, static_cast<int>(seconds / 10 / std::max(once, 1e-7)));
  double best = 1e30;
  for (int batch = 0; batch < 10; ++batch) {
    comm.barrier();
    start = MPI_Wtime();
    for (int i = 0; i < per_batch; ++i) call();
    double elapsed = (MPI_Wtime() - start) / per_batch;
    comm.broadcast(std::span<double>(&elapsed, 1));  // rank 0's clock decides
    best = std::min(best, elapsed);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  ctnn::distributed::Environment mpi(argc, argv);
  const ctnn::distributed::Communicator world = ctnn::distributed::Communicator::world();
  double seconds = 0.5, max_mb = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--max-mb")) max_mb = std::atof(argv[i + 1]);
  }
  return ctnn::distributed::run_or_abort(world, [&] {
    const auto max_bytes = static_cast<std::size_t>(max_mb * (1 << 20));
    std::vector<float> buffer(max_bytes / sizeof(float), 1.0f);
    const double n = world.size();
    for (std::size_t bytes = 4096; bytes <= max_bytes; bytes *= 4) {
      for (const bool blocking : {true, false}) {
        const double seconds_per_call = time_all_reduce(world, buffer, bytes / sizeof(float), blocking, seconds);
        const double algbw = static_cast<double>(bytes) / seconds_per_call / 1e9;
        if (world.is_root())
          std::printf("allreduce processes=%d bytes=%zu call=%s us=%.1f algbw_GBps=%.3f busbw_GBps=%.3f\n", world.size(),
                      bytes, blocking ? "blocking" : "nonblocking", seconds_per_call * 1e6, algbw,
                      n > 1 ? algbw * 2 * (n - 1) / n : algbw);
      }
    }
    return 0;
  });
}
