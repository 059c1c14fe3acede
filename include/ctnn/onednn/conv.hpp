#pragma once
// Convolution on the oneDNN device, Conv + an activation (ReLU, ReLU6, ...) fused as a post-op
// (BasicConv2d's body, through Sequential's Fusion trait), and ConvTranspose2d as oneDNN's
// deconvolution.
//
//   forward   convolution_forward: src and dst in the device layout (NHWC; in int8 the src
//             quantised to u8 / s8 in staging or handed off in u8, weights s8, dst u8 where the
//             fused activation allows it: quantisation.hpp), weights in the
//             layout oneDNN picks (format `any`), packed from OIHW f32, bias f32; padding P on
//             both sides, as nn.Conv2d; grouped and depthwise with the weights seen as
//             [Groups, Out / Groups, In / Groups, K, K] (goihw: the same bytes as OIHW)
//   backward  convolution_backward_weights (dW, db from x and dy; f32 in every precision, so
//             bf16 training keeps f32 gradients for its f32 master weights), then
//             convolution_backward_data (dx from dy and the weights packed for it); grouped and
//             depthwise through the same goihw descriptors, dW reordered back to OIHW's bytes;
//             a 1x1 convolution's dx as a matmul, which adds to dx itself where Inception's
//             branches sum their gradients (a sum post-op: no staging, no adding reorder)
//   ConvTranspose2d  the same with the deconvolution primitives; its weights PyTorch's
//             [In, Out, K, K] (oneDNN's iohw), OutputPadding taken off the right padding
//   Conv + BatchNorm (+ activation), in evaluation: one convolution (Fusion, FusionOfThree) whose
//             weights and bias are the batch norm folded in, with s = gamma / sqrt(running_var +
//             eps), W'[o] = W[o] s[o] and b'[o] = (b[o] - running_mean[o]) s[o] + beta[o],
//             refolded whenever the host writes parameters or buffers; an activation its
//             post-op, so in int8 the convolution writes u8 for the layers after it as a
//             Conv + ReLU does

#include <cmath>     // std::sqrt
#include <cstddef>   // std::size_t
#include <memory>    // std::make_unique
#include <optional>  // std::optional, std::nullopt
#include <vector>    // std::vector

#include <dnnl.hpp>   // dnnl::convolution_forward, dnnl::deconvolution_forward, dnnl::matmul, ...

#include <ctnn/evaluator.hpp>          // ctnn::Fusion, ctnn::FusionOfThree, ctnn::ForwardArgs, ...
#include <ctnn/layers/batch_norm.hpp>  // ctnn::BatchNorm
#include <ctnn/layers/conv.hpp>        // ctnn::Conv, ctnn::ConvGeometry
#include <ctnn/layers/conv_transpose.hpp>   // ctnn::ConvTranspose2d
#include <ctnn/onednn/elementwise.hpp> // ctnn::onednn::Eltwise: the activations a Conv fuses
#include <ctnn/onednn/fallback.hpp>    // ctnn::onednn::Kernel
#include <ctnn/onednn/operand.hpp>     // Operand, PackedWeights, WeightedBackwardPlan
#include <ctnn/onednn/winograd.hpp>    // winograd_forward: 3x3 stride-1 convolutions in f32

namespace ctnn {
namespace onednn {

// oneDNN's convolution, and its transpose (deconvolution: ConvTranspose2d), whose primitives take
// the same arguments.
template <class L>
concept TransposedConv = requires { L::output_padding; };

template <bool Transposed>
struct ConvPrimitives {
  using forward = dnnl::convolution_forward;
  using backward_data = dnnl::convolution_backward_data;
  using backward_weights = dnnl::convolution_backward_weights;
  static constexpr dnnl::algorithm algorithm = dnnl::algorithm::convolution_direct;
  static constexpr const char* names[3] = {"convolution", "convolution backward data", "convolution backward weights"};
};
template <>
struct ConvPrimitives<true> {
  using forward = dnnl::deconvolution_forward;
  using backward_data = dnnl::deconvolution_backward_data;
  using backward_weights = dnnl::deconvolution_backward_weights;
  static constexpr dnnl::algorithm algorithm = dnnl::algorithm::deconvolution_direct;
  static constexpr const char* names[3] = {"deconvolution", "deconvolution backward data",
                                           "deconvolution backward weights"};
};

// What every convolution primitive of one layer is made from.
template <class L>
struct ConvDescription {
  using Primitives = ConvPrimitives<TransposedConv<L>>;
  Dims in, out;
  memory::dims strides, padding_left, padding_right;
  memory::desc weights_any, weights_plain, bias;

  template <ShapeType In, class T>
  static ConvDescription of(const Context<T>& ctx) {
    const auto dim = [](std::size_t v) { return static_cast<memory::dim>(v); };
    if constexpr (TransposedConv<L>) {
      // PyTorch's weight [In, Out, K, K] is oneDNN's [Out, In, K, K] stored as iohw. The output
      // (H - 1) S + K - P - (P - OutputPadding): OutputPadding is padding taken off the right,
      // negative where it exceeds P.
      using Out = output_shape_t<L, In>;
      const auto o = dim(L::out_channels), k = dim(L::kernel), s = dim(L::stride), pad = dim(L::padding);
      const memory::dims weights{o, dim(L::in_channels), k, k};
      const memory::dim right = pad - dim(L::output_padding);
      return {dims_of<In>,
              dims_of<Out>,
              {s, s},
              {pad, pad},
              {right, right},
              memory::desc(weights, ctx.weights_type(), memory::format_tag::any),
              memory::desc(weights, memory::data_type::f32, memory::format_tag::iohw),
              L::has_bias ? memory::desc({o}, memory::data_type::f32, memory::format_tag::a) : memory::desc()};
    } else {
      constexpr ConvGeometry g = L::template geometry<In>;
      const auto o = dim(g.out_channels), i = dim(g.in_channels), k = dim(g.kernel), s = dim(g.stride),
                 pad = dim(g.padding), groups = dim(g.groups);
      // [Out, In / G, K, K] as oneDNN's grouped weights [G, Out / G, In / G, K, K], or plain OIHW.
      const memory::dims weights = groups == 1 ? memory::dims{o, i, k, k}
                                               : memory::dims{groups, o / groups, i / groups, k, k};
      const auto plain = groups == 1 ? memory::format_tag::oihw : memory::format_tag::goihw;
      return {{g.in_channels, g.in_height, g.in_width},
              {g.out_channels, g.out_height, g.out_width},
              {s, s},
              {pad, pad},
              {pad, pad},
              memory::desc(weights, ctx.weights_type(), memory::format_tag::any),
              memory::desc(weights, memory::data_type::f32, plain),
              L::has_bias ? memory::desc({o}, memory::data_type::f32, memory::format_tag::a) : memory::desc()};
    }
  }

  template <class T>
  typename Primitives::forward::primitive_desc forward(const Context<T>& ctx, const memory::desc& src,
                                                       const memory::desc& dst, const dnnl::primitive_attr& attr) const {
    return checked(Primitives::names[0], [&] {
      return typename Primitives::forward::primitive_desc(ctx.engine, forward_kind(ctx), Primitives::algorithm, src,
                                                          weights_any, bias, dst, strides, padding_left, padding_right,
                                                          attr);
    });
  }
};

// y = conv(x) (+ bias) (then `activation`, a post-op: Conv + ReLU, ReLU6, ... fused); the
// transposed convolution's where L is ConvTranspose2d; in int8 from the quantised input and weights.
// The call computes `span` layers from walk position ctx.node on (a Conv + BatchNorm is 2): where
// the last of them ends a residual body, the sum and ReLU after it may come in as post-ops too
// (take_residual_addition).
template <class L, ShapeType In, class T>
void convolution_forward(Context<T>& ctx, const ForwardArgs<T>& a, EltwiseFunction activation = {},
                         std::size_t span = 1) {
  using Primitives = ConvPrimitives<TransposedConv<L>>;
  if (const auto shape = winograd_shape<L, In>(ctx, activation)) {
    if constexpr (L::has_bias)
      winograd_forward(ctx, a, *shape, activation, L::bias_offset);
    else
      winograd_forward(ctx, a, *shape, activation, std::nullopt);
    return;
  }
  // Grouped weights [G, Out / G, ...]: an output channel is the first two dimensions.
  constexpr int output_dimensions = [] {
    if constexpr (TransposedConv<L>) return 1;
    else return L::template geometry<In>.groups == 1 ? 1 : 2;
  }();
  auto& p = ctx.template plan<WeightedForwardPlan>(Direction::forward, [&] {
    auto plan = std::make_unique<WeightedForwardPlan>();
    const auto c = ConvDescription<L>::template of<In>(ctx);
    plan->src = weighted_input(ctx, *plan, a.x, c.in);
    plan->dst = output_operand(ctx, a.y, c.out);
    hand_off_output(ctx, *plan, a.y.data, c.out, activation);
    const memory::desc dst = four_d(ctx, plan->dst.md, c.out);
    dnnl::primitive_attr attr = weighted_attributes(ctx, *plan, activation, output_dimensions);
    take_residual_addition(ctx, *plan, attr, a.y.data, ctx.node + span - 1, activation, dst);
    const auto pd = c.forward(ctx, four_d(ctx, plan->src.md, c.in), dst, attr);
    plan->weights.make(ctx, c.weights_plain, pd.weights_desc(), output_dimensions);
    plan->bias = unbound(c.bias, ctx.engine);
    plan->scratchpad = scratchpad_for(ctx, pd.scratchpad_desc());
    plan->primitive = typename Primitives::forward(pd);
    return plan;
  });
  if constexpr (L::has_bias)
    weighted_forward(ctx, p, a, L::bias_offset);
  else
    weighted_forward(ctx, p, a, std::nullopt);
}

// Whether L is a 1x1 convolution of stride 1 without padding or groups: in the device layout
// (NHWC) a matrix product of each pixel's channels.
template <class L>
constexpr bool pointwise() {
  if constexpr (TransposedConv<L>)
    return false;
  else
    return L::kernel == 1 && L::stride == 1 && L::padding == 0 && L::groups == 1;
}

// A pointwise convolution's dx as a matmul over the N H W pixels (WeightedBackwardPlan): the
// product writes dx in place, or adds to it where branches' gradients accumulate.
template <class L, class T>
void plan_data_gradient_as_matmul(Context<T>& ctx, WeightedBackwardPlan& plan, const BackwardArgs<T>& a,
                                  const ConvDescription<L>& c) {
  const auto rows = static_cast<memory::dim>(ctx.batch * c.in.plane());
  const auto out = static_cast<memory::dim>(c.out.channels), in = static_cast<memory::dim>(c.in.channels);
  plan.diff_src = gradient_operand(ctx, a.dx, c.in, false);  // in the device layout: not staged
  const memory::desc dy({rows, out}, plan.diff_dst.md.get_data_type(), memory::dims{out, 1});
  const memory::desc dx({rows, in}, plan.diff_src.md.get_data_type(), memory::dims{in, 1});
  const memory::desc weights({out, in}, ctx.activation_type(), memory::format_tag::any);
  const auto pd = checked("convolution backward data (as a matmul)", [&] {
    return dnnl::matmul::primitive_desc(ctx.engine, dy, weights, dx, a.accumulate_dx ? adding() : user_scratchpad());
  });
  plan.weights.make(ctx, memory::desc({out, in}, memory::data_type::f32, memory::format_tag::ab), pd.weights_desc());
  plan.dy_rows = unbound(dy, ctx.engine);
  plan.dx_rows = unbound(dx, ctx.engine);
  plan.data_scratchpad = scratchpad_for(ctx, pd.scratchpad_desc());
  plan.data_gradient = dnnl::matmul(pd);
  plan.data_gradient_as_matmul = true;
  plan.has_data_gradient = true;
}

// dW, db (into params.gradients unless frozen) and dx (unless empty) from x and dy; the
// weight gradient in the parameters' layout (OIHW, or PyTorch's [In, Out, K, K] transposed).
template <class L, ShapeType In, class T>
void convolution_backward(Context<T>& ctx, const BackwardArgs<T>& in_args) {
  using Primitives = ConvPrimitives<TransposedConv<L>>;
  // dx as a Winograd convolution of dy, after dW and db are made (as the primitives below would
  // make dx: after reading x, which dx's memory may share); dW and db as Winograd too where there
  // are tiles enough, else by the primitive below.
  BackwardArgs<T> a = in_args;
  const auto winograd_dx = a.dx ? winograd_shape<L, In>(ctx, {}) : std::nullopt;
  if (winograd_dx) a.dx = {};
  std::optional<WinogradShape> winograd_dw;
  if constexpr (!TransposedConv<L>)
    if (a.params.gradients) winograd_dw = winograd_weight_gradient_shape<L, In>(ctx);
  if (winograd_dw) a.params.gradients = nullptr;
  auto& p = ctx.template plan<WeightedBackwardPlan>(Direction::backward, [&] {
    auto plan = std::make_unique<WeightedBackwardPlan>();
    const auto c = ConvDescription<L>::template of<In>(ctx);
    plan->diff_dst = input_operand(ctx, a.dy, c.out, 2);
    const memory::desc src = four_d(ctx, ctx.device_md(c.in), c.in), diff_dst = four_d(ctx, plan->diff_dst.md, c.out);
    const auto hint = c.forward(ctx, src, diff_dst, user_scratchpad());
    if (a.params.gradients) {
      plan->src = input_operand(ctx, a.x, c.in, 0);
      const memory::desc diff_weights(c.weights_plain.get_dims(), memory::data_type::f32, memory::format_tag::any);
      const auto pd = checked(Primitives::names[2], [&] {
        return typename Primitives::backward_weights::primitive_desc(
            ctx.engine, Primitives::algorithm, src, diff_weights, c.bias, diff_dst, c.strides,
            c.padding_left, c.padding_right, hint, user_scratchpad());
      });
      plan->diff_weights.make(ctx, pd.diff_weights_desc(), c.weights_plain, 0);
      if constexpr (L::has_bias)
        plan->diff_bias.make(ctx, pd.diff_bias_desc(), c.bias, ParameterGradient::room(pd.diff_weights_desc()));
      plan->weights_scratchpad = scratchpad_for(ctx, pd.scratchpad_desc());
      plan->weights_gradient = typename Primitives::backward_weights(pd);
      plan->has_weights_gradient = true;
    }
    if (a.dx && pointwise<L>() && !ctx.is_plain(a.dx.data)) {
      plan_data_gradient_as_matmul(ctx, *plan, a, c);
    } else if (a.dx) {
      plan->diff_src = gradient_operand(ctx, a.dx, c.in, a.accumulate_dx);
      const auto pd = checked(Primitives::names[1], [&] {
        return typename Primitives::backward_data::primitive_desc(ctx.engine, Primitives::algorithm,
                                                                  four_d(ctx, plan->diff_src.md, c.in), c.weights_any,
                                                                  diff_dst, c.strides,
                                                                  c.padding_left, c.padding_right, hint,
                                                                  user_scratchpad());
      });
      plan->weights.make(ctx, c.weights_plain, pd.weights_desc());
      plan->data_scratchpad = scratchpad_for(ctx, pd.scratchpad_desc());
      plan->data_gradient = typename Primitives::backward_data(pd);
      plan->has_data_gradient = true;
    }
    return plan;
  });
  if constexpr (L::has_bias)
    weighted_backward(ctx, p, a, L::bias_offset);
  else
    weighted_backward(ctx, p, a);
  if (winograd_dw) {
    if constexpr (L::has_bias)
      winograd_weight_gradient(ctx, in_args, *winograd_dw, L::bias_offset);
    else
      winograd_weight_gradient(ctx, in_args, *winograd_dw, std::nullopt);
  }
  if (winograd_dx) winograd_backward_data(ctx, in_args, *winograd_dx);
}

// Evaluation's Conv + BatchNorm: the parameters of the same convolution with a bias (Folded),
// the batch norm folded in (see the file comment). Folded again when the host wrote parameters
// or buffers (Context::parameter_version); training's running statistics move only in training
// passes, and a pass in another mode plans again.
template <class L, class Norm>
struct FoldedBatchNorm : Plan {
  using Folded = Conv<L::in_channels, L::out_channels, L::kernel, L::stride, L::padding, true, L::groups>;
  static_assert(Norm::channels == L::out_channels);
  std::vector<float> values = std::vector<float>(Folded::parameter_count);
  PackedFrom folded_from;

  template <class T>
  void refresh(const Context<T>& ctx, const ParamSpan<T>& conv, const ParamSpan<T>& norm) {
    if (folded_from.current(ctx.parameter_version, conv.values)) return;
    const auto bn = Norm::pointers(norm);
    constexpr std::size_t per_output = L::weight_count / L::out_channels;
    for (std::size_t o = 0; o < L::out_channels; ++o) {
      const double s = static_cast<double>(bn.weight[o]) / std::sqrt(static_cast<double>(bn.running_var[o]) + Norm::epsilon);
      for (std::size_t k = 0; k < per_output; ++k)
        values[o * per_output + k] = static_cast<float>(conv.values[o * per_output + k] * s);
      const double bias = L::has_bias ? static_cast<double>(conv.values[L::bias_offset + o]) : 0.0;
      values[Folded::bias_offset + o] = static_cast<float>((bias - bn.running_mean[o]) * s + bn.bias[o]);
    }
    folded_from.record(ctx.parameter_version, conv.values);
  }
};

template <std::size_t I, std::size_t O, std::size_t K, std::size_t S, std::size_t P, bool B, std::size_t G, class T>
struct Kernel<Conv<I, O, K, S, P, B, G>, T> {
  static constexpr bool has_backward = true;
  template <ShapeType In>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    convolution_forward<Conv<I, O, K, S, P, B, G>, In>(ctx, a);
  }
  template <ShapeType In>
  static void backward(Context<T>& ctx, const BackwardArgs<T>& a) {
    convolution_backward<Conv<I, O, K, S, P, B, G>, In>(ctx, a);
  }
};

// ConvTranspose2d: deconvolution_forward, backward_data and backward_weights (bias included).
template <std::size_t I, std::size_t O, std::size_t K, std::size_t S, std::size_t P, std::size_t OutputPadding,
          bool B, class T>
struct Kernel<ConvTranspose2d<I, O, K, S, P, OutputPadding, B>, T> {
  using L = ConvTranspose2d<I, O, K, S, P, OutputPadding, B>;
  static constexpr bool has_backward = true;
  template <ShapeType In>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    convolution_forward<L, In>(ctx, a);
  }
  template <ShapeType In>
  static void backward(Context<T>& ctx, const BackwardArgs<T>& a) {
    convolution_backward<L, In>(ctx, a);
  }
};

}  // namespace onednn

// ConvTranspose2d's every-device evaluator (the convolution's backward as its forward) would
// run here too: its kernel above takes precedence.
template <std::size_t I, std::size_t O, std::size_t K, std::size_t S, std::size_t P, std::size_t OutputPadding,
          bool B, class T>
struct Evaluator<ConvTranspose2d<I, O, K, S, P, OutputPadding, B>, OneDnn, T>
    : onednn::LeafEvaluator<ConvTranspose2d<I, O, K, S, P, OutputPadding, B>, T> {};

// Conv + an activation oneDNN computes (ReLU, ReLU6, ...): one convolution with the activation as
// its post-op. In training too where the activation's backward reads only the fused output
// (ReLU, ReLU6, Sigmoid, Tanh, LeakyReLU of a slope not below 0); Conv's reads its input.
template <std::size_t I, std::size_t O, std::size_t K, std::size_t S, std::size_t P, bool B, std::size_t G,
          class Activation, class T>
  requires onednn::HasEltwise<Activation>
struct Fusion<Conv<I, O, K, S, P, B, G>, Activation, OneDnn, T> {
  static constexpr bool available = true;
  static constexpr bool in_training = Activation::backward_reads_output;
  template <ShapeType In>
  static void forward(onednn::Context<T>& ctx, const ForwardArgs<T>& a) {
    onednn::convolution_forward<Conv<I, O, K, S, P, B, G>, In>(ctx, a, onednn::Eltwise<Activation>::function);
  }
};

namespace onednn {
// Conv (L) + BatchNorm (Norm), then `activation` as a post-op: one convolution of the folded
// weights and bias (see the file comment).
template <class L, class Norm, ShapeType In, class T>
void folded_convolution_forward(Context<T>& ctx, const ForwardArgs<T>& a, const ParamSpan<T>& norm,
                                EltwiseFunction activation, std::size_t span) {
  using Fold = FoldedBatchNorm<L, Norm>;
  auto& fold = ctx.template plan<Fold>(Direction::forward, [&] {
    ++ctx.folded_batch_norms;
    return std::make_unique<Fold>();
  });
  if (!ctx.planning) fold.refresh(ctx, a.params, norm);
  ForwardArgs<T> folded = a;
  folded.params = {fold.values.data(), nullptr, nullptr};
  convolution_forward<typename Fold::Folded, In>(ctx, folded, activation, span);
}
}  // namespace onednn

// Conv + BatchNorm in evaluation (a ResNet's last batch norm before its sum): one convolution of
// the folded weights and bias.
template <std::size_t I, std::size_t O, std::size_t K, std::size_t S, std::size_t P, bool B, std::size_t G,
          class Eps, class Momentum, class T>
struct Fusion<Conv<I, O, K, S, P, B, G>, BatchNorm<O, Eps, Momentum>, OneDnn, T> {
  static constexpr bool available = true;
  template <ShapeType In>
  static void forward(onednn::Context<T>& ctx, const ForwardArgs<T>& a, const ParamSpan<T>& norm) {
    onednn::folded_convolution_forward<Conv<I, O, K, S, P, B, G>, BatchNorm<O, Eps, Momentum>, In>(ctx, a, norm, {}, 2);
  }
};

// Conv + BatchNorm + an activation oneDNN computes, in evaluation: one convolution of the folded
// weights and bias with the activation as its post-op.
template <std::size_t I, std::size_t O, std::size_t K, std::size_t S, std::size_t P, bool B, std::size_t G,
          class Eps, class Momentum, class Activation, class T>
  requires onednn::HasEltwise<Activation>
struct FusionOfThree<Conv<I, O, K, S, P, B, G>, BatchNorm<O, Eps, Momentum>, Activation, OneDnn, T> {
  static constexpr bool available = true;
  template <ShapeType In>
  static void forward(onednn::Context<T>& ctx, const ForwardArgs<T>& a, const ParamSpan<T>& norm) {
    onednn::folded_convolution_forward<Conv<I, O, K, S, P, B, G>, BatchNorm<O, Eps, Momentum>, In>(
        ctx, a, norm, onednn::Eltwise<Activation>::function, 3);
  }
};

}  // namespace ctnn
