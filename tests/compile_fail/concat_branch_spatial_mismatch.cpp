// expect: Concat_branch_produces_a_different_spatial_size_than_the_first_branch<4, 4, 6, 6>
// Two branches that cannot be concatenated along channels: a 1x1 conv keeps 6x6, an unpadded
// 3x3 conv gives 4x4. The arguments are <H, W, first branch H, first branch W>. The twin pads
// the 3x3 conv by 1, as Inception does.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/concat.hpp>   // ctnn::Concat
#include <ctnn/layers/conv.hpp>     // ctnn::Conv
#include <ctnn/shape.hpp>           // ctnn::Shape, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
using Block = ctnn::Concat<ctnn::Conv<8, 4, 1>, ctnn::Conv<8, 4, 3>>;
using Out = ctnn::output_shape_t<Block, ctnn::Shape<8, 6, 6>>;
#else
using Block = ctnn::Concat<ctnn::Conv<8, 4, 1>, ctnn::Conv<8, 4, 3, 1, 1>>;
using Out = ctnn::output_shape_t<Block, ctnn::Shape<8, 6, 6>>;
static_assert(std::is_same_v<Out, ctnn::Shape<8, 6, 6>>);
#endif
