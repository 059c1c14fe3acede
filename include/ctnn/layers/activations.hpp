#pragma once
// Element-wise activations, each PyTorch's module of the same name:
//
//   Sigmoid                      nn.Sigmoid()
//   Tanh                         nn.Tanh()
//   SiLU                         nn.SiLU()           x * sigmoid(x), also called swish
//   Hardswish                    nn.Hardswish()      x * relu6(x + 3) / 6 (MobileNetV3)
//   LeakyReLU<NegativeSlope>     nn.LeakyReLU(NegativeSlope), the slope a std::ratio (no
//                                floating-point template parameters):
//     LeakyReLU<>                     nn.LeakyReLU()      slope 0.01
//     LeakyReLU<std::ratio<1, 5>>     nn.LeakyReLU(0.2)
//
//   Shape<C, H, W> -> Shape<C, H, W>
//   arithmetic: ctnn/rules/activations.hpp, written once for both devices
//   CPU kernel: ctnn/cpu/elementwise.hpp    GPU kernels: ctnn/cuda/elementwise.hpp
//
// Each runs in place where the memory plan allows it. Backward keeps what its derivative needs:
// Sigmoid and Tanh their output (so they overwrite their input in training too); SiLU and
// Hardswish their input; LeakyReLU its output where the slope is not negative (the output then
// has the input's sign), else its input.

#include <concepts>      // std::convertible_to
#include <ratio>         // std::ratio
#include <string_view>   // std::string_view

#include <ctnn/layer.hpp>               // ctnn::Layer
#include <ctnn/layers/batch_norm.hpp>   // ctnn::Ratio
#include <ctnn/rules/activations.hpp>   // ctnn::rules::SigmoidRule, ...
#include <ctnn/shape.hpp>               // ctnn::ShapeType

namespace ctnn {

namespace detail {
// What the element-wise activations share: the shape, in place, and the rule of their arithmetic.
template <class Rule, bool KeepsOutput>
struct ElementwiseActivationLayer : Layer {
  using rule = Rule;
  // The rule's parameter (LeakyReLU's negative slope), 0 for the others.
  static constexpr double rule_parameter = 0;
  static constexpr bool in_place = true;
  static constexpr bool backward_reads_input = !KeepsOutput;
  static constexpr bool backward_reads_output = KeepsOutput;
  template <ShapeType In>
  using output_shape = In;
};
}  // namespace detail

// An element-wise activation: a layer whose every device computes y = rule::forward(x) and
// dx = rule::backward(kept, dy) element by element (ctnn/rules/activations.hpp).
template <class L>
concept ElementwiseActivation = requires {
  typename L::rule;
  { L::rule_parameter } -> std::convertible_to<double>;
};

struct Sigmoid : detail::ElementwiseActivationLayer<rules::SigmoidRule, true> {
  static constexpr std::string_view type_name = "Sigmoid";
};

struct Tanh : detail::ElementwiseActivationLayer<rules::TanhRule, true> {
  static constexpr std::string_view type_name = "Tanh";
};

struct SiLU : detail::ElementwiseActivationLayer<rules::SiLURule, false> {
  static constexpr std::string_view type_name = "SiLU";
};

struct Hardswish : detail::ElementwiseActivationLayer<rules::HardswishRule, false> {
  static constexpr std::string_view type_name = "Hardswish";
};

template <Ratio NegativeSlope = std::ratio<1, 100>>
struct LeakyReLU : detail::ElementwiseActivationLayer<rules::LeakyReLURule, (NegativeSlope::num >= 0)> {
  static constexpr std::string_view type_name = "LeakyReLU";
  // As PyTorch holds it: a double, rounded to T where the kernels compute in T.
  static constexpr double negative_slope =
      static_cast<double>(NegativeSlope::num) / static_cast<double>(NegativeSlope::den);
  static constexpr double rule_parameter = negative_slope;
};

}  // namespace ctnn
