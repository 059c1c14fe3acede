// expect: MaxPool/AvgPool<K, S, P>: K and S must be positive
// A pooling stride of 0 never moves the window. The twin uses stride 2: 14 -> 7 in ceil mode.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/pooling.hpp>   // ctnn::MaxPool, ctnn::Rounding
#include <ctnn/shape.hpp>            // ctnn::Shape, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
using Out = ctnn::output_shape_t<ctnn::MaxPool<3, 0, 0, ctnn::Rounding::ceil>, ctnn::Shape<8, 14, 14>>;
#else
using Out = ctnn::output_shape_t<ctnn::MaxPool<3, 2, 0, ctnn::Rounding::ceil>, ctnn::Shape<8, 14, 14>>;
static_assert(std::is_same_v<Out, ctnn::Shape<8, 7, 7>>);
#endif
