#pragma once
// CUDA evaluators of the element-wise layers: ReLU and Dropout's mask through cuDNN,
// TransformInput (a kernel of ctnn/cuda/kernels/elementwise.hpp), and the activations of
// ctnn/layers/activations.hpp (kernels of ctnn/cuda/kernels/activations.hpp, whose arithmetic is
// the CPU's: ctnn/rules/activations.hpp). Dropout's pass-through and the views Flatten and
// Identity are device-generic (ctnn/layers/).
//
//   ReLU      cudnnActivationForward / Backward; dx = dy where y > 0 (y stands in for x, which
//             ReLU's backward does not keep)
//   Dropout   cudnnDropoutForward / Backward; the mask lives in cuDNN's reserve space, which is
//             the layer's `saved` area. Evaluation, p = 0 and Model::disable_dropout copy
//             (ctnn/layers/dropout.hpp).
//             The masks come from cuDNN's generator, not the CPU's: the two backends drop
//             different elements for the same seed.
// Each runs in place when the memory plan gives it the same slot for x and y.

#include <cstddef>       // std::size_t
#include <string>        // std::to_string
#include <type_traits>   // std::is_same_v

#include <cudnn.h>   // cudnnActivation*, cudnnDropout*

#include <ctnn/cuda/context.hpp>             // ctnn::cuda::Context, copy_images, PlanKey
#include <ctnn/cuda/cudnn.hpp>               // ctnn::cuda::TensorDescriptor, ActivationDescriptor, ...
#include <ctnn/cuda/error.hpp>               // CTNN_CUDNN_CHECK
#include <ctnn/cuda/kernels.hpp>             // ctnn::cuda::launch, Kernel
#include <ctnn/evaluator.hpp>                // ctnn::Evaluator
#include <ctnn/layers/activations.hpp>       // ctnn::ElementwiseActivation, Sigmoid, Tanh, SiLU, ...
#include <ctnn/layers/dropout.hpp>           // ctnn::Dropout, ctnn::DropoutKernel
#include <ctnn/layers/relu.hpp>              // ctnn::ReLU
#include <ctnn/layers/relu6.hpp>             // ctnn::ReLU6
#include <ctnn/layers/transform_input.hpp>   // ctnn::TransformInput

namespace ctnn::cuda {

// Two or three image tensors of `elements` values each, described as [N, elements, 1, 1] with
// their own image strides, for cuDNN's element-wise calls (stride 0: the third is unused).
template <class T>
struct ElementwisePlan : Plan {
  TensorDescriptor a, b, c;
  ActivationDescriptor relu;
  DropoutDescriptor dropout;
  std::size_t reserve_bytes = 0;
};

template <class T>
ElementwisePlan<T>& elementwise_plan(Context<T>& ctx, PlanKind kind, std::size_t elements, std::size_t stride_a,
                                     std::size_t stride_b, std::size_t stride_c, std::int64_t extra = 0) {
  const PlanKey key(static_cast<int>(kind),
                    {static_cast<std::int64_t>(elements), static_cast<std::int64_t>(ctx.batch),
                     static_cast<std::int64_t>(stride_a), static_cast<std::int64_t>(stride_b),
                     static_cast<std::int64_t>(stride_c), extra, std::is_same_v<T, double> ? 1 : 0});
  return ctx.plans.template get<ElementwisePlan<T>>(key, [&] {
    auto* plan = new ElementwisePlan<T>;
    plan->a.template set_images<T>(ctx.batch, elements, 1, 1, stride_a);
    plan->b.template set_images<T>(ctx.batch, elements, 1, 1, stride_b);
    plan->c.template set_images<T>(ctx.batch, elements, 1, 1, stride_c != 0 ? stride_c : elements);
    if (kind == PlanKind::relu6)
      plan->relu.set_clipped_relu(ReLU6::ceiling);
    else
      plan->relu.set_relu();
    return plan;
  });
}

}  // namespace ctnn::cuda

namespace ctnn {

namespace cuda {
// ReLU (Kind activation) and ReLU6 (Kind relu6, cuDNN's clipped ReLU at 6) through cuDNN's
// activation calls; backward gives dx = dy where 0 < y < ceiling (y stands in for x, which the
// layers' backward does not keep: the two agree on where the gradient passes).
template <class T, PlanKind Kind>
struct ActivationEvaluator {
  template <ShapeType In>
  static void forward(Context<T>& ctx, const ForwardArgs<T>& a) {
    auto& plan = elementwise_plan(ctx, Kind, In::size, a.x.image_stride, a.y.image_stride, 0);
    ctx.run([&](const Handles& h) {
      CTNN_CUDNN_CHECK(
          cudnnActivationForward(h.cudnn(), plan.relu, one<T>.get(), plan.a, a.x.data, zero<T>.get(), plan.b, a.y.data));
    });
  }
  template <ShapeType In>
  static void backward(Context<T>& ctx, const BackwardArgs<T>& a) {
    if (!a.dx) return;
    // a: y (also given as x), b: dy, c: dx
    auto& plan = elementwise_plan(ctx, Kind, In::size, a.y.image_stride, a.dy.image_stride, a.dx.image_stride, 1);
    ctx.run([&](const Handles& h) {
      CTNN_CUDNN_CHECK(cudnnActivationBackward(h.cudnn(), plan.relu, one<T>.get(), plan.a, a.y.data, plan.b, a.dy.data,
                                               plan.a, a.y.data, blend<T>(a.accumulate_dx), plan.c, a.dx.data));
    });
  }
};
}  // namespace cuda

template <class T>
struct Evaluator<ReLU, Cuda, T> : cuda::ActivationEvaluator<T, cuda::PlanKind::activation> {};

// The mask lives in cuDNN's reserve space, which is the layer's `saved` area.
template <class T>
struct DropoutKernel<Cuda, T> {
  // The layer's dropout descriptor and the reserve space cuDNN keeps its mask in, which must fit
  // the `saved` area the memory plan gives the layer.
  template <class Layer, ShapeType In>
  static cuda::ElementwisePlan<T>& plan(cuda::Context<T>& ctx, std::size_t stride_a, std::size_t stride_b, int role) {
    auto& p = cuda::elementwise_plan(ctx, cuda::PlanKind::dropout, In::size, stride_a, stride_b, 0,
                                     static_cast<std::int64_t>(Layer::percent) * 2 + role);
    if (p.reserve_bytes == 0) {
      ctx.ensure_dropout_states();
      CTNN_CUDNN_CHECK(cudnnRestoreDropoutDescriptor(p.dropout, ctx.cudnn(), static_cast<float>(Layer::probability),
                                                     ctx.dropout_states.data(), ctx.dropout_states.size_bytes(),
                                                     ctx.dropout_seed));
      CTNN_CUDNN_CHECK(cudnnDropoutGetReserveSpaceSize(p.a, &p.reserve_bytes));
      const std::size_t saved_bytes = ctx.batch * Layer::template saved_elements<In> * sizeof(T);
      if (p.reserve_bytes > saved_bytes)
        throw Error("Dropout", "cuDNN's reserve space for the mask (" + std::to_string(p.reserve_bytes) +
                                   " bytes) exceeds the layer's saved area (" + std::to_string(saved_bytes) + " bytes)");
    }
    return p;
  }

  template <class Layer, ShapeType In>
  static void forward(cuda::Context<T>& ctx, const ForwardArgs<T>& a) {
    auto& p = plan<Layer, In>(ctx, a.x.image_stride, a.y.image_stride, 0);
    ctx.run([&](const cuda::Handles& h) {
      ctx.ensure_dropout_states();  // again after Model::seed()
      CTNN_CUDNN_CHECK(
          cudnnDropoutForward(h.cudnn(), p.dropout, p.a, a.x.data, p.b, a.y.data, a.saved, p.reserve_bytes));
    });
  }

  // cuDNN's dropout backward only overwrites: to add, it writes a packed gradient into the
  // workspace first.
  template <class Layer, ShapeType In>
  static void backward(cuda::Context<T>& ctx, const BackwardArgs<T>& a) {
    const std::size_t target_stride = a.accumulate_dx ? In::size : a.dx.image_stride;
    auto& p = plan<Layer, In>(ctx, a.dy.image_stride, target_stride, 1);
    std::byte* workspace = ctx.workspace_for(a.accumulate_dx ? ctx.batch * In::size * sizeof(T) : 0);
    T* target = a.accumulate_dx ? reinterpret_cast<T*>(workspace) : a.dx.data;
    ctx.run([&](const cuda::Handles& h) {
      CTNN_CUDNN_CHECK(cudnnDropoutBackward(h.cudnn(), p.dropout, p.a, a.dy.data, p.b, target, a.saved, p.reserve_bytes));
    });
    if (a.accumulate_dx) cuda::copy_images(ctx, ConstSlot<T>{target, In::size}, a.dx, In::size, true);
  }
};

// TransformInput: y_c = x_c * scale_c + shift_c with scale and shift rounded to T first, as the
// CPU kernel (ctnn/cpu/transform_input.hpp) computes it.
template <class T>
struct Evaluator<TransformInput, Cuda, T> {
  static T scale(std::size_t c) { return static_cast<T>(TransformInput::scale[c]); }
  static T shift(std::size_t c) { return static_cast<T>(TransformInput::shift[c]); }

  template <ShapeType In>
  static void forward(cuda::Context<T>& ctx, const ForwardArgs<T>& a) {
    const auto total = static_cast<long long>(ctx.batch * In::size);
    ctx.launch(cuda::Kernel::transform_input_forward, total, total, static_cast<long long>(In::plane), a.x.data,
               static_cast<long long>(a.x.image_stride), a.y.data, static_cast<long long>(a.y.image_stride), scale(0),
               scale(1), scale(2), shift(0), shift(1), shift(2));
  }
  template <ShapeType In>
  static void backward(cuda::Context<T>& ctx, const BackwardArgs<T>& a) {
    if (!a.dx) return;
    const auto total = static_cast<long long>(ctx.batch * In::size);
    ctx.launch(cuda::Kernel::transform_input_backward, total, total, static_cast<long long>(In::plane), a.dy.data,
               static_cast<long long>(a.dy.image_stride), a.dx.data, static_cast<long long>(a.dx.image_stride),
               scale(0), scale(1), scale(2), a.accumulate_dx ? 1 : 0);
  }
};

}  // namespace ctnn

// ---- ReLU6 ------------------------------------------------------------------------------------

namespace ctnn {

template <class T>
struct Evaluator<ReLU6, Cuda, T> : cuda::ActivationEvaluator<T, cuda::PlanKind::relu6> {};

}  // namespace ctnn

// ---- Element-wise activations (Sigmoid, Tanh, SiLU, Hardswish, LeakyReLU) -------------------

namespace ctnn::cuda {

// The two kernels of each activation rule (ctnn/cuda/kernels/activations.hpp).
struct ActivationKernels {
  Kernel forward, backward;
};
template <class Rule>
constexpr ActivationKernels activation_kernels() {
  if constexpr (std::is_same_v<Rule, rules::SigmoidRule>) return {Kernel::sigmoid_forward, Kernel::sigmoid_backward};
  if constexpr (std::is_same_v<Rule, rules::TanhRule>) return {Kernel::tanh_forward, Kernel::tanh_backward};
  if constexpr (std::is_same_v<Rule, rules::SiLURule>) return {Kernel::silu_forward, Kernel::silu_backward};
  if constexpr (std::is_same_v<Rule, rules::HardswishRule>) return {Kernel::hardswish_forward, Kernel::hardswish_backward};
  if constexpr (std::is_same_v<Rule, rules::LeakyReLURule>) return {Kernel::leaky_relu_forward, Kernel::leaky_relu_backward};
}

}  // namespace ctnn::cuda

namespace ctnn {

// One evaluator for every ElementwiseActivation, as on the CPU: its rule's kernels, backward fed
// what the description keeps (the output y or the input x).
template <ElementwiseActivation L, class T>
struct Evaluator<L, Cuda, T> {
  static constexpr cuda::ActivationKernels kernels = cuda::activation_kernels<typename L::rule>();
  static constexpr T parameter = static_cast<T>(L::rule_parameter);

  template <ShapeType In>
  static void forward(cuda::Context<T>& ctx, const ForwardArgs<T>& a) {
    const auto total = static_cast<long long>(ctx.batch * In::size);
    ctx.launch(kernels.forward, total, total, static_cast<long long>(In::size), a.x.data,
               static_cast<long long>(a.x.image_stride), a.y.data, static_cast<long long>(a.y.image_stride), parameter);
  }
  template <ShapeType In>
  static void backward(cuda::Context<T>& ctx, const BackwardArgs<T>& a) {
    if (!a.dx) return;
    const ConstSlot<T> kept = L::backward_reads_output ? a.y : a.x;
    const auto total = static_cast<long long>(ctx.batch * In::size);
    ctx.launch(kernels.backward, total, total, static_cast<long long>(In::size), kept.data,
               static_cast<long long>(kept.image_stride), a.dy.data, static_cast<long long>(a.dy.image_stride),
               a.dx.data, static_cast<long long>(a.dx.image_stride), parameter, a.accumulate_dx ? 1 : 0);
  }
};

}  // namespace ctnn
