// expect: Dropout_probability_percent_must_be_below_100<100>
// Dropout<100> would drop everything and scale by 1 / (1 - 1). The check fires as soon as the
// layer type is used. The twin is GoogLeNet's Dropout<40>.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/dropout.hpp>      // ctnn::Dropout
#include <ctnn/layers/flatten.hpp>      // ctnn::Flatten
#include <ctnn/layers/linear.hpp>       // ctnn::Linear
#include <ctnn/layers/sequential.hpp>   // ctnn::Sequential
#include <ctnn/shape.hpp>               // ctnn::Shape, ctnn::Features, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
using Net = ctnn::Sequential<ctnn::Flatten, ctnn::Dropout<100>, ctnn::Linear<1024, 2>>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<1024, 1, 1>>;
#else
using Net = ctnn::Sequential<ctnn::Flatten, ctnn::Dropout<40>, ctnn::Linear<1024, 2>>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<1024, 1, 1>>;
static_assert(std::is_same_v<Out, ctnn::Features<2>>);
#endif
