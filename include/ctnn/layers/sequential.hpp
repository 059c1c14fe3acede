#pragma once
// ctnn::Sequential<L...>: layers applied one after another, as nn.Sequential.
//
// The list is flat: shapes flow through it with a fold expression, not nested templates, so a
// deep network is a long list rather than a deep type.
//
//   Sequential<Conv<3, 8, 3, 1, 1>, ReLU, MaxPool<2>> on Shape<3, 32, 32>:
//     Shape<3, 32, 32> -> Shape<8, 32, 32> -> Shape<8, 32, 32> -> Shape<8, 16, 16>
//
// Memory plan (decided at compile time, see `plan`):
//   evaluation: intermediate results ping-pong between two scratch buffers; layers that may work
//     in place (ReLU, Dropout) do so; the last layer that is not in place writes straight into the
//     caller's output y (often a channel slice of an Inception block's output).
//   training:   every intermediate result that backward needs gets its own slot in `saved`;
//     a layer still works in place when neither it nor the layers sharing the buffer need the
//     overwritten values in backward (Conv then ReLU: Conv's backward reads its input only).
// Where a device fuses two layers (Fusion, ctnn/evaluator.hpp) and the second runs in place on
// the first's output, evaluation runs them as one call; training too where the device says so
// and the two share one saved slot. Evaluation also runs three layers as one call where the
// device fuses them (FusionOfThree) and the last two run in place, and two layers that do not
// run in place where the device fuses them across the slot between them (FusionAcross).

#include <algorithm>     // std::max
#include <array>         // std::array
#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view
#include <tuple>         // std::tuple, std::tuple_element_t
#include <type_traits>   // std::type_identity
#include <utility>       // std::index_sequence

#include <ctnn/container.hpp>     // ctnn::ContainerLayer, ctnn::child_t
#include <ctnn/diagnostics.hpp>   // Sequential_needs_at_least_one_layer
#include <ctnn/evaluator.hpp>     // ctnn::Evaluator, ctnn::forward_layer, ctnn::backward_layer, ctnn::Fusion, FusionAcross
#include <ctnn/layer.hpp>         // ctnn::Mode, ctnn::align_elements
#include <ctnn/pass_state.hpp>    // ctnn::record_if
#include <ctnn/shape.hpp>         // ctnn::ShapeType, ctnn::output_shape_t

namespace ctnn {

namespace detail {
// Shapes in order: In, then the output of each layer. Built by a left fold of `>>`.
template <class... S>
struct ShapeChain {
  using last = typename decltype((std::type_identity<S>{}, ...))::type;
  template <class L>
  using then = ShapeChain<S..., output_shape_t<L, last>>;
  template <std::size_t I>
  using at = std::tuple_element_t<I, std::tuple<S...>>;
};
// The return type is deduced, not declared: a layer whose output shape fails its check then
// stops the chain quietly instead of adding an "invalid operands" error (clang) to the check's.
template <class... S, class L>
auto operator>>(ShapeChain<S...>, std::type_identity<L>) {
  return typename ShapeChain<S...>::template then<L>{};
}
// The fold is named once per (In, L...) through this function: clang then reports a layer that
// fails its check once, not again ("invalid operands") wherever the shapes are named.
template <class In, class... L>
struct ShapesOf {
  static auto chain() { return (ShapeChain<In>{} >> ... >> std::type_identity<L>{}); }
};

// Where a layer's output lives inside a Sequential's plan.
enum class Place : unsigned char {
  input,     // the Sequential's own input x (only for views of it)
  output,    // the caller's output y
  scratch0,  // evaluation ping-pong buffers
  scratch1,
  saved,     // training: the layer's own slot in `saved`
};

template <std::size_t N>
constexpr std::size_t max_of(const std::array<std::size_t, N>& values) {
  std::size_t m = 0;
  for (auto v : values) m = std::max(m, v);
  return m;
}
}  // namespace detail

template <class... L>
struct Sequential : ContainerLayer<L...> {
  static_assert(diagnostic::Sequential_needs_at_least_one_layer<sizeof...(L)>::ok);
  static constexpr std::string_view type_name = "Sequential";
  static constexpr std::size_t layer_count = sizeof...(L);
  using layers = std::tuple<L...>;

  template <ShapeType In>
  using shapes = decltype(detail::ShapesOf<In, L...>::chain());

  template <ShapeType In>
  using output_shape = typename shapes<In>::last;
  template <ShapeType In, std::size_t I>
  using child_input_shape = typename shapes<In>::template at<I>;

  // Whether every layer accepts the shape it receives. Where one does not, its check has printed
  // the error; the figures below are then 0 rather than one more error each (clang).
  template <ShapeType In>
  static constexpr bool accepts = requires { typename output_shape<In>; };

  template <ShapeType In>
  static constexpr std::size_t macs = [] {
    if constexpr (!accepts<In>) {
      return std::size_t{0};
    } else {
      return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return (std::size_t{0} + ... + L::template macs<typename shapes<In>::template at<I>>);
      }(std::make_index_sequence<layer_count>{});
    }
  }();

  template <ShapeType In>
  static constexpr std::size_t workspace_elements = [] {
    if constexpr (!accepts<In>) {
      return std::size_t{0};
    } else {
      return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return std::max({std::size_t{0}, L::template workspace_elements<typename shapes<In>::template at<I>>...});
      }(std::make_index_sequence<layer_count>{});
    }
  }();

  // ---- where each layer's output lives: decided by the layers' flags alone --------------------
  static constexpr std::array<bool, layer_count> in_place_layers{L::in_place...};
  static constexpr std::array<bool, layer_count> view_layers{L::is_view...};
  static constexpr std::array<bool, layer_count> layers_reading_input{L::backward_reads_input...};
  static constexpr std::array<bool, layer_count> layers_reading_output{L::backward_reads_output...};
  // A view shares its input's buffer, so whoever produced that buffer still reads it.
  static constexpr std::array<bool, layer_count> buffer_read_in_backward = [] {
    std::array<bool, layer_count> reads = layers_reading_output;
    for (std::size_t i = 1; i < layer_count; ++i)
      if (view_layers[i]) reads[i] = reads[i] || reads[i - 1];
    return reads;
  }();

  // May layer i overwrite the buffer holding its input (layer i - 1's output)?
  static constexpr bool may_overwrite_input(std::size_t i, Mode mode) {
    if (i == 0 || !in_place_layers[i]) return false;
    return mode == Mode::eval || (!buffer_read_in_backward[i - 1] && !layers_reading_input[i]);
  }

  // The first of the trailing layers that write the caller's output y (the others run in
  // place on it or view it).
  static constexpr std::size_t output_writer(Mode mode) {
    if (layer_count == 0) return 0;  // the static_assert above says why
    std::size_t writer = layer_count - 1;
    while (writer > 0 && (view_layers[writer] || may_overwrite_input(writer, mode))) --writer;
    return writer;
  }

  static constexpr std::array<detail::Place, layer_count> places(Mode mode) {
    using detail::Place;
    std::array<Place, layer_count> place{};
    const std::size_t writer = output_writer(mode);
    for (std::size_t i = writer; i < layer_count; ++i) place[i] = Place::output;
    for (std::size_t i = 0; i < writer; ++i) {
      const Place input = i == 0 ? Place::input : place[i - 1];
      if (view_layers[i] || (input != Place::input && may_overwrite_input(i, mode))) {
        place[i] = input;
      } else if (mode == Mode::train) {
        place[i] = Place::saved;
      } else {
        place[i] = input == Place::scratch0 ? Place::scratch1 : Place::scratch0;
      }
    }
    return place;
  }
  static constexpr auto eval_places = places(Mode::eval);
  static constexpr auto train_places = places(Mode::train);

  // Backward reads y only through the layers placed on it in training: their outputs, and the
  // inputs of those after the writer (which are y too).
  static constexpr bool backward_reads_output = [] {
    const std::size_t writer = output_writer(Mode::train);
    bool reads = false;
    for (std::size_t i = writer; i < layer_count; ++i)
      reads = reads || layers_reading_output[i] || (i > writer && layers_reading_input[i]);
    return reads;
  }();

  // The compile-time memory plan for input shape In: sizes and offsets.
  template <ShapeType In>
  struct plan {
    static constexpr std::size_t n = layer_count;
    template <std::size_t I>
    using input_shape = typename shapes<In>::template at<I>;
    template <std::size_t I>
    using output_shape = typename shapes<In>::template at<I + 1>;

    static constexpr std::array<std::size_t, n> output_sizes = [] {
      return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return std::array<std::size_t, n>{align_elements(output_shape<I>::size)...};
      }(std::make_index_sequence<n>{});
    }();
    static constexpr std::array<std::size_t, n> child_saved = [] {
      return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return std::array<std::size_t, n>{L::template saved_elements<input_shape<I>>...};
      }(std::make_index_sequence<n>{});
    }();
    static constexpr std::array<std::size_t, n> child_scratch = [] {
      return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return std::array<std::size_t, n>{L::template scratch_elements<input_shape<I>>...};
      }(std::make_index_sequence<n>{});
    }();

    // evaluation: [scratch0][scratch1][child scratch]
    static constexpr std::size_t eval_buffer = [] {
      std::size_t m = 0;
      for (std::size_t i = 0; i < n; ++i)
        if (eval_places[i] == detail::Place::scratch0 || eval_places[i] == detail::Place::scratch1)
          m = std::max(m, output_sizes[i]);
      return m;
    }();
    // training, `saved`: [slot of each layer placed in saved][each child's saved]. A layer
    // working in place on a saved slot, or viewing it, shares that slot.
    struct SavedSlots {
      std::array<std::size_t, n> offsets{};
      std::size_t total = 0;
    };
    static constexpr SavedSlots saved_slots = [] {
      SavedSlots slots;
      for (std::size_t i = 0; i < n; ++i) {
        const bool shares_previous = i > 0 && train_places[i - 1] == detail::Place::saved &&
                                     (view_layers[i] || may_overwrite_input(i, Mode::train));
        if (train_places[i] == detail::Place::saved && !shares_previous) {
          slots.offsets[i] = slots.total;
          slots.total += output_sizes[i];
        } else if (i > 0) {
          slots.offsets[i] = slots.offsets[i - 1];
        }
      }
      return slots;
    }();
    static constexpr auto saved_slot_offsets = saved_slots.offsets;
    static constexpr std::size_t saved_slots_total = saved_slots.total;
    // A slot shared by in-place layers and views keeps one size: they do not change it.
    static constexpr std::array<std::size_t, n> child_saved_offsets = [] {
      std::array<std::size_t, n> offsets{};
      std::size_t at = saved_slots_total;
      for (std::size_t i = 0; i < n; ++i) {
        offsets[i] = at;
        at += child_saved[i];
      }
      return offsets;
    }();
    static constexpr std::size_t saved_total = [] {
      std::size_t total = saved_slots_total;
      for (auto v : child_saved) total += v;
      return total;
    }();
    // backward: [gradient ping-pong 0][gradient ping-pong 1][child scratch]; layer i >= 1
    // receives the gradient of its input, Shape of layer i - 1's output.
    static constexpr std::size_t gradient_buffer = [] {
      std::size_t m = 0;
      for (std::size_t i = 0; i + 1 < n; ++i) m = std::max(m, output_sizes[i]);
      return m;
    }();
    static constexpr std::size_t child_scratch_max = detail::max_of(child_scratch);
    static constexpr std::size_t scratch_total =
        std::max(2 * eval_buffer, 2 * gradient_buffer) + child_scratch_max;
  };

  template <ShapeType In>
  static constexpr std::size_t saved_elements = [] {
    if constexpr (accepts<In>) return plan<In>::saved_total;
    else return std::size_t{0};
  }();
  template <ShapeType In>
  static constexpr std::size_t scratch_elements = [] {
    if constexpr (accepts<In>) return plan<In>::scratch_total;
    else return std::size_t{0};
  }();
};

template <class... L, class Device, class T>
struct Evaluator<Sequential<L...>, Device, T> {
  using Seq = Sequential<L...>;
  using Place = detail::Place;
  static constexpr std::size_t n = sizeof...(L);

  // Does the device compute layers I and I + 1 in one call in `mode`? Only where I + 1 runs in
  // place on I's output; in training only where the device says so (Fusion::in_training) and
  // the two share one saved slot (the second may overwrite the first's output).
  template <std::size_t I, Mode M>
  static constexpr bool fuses_with_next() {
    constexpr std::size_t next = I + 1 < n ? I + 1 : I;
    constexpr auto& places = M == Mode::train ? Seq::train_places : Seq::eval_places;
    if constexpr (I + 1 < n && places[next] == places[I] && (M == Mode::eval || Seq::may_overwrite_input(next, M))) {
      using F = Fusion<unnamed_t<child_t<Seq, I>>, unnamed_t<child_t<Seq, next>>, Device, T>;
      if constexpr (M == Mode::eval) return F::available;
      else if constexpr (requires { F::in_training; }) return F::available && F::in_training;
      else return false;
    } else {
      return false;  // (the trait is not even named: fewer instantiations)
    }
  }

  // Does the device compute layers I, I + 1 and I + 2 in one call in evaluation?
  template <std::size_t I>
  static constexpr bool fuses_with_next_two() {
    if constexpr (I + 2 < n) {
      constexpr auto& places = Seq::eval_places;
      if constexpr (places[I + 1] == places[I] && places[I + 2] == places[I])
        return FusionOfThree<unnamed_t<child_t<Seq, I>>, unnamed_t<child_t<Seq, I + 1>>,
                             unnamed_t<child_t<Seq, I + 2>>, Device, T>::available;
    }
    return false;
  }
  // Runs layers I to I + 2 as one call where the device fuses them, in evaluation, unless the
  // output of layer I or I + 1 is to be recorded (the fused call never holds it). Whether it did.
  template <std::size_t I, ShapeType ChildIn, class Context>
  static bool forward_three(Context& ctx, const ForwardArgs<T>& args, const ParamSpan<T>& params,
                            std::size_t first_node) {
    if constexpr (fuses_with_next_two<I>()) {
      const std::size_t begin = first_node + Seq::node_offsets[I], end = first_node + Seq::node_offsets[I + 2];
      if (ctx.mode != Mode::eval || (ctx.recorded_node >= begin && ctx.recorded_node < end)) return false;
      FusionOfThree<unnamed_t<child_t<Seq, I>>, unnamed_t<child_t<Seq, I + 1>>, unnamed_t<child_t<Seq, I + 2>>, Device,
                    T>::template forward<ChildIn>(ctx, args,
                                                  params.advance(Seq::parameter_offsets[I + 1], Seq::buffer_offsets[I + 1]));
      return true;
    } else {
      (void)ctx, (void)args, (void)params, (void)first_node;
      return false;
    }
  }

  // Does the device compute layers I and I + 1 in one call in evaluation, across the slot between
  // them (FusionAcross)?
  template <std::size_t I>
  static constexpr bool fuses_across() {
    if constexpr (I + 1 < n)
      return FusionAcross<unnamed_t<child_t<Seq, I>>, unnamed_t<child_t<Seq, I + 1>>, Device, T>::available;
    else
      return false;
  }
  // Runs layers I and I + 1 as one call where the device fuses them across their slot, in
  // evaluation, unless an output inside the pair is to be recorded (the second's own output may
  // be: the call writes it). args_for(i) gives layer i's arguments. Whether it did.
  template <std::size_t I, ShapeType ChildIn, class Context, class ArgsFor>
  static bool forward_across(Context& ctx, const ForwardArgs<T>& args, const ArgsFor& args_for, std::size_t first_node) {
    if constexpr (fuses_across<I>()) {
      using Second = child_t<Seq, I + 1>;
      const std::size_t begin = first_node + Seq::node_offsets[I];
      const std::size_t end = first_node + Seq::node_offsets[I + 1] + Second::node_count - 1;
      if (ctx.mode != Mode::eval || (ctx.recorded_node >= begin && ctx.recorded_node < end)) return false;
      FusionAcross<unnamed_t<child_t<Seq, I>>, unnamed_t<Second>, Device, T>::template forward<ChildIn>(ctx, args,
                                                                                                   args_for(I + 1));
      return true;
    } else {
      (void)ctx, (void)args, (void)args_for, (void)first_node;
      return false;
    }
  }

  template <ShapeType In, class Context>
  static void forward(Context& ctx, const ForwardArgs<T>& a) {
    using P = typename Seq::template plan<In>;
    const std::size_t batch = ctx.batch;
    const bool training = ctx.mode == Mode::train;
    const auto& places = training ? Seq::train_places : Seq::eval_places;
    T* child_scratch = a.scratch + batch * (training ? 0 : 2 * P::eval_buffer);
    auto slot_at = [&](std::size_t i) -> Slot<T> {
      switch (places[i]) {
        case Place::input: return {const_cast<T*>(a.x.data), a.x.image_stride};  // views only read it
        case Place::output: return a.y;
        case Place::scratch0: return {a.scratch, P::eval_buffer};
        case Place::scratch1: return {a.scratch + batch * P::eval_buffer, P::eval_buffer};
        case Place::saved: break;
      }
      return {a.saved + batch * P::saved_slot_offsets[i], P::output_sizes[i]};
    };
    auto args_for = [&](std::size_t i) {
      return ForwardArgs<T>{a.params.advance(Seq::parameter_offsets[i], Seq::buffer_offsets[i]),
                            i == 0 ? a.x : ConstSlot<T>(slot_at(i - 1)), slot_at(i),
                            a.saved + batch * P::child_saved_offsets[i], child_scratch};
    };
    const std::size_t first_node = ctx.node;
    std::size_t done_before = 0;  // how many of the next layers an earlier fused call computed
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (
          [&] {
            using Child = child_t<Seq, I>;
            using ChildIn = typename P::template input_shape<I>;
            const std::size_t node = first_node + Seq::node_offsets[I];
            const ForwardArgs<T> args = args_for(I);
            ctx.node = node;
            if (done_before > 0) {
              --done_before;
            } else if (forward_three<I, ChildIn>(ctx, args, a.params, first_node)) {
              done_before = 2;
            } else if (forward_across<I, ChildIn>(ctx, args, args_for, first_node)) {
              done_before = 1;
            } else if constexpr (fuses_with_next<I, Mode::eval>() || fuses_with_next<I, Mode::train>()) {
              // Not when layer I's own output is to be recorded: the fused call never holds it.
              const bool fuse = training ? fuses_with_next<I, Mode::train>() : fuses_with_next<I, Mode::eval>();
              if (fuse && ctx.recorded_node != node + Child::node_count - 1) {
                constexpr std::size_t next = I + 1 < n ? I + 1 : I;
                using F = Fusion<unnamed_t<Child>, unnamed_t<child_t<Seq, next>>, Device, T>;
                // A fusion that needs the second layer's parameters too (oneDNN's Conv + BatchNorm).
                if constexpr (requires { F::template forward<ChildIn>(ctx, args, a.params); })
                  F::template forward<ChildIn>(ctx, args,
                                               a.params.advance(Seq::parameter_offsets[next], Seq::buffer_offsets[next]));
                else
                  F::template forward<ChildIn>(ctx, args);
                done_before = 1;
              } else {
                forward_layer<Child, ChildIn>(ctx, args);
              }
            } else {
              forward_layer<Child, ChildIn>(ctx, args);
            }
            // Recorded before a later layer can overwrite it in place; a child's own position
            // is the last of its subtree.
            if constexpr (!Child::records_own_output)
              record_if(ctx, node + Child::node_count - 1, args.y, P::template output_shape<I>::size);
          }(),
          ...);
    }(std::make_index_sequence<n>{});
  }

  // Can the device compute layers I and I + 1's backward in one call? Where their training
  // forward fuses and the Fusion has a backward; fuses_backward_with_next says whether this pass does.
  template <std::size_t I>
  static constexpr bool may_fuse_backward() {
    if constexpr (I + 1 < n && fuses_with_next<I, Mode::train>()) {
      using F = Fusion<unnamed_t<child_t<Seq, I>>, unnamed_t<child_t<Seq, I + 1>>, Device, T>;
      return requires { &F::fuses_backward; };
    } else {
      return false;
    }
  }
  template <std::size_t I, class Context>
  static bool fuses_backward_with_next(const Context& ctx) {
    if constexpr (may_fuse_backward<I>())
      return Fusion<unnamed_t<child_t<Seq, I>>, unnamed_t<child_t<Seq, I + 1>>, Device, T>::fuses_backward(ctx);
    else
      return false;
  }

  template <ShapeType In, class Context>
  static void backward(Context& ctx, const BackwardArgs<T>& a) {
    using P = typename Seq::template plan<In>;
    const std::size_t batch = ctx.batch;
    T* gradient[2] = {a.scratch, a.scratch + batch * P::gradient_buffer};
    T* child_scratch = a.scratch + 2 * batch * P::gradient_buffer;
    auto slot_at = [&](std::size_t i) -> ConstSlot<T> {
      switch (Seq::train_places[i]) {
        case Place::input: return a.x;
        case Place::output: return a.y;
        case Place::saved: return {a.saved + batch * P::saved_slot_offsets[i], P::output_sizes[i]};
        default: return {};  // scratch places exist only in evaluation
      }
    };
    // Frozen prefix: layer i is `frozen_through(i)` when it and every layer before it hold only
    // frozen parameters. It then computes no parameter gradients, and when this block's input
    // gradient is not wanted either, nothing needs its input gradient: it is skipped.
    const std::size_t frozen = ctx.frozen_parameter_count(a.params.values);
    auto frozen_through = [&](std::size_t i) { return Seq::parameter_ends[i] <= frozen; };
    [&]<std::size_t... R>(std::index_sequence<R...>) {
      (
          [&] {
            constexpr std::size_t I = n - 1 - R;  // backward runs last layer first
            if (!a.dx && frozen_through(I)) return;
            if constexpr (I > 0)
              if (fuses_backward_with_next<I - 1>(ctx)) return;  // layer I - 1's call computes both
            BackwardArgs<T> args{a.params.advance(Seq::parameter_offsets[I], Seq::buffer_offsets[I]),
                                 I == 0 ? a.x : slot_at(I == 0 ? 0 : I - 1),
                                 slot_at(I),
                                 I == n - 1 ? a.dy : ConstSlot<T>{gradient[(n - 2 - I) % 2], P::gradient_buffer},
                                 I == 0 ? a.dx : Slot<T>{gradient[(n - 1 - I) % 2], P::gradient_buffer},
                                 I == 0 ? a.accumulate_dx : false,
                                 a.saved + batch * P::child_saved_offsets[I],
                                 child_scratch};
            if (I > 0 && !a.dx && frozen_through(I == 0 ? 0 : I - 1)) args.dx = {};  // the layer before is skipped
            if (frozen_through(I)) args.params.gradients = nullptr;
            if constexpr (may_fuse_backward<I>()) {
              if (fuses_backward_with_next<I>(ctx)) {
                // Layer I + 1 runs in place on I's output: its y, and the gradient it would get.
                args.y = slot_at(I + 1);
                args.dy = I + 1 == n - 1 ? a.dy : ConstSlot<T>{gradient[(n - 3 - I) % 2], P::gradient_buffer};
                return backward_fused_pair<child_t<Seq, I>, child_t<Seq, I + 1>, typename P::template input_shape<I>>(ctx, args);
              }
            }
            backward_layer<child_t<Seq, I>, typename P::template input_shape<I>>(ctx, args);
          }(),
          ...);
    }(std::make_index_sequence<n>{});
  }
};

}  // namespace ctnn
