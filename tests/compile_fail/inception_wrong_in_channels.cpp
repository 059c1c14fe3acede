// expect: Inception_receives_channels_but_was_declared_with_In<512, 480>
// GoogLeNet's stage 3 with a wrong inception3b (pool projection 96 instead of 64), so it
// produces 128 + 192 + 96 + 96 = 512 channels where inception4a was declared for 480. The block
// checks its input once, so this is one error, not one per branch. The twin is GoogLeNet's 3b.

#include <type_traits>   // std::is_same_v

#include <ctnn/layers/inception.hpp>    // ctnn::Inception
#include <ctnn/layers/pooling.hpp>      // ctnn::MaxPool, ctnn::Rounding
#include <ctnn/layers/sequential.hpp>   // ctnn::Sequential
#include <ctnn/shape.hpp>               // ctnn::Shape, ctnn::output_shape_t

using Pool = ctnn::MaxPool<3, 2, 0, ctnn::Rounding::ceil>;
using Inception3a = ctnn::Inception<192, 64, 96, 128, 16, 32, 32>;    // -> 256 channels
using Inception4a = ctnn::Inception<480, 192, 96, 208, 16, 48, 64>;   // declared for 480

#ifdef CTNN_SHOULD_FAIL
using Inception3b = ctnn::Inception<256, 128, 128, 192, 32, 96, 96>;  // -> 512 channels
using Net = ctnn::Sequential<Inception3a, Inception3b, Pool, Inception4a>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<192, 28, 28>>;
#else
using Inception3b = ctnn::Inception<256, 128, 128, 192, 32, 96, 64>;  // -> 480 channels
using Net = ctnn::Sequential<Inception3a, Inception3b, Pool, Inception4a>;
using Out = ctnn::output_shape_t<Net, ctnn::Shape<192, 28, 28>>;
static_assert(std::is_same_v<Out, ctnn::Shape<512, 14, 14>>);
#endif
