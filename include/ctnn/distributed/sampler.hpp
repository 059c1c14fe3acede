#pragma once
// ctnn::distributed::DistributedSampler: which samples each process of a data-parallel run
// trains on, with the semantics of PyTorch's torch.utils.data.DistributedSampler:
//
//   every epoch one seeded shuffle of all `count` samples, the same on every process
//   (the generator is seeded with seed + epoch, so set_epoch() decides the order);
//   the order padded by repeating its start until its length is a multiple of `world`
//   (or, with drop_last, cut down to one), so every process gets the same number of samples;
//   process `rank` takes the positions rank, rank + world, rank + 2 world, ... (a strided share)
//
//   count 10, world 3, no shuffle:  order 0 1 2 3 4 5 6 7 8 9 | 0 1   (padded to 12)
//     rank 0: 0 3 6 9    rank 1: 1 4 7 0    rank 2: 2 5 8 1
//
// Cutting each process's share into local batches of batch / world gives, step by step, the
// strided rows of one global batch of `batch` samples: the union over the processes is the batch
// a single process would take from the same order. ctnn::data::BatchLoader::shard() hands out
// exactly these rows (ctnn/data/batcher.hpp), and the trainer keeps --batch as the global batch.
//
// Needs no MPI: the sampler is arithmetic on indices, usable by any loop.

#include <cstddef>   // std::size_t
#include <cstdint>   // std::uint64_t
#include <random>    // std::mt19937_64
#include <string>    // std::to_string
#include <vector>    // std::vector

#include <ctnn/data/shuffle.hpp>   // ctnn::data::arrange_order
#include <ctnn/error.hpp>          // ctnn::Error

namespace ctnn::distributed {

// The length of an epoch's order spread over `world` processes: padded up to a multiple of
// world, or (drop_last) cut down to one.
inline std::size_t sampler_total_size(std::size_t count, std::size_t world, bool drop_last) {
  return drop_last ? count / world * world : (count + world - 1) / world * world;
}

// Checks a rank and world size; `who` names the caller in the error.
inline void check_rank(const char* who, std::size_t rank, std::size_t world) {
  if (world == 0 || rank >= world)
    throw Error(who, "rank " + std::to_string(rank) + " is not one of " + std::to_string(world) + " processes");
}

class DistributedSampler {
 public:
  DistributedSampler(std::size_t count, std::size_t rank, std::size_t world, bool shuffle = true, std::uint64_t seed = 0,
                     bool drop_last = false)
      : count_(count), rank_(rank), world_(world), shuffle_(shuffle), seed_(seed), drop_last_(drop_last) {
    check_rank("DistributedSampler", rank, world);
  }

  // Chooses the epoch whose order indices() gives (PyTorch: sampler.set_epoch(epoch) before each).
  void set_epoch(std::uint64_t epoch) { epoch_ = epoch; }
  std::uint64_t epoch() const { return epoch_; }

  // Samples per process per epoch, and over all processes.
  std::size_t size() const { return total_size() / world_; }
  std::size_t total_size() const { return sampler_total_size(count_, world_, drop_last_); }

  // The whole epoch's order before sharding (padded or cut), the same on every process.
  std::vector<std::size_t> epoch_order() const {
    std::vector<std::size_t> order(count_);
    std::mt19937_64 engine(seed_ + epoch_);
    data::arrange_order(order, shuffle_, engine);
    std::vector<std::size_t> total(total_size());
    for (std::size_t p = 0; p < total.size(); ++p) total[p] = order[p % count_];  // padding repeats the start
    return total;
  }

  // This process's samples for the epoch, in the order to visit them.
  std::vector<std::size_t> indices() const {
    const std::vector<std::size_t> order = epoch_order();
    std::vector<std::size_t> share;
    share.reserve(size());
    for (std::size_t p = rank_; p < order.size(); p += world_) share.push_back(order[p]);
    return share;
  }

 private:
  std::size_t count_, rank_, world_;
  bool shuffle_;
  std::uint64_t seed_;
  bool drop_last_;
  std::uint64_t epoch_ = 0;
};

}  // namespace ctnn::distributed
