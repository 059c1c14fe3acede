// expect: Linear_receives_features_but_was_declared_with_In<128, 100>
// A classifier declared for 100 features after a flatten of Shape<8, 4, 4> = 128 features.
// The arguments are <received C*H*W, declared In>. The twin declares Linear<128, 10>.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/conv.hpp>         // ctnn::Conv
#include <ctnn/layers/flatten.hpp>      // ctnn::Flatten
#include <ctnn/layers/linear.hpp>       // ctnn::Linear
#include <ctnn/layers/pooling.hpp>      // ctnn::AdaptiveAvgPool
#include <ctnn/layers/sequential.hpp>   // ctnn::Sequential
#include <ctnn/shape.hpp>               // ctnn::Shape, ctnn::Features, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
using Net = ctnn::Sequential<ctnn::Conv<3, 8, 3, 1, 1>, ctnn::AdaptiveAvgPool<4>, ctnn::Flatten,
                             ctnn::Linear<100, 10>>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<3, 32, 32>>;
#else
using Net = ctnn::Sequential<ctnn::Conv<3, 8, 3, 1, 1>, ctnn::AdaptiveAvgPool<4>, ctnn::Flatten,
                             ctnn::Linear<128, 10>>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<3, 32, 32>>;
static_assert(std::is_same_v<Out, ctnn::Features<10>>);
#endif
