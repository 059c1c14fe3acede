// expect: ConvTranspose2d_padding_crops_away_its_whole_output_of_height_and_width<6, 5, 6>
// Padding 3 crops 6 rows and columns from an uncropped output of (3 - 1) * 1 + 3 = 5 by
// (4 - 1) * 1 + 3 = 6: nothing is left. The check names <2P, uncropped H, uncropped W>. The twin
// pads by 2: 1 x 2 remains.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/conv_transpose.hpp>   // ctnn::ConvTranspose2d
#include <ctnn/shape.hpp>                   // ctnn::Shape, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
using Up = ctnn::ConvTranspose2d<3, 4, 3, 1, 3>;
using Out = ctnn::output_shape_t<Up, ctnn::Shape<3, 3, 4>>;
#else
using Up = ctnn::ConvTranspose2d<3, 4, 3, 1, 2>;
using Out = ctnn::output_shape_t<Up, ctnn::Shape<3, 3, 4>>;
static_assert(std::is_same_v<Out, ctnn::Shape<4, 1, 2>>);
#endif
