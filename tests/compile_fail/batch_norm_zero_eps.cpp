// expect: BatchNorm<C, Eps>: Eps must be positive
// An epsilon of 0 divides by zero on a constant channel. The twin uses torchvision's 0.001.

#include <ratio>   // std::ratio

#include <ctnn/layer.hpp>               // ctnn::parameter_count_v
#include <ctnn/layers/batch_norm.hpp>   // ctnn::BatchNorm

#ifdef CTNN_SHOULD_FAIL
constexpr auto parameters = ctnn::parameter_count_v<ctnn::BatchNorm<64, std::ratio<0>>>;
#else
constexpr auto parameters = ctnn::parameter_count_v<ctnn::BatchNorm<64, std::ratio<1, 1000>>>;
static_assert(parameters == 2 * 64);
#endif
