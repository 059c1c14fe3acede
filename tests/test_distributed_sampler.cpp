// The parts of data parallelism that need no MPI:
//   * DistributedSampler: PyTorch's semantics (seeded shuffle per epoch, padding or dropping,
//     strided shares that cover the epoch once)
//   * BatchLoader::shard: the processes' batches are the strided rows of the single process's
//     batches, augmented alike; the loader's state stays the single process's
//   * BucketTracker: buckets from the end of the gradient buffer, ready when every element was
//     reported (overlapping and nested reports), handed out strictly in order
//   * the model's hooks: backward reports every parameter range of a network, in backward
//     order; BatchNorm sums its statistics through the batch-statistics hook, on oneDNN too
// The MPI programs in tests/distributed/ check the communication itself under mpirun.

#include <doctest/doctest.h>   // TEST_CASE, CHECK, REQUIRE, SUBCASE

#include <algorithm>   // std::sort, std::equal
#include <cstddef>     // std::size_t
#include <cstdint>     // std::uint8_t
#include <numeric>     // std::iota
#include <random>      // std::mt19937, std::normal_distribution
#include <span>        // std::span
#include <utility>     // std::pair
#include <vector>      // std::vector

#include <ctnn/ctnn.hpp>                     // ctnn::Model, layers
#include <ctnn/data/batcher.hpp>             // ctnn::data::BatchLoader
#include <ctnn/distributed/buckets.hpp>      // ctnn::distributed::BucketTracker
#include <ctnn/distributed/sampler.hpp>      // ctnn::distributed::DistributedSampler
#include <ctnn/distributed/hooks.hpp>        // ctnn::distributed::AttachedHooks, gradient_ready_hook
#include <ctnn/models/fashion_inception.hpp> // ctnn::FashionInception, ctnn::FashionInput
#include <ctnn/parameters.hpp>               // ctnn::named_tensors
#if defined(CTNN_WITH_ONEDNN)
#include <ctnn/onednn.hpp>   // ctnn::OneDnn
#endif

#include "support/compare.hpp"         // ctnn::test::relative_error, all_finite
#include "support/synthetic_set.hpp"   // ctnn::test::synthetic_set

using namespace ctnn;
using distributed::BucketTracker;
using distributed::DistributedSampler;

namespace {

std::vector<std::size_t> sorted(std::vector<std::size_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

data::Dataset numbered_dataset(std::size_t count) {
  return test::synthetic_set(count, [](std::size_t i) { return i % 10; },
                             [](std::size_t i, std::uint8_t, std::span<std::uint8_t, 784> image) {
                               for (std::size_t p = 0; p < image.size(); ++p)
                                 image[p] = static_cast<std::uint8_t>((i * 7 + p) % 251);
                             });
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// DistributedSampler
// ---------------------------------------------------------------------------------------------

TEST_CASE("DistributedSampler: strided shares of the padded order, as PyTorch's") {
  // count 10, world 3, no shuffle: 0..9 then 0 1 as padding (12 = 4 per process).
  const std::vector<std::vector<std::size_t>> expected{{0, 3, 6, 9}, {1, 4, 7, 0}, {2, 5, 8, 1}};
  for (std::size_t rank = 0; rank < 3; ++rank) {
    DistributedSampler sampler(10, rank, 3, /*shuffle=*/false);
    CHECK(sampler.size() == 4);
    CHECK(sampler.total_size() == 12);
    CHECK(sampler.indices() == expected[rank]);
  }
  // drop_last: 9 = 3 per process, the tail (9) dropped.
  DistributedSampler dropping(10, 1, 3, false, 0, /*drop_last=*/true);
  CHECK(dropping.size() == 3);
  CHECK(dropping.indices() == std::vector<std::size_t>{1, 4, 7});
  // Padding longer than the data set wraps around again: 2 samples over 5 processes.
  DistributedSampler tiny(2, 4, 5, false);
  CHECK(tiny.indices() == std::vector<std::size_t>{0});
  CHECK_THROWS_AS(DistributedSampler(10, 3, 3), Error);
  CHECK_THROWS_AS(DistributedSampler(10, 0, 0), Error);
}

TEST_CASE("DistributedSampler: one seeded shuffle per epoch, the same on every process; shares cover it once") {
  constexpr std::size_t count = 103, world = 4;
  for (std::uint64_t epoch : {0u, 1u, 7u}) {
    std::vector<std::size_t> all;
    std::vector<std::size_t> first_order;
    for (std::size_t rank = 0; rank < world; ++rank) {
      DistributedSampler sampler(count, rank, world, true, /*seed=*/42);
      sampler.set_epoch(epoch);
      const std::vector<std::size_t> order = sampler.epoch_order();
      if (rank == 0) first_order = order;
      CHECK(order == first_order);  // every process shuffles alike
      const std::vector<std::size_t> share = sampler.indices();
      CHECK(share.size() == 26);  // ceil(103 / 4)
      all.insert(all.end(), share.begin(), share.end());
    }
    // 104 positions: every sample once, plus the first of the order again as padding.
    std::vector<std::size_t> expected(count);
    std::iota(expected.begin(), expected.end(), std::size_t{0});
    expected.push_back(first_order[0]);
    CHECK(sorted(all) == sorted(expected));
  }
  DistributedSampler a(count, 0, world, true, 42), b(count, 0, world, true, 42);
  b.set_epoch(1);
  CHECK(a.indices() != b.indices());  // another epoch, another order
}

// ---------------------------------------------------------------------------------------------
// BatchLoader::shard
// ---------------------------------------------------------------------------------------------

TEST_CASE("BatchLoader::shard: each process gets the strided rows of the single process's batch, augmented alike") {
  const data::Dataset set = numbered_dataset(50);
  const auto augmentation = data::Augmentation::crop_and_flip(2);
  for (std::size_t world : {2u, 3u}) {
    CAPTURE(world);
    const std::size_t batch = 6;
    data::BatchLoader single(set, batch, true, 9, augmentation, /*drop_last=*/true);
    std::vector<data::BatchLoader> shards;
    for (std::size_t rank = 0; rank < world; ++rank) {
      shards.emplace_back(set, batch, true, 9, augmentation, true);
      shards.back().shard(rank, world);
    }
    for (int epoch = 0; epoch < 2; ++epoch) {
      single.begin_epoch();
      for (auto& shard : shards) shard.begin_epoch();
      CHECK(shards[0].batches_per_epoch() == single.batches_per_epoch());
      std::size_t batches = 0;
      while (auto whole = single.next()) {
        ++batches;
        for (std::size_t rank = 0; rank < world; ++rank) {
          const auto part = shards[rank].next();
          REQUIRE(part);
          REQUIRE(part->size == batch / world);
          for (std::size_t row = 0; row < part->size; ++row) {
            const std::size_t global_row = row * world + rank;
            CHECK(part->indices[row] == whole->indices[global_row]);
            CHECK(part->labels[row] == whole->labels[global_row]);
            CHECK(std::equal(part->images.begin() + static_cast<std::ptrdiff_t>(row * 784),
                             part->images.begin() + static_cast<std::ptrdiff_t>((row + 1) * 784),
                             whole->images.begin() + static_cast<std::ptrdiff_t>(global_row * 784)));
          }
        }
      }
      CHECK(batches == 8);  // 50 / 6, the last partial batch dropped
      for (auto& shard : shards) CHECK_FALSE(shard.next());
      // The state is the single process's: a shard resumes a single run, and the other way round.
      for (auto& shard : shards) CHECK(shard.state() == single.state());
    }
  }
}

TEST_CASE("BatchLoader::shard: padding without drop_last, none for evaluation; bad splits are refused") {
  const data::Dataset set = numbered_dataset(10);
  // Padded (DistributedSampler): 12 positions, batches of 6: two batches of 2 per process (3 processes).
  std::vector<std::size_t> seen;
  for (std::size_t rank = 0; rank < 3; ++rank) {
    data::BatchLoader loader(set, 6, /*shuffle=*/false, 0);
    loader.shard(rank, 3);
    CHECK(loader.batches_per_epoch() == 2);
    std::size_t images = 0;
    while (auto b = loader.next()) {
      CHECK(b->size == 2);
      images += b->size;
      seen.insert(seen.end(), b->indices.begin(), b->indices.end());
    }
    CHECK(images == 4);
  }
  CHECK(sorted(seen) == std::vector<std::size_t>{0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  // Unpadded (evaluation): every sample exactly once; the last batch splits unevenly.
  seen.clear();
  for (std::size_t rank = 0; rank < 3; ++rank) {
    data::BatchLoader loader(set, 6, false, 0);
    loader.shard(rank, 3, /*pad=*/false);
    while (auto b = loader.next()) seen.insert(seen.end(), b->indices.begin(), b->indices.end());
  }
  CHECK(sorted(seen) == std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});

  data::BatchLoader loader(set, 6, false, 0);
  CHECK_THROWS_WITH_AS(loader.shard(0, 4), doctest::Contains("does not split evenly over 4 processes"), Error);
  CHECK_THROWS_AS(loader.shard(2, 2), Error);
}

// ---------------------------------------------------------------------------------------------
// BucketTracker
// ---------------------------------------------------------------------------------------------

TEST_CASE("BucketTracker: buckets from the end, ready when fully reported, started in order") {
  BucketTracker tracker(10, 4);  // [6, 10) [2, 6) [0, 2)
  REQUIRE(tracker.buckets().size() == 3);
  CHECK(tracker.buckets()[0].begin == 6);
  CHECK(tracker.buckets()[1].begin == 2);
  CHECK(tracker.buckets()[2].end == 2);

  std::vector<std::size_t> started;
  const auto start = [&](std::size_t k) { started.push_back(k); };
  tracker.mark_final(8, 10, start);
  CHECK(started.empty());
  tracker.mark_final(3, 6, start);   // bucket 1 is not complete, and bucket 0 is not ready either
  CHECK(started.empty());
  tracker.mark_final(6, 8, start);   // bucket 0 complete
  CHECK(started == std::vector<std::size_t>{0});
  tracker.mark_final(0, 3, start);   // buckets 1 and 2 complete
  CHECK(started == std::vector<std::size_t>{0, 1, 2});
  CHECK(tracker.all_started());

  // Reports out of order, overlapping and nested (a Sequential reports its children, then itself):
  // nothing counts twice, and a later bucket waits for the earlier ones.
  tracker.reset();
  started.clear();
  tracker.mark_final(0, 2, start);   // bucket 2 complete, but 0 and 1 come first
  CHECK(started.empty());
  tracker.mark_final(7, 9, start);
  tracker.mark_final(6, 10, start);  // bucket 0, its inside reported before
  CHECK(started == std::vector<std::size_t>{0});
  tracker.mark_final(2, 4, start);
  tracker.mark_final(2, 4, start);   // again: still half of bucket 1
  CHECK(started == std::vector<std::size_t>{0});
  tracker.mark_final(0, 10, start);  // the parent: everything
  CHECK(started == std::vector<std::size_t>{0, 1, 2});

  // start_rest hands out what was never reported (a frozen prefix).
  tracker.reset();
  started.clear();
  tracker.mark_final(6, 10, start);
  tracker.start_rest(start);
  CHECK(started == std::vector<std::size_t>{0, 1, 2});

  BucketTracker empty(0, 4);
  CHECK(empty.buckets().empty());
}

// ---------------------------------------------------------------------------------------------
// The model's hooks (ctnn/distributed/hooks.hpp over ctnn/pass_state.hpp)
// ---------------------------------------------------------------------------------------------

namespace {
using FashionModel = Model<FashionInception, FashionInput>;

struct Recorder {
  std::vector<std::pair<std::size_t, std::size_t>> reports;
  void on_gradients_ready(std::size_t begin, std::size_t end) { reports.emplace_back(begin, end); }
};

// SyncBatchNorm's sums as `copies` processes holding the same share would give them: each value
// times `copies`. Counts its calls; owns its workspace as SyncBatchNorm does.
struct CopiesOfOneProcess {
  double copies = 1;
  std::size_t sums = 0;
  std::vector<double> buffer;
  std::span<double> workspace(std::size_t count) {
    if (buffer.size() < count) buffer.resize(count);
    return {buffer.data(), count};
  }
  void sum(std::span<double> values) {
    for (double& v : values) v *= copies;
    ++sums;
  }
};

std::vector<float> training_images(std::size_t count) {
  std::vector<float> images(count * FashionInput::size);
  for (std::size_t i = 0; i < images.size(); ++i) images[i] = static_cast<float>((i * 37) % 101) / 50.0f - 1.0f;
  return images;
}
// Normally distributed values. The pattern above puts many values of a pass on a ReLU's or a max
// pooling's kink (near-ties), where two float32 implementations route gradients apart by 1e-2;
// comparing oneDNN's batch norm with the Eigen kernel's needs inputs without them.
std::vector<float> random_training_images(std::size_t count) {
  std::vector<float> images(count * FashionInput::size);
  std::mt19937 generator(7);
  std::normal_distribution<float> normal;
  for (float& value : images) value = normal(generator);
  return images;
}

// One training forward and backward of `model` (seeded alike each time): outputs, gradients and
// buffers after it.
struct Pass {
  std::vector<float> output, gradients, buffers;
};
template <class M>
Pass train_once(M& model, const std::vector<float>& images = training_images(4)) {
  init::googlenet_seed(model, 3);
  model.disable_dropout(true);
  model.train();
  std::vector<float> output_gradient(4 * 10);
  for (std::size_t i = 0; i < output_gradient.size(); ++i) output_gradient[i] = 0.1f * static_cast<float>(i % 7) - 0.3f;
  Pass pass;
  const std::span<const float> output = model.forward(images);
  pass.output.assign(output.begin(), output.end());
  model.backward(output_gradient);
  pass.gradients.assign(model.gradients().begin(), model.gradients().end());
  pass.buffers.assign(model.buffers().begin(), model.buffers().end());
  return pass;
}

std::size_t batch_norm_layers() {
  std::size_t layers = 0;
  for (const NamedTensor& t : named_tensors<FashionInception, FashionInput>())
    if (t.name.ends_with("running_mean")) ++layers;
  return layers;
}
}  // namespace

TEST_CASE("The gradient hook: backward reports each leaf's gradient range once it is final, last layer first") {
  FashionModel model;
  init::googlenet_seed(model, 3);
  Recorder recorder;
  model.set_gradient_ready_hook(distributed::gradient_ready_hook(recorder));
  model.train();
  std::vector<float> images(4 * FashionInput::size, 0.5f);
  std::vector<float> gradient(4 * 10, 0.1f);

  model.forward(images);
  model.backward(gradient);
  REQUIRE_FALSE(recorder.reports.empty());
  // The first report is the classifier's (the end of the buffer), the last conv1's (the start).
  CHECK(recorder.reports.front() ==
        std::pair<std::size_t, std::size_t>{FashionModel::parameter_count - 3210, FashionModel::parameter_count});
  CHECK(recorder.reports.back().first == 0);
  // Together the reports cover every parameter, and a BucketTracker fed them starts every bucket.
  BucketTracker tracker(FashionModel::parameter_count, 10'000);
  std::size_t started = 0;
  for (const auto& [begin, end] : recorder.reports) tracker.mark_final(begin, end, [&](std::size_t) { ++started; });
  CHECK(started == tracker.buckets().size());
  // Without the hook nothing is reported.
  recorder.reports.clear();
  model.set_gradient_ready_hook({});
  model.forward(images);
  model.backward(gradient);
  CHECK(recorder.reports.empty());
}

TEST_CASE("AttachedHooks: sets both hooks, refuses a model that has hooks, removes them after") {
  FashionModel model;
  Recorder recorder;
  CopiesOfOneProcess statistics;
  {
    distributed::AttachedHooks<FashionModel> hooks(model, distributed::gradient_ready_hook(recorder),
                                                   distributed::batch_statistics_hook(statistics), "first");
    CHECK(model.gradient_ready_hook().user == &recorder);
    CHECK(model.batch_statistics_hook().user == &statistics);
    CHECK_THROWS_WITH_AS(distributed::AttachedHooks<FashionModel>(model, distributed::gradient_ready_hook(recorder), {}, "second"),
                         doctest::Contains("second: the model already has data-parallel hooks"), Error);
    CHECK(model.gradient_ready_hook().user == &recorder);  // the refusal changed nothing
  }
  const bool removed = model.gradient_ready_hook().notify == nullptr && model.batch_statistics_hook().sum == nullptr;
  CHECK(removed);
}

TEST_CASE("The batch-statistics hook: BatchNorm normalises with the summed statistics and count") {
  FashionModel plain;
  const Pass expected = train_once(plain);
  REQUIRE(test::all_finite(expected.output));
  REQUIRE(test::all_finite(expected.gradients));

  // One process, or two holding the same share: the global batch's mean and variance are this
  // share's, and doubling every sum and the count is exact, so outputs and gradients are the same
  // bits. (A kernel that divided by its own count instead of the summed one would be off by a
  // factor of two.) The running variance takes the unbiased factor of the global batch,
  // M / (M - 1) with M twice as large, so with two copies it moves differently.
  for (const double copies : {1.0, 2.0}) {
    CAPTURE(copies);
    FashionModel model;
    CopiesOfOneProcess statistics;
    statistics.copies = copies;
    model.set_batch_statistics_hook(distributed::batch_statistics_hook(statistics));
    const Pass pass = train_once(model);
    CHECK(test::relative_error(pass.output, expected.output) == 0.0);
    CHECK(test::relative_error(pass.gradients, expected.gradients) == 0.0);
    if (copies == 1)
      CHECK(test::relative_error(pass.buffers, expected.buffers) == 0.0);
    else
      CHECK((test::all_finite(pass.buffers) && test::relative_error(pass.buffers, expected.buffers) > 1e-4));
    // Two sums in each forward, one in each backward (every BatchNorm here passes a gradient on).
    CHECK(statistics.sums == 3 * batch_norm_layers());
  }
}

#if defined(CTNN_WITH_ONEDNN)
TEST_CASE("The batch-statistics hook on oneDNN: BatchNorm takes the Eigen kernel's summed statistics, f32 and bf16") {
  // Without the hook oneDNN normalises with its own kernels; with it, the Eigen batch norm on the
  // device's operands: the same numbers within rounding. Doubling every sum and the count is
  // exact, so two copies give the bits of one (the running variance aside, as above).
  using OneDnnModel = Model<FashionInception, FashionInput, float, OneDnn>;
  for (const onednn::Precision precision : {onednn::Precision::f32, onednn::Precision::bf16}) {
    if (precision == onednn::Precision::bf16 && !onednn::has_bf16()) continue;
    CAPTURE(onednn::precision_name(precision));
    // bf16 rounds activations to 8 bits: the two batch norms may round a value apart (2.5e-3 of
    // the largest gradient, measured).
    const double tolerance = precision == onednn::Precision::f32 ? 1e-4 : 1e-2;
    const std::vector<float> images = random_training_images(4);
    OneDnnModel plain;
    plain.set_precision(precision);
    const Pass expected = train_once(plain, images);
    REQUIRE(test::all_finite(expected.output));
    Pass one_copy;
    for (const double copies : {1.0, 2.0}) {
      CAPTURE(copies);
      OneDnnModel model;
      model.set_precision(precision);
      CopiesOfOneProcess statistics;
      statistics.copies = copies;
      // Planned without the hook first: setting it must plan the passes again.
      train_once(model, images);
      CHECK(statistics.sums == 0);
      model.set_batch_statistics_hook(distributed::batch_statistics_hook(statistics));
      const Pass pass = train_once(model, images);
      CHECK(statistics.sums == 3 * batch_norm_layers());
      CHECK(test::relative_error(pass.output, expected.output) <= tolerance);
      CHECK(test::relative_error(pass.gradients, expected.gradients) <= tolerance);
      if (copies == 1) {
        one_copy = pass;
      } else {
        CHECK(test::relative_error(pass.output, one_copy.output) == 0.0);
        CHECK(test::relative_error(pass.gradients, one_copy.gradients) == 0.0);
      }
      // Without the hook again: oneDNN's own kernels, and no more sums.
      model.set_batch_statistics_hook({});
      const Pass after = train_once(model, images);
      CHECK(statistics.sums == 3 * batch_norm_layers());
      CHECK(test::relative_error(after.output, expected.output) == 0.0);
    }
  }
}
#endif
