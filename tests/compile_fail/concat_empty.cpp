// expect: Concat<B...>: needs at least one branch
// An empty Concat has no channels to concatenate. The twin has one 1x1 conv branch.

#include <ctnn/layer.hpp>           // ctnn::parameter_count_v
#include <ctnn/layers/concat.hpp>   // ctnn::Concat
#include <ctnn/layers/conv.hpp>     // ctnn::Conv

#ifdef CTNN_SHOULD_FAIL
constexpr auto parameters = ctnn::parameter_count_v<ctnn::Concat<>>;
#else
constexpr auto parameters = ctnn::parameter_count_v<ctnn::Concat<ctnn::Conv<8, 4, 1>>>;
static_assert(parameters == 4 * 8 + 4);
#endif
