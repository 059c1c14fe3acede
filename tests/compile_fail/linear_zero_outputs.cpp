// expect: Linear<In, Out>: In and Out must be positive
// A classifier with 0 classes. The twin has 2.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/flatten.hpp>      // ctnn::Flatten
#include <ctnn/layers/linear.hpp>       // ctnn::Linear
#include <ctnn/layers/sequential.hpp>   // ctnn::Sequential
#include <ctnn/shape.hpp>               // ctnn::Shape, ctnn::Features, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
using Net = ctnn::Sequential<ctnn::Flatten, ctnn::Linear<1024, 0>>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<1024, 1, 1>>;
#else
using Net = ctnn::Sequential<ctnn::Flatten, ctnn::Linear<1024, 2>>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<1024, 1, 1>>;
static_assert(std::is_same_v<Out, ctnn::Features<2>>);
#endif
