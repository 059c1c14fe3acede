// expect: Linear_receives_an_unflattened_input_of_height_and_width<4, 4>
// A classifier without Flatten: Linear<128, 10> receives Shape<8, 4, 4>. Its 128 elements match
// In, so only the missing Flatten is reported, with <H, W>. The twin has the Flatten.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/conv.hpp>         // ctnn::Conv
#include <ctnn/layers/flatten.hpp>      // ctnn::Flatten
#include <ctnn/layers/linear.hpp>       // ctnn::Linear
#include <ctnn/layers/pooling.hpp>      // ctnn::AdaptiveAvgPool
#include <ctnn/layers/sequential.hpp>   // ctnn::Sequential
#include <ctnn/shape.hpp>               // ctnn::Shape, ctnn::Features, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
using Net = ctnn::Sequential<ctnn::Conv<3, 8, 3, 1, 1>, ctnn::AdaptiveAvgPool<4>, ctnn::Linear<128, 10>>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<3, 32, 32>>;
#else
using Net = ctnn::Sequential<ctnn::Conv<3, 8, 3, 1, 1>, ctnn::AdaptiveAvgPool<4>, ctnn::Flatten,
                             ctnn::Linear<128, 10>>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<3, 32, 32>>;
static_assert(std::is_same_v<Out, ctnn::Features<10>>);
#endif
