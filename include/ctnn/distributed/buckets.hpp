#pragma once
// ctnn::distributed::BucketTracker: which buckets of the flat gradient buffer backward has
// finished, so their all-reduce can start while backward goes on (as PyTorch DDP's reducer).
//
// The buffer of `count` gradients is cut into buckets of at most `bucket_elements`, from its end,
// because backward runs the last layer first:
//
//   count 10, bucket_elements 4:   bucket 2 [0, 2)   bucket 1 [2, 6)   bucket 0 [6, 10)
//
// Backward reports ranges whose gradients are final (the model's gradient hook, one report per
// leaf layer; reports may also overlap and nest); a bucket is ready when every element of it has
// been reported. Buckets are handed out strictly in order 0, 1, 2, ...: every process starts its
// collectives in the same order, which MPI and NCCL require. Needs no MPI: the communication is
// the caller's.

#include <algorithm>   // std::min, std::max, std::lower_bound
#include <cstddef>     // std::size_t
#include <utility>     // std::pair, std::exchange
#include <vector>      // std::vector

namespace ctnn::distributed {

// DDP's default bucket size (bucket_cap_mb = 25).
inline constexpr std::size_t default_bucket_bytes = std::size_t{25} << 20;

struct Bucket {
  std::size_t begin = 0, end = 0;  // elements [begin, end) of the gradient buffer
  std::size_t size() const { return end - begin; }
};

class BucketTracker {
 public:
  BucketTracker(std::size_t count, std::size_t bucket_elements) : count_(count), bucket_elements_(std::max<std::size_t>(bucket_elements, 1)) {
    for (std::size_t end = count; end > 0;) {
      const std::size_t begin = end > bucket_elements_ ? end - bucket_elements_ : 0;
      buckets_.push_back({begin, end});
      end = begin;
    }
    covered_.assign(buckets_.size(), 0);
    final_.reserve(64);
  }

  const std::vector<Bucket>& buckets() const { return buckets_; }
  // Buckets handed out since the last reset().
  std::size_t started() const { return next_; }
  bool all_started() const { return next_ == buckets_.size(); }

  // A new backward: nothing is final.
  void reset() {
    std::fill(covered_.begin(), covered_.end(), 0);
    final_.clear();
    next_ = 0;
  }

  // Gradients [begin, end) are final; calls start(k) for each bucket k that this makes ready
  // (in order, after every bucket before it).
  template <class Start>
  void mark_final(std::size_t begin, std::size_t end, Start&& start) {
    end = std::min(end, count_);
    if (begin >= end) return;
    // Cover what no earlier report covered, then merge [begin, end) into the sorted, disjoint final_.
    auto first = std::lower_bound(final_.begin(), final_.end(), begin,
                                  [](const std::pair<std::size_t, std::size_t>& r, std::size_t at) { return r.second < at; });
    auto last = first;
    std::size_t at = begin, merged_begin = begin, merged_end = end;
    for (; last != final_.end() && last->first <= end; ++last) {
      if (last->first > at) cover(at, last->first);
      at = std::max(at, last->second);
      merged_begin = std::min(merged_begin, last->first);
      merged_end = std::max(merged_end, last->second);
    }
    if (at < end) cover(at, end);
    first = final_.erase(first, last);
    final_.insert(first, {merged_begin, merged_end});
    while (next_ < buckets_.size() && covered_[next_] == buckets_[next_].size()) start(next_++);
  }

  // Hands out every bucket not started yet (the end of backward: ranges never reported, such as
  // a frozen prefix, are final too).
  template <class Start>
  void start_rest(Start&& start) {
    while (next_ < buckets_.size()) start(next_++);
  }

 private:
  // The bucket holding element `at`.
  std::size_t bucket_of(std::size_t at) const { return (count_ - 1 - at) / bucket_elements_; }
  // Counts [begin, end), reported for the first time, in the buckets it spans.
  void cover(std::size_t begin, std::size_t end) {
    for (std::size_t k = bucket_of(end - 1);; ++k) {
      const Bucket& b = buckets_[k];
      covered_[k] += std::min(end, b.end) - std::max(begin, b.begin);
      if (b.begin <= begin) break;
    }
  }

  std::size_t count_, bucket_elements_;
  std::vector<Bucket> buckets_;
  std::vector<std::size_t> covered_;                          // final elements per bucket
  std::vector<std::pair<std::size_t, std::size_t>> final_;    // reported ranges, sorted, merged
  std::size_t next_ = 0;                                      // the next bucket to start
};

// DDP's no_sync: while alive, an all-reduce (GradientAllReduce, NcclGradientAllReduce) ignores
// backward's reports and its synchronize() does nothing; gradients accumulate locally.
template <class AllReduce>
class NoSync {
 public:
  explicit NoSync(AllReduce& all_reduce) : all_reduce_(&all_reduce), was_(all_reduce.enabled()) {
    all_reduce.set_enabled(false);
  }
  NoSync(NoSync&& other) noexcept : all_reduce_(std::exchange(other.all_reduce_, nullptr)), was_(other.was_) {}
  NoSync& operator=(NoSync&&) = delete;
  ~NoSync() {
    if (all_reduce_) all_reduce_->set_enabled(was_);
  }

 private:
  AllReduce* all_reduce_;
  bool was_;
};

}  // namespace ctnn::distributed
