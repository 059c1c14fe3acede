// expect: TransformInput_receives_channels_but_needs_3<1>
// torchvision's transform_input re-normalises RGB; a grey image has 1 channel. The argument is
// <received>. TransformInput still outputs 3 channels, so the RGB convolution after it adds no
// second error. The twin feeds Shape<3, 224, 224>.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/conv.hpp>              // ctnn::Conv
#include <ctnn/layers/sequential.hpp>        // ctnn::Sequential
#include <ctnn/layers/transform_input.hpp>   // ctnn::TransformInput
#include <ctnn/shape.hpp>                    // ctnn::Shape, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
using Net = ctnn::Sequential<ctnn::TransformInput, ctnn::Conv<3, 64, 7, 2, 3>>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<1, 224, 224>>;
#else
using Net = ctnn::Sequential<ctnn::TransformInput, ctnn::Conv<3, 64, 7, 2, 3>>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<3, 224, 224>>;
static_assert(std::is_same_v<Out, ctnn::Shape<64, 112, 112>>);
#endif
