// expect: Sum_branch_produces_a_shape_other_than_the_first_branch<8, 4, 4, 8, 6, 6>
// Two branches that cannot be added: a padded 3x3 conv keeps 6x6, an unpadded one gives 4x4.
// The arguments are <C, H, W of the branch, C, H, W of the first branch>. The twin pads both.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/conv.hpp>   // ctnn::Conv
#include <ctnn/layers/sum.hpp>    // ctnn::Sum
#include <ctnn/shape.hpp>         // ctnn::Shape, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
using Block = ctnn::Sum<ctnn::Conv<8, 8, 3, 1, 1>, ctnn::Conv<8, 8, 3>>;
using Out = ctnn::output_shape_t<Block, ctnn::Shape<8, 6, 6>>;
#else
using Block = ctnn::Sum<ctnn::Conv<8, 8, 3, 1, 1>, ctnn::Conv<8, 8, 3, 1, 1>>;
using Out = ctnn::output_shape_t<Block, ctnn::Shape<8, 6, 6>>;
static_assert(std::is_same_v<Out, ctnn::Shape<8, 6, 6>>);
#endif
