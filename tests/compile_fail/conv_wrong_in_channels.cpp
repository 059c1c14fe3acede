// expect: Conv_receives_channels_but_was_declared_with_In<512, 480>
// A convolution declared for 480 input channels after one that produces 512: the shape check
// names the mistake and both numbers, <received, declared In>. The twin declares it for 512.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/conv.hpp>         // ctnn::Conv
#include <ctnn/layers/sequential.hpp>   // ctnn::Sequential
#include <ctnn/shape.hpp>               // ctnn::Shape, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
// Shape<3, 14, 14> -> Shape<512, 14, 14> -> Conv<480, ...>
using Net = ctnn::Sequential<ctnn::Conv<3, 512, 3, 1, 1>, ctnn::Conv<480, 64, 1>>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<3, 14, 14>>;
#else
using Net = ctnn::Sequential<ctnn::Conv<3, 512, 3, 1, 1>, ctnn::Conv<512, 64, 1>>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<3, 14, 14>>;
static_assert(std::is_same_v<Out, ctnn::Shape<64, 14, 14>>);
#endif
