// expect: Residual_body_produces_a_shape_other_than_its_shortcut<16, 3, 3, 8, 6, 6>
// A body that doubles the channels and halves the size, with the identity as its shortcut:
// nothing to add the body's output to. The arguments are <C, H, W of the body, C, H, W of the
// shortcut>. The twin gives the shortcut a strided 1x1 convolution, as ResNet's downsample.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/conv.hpp>       // ctnn::Conv
#include <ctnn/layers/named.hpp>      // ctnn::Named
#include <ctnn/layers/residual.hpp>   // ctnn::Residual
#include <ctnn/layers/sequential.hpp> // ctnn::Sequential
#include <ctnn/shape.hpp>             // ctnn::Shape, ctnn::output_shape_t

using Body = ctnn::Sequential<ctnn::Conv<8, 16, 3, 2, 1>, ctnn::Conv<16, 16, 3, 1, 1>>;
#ifdef CTNN_SHOULD_FAIL
using Block = ctnn::Residual<Body>;
using Out = ctnn::output_shape_t<Block, ctnn::Shape<8, 6, 6>>;
#else
using Block = ctnn::Residual<Body, ctnn::Named<"downsample", ctnn::Conv<8, 16, 1, 2>>>;
using Out = ctnn::output_shape_t<Block, ctnn::Shape<8, 6, 6>>;
static_assert(std::is_same_v<Out, ctnn::Shape<16, 3, 3>>);
#endif
