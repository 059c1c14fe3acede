// expect: Pool_padding_exceeds_half_its_window<2, 3>
// PyTorch rejects pooling padding above half the window ("pad should be at most half of
// effective kernel size"): a 3x3 window may pad by 1, not 2. The arguments are <P, K>.
// The twin is Inception's branch-4 pool, MaxPool<3, 1, 1>.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/pooling.hpp>   // ctnn::MaxPool
#include <ctnn/shape.hpp>            // ctnn::Shape, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
using Out = ctnn::output_shape_t<ctnn::MaxPool<3, 1, 2>, ctnn::Shape<8, 14, 14>>;
#else
using Out = ctnn::output_shape_t<ctnn::MaxPool<3, 1, 1>, ctnn::Shape<8, 14, 14>>;
static_assert(std::is_same_v<Out, ctnn::Shape<8, 14, 14>>);
#endif
