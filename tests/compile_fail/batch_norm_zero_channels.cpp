// expect: BatchNorm<C>: C must be positive
// BatchNorm<0> normalises nothing. The twin is BatchNorm<64>: weight and bias, 64 each.

#include <ctnn/layer.hpp>               // ctnn::parameter_count_v
#include <ctnn/layers/batch_norm.hpp>   // ctnn::BatchNorm

#ifdef CTNN_SHOULD_FAIL
constexpr auto parameters = ctnn::parameter_count_v<ctnn::BatchNorm<0>>;
#else
constexpr auto parameters = ctnn::parameter_count_v<ctnn::BatchNorm<64>>;
static_assert(parameters == 2 * 64);
#endif
