// expect: Upsample<Factor, Mode>: Factor must be positive
// A factor of 0 would produce an empty image. The twin doubles: 5 x 7 -> 10 x 14.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/conv.hpp>         // ctnn::Conv
#include <ctnn/layers/sequential.hpp>   // ctnn::Sequential
#include <ctnn/layers/upsample.hpp>     // ctnn::Upsample, ctnn::UpsampleMode
#include <ctnn/shape.hpp>               // ctnn::Shape, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
using Net = ctnn::Sequential<ctnn::Upsample<0, ctnn::UpsampleMode::bilinear>, ctnn::Conv<3, 4, 1>>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<3, 5, 7>>;
#else
using Net = ctnn::Sequential<ctnn::Upsample<2, ctnn::UpsampleMode::bilinear>, ctnn::Conv<3, 4, 1>>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<3, 5, 7>>;
static_assert(std::is_same_v<Out, ctnn::Shape<4, 10, 14>>);
#endif
