// Compile-time facts of ctnn, pinned with static_assert where the compiler checks them (in the
// manner of mp-units' tests): GoogLeNet's parameter counts and multiply-accumulates as PyTorch
// counts them, the shape after every stage, PyTorch's convolution and pooling size rules
// (ceil mode included), each layer type's parameter count, and the memory queries.
// Compiling this file is the test; the TEST_CASEs repeat the facts at run time, feeding the size
// functions run-time arguments, so that ctest reports them.
//
// Reference numbers, from tools/reference_model/googlenet_seed.py (torch 1.13):
//   sum(p.numel() for p in GoogLeNet(num_classes, aux_logits).parameters())
//   forward hooks summing Conv2d (out.numel() * In * K * K) and Linear (In * Out) on 1x3x224x224
//   the shape each child module of GoogLeNet returns on that input

#include <doctest/doctest.h>   // TEST_CASE, CHECK, INFO

#include <array>         // std::array
#include <cstddef>       // std::size_t
#include <ratio>         // std::ratio
#include <string_view>   // std::string_view
#include <type_traits>   // std::is_same_v
#include <utility>       // std::index_sequence

#include <ctnn/layer.hpp>                  // parameter_count_v, buffer_count_v, macs_v
#include <ctnn/layers/aux_output.hpp>      // ctnn::AuxOutput
#include <ctnn/layers/basic_conv.hpp>      // ctnn::BasicConv2d
#include <ctnn/layers/batch_norm.hpp>      // ctnn::BatchNorm
#include <ctnn/layers/concat.hpp>          // ctnn::Concat
#include <ctnn/layers/conv.hpp>            // ctnn::Conv
#include <ctnn/layers/dropout.hpp>         // ctnn::Dropout
#include <ctnn/layers/flatten.hpp>         // ctnn::Flatten, ctnn::Identity
#include <ctnn/layers/googlenet.hpp>       // ctnn::GoogLeNet
#include <ctnn/layers/inception.hpp>       // ctnn::Inception
#include <ctnn/layers/inception_aux.hpp>   // ctnn::InceptionAux
#include <ctnn/layers/linear.hpp>          // ctnn::Linear
#include <ctnn/layers/named.hpp>           // ctnn::Named
#include <ctnn/layers/pooling.hpp>         // ctnn::MaxPool, ctnn::AvgPool, ctnn::AdaptiveAvgPool
#include <ctnn/layers/relu.hpp>            // ctnn::ReLU
#include <ctnn/layers/sequential.hpp>      // ctnn::Sequential
#include <ctnn/layers/transform_input.hpp> // ctnn::TransformInput
#include <ctnn/layers/activations.hpp>     // ctnn::Sigmoid, Tanh, SiLU, Hardswish, LeakyReLU
#include <ctnn/layers/conv_transpose.hpp>  // ctnn::ConvTranspose2d, conv_transpose_output_size
#include <ctnn/layers/softmax.hpp>         // ctnn::Softmax
#include <ctnn/layers/upsample.hpp>        // ctnn::Upsample, ctnn::UpsampleMode
#include <ctnn/queries.hpp>                // activation_bytes_v, training_activation_bytes_v
#include <ctnn/shape.hpp>                  // Shape, Features, output_shape_t, conv_output_size, ...

namespace {

using namespace ctnn;

using Image = Shape<3, 224, 224>;
using Ceil3x3 = MaxPool<3, 2, 0, Rounding::ceil>;  // GoogLeNet's maxpool1..4

// ---------------------------------------------------------------------------------------------
// GoogLeNet as a whole
// ---------------------------------------------------------------------------------------------

// The two aux heads hold 2'165'890 (aux1, In 512) + 2'167'938 (aux2, In 528) parameters.
static_assert(parameter_count_v<GoogLeNet<2, true>> == 10'309'430);
static_assert(parameter_count_v<GoogLeNet<2, false>> == 5'975'602);
static_assert(parameter_count_v<GoogLeNet<1000, true>> == 13'378'280);
static_assert(parameter_count_v<GoogLeNet<1000, false>> == 6'998'552);
static_assert(buffer_count_v<GoogLeNet<2, true>> == 0);  // no batch norm in the reference model

static_assert(macs_v<GoogLeNet<1000, false>, Image> == 1'582'671'872);

static_assert(std::is_same_v<output_shape_t<GoogLeNet<2, true>, Image>, Features<2>>);
static_assert(std::is_same_v<output_shape_t<GoogLeNet<1000, false>, Image>, Features<1000>>);
// Without aux heads any input the stem reduces to at least 1x1 works (adaptive average pool);
// the aux heads need 14x14 maps, i.e. a 224x224 image (tests/compile_fail/googlenet_aux_112.cpp).
static_assert(std::is_same_v<output_shape_t<GoogLeNet<2, false>, Shape<3, 112, 112>>, Features<2>>);

// The shape after layer I of GoogLeNet's body on a 224x224 image (layer 0 is conv1).
template <std::size_t I>
using googlenet_stage = GoogLeNet<2, true>::body::shapes<Image>::at<I + 1>;

static_assert(std::is_same_v<googlenet_stage<0>, Shape<64, 112, 112>>);   // conv1 7x7/2 pad 3
static_assert(std::is_same_v<googlenet_stage<1>, Shape<64, 56, 56>>);     // maxpool1 3/2 ceil
static_assert(std::is_same_v<googlenet_stage<2>, Shape<64, 56, 56>>);     // conv2 1x1
static_assert(std::is_same_v<googlenet_stage<3>, Shape<192, 56, 56>>);    // conv3 3x3 pad 1
static_assert(std::is_same_v<googlenet_stage<4>, Shape<192, 28, 28>>);    // maxpool2
static_assert(std::is_same_v<googlenet_stage<5>, Shape<256, 28, 28>>);    // inception3a
static_assert(std::is_same_v<googlenet_stage<6>, Shape<480, 28, 28>>);    // inception3b
static_assert(std::is_same_v<googlenet_stage<7>, Shape<480, 14, 14>>);    // maxpool3
static_assert(std::is_same_v<googlenet_stage<8>, Shape<512, 14, 14>>);    // inception4a
static_assert(std::is_same_v<googlenet_stage<9>, Shape<512, 14, 14>>);    // aux1: identity on the main path
static_assert(std::is_same_v<googlenet_stage<10>, Shape<512, 14, 14>>);   // inception4b
static_assert(std::is_same_v<googlenet_stage<11>, Shape<512, 14, 14>>);   // inception4c
static_assert(std::is_same_v<googlenet_stage<12>, Shape<528, 14, 14>>);   // inception4d
static_assert(std::is_same_v<googlenet_stage<13>, Shape<528, 14, 14>>);   // aux2
static_assert(std::is_same_v<googlenet_stage<14>, Shape<832, 14, 14>>);   // inception4e
static_assert(std::is_same_v<googlenet_stage<15>, Shape<832, 7, 7>>);     // maxpool4
static_assert(std::is_same_v<googlenet_stage<16>, Shape<832, 7, 7>>);     // inception5a
static_assert(std::is_same_v<googlenet_stage<17>, Shape<1024, 7, 7>>);    // inception5b
static_assert(std::is_same_v<googlenet_stage<18>, Shape<1024, 1, 1>>);    // avgpool (adaptive, 1x1)
static_assert(std::is_same_v<googlenet_stage<19>, Features<1024>>);       // flatten
static_assert(std::is_same_v<googlenet_stage<20>, Features<1024>>);       // dropout 0.4
static_assert(std::is_same_v<googlenet_stage<21>, Features<2>>);          // fc

// ---------------------------------------------------------------------------------------------
// GoogLeNet's blocks one by one: Shape<C1x1 + C3x3 + C5x5 + PoolProj, H, W>
// ---------------------------------------------------------------------------------------------

static_assert(std::is_same_v<output_shape_t<Inception<192, 64, 96, 128, 16, 32, 32>, Shape<192, 28, 28>>,
                             Shape<256, 28, 28>>);   // 64 + 128 + 32 + 32
static_assert(std::is_same_v<output_shape_t<Inception<256, 128, 128, 192, 32, 96, 64>, Shape<256, 28, 28>>,
                             Shape<480, 28, 28>>);   // 128 + 192 + 96 + 64
static_assert(std::is_same_v<output_shape_t<Inception<480, 192, 96, 208, 16, 48, 64>, Shape<480, 14, 14>>,
                             Shape<512, 14, 14>>);
static_assert(std::is_same_v<output_shape_t<Inception<512, 160, 112, 224, 24, 64, 64>, Shape<512, 14, 14>>,
                             Shape<512, 14, 14>>);
static_assert(std::is_same_v<output_shape_t<Inception<512, 128, 128, 256, 24, 64, 64>, Shape<512, 14, 14>>,
                             Shape<512, 14, 14>>);
static_assert(std::is_same_v<output_shape_t<Inception<512, 112, 144, 288, 32, 64, 64>, Shape<512, 14, 14>>,
                             Shape<528, 14, 14>>);
static_assert(std::is_same_v<output_shape_t<Inception<528, 256, 160, 320, 32, 128, 128>, Shape<528, 14, 14>>,
                             Shape<832, 14, 14>>);
static_assert(std::is_same_v<output_shape_t<Inception<832, 256, 160, 320, 32, 128, 128>, Shape<832, 7, 7>>,
                             Shape<832, 7, 7>>);
static_assert(std::is_same_v<output_shape_t<Inception<832, 384, 192, 384, 48, 128, 128>, Shape<832, 7, 7>>,
                             Shape<1024, 7, 7>>);

// Aux head: AvgPool 5/3 takes 14x14 to 4x4, the 1x1 conv gives 128 channels: 128 * 4 * 4 = 2048
// features for fc1. On the main path AuxOutput is the identity.
static_assert(std::is_same_v<output_shape_t<AvgPool<5, 3>, Shape<512, 14, 14>>, Shape<512, 4, 4>>);
static_assert(std::is_same_v<output_shape_t<InceptionAux<512, 2>, Shape<512, 14, 14>>, Features<2>>);
static_assert(std::is_same_v<output_shape_t<InceptionAux<528, 1000>, Shape<528, 14, 14>>, Features<1000>>);
static_assert(std::is_same_v<output_shape_t<AuxOutput<InceptionAux<512, 2>>, Shape<512, 14, 14>>, Shape<512, 14, 14>>);
static_assert(std::is_same_v<AuxOutput<InceptionAux<512, 2>>::head_output_shape<Shape<512, 14, 14>>, Features<2>>);

// ---------------------------------------------------------------------------------------------
// Convolution output size: (in + 2P - K) / S + 1
// ---------------------------------------------------------------------------------------------

static_assert(conv_output_size(224, 7, 2, 3) == 112);   // conv1: (224 + 6 - 7) / 2 + 1
static_assert(conv_output_size(56, 3, 1, 1) == 56);     // "same" 3x3
static_assert(conv_output_size(28, 5, 1, 2) == 28);     // "same" 5x5 (Inception branch 3)
static_assert(conv_output_size(5, 3, 2, 0) == 2);       // (5 - 3) / 2 + 1, rounded down
static_assert(conv_output_size(3, 3, 1, 0) == 1);       // the kernel exactly fits
static_assert(std::is_same_v<output_shape_t<Conv<3, 64, 7, 2, 3>, Image>, Shape<64, 112, 112>>);
static_assert(std::is_same_v<output_shape_t<Conv<3, 8, 3, 2, 1>, Shape<3, 7, 10>>, Shape<8, 4, 5>>);  // H, W apart
static_assert(std::is_same_v<output_shape_t<Conv<192, 64, 1>, Shape<192, 28, 28>>, Shape<64, 28, 28>>);

// ---------------------------------------------------------------------------------------------
// Pooling output size, PyTorch's rule: out = ceil_or_floor((in + 2P - K) / S) + 1, and in ceil
// mode one less when the last window would start in the right padding (it must start inside
// the input or the left padding).
// ---------------------------------------------------------------------------------------------

static_assert(pool_output_size(14, 3, 2, 0, true) == 7);    // ceil(11 / 2) + 1; floor mode gives 6
static_assert(pool_output_size(14, 3, 2, 0, false) == 6);
static_assert(pool_output_size(13, 3, 2, 0, true) == 6);    // 10 / 2 + 1: ceil and floor agree
static_assert(pool_output_size(5, 2, 2, 1, true) == 3);     // ceil(5 / 2) + 1 = 4, but window 4 would
                                                            // start at 6 >= 5 + 1, in the padding
static_assert(pool_output_size(112, 3, 2, 0, true) == 56);  // maxpool1
static_assert(pool_output_size(28, 3, 1, 1, false) == 28);  // Inception branch 4
static_assert(std::is_same_v<output_shape_t<Ceil3x3, Shape<8, 14, 14>>, Shape<8, 7, 7>>);
static_assert(std::is_same_v<output_shape_t<Ceil3x3, Shape<8, 13, 13>>, Shape<8, 6, 6>>);
static_assert(std::is_same_v<output_shape_t<MaxPool<2, 2, 1, Rounding::ceil>, Shape<8, 5, 5>>, Shape<8, 3, 3>>);
static_assert(std::is_same_v<output_shape_t<MaxPool<3, 2>, Shape<8, 14, 14>>, Shape<8, 6, 6>>);
static_assert(std::is_same_v<output_shape_t<MaxPool<3, 1, 1>, Shape<8, 28, 28>>, Shape<8, 28, 28>>);
static_assert(std::is_same_v<output_shape_t<AvgPool<5, 3>, Shape<8, 7, 7>>, Shape<8, 1, 1>>);
static_assert(std::is_same_v<output_shape_t<AdaptiveAvgPool<1>, Shape<1024, 7, 7>>, Shape<1024, 1, 1>>);
static_assert(std::is_same_v<output_shape_t<AdaptiveAvgPool<4, 2>, Shape<8, 13, 9>>, Shape<8, 4, 2>>);

// ---------------------------------------------------------------------------------------------
// Parameter counts of each layer type, as PyTorch's parameters() holds them
// ---------------------------------------------------------------------------------------------

static_assert(parameter_count_v<Conv<3, 64, 7, 2, 3>> == 64 * 3 * 7 * 7 + 64);   // 9'472, conv1
static_assert(parameter_count_v<Conv<64, 192, 3, 1, 1, false>> == 192 * 64 * 3 * 3);  // weight only
static_assert(parameter_count_v<Linear<1024, 1000>> == 1024 * 1000 + 1000);
static_assert(parameter_count_v<BatchNorm<64>> == 2 * 64);           // weight, bias
static_assert(buffer_count_v<BatchNorm<64>> == 2 * 64 + 1);          // running mean, var, num_batches_tracked
static_assert(buffer_count_v<BatchNorm<64, std::ratio<1, 1000>>> == 2 * 64 + 1);
static_assert(parameter_count_v<ReLU> == 0);
static_assert(parameter_count_v<MaxPool<3, 2, 0, Rounding::ceil>> == 0);
static_assert(parameter_count_v<AvgPool<5, 3>> == 0);
static_assert(parameter_count_v<AdaptiveAvgPool<1>> == 0);
static_assert(parameter_count_v<Flatten> == 0);
static_assert(parameter_count_v<Identity> == 0);
static_assert(parameter_count_v<Dropout<40>> == 0);
static_assert(parameter_count_v<TransformInput> == 0);
static_assert(parameter_count_v<Named<"conv1", Conv<3, 64, 7, 2, 3>>> == 9'472);
static_assert(parameter_count_v<BasicConv2d<64, 192, 3, 1, 1>> == 110'784);   // conv3
static_assert(parameter_count_v<Sequential<Conv<3, 8, 3>, ReLU, Conv<8, 4, 1>>> == (8 * 27 + 8) + (4 * 8 + 4));
static_assert(parameter_count_v<Concat<Conv<8, 4, 1>, Conv<8, 2, 3, 1, 1>>> == (4 * 8 + 4) + (2 * 72 + 2));
static_assert(parameter_count_v<Inception<192, 64, 96, 128, 16, 32, 32>> == 163'696);   // inception3a
static_assert(parameter_count_v<Inception<832, 384, 192, 384, 48, 128, 128>> == 1'444'080);  // inception5b
static_assert(parameter_count_v<InceptionAux<512, 2>> == 2'165'890);   // 65'664 conv + 2'098'176 fc1 + 2'050 fc2
static_assert(parameter_count_v<InceptionAux<528, 2>> == 2'167'938);
static_assert(parameter_count_v<AuxOutput<InceptionAux<512, 2>>> == 2'165'890);   // the head's

// Multiply-accumulates of single layers: output elements times In * K * K, or In * Out.
static_assert(macs_v<Conv<3, 64, 7, 2, 3>, Image> == 64 * 112 * 112 * 3 * 7 * 7);   // 118'013'952
static_assert(macs_v<Linear<1024, 1000>, Features<1024>> == 1024 * 1000);
static_assert(macs_v<ReLU, Shape<64, 112, 112>> == 0);
// An aux head on 14x14: conv 4 * 4 * 128 * 512 + fc1 2048 * 1024 + fc2 1024 * 1000.
static_assert(macs_v<InceptionAux<512, 1000>, Shape<512, 14, 14>> == 1'048'576 + 2'097'152 + 1'024'000);

// ---------------------------------------------------------------------------------------------
// Memory queries, per image
// ---------------------------------------------------------------------------------------------

// An in-place leaf needs only its output.
static_assert(activation_bytes_v<ReLU, Shape<64, 112, 112>> == 64 * 112 * 112 * sizeof(float));
// The inference arena holds at least the largest activation, conv1's, and the logits.
static_assert(activation_bytes_v<GoogLeNet<1000, false>, Image> >= (64 * 112 * 112 + 1000) * sizeof(float));
// Training keeps what backward reads, so it needs more.
static_assert(training_activation_bytes_v<GoogLeNet<1000, false>, Image> >
              activation_bytes_v<GoogLeNet<1000, false>, Image>);
// The plan counts elements; the element type only scales them.
static_assert(activation_bytes_v<GoogLeNet<2, true>, Image, double> == 2 * activation_bytes_v<GoogLeNet<2, true>, Image>);
static_assert(training_activation_bytes_v<GoogLeNet<2, true>, Image, double> ==
              2 * training_activation_bytes_v<GoogLeNet<2, true>, Image>);

// The shape of each GoogLeNet stage as {C, H, W}, for the run-time report.
template <std::size_t... I>
constexpr auto googlenet_stage_shapes(std::index_sequence<I...>) {
  return std::array<std::array<std::size_t, 3>, sizeof...(I)>{
      {{googlenet_stage<I>::channels, googlenet_stage<I>::height, googlenet_stage<I>::width}...}};
}

struct Stage {
  std::string_view name;
  std::array<std::size_t, 3> shape;  // as PyTorch's child module returns it, batch dropped
};

}  // namespace

TEST_CASE("GoogLeNet's parameter counts and multiply-accumulates match the PyTorch reference") {
  CHECK(parameter_count_v<GoogLeNet<2, true>> == 10'309'430);
  CHECK(parameter_count_v<GoogLeNet<2, false>> == 5'975'602);
  CHECK(parameter_count_v<GoogLeNet<1000, true>> == 13'378'280);
  CHECK(parameter_count_v<GoogLeNet<1000, false>> == 6'998'552);
  CHECK(macs_v<GoogLeNet<1000, false>, Image> == 1'582'671'872);
  CHECK(parameter_count_v<InceptionAux<512, 2>> + parameter_count_v<InceptionAux<528, 2>> ==
        parameter_count_v<GoogLeNet<2, true>> - parameter_count_v<GoogLeNet<2, false>>);
}

TEST_CASE("GoogLeNet's stage shapes match the PyTorch reference") {
  const std::array<Stage, 22> reference{{
      {"conv1", {64, 112, 112}},   {"maxpool1", {64, 56, 56}},    {"conv2", {64, 56, 56}},
      {"conv3", {192, 56, 56}},    {"maxpool2", {192, 28, 28}},   {"inception3a", {256, 28, 28}},
      {"inception3b", {480, 28, 28}}, {"maxpool3", {480, 14, 14}}, {"inception4a", {512, 14, 14}},
      {"aux1", {512, 14, 14}},     {"inception4b", {512, 14, 14}}, {"inception4c", {512, 14, 14}},
      {"inception4d", {528, 14, 14}}, {"aux2", {528, 14, 14}},    {"inception4e", {832, 14, 14}},
      {"maxpool4", {832, 7, 7}},   {"inception5a", {832, 7, 7}},  {"inception5b", {1024, 7, 7}},
      {"avgpool", {1024, 1, 1}},   {"flatten", {1024, 1, 1}},     {"dropout", {1024, 1, 1}},
      {"fc", {2, 1, 1}},
  }};
  const auto shapes = googlenet_stage_shapes(std::make_index_sequence<reference.size()>{});
  for (std::size_t i = 0; i < reference.size(); ++i) {
    INFO("stage ", i, " (", reference[i].name, ")");
    CHECK(shapes[i] == reference[i].shape);
  }
}

TEST_CASE("Output sizes follow PyTorch's rules for run-time arguments") {
  struct PoolCase {
    std::size_t in, kernel, stride, padding;
    bool ceil_mode;
    std::size_t out;
  };
  // Checked against torch.nn.MaxPool2d and Conv2d output shapes.
  const std::array<PoolCase, 8> pools{{
      {14, 3, 2, 0, true, 7},  {14, 3, 2, 0, false, 6}, {13, 3, 2, 0, true, 6}, {5, 2, 2, 1, true, 3},
      {112, 3, 2, 0, true, 56}, {28, 3, 1, 1, false, 28}, {14, 5, 3, 0, false, 4}, {7, 5, 3, 0, false, 1},
  }};
  for (const PoolCase& c : pools) {
    INFO("pool in ", c.in, " K ", c.kernel, " S ", c.stride, " P ", c.padding, c.ceil_mode ? " ceil" : " floor");
    CHECK(pool_output_size(c.in, c.kernel, c.stride, c.padding, c.ceil_mode) == c.out);
  }
  struct ConvCase {
    std::size_t in, kernel, stride, padding, out;
  };
  const std::array<ConvCase, 5> convs{{{224, 7, 2, 3, 112}, {56, 3, 1, 1, 56}, {28, 5, 1, 2, 28}, {5, 3, 2, 0, 2}, {3, 3, 1, 0, 1}}};
  for (const ConvCase& c : convs) {
    INFO("conv in ", c.in, " K ", c.kernel, " S ", c.stride, " P ", c.padding);
    CHECK(conv_output_size(c.in, c.kernel, c.stride, c.padding) == c.out);
  }
}

TEST_CASE("Each layer type counts its parameters as PyTorch does") {
  CHECK(parameter_count_v<Conv<3, 64, 7, 2, 3>> == 9'472);
  CHECK(parameter_count_v<Linear<1024, 1000>> == 1'025'000);
  CHECK(parameter_count_v<BatchNorm<64>> == 128);
  CHECK(buffer_count_v<BatchNorm<64>> == 129);
  CHECK(parameter_count_v<BasicConv2d<64, 192, 3, 1, 1>> == 110'784);
  CHECK(parameter_count_v<Inception<192, 64, 96, 128, 16, 32, 32>> == 163'696);
  CHECK(parameter_count_v<InceptionAux<512, 2>> == 2'165'890);
  CHECK(activation_bytes_v<GoogLeNet<1000, false>, Image> < training_activation_bytes_v<GoogLeNet<1000, false>, Image>);
}

// ---------------------------------------------------------------------------------------------
// Activations, softmax, upsampling and transposed convolution
// ---------------------------------------------------------------------------------------------

namespace {

// nn.ConvTranspose2d's output size: (in - 1) * S - 2P + K + OutputPadding
static_assert(conv_transpose_output_size(14, 4, 2, 1, 0) == 28);   // the usual learned 2x upsampling
static_assert(conv_transpose_output_size(5, 3, 2, 1, 1) == 10);    // 8 - 2 + 3 + 1
static_assert(conv_transpose_output_size(4, 2, 3, 0, 2) == 13);    // 9 + 2 + 2
static_assert(std::is_same_v<output_shape_t<ConvTranspose2d<4, 3, 3, 2, 1, 1>, Shape<4, 5, 7>>, Shape<3, 10, 14>>);
static_assert(parameter_count_v<ConvTranspose2d<64, 32, 4, 2, 1>> == 64 * 32 * 4 * 4 + 32);   // weight [In, Out, K, K]
static_assert(parameter_count_v<ConvTranspose2d<64, 32, 4, 2, 1, 0, false>> == 64 * 32 * 4 * 4);
static_assert(macs_v<ConvTranspose2d<64, 32, 4, 2, 1>, Shape<64, 14, 14>> == 64 * 14 * 14 * 32 * 4 * 4);
static_assert(std::is_same_v<output_shape_t<Upsample<2>, Shape<3, 5, 7>>, Shape<3, 10, 14>>);
static_assert(std::is_same_v<output_shape_t<Upsample<3, UpsampleMode::bilinear>, Shape<3, 5, 7>>, Shape<3, 15, 21>>);
static_assert(std::is_same_v<output_shape_t<Softmax, Features<10>>, Features<10>>);
static_assert(parameter_count_v<Sigmoid> + parameter_count_v<Tanh> + parameter_count_v<SiLU> +
                  parameter_count_v<Hardswish> + parameter_count_v<LeakyReLU<>> + parameter_count_v<Softmax> +
                  parameter_count_v<Upsample<2>> ==
              0);
static_assert(LeakyReLU<>::negative_slope == 0.01 && LeakyReLU<std::ratio<1, 5>>::negative_slope == 0.2);

// What an activation's backward keeps decides where it runs in training. Conv's backward reads
// its input only, so an activation after it writes over the convolution's output (one saved slot)
// where its own backward reads its output, and keeps a slot of its own where it reads its input.
template <class Activation>
using AfterConv = Sequential<Conv<3, 4, 3, 1, 1>, Activation, Conv<4, 2, 1>>;
template <class Activation>
constexpr bool shares_slot_in_training =
    AfterConv<Activation>::template plan<Shape<3, 8, 8>>::saved_slot_offsets[0] ==
    AfterConv<Activation>::template plan<Shape<3, 8, 8>>::saved_slot_offsets[1];
static_assert(shares_slot_in_training<Sigmoid> && shares_slot_in_training<Tanh> && shares_slot_in_training<LeakyReLU<>>);
static_assert(!shares_slot_in_training<SiLU> && !shares_slot_in_training<Hardswish> &&
              !shares_slot_in_training<LeakyReLU<std::ratio<-1, 2>>> && !shares_slot_in_training<Softmax>);
// In evaluation every element-wise activation writes over its input; Softmax does not.
static_assert(AfterConv<SiLU>::eval_places[1] == AfterConv<SiLU>::eval_places[0]);
static_assert(AfterConv<Softmax>::eval_places[1] != AfterConv<Softmax>::eval_places[0]);

}  // namespace

TEST_CASE("ConvTranspose2d's output size is PyTorch's") {
  struct Case {
    std::size_t in, kernel, stride, padding, output_padding, out;
  };
  // Checked against torch.nn.ConvTranspose2d output shapes.
  const std::array<Case, 4> cases{{{14, 4, 2, 1, 0, 28}, {5, 3, 2, 1, 1, 10}, {4, 2, 3, 0, 2, 13}, {5, 3, 2, 2, 0, 7}}};
  for (const Case& c : cases) {
    INFO("in ", c.in, " K ", c.kernel, " S ", c.stride, " P ", c.padding, " OP ", c.output_padding);
    CHECK(conv_transpose_output_size(c.in, c.kernel, c.stride, c.padding, c.output_padding) == c.out);
  }
}
