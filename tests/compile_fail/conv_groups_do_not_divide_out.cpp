// expect: Conv_groups_must_divide_both_In_and_Out<2, 4, 5>
// nn.Conv2d(4, 5, 1, groups=2) is refused by PyTorch ("out_channels must be divisible by groups"):
// 5 output channels do not split into 2 groups. The arguments are <Groups, In, Out>. The twin is
// MobileNetV2's depthwise 3x3 convolution, one group per channel.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/conv.hpp>   // ctnn::Conv, ctnn::DepthwiseConv
#include <ctnn/shape.hpp>         // ctnn::Shape, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
using Out = ctnn::output_shape_t<ctnn::Conv<4, 5, 1, 1, 0, false, 2>, ctnn::Shape<4, 14, 14>>;
#else
using Out = ctnn::output_shape_t<ctnn::DepthwiseConv<96, 3, 2, 1, false>, ctnn::Shape<96, 112, 112>>;
static_assert(std::is_same_v<Out, ctnn::Shape<96, 56, 56>>);
#endif
