#pragma once
// ctnn::train::DataParallelism: what the trainer (ctnn/train/trainer.hpp) needs from a group of
// processes that train one model together. ctnn/distributed/data_parallel.hpp implements it over
// MPI; the trainer itself needs no MPI and, without one, runs as a single process.
//
// Given one (TrainerOptions::parallel), the trainer:
//   * takes --batch as the global batch: each of the size() processes trains on its strided
//     share of every batch (BatchLoader::shard), batch / size() images;
//   * after initialising or resuming, copies rank 0's parameters and buffers to every process;
//   * after each backward, calls synchronize_gradients(): every process then holds the average;
//   * sums the step's loss, accuracy counts and stop requests over the processes, so every
//     process takes the same decisions (stop, diverged) at the same step;
//   * evaluates on a strided share of the test set and sums the results;
//   * writes checkpoints, metrics and plots, and prints progress, on rank 0 only.

#include <cstddef>   // std::size_t
#include <span>      // std::span

namespace ctnn::train {

class DataParallelism {
 public:
  virtual std::size_t rank() const = 0;
  virtual std::size_t size() const = 0;
  // Rank 0's parameters and buffers to every process.
  virtual void broadcast_model() = 0;
  // After backward: the gradients are their average over the processes.
  virtual void synchronize_gradients() = 0;
  // values = their elementwise sum over the processes.
  virtual void sum(std::span<double> values) = 0;

  bool is_root() const { return rank() == 0; }

 protected:
  ~DataParallelism() = default;
};

}  // namespace ctnn::train
