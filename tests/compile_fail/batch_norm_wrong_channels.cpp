// expect: BatchNorm_receives_channels_but_was_declared_with_C<64, 192>
// A batch norm declared for 192 channels after a convolution that produces 64. The arguments
// are <received, declared C>. The twin declares BatchNorm<64>.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/batch_norm.hpp>   // ctnn::BatchNorm
#include <ctnn/layers/conv.hpp>         // ctnn::Conv
#include <ctnn/layers/relu.hpp>         // ctnn::ReLU
#include <ctnn/layers/sequential.hpp>   // ctnn::Sequential
#include <ctnn/shape.hpp>               // ctnn::Shape, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
using Net = ctnn::Sequential<ctnn::Conv<3, 64, 3, 1, 1>, ctnn::BatchNorm<192>, ctnn::ReLU>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<3, 8, 8>>;
#else
using Net = ctnn::Sequential<ctnn::Conv<3, 64, 3, 1, 1>, ctnn::BatchNorm<64>, ctnn::ReLU>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<3, 8, 8>>;
static_assert(std::is_same_v<Out, ctnn::Shape<64, 8, 8>>);
#endif
