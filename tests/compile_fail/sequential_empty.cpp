// expect: Sequential<L...>: needs at least one layer
// An empty Sequential has no output to plan. The twin holds one ReLU.

#include <ctnn/layer.hpp>               // ctnn::parameter_count_v
#include <ctnn/layers/relu.hpp>         // ctnn::ReLU
#include <ctnn/layers/sequential.hpp>   // ctnn::Sequential

#ifdef CTNN_SHOULD_FAIL
constexpr auto parameters = ctnn::parameter_count_v<ctnn::Sequential<>>;
#else
constexpr auto parameters = ctnn::parameter_count_v<ctnn::Sequential<ctnn::ReLU>>;
static_assert(parameters == 0);
#endif
