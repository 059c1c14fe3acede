// expect: Conv_kernel_is_larger_than_its_padded_input_of_height_and_width<7, 5, 7>
// A 7x7 convolution with padding 1 on a 3x5 image: the padded input is only 5x7, so no window
// fits. The check's arguments are <K, H + 2P, W + 2P>. The twin uses a 5x5 kernel.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/conv.hpp>         // ctnn::Conv
#include <ctnn/layers/pooling.hpp>      // ctnn::MaxPool
#include <ctnn/layers/sequential.hpp>   // ctnn::Sequential
#include <ctnn/shape.hpp>               // ctnn::Shape, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
// Shape<3, 8, 12> -> conv 3x3 <16, 6, 10> -> pool 2 <16, 3, 5> -> 7x7 pad 1 needs 7 <= 3 + 2
using Net = ctnn::Sequential<ctnn::Conv<3, 16, 3>, ctnn::MaxPool<2>, ctnn::Conv<16, 32, 7, 1, 1>>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<3, 8, 12>>;
#else
// ... -> <16, 3, 5> -> 5x5 pad 1: (3 + 2 - 5) / 1 + 1 = 1, (5 + 2 - 5) / 1 + 1 = 3
using Net = ctnn::Sequential<ctnn::Conv<3, 16, 3>, ctnn::MaxPool<2>, ctnn::Conv<16, 32, 5, 1, 1>>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<3, 8, 12>>;
static_assert(std::is_same_v<Out, ctnn::Shape<32, 1, 3>>);
#endif
