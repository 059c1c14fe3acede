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
// slice of the Inception output directly. Each direction has a plan per geometry, strides,
// operand alignment (16 bytes or less) and batch size (ctnn/cuda/context.hpp), made once while
// planning:
// descriptors, and the algorithms cuDNN offers for them, best first —
//   benchmark   cudnnFind*Ex, timed on the plan's real operands (a channel slice may be only
//               4-byte aligned, which cuDNN's own test buffers never are)
//   heuristic   cudnnGet*_v7, cuDNN's ranking
// — kept while they fit the workspace limit. The first is used; should cuDNN refuse it when it
// runs (NOT_SUPPORTED), the next one that fits the workspace already planned takes its place, as
// PyTorch does. Should cuDNN offer no algorithm for a strided layout, the plan goes through
// packed copies in the workspace instead. Every part of the workspace starts on a 256-byte
// boundary (ctnn/cuda/workspace.hpp).

#include <algorithm>     // std::max, std::min
#include <array>         // std::array
#include <cstddef>       // std::size_t, std::byte
#include <cstdint>       // std::int64_t, std::uintptr_t
#include <iterator>      // std::size
#include <string>        // std::string, std::to_string
#include <type_traits>   // std::is_same_v, std::type_identity_t
#include <vector>        // std::vector

#include <cudnn.h>   // cudnnConvolution*, cudnnFind*Ex, cudnnGet*_v7

#include <ctnn/cuda/context.hpp>     // ctnn::cuda::Context, PlanKey, copy_images
#include <ctnn/cuda/cudnn.hpp>       // ctnn::cuda::TensorDescriptor, FilterDescriptor, ...
#include <ctnn/cuda/error.hpp>       // CTNN_CUDNN_CHECK
#include <ctnn/cuda/memory.hpp>      // ctnn::cuda::DeviceBuffer
#include <ctnn/cuda/workspace.hpp>   // ctnn::cuda::workspace_layout, pointer_alignment
#include <ctnn/evaluator.hpp>        // ctnn::Evaluator, ctnn::Fusion
#include <ctnn/layers/conv.hpp>      // ctnn::Conv, ctnn::ConvGeometry
#include <ctnn/layers/relu.hpp>      // ctnn::ReLU

namespace ctnn::cuda {

enum class ConvDirection { forward, backward_data, backward_filter };

// One algorithm cuDNN offers for a plan, and the workspace it needs.
struct ConvAlgorithm {
  int algorithm = 0;  // cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  std::size_t workspace = 0;
};

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
  std::size_t filter_elements = 0;
  std::vector<ConvAlgorithm> candidates;  // best first
  std::size_t chosen = 0;                 // the candidate in use
  // cuDNN declined the fused convolution + bias + ReLU for this algorithm and layout.
  bool fusion_refused = false;
  // Staged: cuDNN runs on packed copies of the input and output in the workspace.
  bool staged = false;
  std::size_t input_elements = 0, output_elements = 0;
  // Workspace parts: [algorithm][packed input][packed output] (the last two when staged).
  WorkspaceLayout<3> layout{};

  const ConvAlgorithm& algorithm() const { return candidates[chosen]; }
  std::size_t workspace_bytes() const { return layout.total; }
  void lay_out_workspace() {
    layout = workspace_layout<3>({algorithm().workspace, staged ? input_elements * sizeof(T) : 0,
                                  staged ? output_elements * sizeof(T) : 0});
  }
};

namespace detail {

// cuDNN turned the request down (a layout or parameter it does not handle), rather than failed.
inline bool refused(cudnnStatus_t status) {
  const int category = CUDNN_STATUS_CATEGORY(static_cast<int>(status));
  return category == CUDNN_STATUS_NOT_SUPPORTED || category == CUDNN_STATUS_BAD_PARAM;
}

// FFT and Winograd: exact in exact arithmetic, but their float rounding differs from a direct
// convolution's by more than the order of additions (Context::exclude_transform_algorithms).
inline bool is_transform_algorithm(ConvDirection direction, int algorithm) {
  switch (direction) {
    case ConvDirection::forward:
      return algorithm == CUDNN_CONVOLUTION_FWD_ALGO_FFT || algorithm == CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING ||
             algorithm == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD || algorithm == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED;
    case ConvDirection::backward_data:
      return algorithm == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT ||
             algorithm == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING ||
             algorithm == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD ||
             algorithm == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED;
    case ConvDirection::backward_filter:
      return algorithm == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT ||
             algorithm == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING ||
             algorithm == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED;
  }
  return false;
}

// The candidates of one search, best first: those that ran (or are supported) and whose
// workspace, asked of cuDNN for the plan's descriptors, fits the limit.
template <class T, class Perf, class WorkspaceSize>
void keep_candidates(Context<T>& ctx, ConvPlan<T>& plan, ConvDirection direction, const Perf* results, int count,
                     WorkspaceSize&& workspace_size) {
  plan.candidates.clear();
  for (int i = 0; i < count; ++i) {
    if (results[i].status != CUDNN_STATUS_SUCCESS) continue;
    const int algorithm = static_cast<int>(results[i].algo);
    if (ctx.exclude_transform_algorithms && is_transform_algorithm(direction, algorithm)) continue;
    CTNN_CUDNN_CHECK(cudnnSetConvolutionMathType(plan.convolution, results[i].mathType));
    std::size_t bytes = 0;
    if (workspace_size(results[i].algo, &bytes) != CUDNN_STATUS_SUCCESS || bytes > ctx.workspace_limit) continue;
    plan.candidates.push_back({algorithm, results[i].mathType, bytes});
  }
}

// A buffer for what a timed search writes where it must not: the real weight gradients (which
// may be accumulating) and the search's own workspace. Planning alone allocates it.
struct SearchBuffers {
  DeviceBuffer<std::byte> scratch, workspace;
  template <class T>
  SearchBuffers(const Context<T>& ctx, std::size_t scratch_bytes) {
    scratch.allocate(std::max<std::size_t>(scratch_bytes, 1), "a convolution algorithm search");
    std::size_t free = 0, total = 0;
    CTNN_CUDA_CHECK(cudaMemGetInfo(&free, &total));
    workspace.allocate(std::max<std::size_t>(std::min(ctx.workspace_limit, free / 2), 1),
                       "a convolution algorithm search's workspace");
  }
};

// The plan's operands as found: input, output (the weights' gradient for backward_filter) and
// the filter (the weights for forward and backward_data).
template <class T>
struct SearchOperands {
  const T* input = nullptr;
  T* output = nullptr;
  const T* filter = nullptr;
};

// Searches cuDNN's algorithms for the plan's descriptors; false when none supports them.
// `operands` (benchmark search only): where to time them; null pointers time on cuDNN's own.
template <class T>
bool choose_algorithm(Context<T>& ctx, ConvPlan<T>& plan, ConvDirection direction, SearchOperands<T> operands) {
  const bool benchmark = ctx.algorithm_search == AlgorithmSearch::benchmark;
  const bool timed_on_operands = benchmark && operands.input != nullptr;
  const cudnnHandle_t h = ctx.cudnn();
  int count = 0;
  cudnnStatus_t status = CUDNN_STATUS_SUCCESS;
  auto search = [&](auto& results, auto find, auto find_ex, auto heuristic, auto workspace_size, std::size_t scratch) {
    const int capacity = static_cast<int>(std::size(results));
    if (timed_on_operands) {
      SearchBuffers buffers(ctx, scratch);
      status = find_ex(capacity, buffers);
    } else {
      status = benchmark ? find(capacity) : heuristic(capacity);
    }
    if (status != CUDNN_STATUS_SUCCESS && !refused(status)) CTNN_CUDNN_CHECK(status);
    if (status == CUDNN_STATUS_SUCCESS) keep_candidates(ctx, plan, direction, results, count, workspace_size);
  };
  if (direction == ConvDirection::forward) {
    cudnnConvolutionFwdAlgoPerf_t results[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    search(
        results,
        [&](int n) { return cudnnFindConvolutionForwardAlgorithm(h, plan.input, plan.filter, plan.convolution, plan.output, n, &count, results); },
        [&](int n, SearchBuffers& b) {
          return cudnnFindConvolutionForwardAlgorithmEx(h, plan.input, operands.input, plan.filter, operands.filter,
                                                        plan.convolution, plan.output, operands.output, n, &count,
                                                        results, b.workspace.data(), b.workspace.size_bytes());
        },
        [&](int n) { return cudnnGetConvolutionForwardAlgorithm_v7(h, plan.input, plan.filter, plan.convolution, plan.output, n, &count, results); },
        [&](cudnnConvolutionFwdAlgo_t algo, std::size_t* bytes) {
          return cudnnGetConvolutionForwardWorkspaceSize(h, plan.input, plan.filter, plan.convolution, plan.output,
                                                         algo, bytes);
        },
        0);
  } else if (direction == ConvDirection::backward_data) {
    cudnnConvolutionBwdDataAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    search(
        results,
        [&](int n) { return cudnnFindConvolutionBackwardDataAlgorithm(h, plan.filter, plan.input, plan.convolution, plan.output, n, &count, results); },
        [&](int n, SearchBuffers& b) {
          return cudnnFindConvolutionBackwardDataAlgorithmEx(h, plan.filter, operands.filter, plan.input,
                                                             operands.input, plan.convolution, plan.output,
                                                             operands.output, n, &count, results, b.workspace.data(),
                                                             b.workspace.size_bytes());
        },
        [&](int n) { return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, plan.filter, plan.input, plan.convolution, plan.output, n, &count, results); },
        [&](cudnnConvolutionBwdDataAlgo_t algo, std::size_t* bytes) {
          return cudnnGetConvolutionBackwardDataWorkspaceSize(h, plan.filter, plan.input, plan.convolution,
                                                              plan.output, algo, bytes);
        },
        0);
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    // The weight gradient is written to a scratch buffer, never to the model's.
    search(
        results,
        [&](int n) { return cudnnFindConvolutionBackwardFilterAlgorithm(h, plan.input, plan.output, plan.convolution, plan.filter, n, &count, results); },
        [&](int n, SearchBuffers& b) {
          return cudnnFindConvolutionBackwardFilterAlgorithmEx(
              h, plan.input, operands.input, plan.output, operands.output, plan.convolution, plan.filter,
              reinterpret_cast<T*>(b.scratch.data()), n, &count, results, b.workspace.data(), b.workspace.size_bytes());
        },
        [&](int n) { return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, plan.input, plan.output, plan.convolution, plan.filter, n, &count, results); },
        [&](cudnnConvolutionBwdFilterAlgo_t algo, std::size_t* bytes) {
          return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, plan.input, plan.output, plan.convolution,
                                                                plan.filter, algo, bytes);
        },
        plan.filter_elements * sizeof(T));
  }
  if (plan.candidates.empty()) return false;
  plan.chosen = 0;
  CTNN_CUDNN_CHECK(cudnnSetConvolutionMathType(plan.convolution, plan.algorithm().math));
  return true;
}

inline const char* direction_name(ConvDirection direction) {
  switch (direction) {
    case ConvDirection::forward: return "forward";
    case ConvDirection::backward_data: return "backward data";
    case ConvDirection::backward_filter: return "backward filter";
  }
  return "";
}

// What a plan may assume of its operands' addresses: 16-byte alignment (the widest vector
// access of cuDNN's kernels), or less. Arena slots and cudaMalloc'd buffers all have 16; a
// channel slice at an odd offset (a Concat branch of 729 floats) may not.
inline std::int64_t alignment_class(const void* pointer) {
  return static_cast<std::int64_t>(std::min<std::size_t>(pointer_alignment(reinterpret_cast<std::uintptr_t>(pointer)), 16));
}

}  // namespace detail

// The plan of one direction, made once per geometry, image strides, pointer alignment and batch
// size. The operands are the pass's own (found: their strides, alignment, and for a timed
// search, where to time):
//   forward:          input = x, output = y, filter = the weights
//   backward_data:    input = dy, output = dx, filter = the weights
//   backward_filter:  input = x, output = dy
template <class T>
ConvPlan<T>& conv_plan(Context<T>& ctx, const ConvGeometry& g, ConvDirection direction, ConstSlot<T> input,
                       ConstSlot<T> output, const std::type_identity_t<T>* filter, bool has_bias) {
  const PlanKey key(static_cast<int>(PlanKind::conv_forward) + static_cast<int>(direction),
                    {static_cast<std::int64_t>(g.in_channels), static_cast<std::int64_t>(g.out_channels),
                     static_cast<std::int64_t>(g.kernel), static_cast<std::int64_t>(g.stride),
                     static_cast<std::int64_t>(g.padding), static_cast<std::int64_t>(g.in_height),
                     static_cast<std::int64_t>(g.in_width), static_cast<std::int64_t>(ctx.batch),
                     static_cast<std::int64_t>(input.image_stride), static_cast<std::int64_t>(output.image_stride),
                     (has_bias ? 1 : 0) + (ctx.allow_tf32 ? 2 : 0) + (ctx.exclude_transform_algorithms ? 4 : 0) +
                         static_cast<std::int64_t>(g.groups) * 8,
                     static_cast<std::int64_t>(ctx.algorithm_search), std::is_same_v<T, double> ? 1 : 0,
                     static_cast<std::int64_t>(ctx.workspace_limit >> 20), detail::alignment_class(input.data),
                     detail::alignment_class(output.data)});
  ConvPlan<T>& plan = ctx.plans.template get<ConvPlan<T>>(key, [&] {
    auto* made = new ConvPlan<T>;
    ConvPlan<T>& p = *made;
    // Grouped: the filter is [Out, In / groups, K, K] and cuDNN splits the channels itself.
    p.filter.template set<T>(g.out_channels, g.group_in_channels(), g.kernel, g.kernel);
    p.filter_elements = g.weight_size();
    p.convolution.template set<T>(g.padding, g.stride, ctx.allow_tf32);
    if (g.groups > 1)
      CTNN_CUDNN_CHECK(cudnnSetConvolutionGroupCount(p.convolution, detail::to_int(g.groups, "groups")));
    if (has_bias) p.bias.template set_packed<T>(1, g.out_channels, 1, 1);
    p.relu.set_relu();
    // The image operands: x is In x H x W, y (and dy) Out x OH x OW.
    const bool input_is_x = direction != ConvDirection::backward_data;
    const bool output_is_y = direction != ConvDirection::backward_data;
    auto describe = [&](bool packed) {
      const std::size_t in_stride = packed ? (input_is_x ? g.in_size() : g.out_size()) : input.image_stride;
      const std::size_t out_stride = packed ? (output_is_y ? g.out_size() : g.in_size()) : output.image_stride;
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
    // backward_filter's second image operand is read too: it is dy, not written.
    const detail::SearchOperands<T> operands{input.data, const_cast<T*>(output.data),
                                             direction == ConvDirection::backward_filter ? nullptr : filter};
    if (!detail::choose_algorithm(ctx, p, direction, operands)) {
      // Packed copies live in the workspace, 256-byte aligned: cuDNN's own buffers are as aligned.
      describe(true);
      if (!detail::choose_algorithm(ctx, p, direction, detail::SearchOperands<T>{}))
        throw Error("cuDNN", std::string("no convolution ") + detail::direction_name(direction) +
                                 " algorithm for Conv2d(" + std::to_string(g.in_channels) + ", " +
                                 std::to_string(g.out_channels) + ", " + std::to_string(g.kernel) +
                                 (g.groups > 1 ? ", groups=" + std::to_string(g.groups) : std::string()) + ") on " +
                                 std::to_string(g.in_height) + "x" + std::to_string(g.in_width) + " at batch " +
                                 std::to_string(ctx.batch) + " within a workspace of " +
                                 std::to_string(ctx.workspace_limit) + " bytes");
      p.staged = true;
      p.input_elements = ctx.batch * (input_is_x ? g.in_size() : g.out_size());
      p.output_elements = ctx.batch * (output_is_y ? g.out_size() : g.in_size());
    }
    p.lay_out_workspace();
    return made;
  });
  ctx.workspace_for(plan.workspace_bytes());
  return plan;
}

namespace detail {
// Runs call(algorithm, workspace, workspace bytes) with the plan's algorithm; should cuDNN refuse
// it (NOT_SUPPORTED), moves the plan to the next candidate that fits the workspace planned for
// the algorithm and tries again. Refused by all: the first refusal is the error.
template <class T, class Call>
void run_with_fallback(Context<T>& ctx, ConvPlan<T>& plan, std::byte* workspace, Call&& call) {
  ctx.run([&](const Handles&) {
    const std::size_t room = plan.layout.offsets[1];  // the algorithm's part, padding included
    cudnnStatus_t first_refusal = CUDNN_STATUS_SUCCESS;
    for (;;) {
      const cudnnStatus_t status = call(plan.algorithm().algorithm, workspace, plan.algorithm().workspace);
      if (!refused(status)) {
        CTNN_CUDNN_CHECK(status);
        return;
      }
      if (first_refusal == CUDNN_STATUS_SUCCESS) first_refusal = status;
      std::size_t next = plan.chosen + 1;
      while (next < plan.candidates.size() && plan.candidates[next].workspace > room) ++next;
      if (next >= plan.candidates.size()) CTNN_CUDNN_CHECK(first_refusal);
      plan.chosen = next;
      plan.fusion_refused = false;
      CTNN_CUDNN_CHECK(cudnnSetConvolutionMathType(plan.convolution, plan.algorithm().math));
    }
  });
}

// Where cuDNN reads and writes a plan's image operands: the slots themselves, or packed copies.
template <class T>
struct ConvOperands {
  const T* input;
  T* output;
  std::byte* workspace;
};

template <class T>
ConvOperands<T> stage_in(Context<T>& ctx, const ConvPlan<T>& plan, ConstSlot<T> input, std::size_t input_size,
                         std::type_identity_t<T>* output) {
  std::byte* workspace = ctx.workspace_for(plan.workspace_bytes());
  if (!plan.staged) return {input.data, output, workspace};
  T* packed_input = reinterpret_cast<T*>(workspace + plan.layout.offsets[1]);
  T* packed_output = reinterpret_cast<T*>(workspace + plan.layout.offsets[2]);
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
  ConvPlan<T>& plan = conv_plan(ctx, g, ConvDirection::forward, x, ConstSlot<T>(y), weight, bias != nullptr);
  const auto operands = detail::stage_in(ctx, plan, x, g.in_size(), y.data);
  const cudnnHandle_t h = ctx.cudnn();
  detail::run_with_fallback(ctx, plan, operands.workspace, [&](int algorithm, std::byte* workspace, std::size_t bytes) {
    const auto algo = static_cast<cudnnConvolutionFwdAlgo_t>(algorithm);
    if (fuse_relu && !plan.fusion_refused) {
      // y = relu(1 * conv(x) + 0 * z + b), z = y (ignored at alpha2 = 0, but must be a tensor).
      const cudnnStatus_t status = cudnnConvolutionBiasActivationForward(
          h, one<T>.get(), plan.input, operands.input, plan.filter, weight, plan.convolution, algo, workspace, bytes,
          zero<T>.get(), plan.output, operands.output, plan.bias, bias, plan.relu, plan.output, operands.output);
      // Should cuDNN not fuse this algorithm and layout, the three steps below do the same.
      if (!detail::refused(status)) return status;
      plan.fusion_refused = true;
    }
    const cudnnStatus_t status =
        cudnnConvolutionForward(h, one<T>.get(), plan.input, operands.input, plan.filter, weight, plan.convolution,
                                algo, workspace, bytes, zero<T>.get(), plan.output, operands.output);
    if (status != CUDNN_STATUS_SUCCESS) return status;
    if (bias != nullptr)
      CTNN_CUDNN_CHECK(cudnnAddTensor(h, one<T>.get(), plan.bias, bias, one<T>.get(), plan.output, operands.output));
    if (fuse_relu)
      CTNN_CUDNN_CHECK(cudnnActivationForward(h, plan.relu, one<T>.get(), plan.output, operands.output, zero<T>.get(),
                                              plan.output, operands.output));
    return CUDNN_STATUS_SUCCESS;
  });
  if (plan.staged) copy_images(ctx, ConstSlot<T>{operands.output, g.out_size()}, y, g.out_size(), false);
}

// weight_grad (+)= dy * col(x)^T and bias_grad (+)= sums of dy (adding when the context
// accumulates parameter gradients).
template <class T>
void conv_backward_filter(Context<T>& ctx, const ConvGeometry& g, T* weight_grad, T* bias_grad, ConstSlot<T> x,
                          ConstSlot<T> dy) {
  ConvPlan<T>& plan = conv_plan(ctx, g, ConvDirection::backward_filter, x, dy, nullptr, bias_grad != nullptr);
  const void* beta = blend<T>(ctx.accumulate_parameter_gradients);
  const auto operands = detail::stage_in(ctx, plan, x, g.in_size(), nullptr);
  const T* dy_data = dy.data;
  if (plan.staged) {
    T* packed_dy = operands.output;
    copy_images(ctx, dy, Slot<T>{packed_dy, g.out_size()}, g.out_size(), false);
    dy_data = packed_dy;
  }
  const cudnnHandle_t h = ctx.cudnn();
  detail::run_with_fallback(ctx, plan, operands.workspace, [&](int algorithm, std::byte* workspace, std::size_t bytes) {
    return cudnnConvolutionBackwardFilter(h, one<T>.get(), plan.input, operands.input, plan.output, dy_data,
                                          plan.convolution, static_cast<cudnnConvolutionBwdFilterAlgo_t>(algorithm),
                                          workspace, bytes, beta, plan.filter, weight_grad);
  });
  if (bias_grad != nullptr)
    ctx.run([&](const Handles& handles) {
      CTNN_CUDNN_CHECK(cudnnConvolutionBackwardBias(handles.cudnn(), one<T>.get(), plan.output, dy_data, beta, plan.bias,
                                                    bias_grad));
    });
}

// dx (+)= the input gradient of dy.
template <class T>
void conv_backward_data(Context<T>& ctx, const ConvGeometry& g, const T* weight, ConstSlot<T> dy, Slot<T> dx,
                        bool accumulate_dx) {
  ConvPlan<T>& plan = conv_plan(ctx, g, ConvDirection::backward_data, dy, ConstSlot<T>(dx), weight, false);
  const auto operands = detail::stage_in(ctx, plan, dy, g.out_size(), dx.data);
  // Staged, cuDNN writes a packed gradient that is then copied or added into dx.
  const bool add_in_cudnn = accumulate_dx && !plan.staged;
  const cudnnHandle_t h = ctx.cudnn();
  detail::run_with_fallback(ctx, plan, operands.workspace, [&](int algorithm, std::byte* workspace, std::size_t bytes) {
    return cudnnConvolutionBackwardData(h, one<T>.get(), plan.filter, weight, plan.input, operands.input,
                                        plan.convolution, static_cast<cudnnConvolutionBwdDataAlgo_t>(algorithm),
                                        workspace, bytes, blend<T>(add_in_cudnn), plan.output, operands.output);
  });
  if (plan.staged) copy_images(ctx, ConstSlot<T>{operands.output, g.in_size()}, dx, g.in_size(), accumulate_dx);
}

}  // namespace ctnn::cuda

namespace ctnn {

template <std::size_t In, std::size_t Out, std::size_t K, std::size_t S, std::size_t P, bool Bias, std::size_t Groups,
          class T>
struct Evaluator<Conv<In, Out, K, S, P, Bias, Groups>, Cuda, T> {
  using Layer = Conv<In, Out, K, S, P, Bias, Groups>;
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
template <std::size_t In, std::size_t Out, std::size_t K, std::size_t S, std::size_t P, std::size_t Groups>
struct Fusion<Conv<In, Out, K, S, P, true, Groups>, ReLU, Cuda, float> {
  static constexpr bool available = true;
  using Layer = Conv<In, Out, K, S, P, true, Groups>;

  template <ShapeType I>
  static void forward(cuda::Context<float>& ctx, const ForwardArgs<float>& a) {
    cuda::conv_forward(ctx, Layer::template geometry<I>, a.params.values, a.params.values + Layer::bias_offset, a.x, a.y,
                       true);
  }
};

}  // namespace ctnn
