// expect: ConvTranspose2d_receives_channels_but_was_declared_with_In<8, 6>
// A transposed convolution declared for 6 input channels after a convolution that produces 8:
// the check names both numbers, <received, declared In>. The twin declares it for 8.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/conv.hpp>             // ctnn::Conv
#include <ctnn/layers/conv_transpose.hpp>   // ctnn::ConvTranspose2d
#include <ctnn/layers/sequential.hpp>       // ctnn::Sequential
#include <ctnn/shape.hpp>                   // ctnn::Shape, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
using Net = ctnn::Sequential<ctnn::Conv<3, 8, 3, 2, 1>, ctnn::ConvTranspose2d<6, 4, 4, 2, 1>>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<3, 16, 16>>;
#else
// Shape<3, 16, 16> -> Shape<8, 8, 8> -> Shape<4, 16, 16>: (8 - 1) * 2 - 2 + 4
using Net = ctnn::Sequential<ctnn::Conv<3, 8, 3, 2, 1>, ctnn::ConvTranspose2d<8, 4, 4, 2, 1>>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<3, 16, 16>>;
static_assert(std::is_same_v<Out, ctnn::Shape<4, 16, 16>>);
#endif
