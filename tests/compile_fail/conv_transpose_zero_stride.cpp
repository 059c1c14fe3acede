// expect: ConvTranspose2d<In, Out, K, S, P, OutputPadding>: In, Out, K and S must be positive
// A stride of 0 does not spread the input at all. The twin uses stride 1: (6 - 1) + 3 = 8.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/conv_transpose.hpp>   // ctnn::ConvTranspose2d
#include <ctnn/shape.hpp>                   // ctnn::Shape, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
using Up = ctnn::ConvTranspose2d<3, 2, 3, 0>;
using Out = ctnn::output_shape_t<Up, ctnn::Shape<3, 6, 6>>;
#else
using Up = ctnn::ConvTranspose2d<3, 2, 3, 1>;
using Out = ctnn::output_shape_t<Up, ctnn::Shape<3, 6, 6>>;
static_assert(std::is_same_v<Out, ctnn::Shape<2, 8, 8>>);
#endif
