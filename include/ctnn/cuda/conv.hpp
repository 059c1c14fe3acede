#pragma once
// CUDA evaluator of ctnn::Conv through cuDNN, and the fused convolution + bias + ReLU that
// Sequential runs for a Conv followed by a ReLU (BasicConv2d) in evaluation mode (Fusion).
//
//   forward          cudnnConvolutionForward, then cudnnAddTensor for the bias
//   eval Conv+ReLU   cudnnConvolutionBiasActivationForward: one call, y = relu(conv(x) + b)
//   backward         cudnnConvolutionBackwardFilter (+ BackwardBias) into the gradients,
//                    cudnnConvolutionBackwardData into dx (beta = 1 when adding to it)
//
// Tensors are the Slots' strided views (ctnn/cuda/cudnn.hpp), so a branch writes its channel
// slice of the Inception output directly. Each direction has a plan per geometry, strides and
// batch size (ctnn/cuda/context.hpp): descriptors, and the algorithm cuDNN's find (or heuristic)
// chose, made once while planning. Should cuDNN offer no algorithm for a strided layout, the plan
// goes through packed copies in the workspace instead.

#include <algorithm>     // std::max
#include <cstddef>       // std::size_t
#include <string>        // std::string, std::to_string
#include <type_traits>   // std::is_same_v

#include <cudnn.h>   // cudnnConvolution*, cudnnFind*, cudnnGet*_v7

#include <ctnn/cuda/context.hpp>        // ctnn::cuda::Context, PlanKey, copy_images
#include <ctnn/cuda/cudnn.hpp>          // ctnn::cuda::TensorDescriptor, FilterDescriptor, ...
#include <ctnn/cuda/error.hpp>          // CTNN_CUDNN_CHECK
#include <ctnn/evaluator.hpp>           // ctnn::Evaluator, ctnn::Fusion
#include <ctnn/layers/conv.hpp>         // ctnn::Conv, ctnn::ConvGeometry
#include <ctnn/layers/relu.hpp>         // ctnn::ReLU

namespace ctnn::cuda {

enum class ConvDirection { forward, backward_data, backward_filter };

// One direction of one convolution at one batch size and layout. Its two image operands are
// `input` and `output` as cuDNN sees them:
//   forward          x -> y
//   backward_data    dy -> dx
//   backward_filter  x, dy -> dW      (both images read)
template <class T>
struct ConvPlan : Plan {
  TensorDescriptor input, output, bias;
  FilterDescriptor filter;
  ConvolutionDescriptor convolution;
  ActivationDescriptor relu;
  int algorithm = 0;  // cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t
  std::size_t algorithm_workspace = 0;
  // cuDNN declined the fused convolution + bias + ReLU for this algorithm and layout.
  bool fusion_refused = false;
  // Staged: cuDNN runs on packed copies at workspace + staging_offset (input, then output).
  bool staged = false;
  std::size_t staging_offset = 0, input_elements = 0, output_elements = 0;
  std::size_t workspace_bytes() const {
    return staged ? staging_offset + (input_elements + output_elements) * sizeof(T) : algorithm_workspace;
  }
};

namespace detail {

inline std::size_t round_up(std::size_t bytes) { return (bytes + 255) / 256 * 256; }

// cuDNN turned the request down (a layout or parameter it does not handle), rather than failed.
inline bool refused(cudnnStatus_t status) {
  const int category = CUDNN_STATUS_CATEGORY(static_cast<int>(status));
  return category == CUDNN_STATUS_NOT_SUPPORTED || category == CUDNN_STATUS_BAD_PARAM;
}

// The first algorithm (fastest, or best by heuristics) that ran and fits the workspace limit.
template <class Perf>
bool pick_algorithm(const Perf* results, int count, std::size_t limit, Perf& chosen) {
  for (int i = 0; i < count; ++i)
    if (results[i].status == CUDNN_STATUS_SUCCESS && results[i].memory <= limit) {
      chosen = results[i];
      return true;
    }
  return false;
}

// Searches cuDNN's algorithms for the plan's descriptors; false when none supports them.
template <class T>
bool choose_algorithm(Context<T>& ctx, ConvPlan<T>& plan, ConvDirection direction) {
  const bool benchmark = ctx.algorithm_search == AlgorithmSearch::benchmark;
  const cudnnHandle_t h = ctx.cudnn();
  int count = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  bool found = false;
  if (direction == ConvDirection::forward) {
    cudnnConvolutionFwdAlgoPerf_t results[CUDNN_CONVOLUTION_FWD_ALGO_COUNT], chosen{};
    const cudnnStatus_t status =
        benchmark ? cudnnFindConvolutionForwardAlgorithm(h, plan.input, plan.filter, plan.convolution, plan.output,
                                                         CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, results)
                  : cudnnGetConvolutionForwardAlgorithm_v7(h, plan.input, plan.filter, plan.convolution, plan.output,
                                                           CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, results);
    if (status != CUDNN_STATUS_SUCCESS && !refused(status)) CTNN_CUDNN_CHECK(status);
    found = status == CUDNN_STATUS_SUCCESS && pick_algorithm(results, count, ctx.workspace_limit, chosen);
    if (found) {
      plan.algorithm = chosen.algo;
      math = chosen.mathType;
      CTNN_CUDNN_CHECK(cudnnSetConvolutionMathType(plan.convolution, math));
      CTNN_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, plan.input, plan.filter, plan.convolution,
                                                               plan.output, chosen.algo, &plan.algorithm_workspace));
    }
  } else if (direction == ConvDirection::backward_data) {
    cudnnConvolutionBwdDataAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT], chosen{};
    const cudnnStatus_t status =
        benchmark ? cudnnFindConvolutionBackwardDataAlgorithm(h, plan.filter, plan.input, plan.convolution, plan.output,
                                                              CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count, results)
                  : cudnnGetConvolutionBackwardDataAlgorithm_v7(h, plan.filter, plan.input, plan.convolution,
                                                                plan.output, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                                &count, results);
    if (status != CUDNN_STATUS_SUCCESS && !refused(status)) CTNN_CUDNN_CHECK(status);
    found = status == CUDNN_STATUS_SUCCESS && pick_algorithm(results, count, ctx.workspace_limit, chosen);
    if (found) {
      plan.algorithm = chosen.algo;
      math = chosen.mathType;
      CTNN_CUDNN_CHECK(cudnnSetConvolutionMathType(plan.convolution, math));
      CTNN_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(
          h, plan.filter, plan.input, plan.convolution, plan.output, chosen.algo, &plan.algorithm_workspace));
    }
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT], chosen{};
    const cudnnStatus_t status =
        benchmark ? cudnnFindConvolutionBackwardFilterAlgorithm(h, plan.input, plan.output, plan.convolution,
                                                                plan.filter, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                                &count, results)
                  : cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, plan.input, plan.output, plan.convolution,
                                                                  plan.filter, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                                  &count, results);
    if (status != CUDNN_STATUS_SUCCESS && !refused(status)) CTNN_CUDNN_CHECK(status);
    found = status == CUDNN_STATUS_SUCCESS && pick_algorithm(results, count, ctx.workspace_limit, chosen);
    if (found) {
      plan.algorithm = chosen.algo;
      math = chosen.mathType;
      CTNN_CUDNN_CHECK(cudnnSetConvolutionMathType(plan.convolution, math));
      CTNN_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
          h, plan.input, plan.output, plan.convolution, plan.filter, chosen.algo, &plan.algorithm_workspace));
    }
  }
  return found;
}

inline const char* direction_name(ConvDirection direction) {
  switch (direction) {
    case ConvDirection::forward: return "forward";
    case ConvDirection::backward_data: return "backward data";
    case ConvDirection::backward_filter: return "backward filter";
  }
  return "";
}

}  // namespace detail

// The plan of one direction, made once per geometry, image strides and batch size.
//   forward:          input_stride = x's, output_stride = y's
//   backward_data:    input_stride = dy's, output_stride = dx's
//   backward_filter:  input_stride = x's, output_stride = dy's
template <class T>
ConvPlan<T>& conv_plan(Context<T>& ctx, const ConvGeometry& g, ConvDirection direction, std::size_t input_stride,
                       std::size_t output_stride, bool has_bias) {
  const PlanKey key(static_cast<int>(PlanKind::conv_forward) + static_cast<int>(direction),
                    {static_cast<std::int64_t>(g.in_channels), static_cast<std::int64_t>(g.out_channels),
                     static_cast<std::int64_t>(g.kernel), static_cast<std::int64_t>(g.stride),
                     static_cast<std::int64_t>(g.padding), static_cast<std::int64_t>(g.in_height),
                     static_cast<std::int64_t>(g.in_width), static_cast<std::int64_t>(ctx.batch),
                     static_cast<std::int64_t>(input_stride), static_cast<std::int64_t>(output_stride),
                     has_bias ? 1 : 0, ctx.allow_tf32 ? 1 : 0, static_cast<std::int64_t>(ctx.algorithm_search),
                     std::is_same_v<T, double> ? 1 : 0, static_cast<std::int64_t>(ctx.workspace_limit >> 20)});
  ConvPlan<T>& plan = ctx.plans.template get<ConvPlan<T>>(key, [&] {
    auto* made = new ConvPlan<T>;
    ConvPlan<T>& p = *made;
    p.filter.template set<T>(g.out_channels, g.in_channels, g.kernel, g.kernel);
    p.convolution.template set<T>(g.padding, g.stride, ctx.allow_tf32);
    if (has_bias) p.bias.template set_packed<T>(1, g.out_channels, 1, 1);
    p.relu.set_relu();
    // The image operands: x is In x H x W, y (and dy) Out x OH x OW.
    const bool input_is_x = direction != ConvDirection::backward_data;
    const bool output_is_y = direction != ConvDirection::backward_data;
    auto describe = [&](bool packed) {
      const std::size_t in_stride = packed ? (input_is_x ? g.in_size() : g.out_size()) : input_stride;
      const std::size_t out_stride = packed ? (output_is_y ? g.out_size() : g.in_size()) : output_stride;
      if (input_is_x)
        p.input.template set_images<T>(ctx.batch, g.in_channels, g.in_height, g.in_width, in_stride);
      else
        p.input.template set_images<T>(ctx.batch, g.out_channels, g.out_height, g.out_width, in_stride);
      if (output_is_y)
        p.output.template set_images<T>(ctx.batch, g.out_channels, g.out_height, g.out_width, out_stride);
      else
        p.output.template set_images<T>(ctx.batch, g.in_channels, g.in_height, g.in_width, out_stride);
    };
    describe(false);
    if (!detail::choose_algorithm(ctx, p, direction)) {
      describe(true);
      if (!detail::choose_algorithm(ctx, p, direction))
        throw Error("cuDNN", std::string("no convolution ") + detail::direction_name(direction) +
                                 " algorithm for Conv2d(" + std::to_string(g.in_channels) + ", " +
                                 std::to_string(g.out_channels) + ", " + std::to_string(g.kernel) + ") on " +
                                 std::to_string(g.in_height) + "x" + std::to_string(g.in_width) + " at batch " +
                                 std::to_string(ctx.batch) + " within a workspace of " +
                                 std::to_string(ctx.workspace_limit) + " bytes");
      p.staged = true;
      p.staging_offset = detail::round_up(p.algorithm_workspace);
      p.input_elements = ctx.batch * (input_is_x ? g.in_size() : g.out_size());
      p.output_elements = ctx.batch * (output_is_y ? g.out_size() : g.in_size());
    }
    return made;
  });
  ctx.workspace_for(plan.workspace_bytes());
  return plan;
}

namespace detail {
// Where cuDNN reads and writes a plan's image operands: the slots themselves, or packed copies.
template <class T>
struct ConvOperands {
  const T* input;
  T* output;
  std::byte* workspace;
};

template <class T>
ConvOperands<T> stage_in(Context<T>& ctx, const ConvPlan<T>& plan, ConstSlot<T> input, std::size_t input_size,
                         T* output) {
  std::byte* workspace = ctx.workspace_for(plan.workspace_bytes());
  if (!plan.staged) return {input.data, output, workspace};
  T* packed_input = reinterpret_cast<T*>(workspace + plan.staging_offset);
  T* packed_output = packed_input + plan.input_elements;
  copy_images(ctx, input, Slot<T>{packed_input, input_size}, input_size, false);
  return {packed_input, packed_output, workspace};
}
}  // namespace detail

// ---------------------------------------------------------------------------------------------
// The three directions on Slots. bias may be nullptr (a convolution without bias).
// ---------------------------------------------------------------------------------------------

// y = conv(x) + b, or y = relu(conv(x) + b) when `fuse_relu` (needs a bias).
template <class T>
void conv_forward(Context<T>& ctx, const ConvGeometry& g, const T* weight, const T* bias, ConstSlot<T> x, Slot<T> y,
                  bool fuse_relu) {
  ConvPlan<T>& plan = conv_plan(ctx, g, ConvDirection::forward, x.image_stride, y.image_stride, bias != nullptr);
  const auto operands = detail::stage_in(ctx, plan, x, g.in_size(), y.data);
  const auto algorithm = static_cast<cudnnConvolutionFwdAlgo_t>(plan.algorithm);
  ctx.run([&](const Handles& h) {
    bool done = false;
    if (fuse_relu && !plan.fusion_refused) {
      // y = relu(1 * conv(x) + 0 * z + b), z = y (ignored at alpha2 = 0, but must be a tensor).
      const cudnnStatus_t status = cudnnConvolutionBiasActivationForward(
          h.cudnn(), one<T>.get(), plan.input, operands.input, plan.filter, weight, plan.convolution, algorithm,
          operands.workspace, plan.algorithm_workspace, zero<T>.get(), plan.output, operands.output, plan.bias, bias,
          plan.relu, plan.output, operands.output);
      // Should cuDNN not fuse this algorithm and layout, the three steps below do the same.
      if (detail::refused(status))
        plan.fusion_refused = true;
      else
        CTNN_CUDNN_CHECK(status);
      done = !plan.fusion_refused;
    }
    if (!done) {
      CTNN_CUDNN_CHECK(cudnnConvolutionForward(h.cudnn(), one<T>.get(), plan.input, operands.input, plan.filter,
                                               weight, plan.convolution, algorithm, operands.workspace,
                                               plan.algorithm_workspace, zero<T>.get(), plan.output, operands.output));
      if (bias != nullptr)
        CTNN_CUDNN_CHECK(cudnnAddTensor(h.cudnn(), one<T>.get(), plan.bias, bias, one<T>.get(), plan.output,
                                        operands.output));
      if (fuse_relu)
        CTNN_CUDNN_CHECK(cudnnActivationForward(h.cudnn(), plan.relu, one<T>.get(), plan.output, operands.output,
                                                zero<T>.get(), plan.output, operands.output));
    }
  });
  if (plan.staged) copy_images(ctx, ConstSlot<T>{operands.output, g.out_size()}, y, g.out_size(), false);
}

// weight_grad (+)= dy * col(x)^T and bias_grad (+)= sums of dy (adding when the context
// accumulates parameter gradients).
template <class T>
void conv_backward_filter(Context<T>& ctx, const ConvGeometry& g, T* weight_grad, T* bias_grad, ConstSlot<T> x,
                          ConstSlot<T> dy) {
  ConvPlan<T>& plan =
      conv_plan(ctx, g, ConvDirection::backward_filter, x.image_stride, dy.image_stride, bias_grad != nullptr);
  const void* beta = blend<T>(ctx.accumulate_parameter_gradients);
  const T* x_data = x.data;
  const T* dy_data = dy.data;
  std::byte* workspace = ctx.workspace_for(plan.workspace_bytes());
  if (plan.staged) {
    T* packed_x = reinterpret_cast<T*>(workspace + plan.staging_offset);
    T* packed_dy = packed_x + plan.input_elements;
    copy_images(ctx, x, Slot<T>{packed_x, g.in_size()}, g.in_size(), false);
    copy_images(ctx, dy, Slot<T>{packed_dy, g.out_size()}, g.out_size(), false);
    x_data = packed_x;
    dy_data = packed_dy;
  }
  ctx.run([&](const Handles& h) {
    CTNN_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
        h.cudnn(), one<T>.get(), plan.input, x_data, plan.output, dy_data, plan.convolution,
        static_cast<cudnnConvolutionBwdFilterAlgo_t>(plan.algorithm), workspace, plan.algorithm_workspace, beta,
        plan.filter, weight_grad));
    if (bias_grad != nullptr)
      CTNN_CUDNN_CHECK(
          cudnnConvolutionBackwardBias(h.cudnn(), one<T>.get(), plan.output, dy_data, beta, plan.bias, bias_grad));
  });
}

// dx (+)= the input gradient of dy.
template <class T>
void conv_backward_data(Context<T>& ctx, const ConvGeometry& g, const T* weight, ConstSlot<T> dy, Slot<T> dx,
                        bool accumulate_dx) {
  ConvPlan<T>& plan = conv_plan(ctx, g, ConvDirection::backward_data, dy.image_stride, dx.image_stride, false);
  const auto operands = detail::stage_in(ctx, plan, dy, g.out_size(), dx.data);
  // Staged, cuDNN writes a packed gradient that is then copied or added into dx.
  const bool add_in_cudnn = accumulate_dx && !plan.staged;
  ctx.run([&](const Handles& h) {
    CTNN_CUDNN_CHECK(cudnnConvolutionBackwardData(
        h.cudnn(), one<T>.get(), plan.filter, weight, plan.input, operands.input, plan.convolution,
        static_cast<cudnnConvolutionBwdDataAlgo_t>(plan.algorithm), operands.workspace, plan.algorithm_workspace,
        blend<T>(add_in_cudnn), plan.output, operands.output));
  });
  if (plan.staged) copy_images(ctx, ConstSlot<T>{operands.output, g.in_size()}, dx, g.in_size(), accumulate_dx);
}

}  // namespace ctnn::cuda

namespace ctnn {

template <std::size_t In, std::size_t Out, std::size_t K, std::size_t S, std::size_t P, bool Bias, class T>
struct Evaluator<Conv<In, Out, K, S, P, Bias>, Cuda, T> {
  using Layer = Conv<In, Out, K, S, P, Bias>;
  static const T* bias(const ParamSpan<T>& params) { return Bias ? params.values + Layer::bias_offset : nullptr; }

  template <ShapeType I>
  static void forward(cuda::Context<T>& ctx, const ForwardArgs<T>& a) {
    cuda::conv_forward(ctx, Layer::template geometry<I>, a.params.values, bias(a.params), a.x, a.y, false);
  }

  template <ShapeType I>
  static void backward(cuda::Context<T>& ctx, const BackwardArgs<T>& a) {
    if (T* weight_grad = a.params.gradients)
      cuda::conv_backward_filter(ctx, Layer::template geometry<I>, weight_grad,
                                 Bias ? weight_grad + Layer::bias_offset : nullptr, a.x, a.dy);
    if (a.dx) cuda::conv_backward_data(ctx, Layer::template geometry<I>, a.params.values, a.dy, a.dx, a.accumulate_dx);
  }
};

// A convolution with bias followed by a ReLU (BasicConv2d's body), in evaluation mode:
// y = relu(conv(x) + b) in one cuDNN call. Float only: cuDNN fuses float convolutions (in double
// the two layers run one after the other).
template <std::size_t In, std::size_t Out, std::size_t K, std::size_t S, std::size_t P>
struct Fusion<Conv<In, Out, K, S, P, true>, ReLU, Cuda, float> {
  static constexpr bool available = true;
  using Layer = Conv<In, Out, K, S, P, true>;

  template <ShapeType I>
  static void forward(cuda::Context<float>& ctx, const ForwardArgs<float>& a) {
    cuda::conv_forward(ctx, Layer::template geometry<I>, a.params.values, a.params.values + Layer::bias_offset, a.x, a.y,
                       true);
  }
};

}  // namespace ctnn
