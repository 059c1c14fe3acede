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

#include <algorithm>     // std::max
#include <array>         // std::array
#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view
#include <tuple>         // std::tuple, std::tuple_element_t
#include <type_traits>   // std::type_identity
#include <utility>       // std::index_sequence

#include <ctnn/evaluator.hpp>   // ctnn::Evaluator, ctnn::Slot, ctnn::ParamSpan
#include <ctnn/layer.hpp>       // ctnn::Layer, ctnn::Mode
#include <ctnn/shape.hpp>       // ctnn::ShapeType, ctnn::output_shape_t
#include <ctnn/training_hooks.hpp>   // ctnn::report_gradients_ready

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
struct Sequential : Layer {
  static_assert(sizeof...(L) > 0, "Sequential<L...>: needs at least one layer");
  static constexpr std::string_view type_name = "Sequential";
  static constexpr std::size_t layer_count = sizeof...(L);
  using layers = std::tuple<L...>;

  static constexpr std::size_t parameter_count = (std::size_t{0} + ... + L::parameter_count);
  static constexpr std::size_t buffer_count = (std::size_t{0} + ... + L::buffer_count);

  // Offsets of each layer's parameters and buffers inside this Sequential's blocks.
  static constexpr std::array<std::size_t, layer_count> parameter_offsets = [] {
    std::array<std::size_t, layer_count> counts{L::parameter_count...}, offsets{};
    for (std::size_t i = 1; i < layer_count; ++i) offsets[i] = offsets[i - 1] + counts[i - 1];
    return offsets;
  }();
  static constexpr std::array<std::size_t, layer_count> buffer_offsets = [] {
    std::array<std::size_t, layer_count> counts{L::buffer_count...}, offsets{};
    for (std::size_t i = 1; i < layer_count; ++i) offsets[i] = offsets[i - 1] + counts[i - 1];
    return offsets;
  }();
  // End of each layer's parameters: layer i and all before it hold parameters [0, end[i]).
  static constexpr std::array<std::size_t, layer_count> parameter_ends = [] {
    std::array<std::size_t, layer_count> counts{L::parameter_count...}, ends{};
    for (std::size_t i = 0; i < layer_count; ++i) ends[i] = parameter_offsets[i] + counts[i];
    return ends;
  }();
  // Walk positions: layer i's subtree starts node_offsets[i] after this Sequential's first.
  static constexpr std::size_t node_count = (std::size_t{1} + ... + L::node_count);
  static constexpr std::array<std::size_t, layer_count> node_offsets = [] {
    std::array<std::size_t, layer_count> counts{L::node_count...}, offsets{};
    for (std::size_t i = 1; i < layer_count; ++i) offsets[i] = offsets[i - 1] + counts[i - 1];
    return offsets;
  }();

  // For walks that treat Sequential and Concat alike.
  template <class = void>
  using layers_or_branches = layers;
  template <ShapeType In>
  using shapes = decltype((detail::ShapeChain<In>{} >> ... >> std::type_identity<L>{}));

  template <ShapeType In>
  using output_shape = typename shapes<In>::last;
  template <ShapeType In, std::size_t I>
  using child_input_shape = typename shapes<In>::template at<I>;

  template <ShapeType In>
  static constexpr std::size_t macs = [] {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return (std::size_t{0} + ... + L::template macs<typename shapes<In>::template at<I>>);
    }(std::make_index_sequence<layer_count>{});
  }();

  template <ShapeType In>
  static constexpr std::size_t workspace_elements = [] {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return std::max({std::size_t{0}, L::template workspace_elements<typename shapes<In>::template at<I>>...});
    }(std::make_index_sequence<layer_count>{});
  }();

  // The compile-time memory plan for input shape In.
  template <ShapeType In>
  struct plan {
    static constexpr std::size_t n = layer_count;
    template <std::size_t I>
    using input_shape = typename shapes<In>::template at<I>;
    template <std::size_t I>
    using output_shape = typename shapes<In>::template at<I + 1>;

    static constexpr std::array<bool, n> in_place{L::in_place...};
    static constexpr std::array<bool, n> is_view{L::is_view...};
    static constexpr std::array<bool, n> reads_input{L::backward_reads_input...};
    // A view shares its input's buffer, so whoever produced that buffer still reads it.
    static constexpr std::array<bool, n> buffer_read_in_backward = [] {
      std::array<bool, n> reads{L::backward_reads_output...};
      for (std::size_t i = 1; i < n; ++i)
        if (is_view[i]) reads[i] = reads[i] || reads[i - 1];
      return reads;
    }();
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

    // May layer i overwrite the buffer holding its input (layer i - 1's output)?
    static constexpr bool may_overwrite_input(std::size_t i, Mode mode) {
      if (i == 0 || !in_place[i]) return false;
      return mode == Mode::eval || (!buffer_read_in_backward[i - 1] && !reads_input[i]);
    }

    static constexpr std::array<detail::Place, n> places(Mode mode) {
      using detail::Place;
      std::array<Place, n> place{};
      // Trailing layers that can run in place on y follow the last one that writes y.
      std::size_t writer = n - 1;
      while (writer > 0 && (is_view[writer] || may_overwrite_input(writer, mode))) --writer;
      for (std::size_t i = writer; i < n; ++i) place[i] = Place::output;
      for (std::size_t i = 0; i < writer; ++i) {
        const Place input = i == 0 ? Place::input : place[i - 1];
        if (is_view[i] || (input != Place::input && may_overwrite_input(i, mode))) {
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
                                     (is_view[i] || may_overwrite_input(i, Mode::train));
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
  static constexpr std::size_t saved_elements = plan<In>::saved_total;
  template <ShapeType In>
  static constexpr std::size_t scratch_elements = plan<In>::scratch_total;
};

template <class... L, class Device, class T>
struct Evaluator<Sequential<L...>, Device, T> {
  using Seq = Sequential<L...>;
  using Place = detail::Place;

  template <ShapeType In, class Context>
  static void forward(Context& ctx, ParamSpan<T> params, ConstSlot<T> x, Slot<T> y, T* saved, T* scratch) {
    using P = typename Seq::template plan<In>;
    const std::size_t batch = ctx.batch;
    const bool training = ctx.mode == Mode::train;
    T* child_scratch = scratch + batch * (training ? 0 : 2 * P::eval_buffer);
    auto slot_at = [&](Place place, std::size_t i) -> Slot<T> {
      switch (place) {
        case Place::input: return {const_cast<T*>(x.data), x.image_stride};  // views only read it
        case Place::output: return y;
        case Place::scratch0: return {scratch, P::eval_buffer};
        case Place::scratch1: return {scratch + batch * P::eval_buffer, P::eval_buffer};
        case Place::saved: break;
      }
      return {saved + batch * P::saved_slot_offsets[i], P::output_sizes[i]};
    };
    const std::size_t first_node = ctx.node;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (
          [&] {
            const auto& places = training ? P::train_places : P::eval_places;
            const ConstSlot<T> input = I == 0 ? x : ConstSlot<T>(slot_at(places[I == 0 ? 0 : I - 1], I == 0 ? 0 : I - 1));
            const Slot<T> output = slot_at(places[I], I);
            using Child = std::tuple_element_t<I, std::tuple<L...>>;
            ctx.node = first_node + Seq::node_offsets[I];
            evaluator_t<Child, Device, T>::template forward<typename P::template input_shape<I>>(
                ctx, params.advance(Seq::parameter_offsets[I], Seq::buffer_offsets[I]), input, output,
                saved + batch * P::child_saved_offsets[I], child_scratch);
            // Recorded before a later layer can overwrite it in place; a child's own position
            // is the last of its subtree.
            if constexpr (!Child::records_own_output)
              ctx.record_if(first_node + Seq::node_offsets[I] + Child::node_count - 1, output,
                            P::template output_shape<I>::size);
          }(),
          ...);
    }(std::make_index_sequence<sizeof...(L)>{});
  }

  template <ShapeType In, class Context>
  static void backward(Context& ctx, ParamSpan<T> params, ConstSlot<T> x, ConstSlot<T> y, ConstSlot<T> dy,
                       Slot<T> dx, bool accumulate_dx, T* saved, T* scratch) {
    using P = typename Seq::template plan<In>;
    constexpr std::size_t n = sizeof...(L);
    const std::size_t batch = ctx.batch;
    T* gradient[2] = {scratch, scratch + batch * P::gradient_buffer};
    T* child_scratch = scratch + 2 * batch * P::gradient_buffer;
    auto slot_at = [&](Place place, std::size_t i) -> ConstSlot<T> {
      switch (place) {
        case Place::input: return x;
        case Place::output: return y;
        case Place::saved: return {saved + batch * P::saved_slot_offsets[i], P::output_sizes[i]};
        default: return {};  // scratch places exist only in evaluation
      }
    };
    // Frozen prefix: layer i is `frozen_through(i)` when it and every layer before it hold only
    // frozen parameters. It then computes no parameter gradients, and when this block's input
    // gradient is not wanted either, nothing needs its input gradient: it is skipped.
    const std::size_t frozen = ctx.frozen_parameter_count(params.values);
    auto frozen_through = [&](std::size_t i) { return Seq::parameter_ends[i] <= frozen; };
    [&]<std::size_t... R>(std::index_sequence<R...>) {
      (
          [&] {
            constexpr std::size_t I = n - 1 - R;  // backward runs last layer first
            if (!dx && frozen_through(I)) return;
            const ConstSlot<T> input = I == 0 ? x : slot_at(P::train_places[I == 0 ? 0 : I - 1], I == 0 ? 0 : I - 1);
            const ConstSlot<T> output = slot_at(P::train_places[I], I);
            const ConstSlot<T> output_gradient =
                I == n - 1 ? dy : ConstSlot<T>{gradient[(n - 2 - I) % 2], P::gradient_buffer};
            Slot<T> input_gradient = I == 0 ? dx : Slot<T>{gradient[(n - 1 - I) % 2], P::gradient_buffer};
            if (I > 0 && !dx && frozen_through(I == 0 ? 0 : I - 1)) input_gradient = {};  // the layer before is skipped
            ParamSpan<T> child_params = params.advance(Seq::parameter_offsets[I], Seq::buffer_offsets[I]);
            if (frozen_through(I)) child_params.gradients = nullptr;
            using Child = std::tuple_element_t<I, std::tuple<L...>>;
            evaluator_t<Child, Device, T>::template backward<typename P::template input_shape<I>>(
                ctx, child_params, input, output, output_gradient, input_gradient, I == 0 ? accumulate_dx : false,
                saved + batch * P::child_saved_offsets[I], child_scratch);
            report_gradients_ready(ctx, child_params.values, Child::parameter_count);  // ctnn/training_hooks.hpp
          }(),
          ...);
    }(std::make_index_sequence<n>{});
  }
};

}  // namespace ctnn
