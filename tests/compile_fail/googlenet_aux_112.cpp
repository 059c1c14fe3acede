// expect: Linear_receives_features_but_was_declared_with_In<128, 2048>
// GoogLeNet's auxiliary heads fit only a 224x224 input. On 112x112 they receive 7x7 maps:
// AvgPool 5/3 gives 1x1, the 1x1 conv 128 channels, so fc1 (declared for 128 * 4 * 4 = 2048)
// receives 128 features. Without aux heads the network takes 112x112 (AdaptiveAvgPool), and
// with them 224x224: both are the twin.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/googlenet.hpp>   // ctnn::GoogLeNet
#include <ctnn/shape.hpp>              // ctnn::Shape, ctnn::Features, ctnn::output_shape_t

#ifdef CTNN_SHOULD_FAIL
using Out = ctnn::output_shape_t<ctnn::GoogLeNet<2, true>, ctnn::Shape<3, 112, 112>>;
#else
using Out = ctnn::output_shape_t<ctnn::GoogLeNet<2, false>, ctnn::Shape<3, 112, 112>>;
static_assert(std::is_same_v<Out, ctnn::Features<2>>);
using OutWithAux = ctnn::output_shape_t<ctnn::GoogLeNet<2, true>, ctnn::Shape<3, 224, 224>>;
static_assert(std::is_same_v<OutWithAux, ctnn::Features<2>>);
#endif
