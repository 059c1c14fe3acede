// expect: Sum<B...>: needs at least one branch
// An empty Sum has nothing to add. The twin holds one ReLU.

#include <ctnn/layer.hpp>         // ctnn::parameter_count_v
#include <ctnn/layers/relu.hpp>   // ctnn::ReLU
#include <ctnn/layers/sum.hpp>    // ctnn::Sum

#ifdef CTNN_SHOULD_FAIL
constexpr auto parameters = ctnn::parameter_count_v<ctnn::Sum<>>;
#else
constexpr auto parameters = ctnn::parameter_count_v<ctnn::Sum<ctnn::ReLU>>;
static_assert(parameters == 0);
#endif
