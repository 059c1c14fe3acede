// expect: ConvTranspose2d_output_padding_must_be_smaller_than_its_stride<2, 2>
// An output padding as large as the stride: PyTorch refuses it (a stride-2 convolution maps only
// two input sizes to one output size). The twin pads by 1: (5 - 1) * 2 - 2 + 3 + 1 = 10.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/conv_transpose.hpp>   // ctnn::ConvTranspose2d
#include <ctnn/shape.hpp>                   // ctnn::Shape, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
using Up = ctnn::ConvTranspose2d<4, 2, 3, 2, 1, 2>;
using Out = ctnn::output_shape_t<Up, ctnn::Shape<4, 5, 5>>;
#else
using Up = ctnn::ConvTranspose2d<4, 2, 3, 2, 1, 1>;
using Out = ctnn::output_shape_t<Up, ctnn::Shape<4, 5, 5>>;
static_assert(std::is_same_v<Out, ctnn::Shape<2, 10, 10>>);
#endif
