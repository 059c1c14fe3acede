// expect: Pool_window_is_larger_than_its_padded_input_of_height_and_width<3, 2, 2>
// A 3x3 max pool on a 2x2 map: even in ceil mode the window must fit the padded input.
// The check's arguments are <K, H + 2P, W + 2P>. The twin pools a 3x3 map to 1x1.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/pooling.hpp>   // ctnn::MaxPool, ctnn::Rounding
#include <ctnn/shape.hpp>            // ctnn::Shape, ctnn::output_shape_t

using Pool = ctnn::MaxPool<3, 2, 0, ctnn::Rounding::ceil>;

#ifdef CTNN_SHOULD_FAIL
using Out = ctnn::output_shape_t<Pool, ctnn::Shape<8, 2, 2>>;
#else
using Out = ctnn::output_shape_t<Pool, ctnn::Shape<8, 3, 3>>;
static_assert(std::is_same_v<Out, ctnn::Shape<8, 1, 1>>);
#endif
