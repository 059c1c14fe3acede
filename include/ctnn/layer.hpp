#pragma once
// What every layer type says about itself, and the compile-time queries built on that.
//
// A layer is a small description type. Leaf layers derive from Layer and override what differs:
//
//   struct ReLU : Layer {
//     static constexpr std::string_view type_name = "ReLU";
//     template <ShapeType In> using output_shape = In;
//     static constexpr bool in_place = true;
//   };
//
// Composite layers (Sequential, Concat) describe themselves from their children. A named
// composition such as BasicConv2d declares `using body = Sequential<...>`: it is evaluated as its
// body but keeps its own name in summaries and error messages.
//
// Sizes that depend on the input (macs, saved and scratch elements) are per image; the runtime
// multiplies them by the batch size.

#include <array>         // std::array
#include <concepts>      // std::convertible_to
#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view
#include <type_traits>   // std::bool_constant

#include <ctnn/shape.hpp>   // ctnn::Shape, ctnn::ShapeType, ctnn::output_shape_t

namespace ctnn {

// Training or evaluation, as PyTorch's module.train() / module.eval().
enum class Mode { eval, train };

// Rounds an element count up to 16 elements (64 bytes of float) so every planned buffer starts
// on a cache line.
constexpr std::size_t align_elements(std::size_t n) { return (n + 15) / 16 * 16; }

// One named tensor of a layer as PyTorch's state_dict shows it, e.g. Conv's
// {"weight", [Out, In, K, K]} at offset 0 of the layer's parameters.
enum class TensorRole { parameter, buffer };
struct TensorSpec {
  std::string_view name;
  std::array<std::size_t, 4> dims{};
  std::size_t rank = 0;
  std::size_t offset = 0;  // within the layer's parameters (or buffers, by role)
  TensorRole role = TensorRole::parameter;

  constexpr std::size_t count() const {
    std::size_t n = 1;
    for (std::size_t i = 0; i < rank; ++i) n *= dims[i];
    return n;
  }
};

struct Layer {
  static constexpr std::string_view type_name = "Layer";
  // The layer's own tensors (leaves only; composites name their children instead).
  static constexpr std::array<TensorSpec, 0> tensors{};
  // Trainable parameters (PyTorch's parameters()) and non-trainable state (its buffers, such as
  // BatchNorm's running statistics), each a count of scalars in the model's flat buffers.
  static constexpr std::size_t parameter_count = 0;
  static constexpr std::size_t buffer_count = 0;
  // Memory planning flags. in_place: may write its output over its input. is_view: its output
  // is its input, unchanged (Flatten). backward_reads_*: what backward needs kept from forward.
  static constexpr bool in_place = false;
  static constexpr bool is_view = false;
  static constexpr bool backward_reads_input = true;
  static constexpr bool backward_reads_output = true;
  // Multiply-accumulates of one image's forward pass (bias additions not counted).
  template <ShapeType In>
  static constexpr std::size_t macs = 0;
  // Elements kept from a training forward for backward, per image (masks, pooling indices).
  template <ShapeType In>
  static constexpr std::size_t saved_elements = 0;
  // Temporary elements during forward or backward, per image.
  template <ShapeType In>
  static constexpr std::size_t scratch_elements = 0;
  // Per-thread work space, independent of the batch (a convolution's im2col matrix).
  template <ShapeType In>
  static constexpr std::size_t workspace_elements = 0;
  // Layers in this layer's subtree as walk() visits them (itself included): composites number
  // their children with it, so a layer's output can be recorded by its walk position.
  static constexpr std::size_t node_count = 1;
  // Records its output itself instead of leaving that to its parent (AuxOutput: the recorded
  // output is its head's, not the main path's).
  static constexpr bool records_own_output = false;
  // Has kernels of its own (composites and compositions say false): backward of a leaf makes
  // its parameter gradients final.
  static constexpr bool is_leaf = true;
};

// What a composition's body is fed: by default the input as received.
struct AcceptAnyInput {
  template <ShapeType In>
  using shape = In;
};

// A composition of layers that is evaluated as `Body` but named on its own. `Accept` may check
// the input first and hand the body the shape it was declared for, so that one wrong channel
// count gives the composition's one error and not one per inner layer (see Inception).
template <class Body, class Accept = AcceptAnyInput>
struct Composed {
  using body = Body;
  template <ShapeType In>
  using accepted_input = typename Accept::template shape<In>;

  static constexpr std::string_view type_name = Body::type_name;
  static constexpr std::size_t parameter_count = Body::parameter_count;
  static constexpr std::size_t buffer_count = Body::buffer_count;
  static constexpr bool in_place = Body::in_place;
  static constexpr bool is_view = Body::is_view;
  static constexpr bool backward_reads_input = Body::backward_reads_input;
  static constexpr bool backward_reads_output = Body::backward_reads_output;
  // walk() shows the composition in place of its body, so the subtree has as many nodes.
  static constexpr std::size_t node_count = Body::node_count;
  static constexpr bool records_own_output = false;
  static constexpr bool is_leaf = false;
  template <ShapeType In>
  using output_shape = output_shape_t<Body, accepted_input<In>>;
  template <ShapeType In>
  static constexpr std::size_t macs = Body::template macs<accepted_input<In>>;
  template <ShapeType In>
  static constexpr std::size_t saved_elements = Body::template saved_elements<accepted_input<In>>;
  template <ShapeType In>
  static constexpr std::size_t scratch_elements = Body::template scratch_elements<accepted_input<In>>;
  template <ShapeType In>
  static constexpr std::size_t workspace_elements = Body::template workspace_elements<accepted_input<In>>;
};

template <class L>
concept HasBody = requires { typename L::body; };

// What every layer type states — Layer's defaults, a composition's forwarding or a container's
// (ctnn/container.hpp) — for the memory plan, walk and the summary. output_shape<In> is not part
// of it: it exists only for the inputs a layer accepts.
template <class L>
concept LayerDescription = requires {
  { L::type_name } -> std::convertible_to<std::string_view>;
  { L::parameter_count } -> std::convertible_to<std::size_t>;
  { L::buffer_count } -> std::convertible_to<std::size_t>;
  { L::node_count } -> std::convertible_to<std::size_t>;
  { L::in_place } -> std::convertible_to<bool>;
  { L::is_view } -> std::convertible_to<bool>;
  { L::backward_reads_input } -> std::convertible_to<bool>;
  { L::backward_reads_output } -> std::convertible_to<bool>;
  { L::records_own_output } -> std::convertible_to<bool>;
  { L::is_leaf } -> std::convertible_to<bool>;
};

// ---------------------------------------------------------------------------------------------
// Compile-time queries
// ---------------------------------------------------------------------------------------------

// Trainable parameters of a layer or network, as PyTorch's sum(p.numel() for p in parameters()).
template <class L>
inline constexpr std::size_t parameter_count_v = L::parameter_count;

// Non-trainable state (BatchNorm running statistics) of a layer or network.
template <class L>
inline constexpr std::size_t buffer_count_v = L::buffer_count;

// Multiply-accumulates of one image's forward pass through convolutions and linear layers.
template <class L, ShapeType In>
inline constexpr std::size_t macs_v = L::template macs<In>;

}  // namespace ctnn
