// expect: InceptionAux_receives_channels_but_was_declared_with_In<512, 528>
// GoogLeNet's aux1 declared with aux2's channel count: after inception4a the head receives 512
// channels, but InceptionAux<528, ...> was declared. AuxOutput is the identity on the main path,
// yet its output shape exists only for inputs its head accepts. The twin declares 512.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/aux_output.hpp>      // ctnn::AuxOutput
#include <ctnn/layers/inception.hpp>       // ctnn::Inception
#include <ctnn/layers/inception_aux.hpp>   // ctnn::InceptionAux
#include <ctnn/layers/sequential.hpp>      // ctnn::Sequential
#include <ctnn/shape.hpp>                  // ctnn::Shape, ctnn::output_shape_t

using Inception4a = ctnn::Inception<480, 192, 96, 208, 16, 48, 64>;   // -> 512 channels
using Inception4b = ctnn::Inception<512, 160, 112, 224, 24, 64, 64>;

#ifdef CTNN_SHOULD_FAIL
using Net = ctnn::Sequential<Inception4a, ctnn::AuxOutput<ctnn::InceptionAux<528, 2>>, Inception4b>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<480, 14, 14>>;
#else
using Net = ctnn::Sequential<Inception4a, ctnn::AuxOutput<ctnn::InceptionAux<512, 2>>, Inception4b>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<480, 14, 14>>;
static_assert(std::is_same_v<Out, ctnn::Shape<512, 14, 14>>);
static_assert(std::is_same_v<ctnn::AuxOutput<ctnn::InceptionAux<512, 2>>::head_output_shape<ctnn::Shape<512, 14, 14>>,
                             ctnn::Features<2>>);
#endif
