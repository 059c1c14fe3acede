// expect: AdaptiveAvgPool<OH, OW>: the output size must be positive
// An adaptive pool to 0x0. The twin pools to GoogLeNet's 1x1.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/pooling.hpp>   // ctnn::AdaptiveAvgPool
#include <ctnn/shape.hpp>            // ctnn::Shape, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
using Out = ctnn::output_shape_t<ctnn::AdaptiveAvgPool<0>, ctnn::Shape<1024, 7, 7>>;
#else
using Out = ctnn::output_shape_t<ctnn::AdaptiveAvgPool<1>, ctnn::Shape<1024, 7, 7>>;
static_assert(std::is_same_v<Out, ctnn::Shape<1024, 1, 1>>);
#endif
