// expect: Conv<In, Out, K, S, P>: In, Out, K and S must be positive
// A stride of 0 never moves the window. The twin uses stride 1: 8 - 3 + 1 = 6.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/conv.hpp>         // ctnn::Conv
#include <ctnn/layers/relu.hpp>         // ctnn::ReLU
#include <ctnn/layers/sequential.hpp>   // ctnn::Sequential
#include <ctnn/shape.hpp>               // ctnn::Shape, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
using Net = ctnn::Sequential<ctnn::Conv<3, 8, 3, 0>, ctnn::ReLU>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<3, 8, 8>>;
#else
using Net = ctnn::Sequential<ctnn::Conv<3, 8, 3, 1>, ctnn::ReLU>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<3, 8, 8>>;
static_assert(std::is_same_v<Out, ctnn::Shape<8, 6, 6>>);
#endif
