// expect: BatchNorm<C, Eps, Momentum>: Momentum must lie in \[0, 1\]
// A running-average momentum of 3/2 would extrapolate past the batch statistics. The twin uses
// PyTorch's default 0.1.

#include <ratio>   // std::ratio

#include <ctnn/layer.hpp>               // ctnn::buffer_count_v
#include <ctnn/layers/batch_norm.hpp>   // ctnn::BatchNorm

#ifdef CTNN_SHOULD_FAIL
constexpr auto buffers = ctnn::buffer_count_v<ctnn::BatchNorm<64, std::ratio<1, 100000>, std::ratio<3, 2>>>;
#else
constexpr auto buffers = ctnn::buffer_count_v<ctnn::BatchNorm<64, std::ratio<1, 100000>, std::ratio<1, 10>>>;
static_assert(buffers == 2 * 64 + 1);  // running_mean, running_var, num_batches_tracked
#endif
