// expect: Layer_has_no_evaluator_for_the_device<Upsample2x, ctnn::Cpu, false>
// A layer described but given no kernel for the device its model runs on: one error, naming
// the layer and the device, where the model is declared. The twin writes the CPU evaluator.

#include <cstddef>       // std::size_t
#include <string_view>   // std::string_view
#include <vector>        // std::vector

#include <ctnn/ctnn.hpp>   // ctnn::Layer, ctnn::Model, ctnn::Sequential, ctnn::cpu::Context

// Nearest-neighbour upsampling by 2, described only.
struct Upsample2x : ctnn::Layer {
  static constexpr std::string_view type_name = "Upsample";
  static constexpr bool backward_reads_input = false;
  static constexpr bool backward_reads_output = false;
  template <ctnn::ShapeType In>
  using output_shape = ctnn::Shape<In::channels, 2 * In::height, 2 * In::width>;
};

#ifndef CTNN_SHOULD_FAIL
template <class T>
struct ctnn::Evaluator<Upsample2x, ctnn::Cpu, T> {
  template <ctnn::ShapeType In>
  static void forward(cpu::Context<T>& ctx, const ForwardArgs<T>& a) {
    for (std::size_t n = 0; n < ctx.batch; ++n)
      for (std::size_t c = 0; c < In::channels; ++c)
        for (std::size_t h = 0; h < 2 * In::height; ++h)
          for (std::size_t w = 0; w < 2 * In::width; ++w)
            a.y.image(n)[(c * 2 * In::height + h) * 2 * In::width + w] =
                a.x.image(n)[(c * In::height + h / 2) * In::width + w / 2];
  }
  template <ctnn::ShapeType In>
  static void backward(cpu::Context<T>&, const BackwardArgs<T>&) {}
};
#endif

using Net = ctnn::Sequential<ctnn::Conv<3, 4, 3, 1, 1>, Upsample2x, ctnn::ReLU>;

int main() {
  ctnn::Model<Net, ctnn::Shape<3, 8, 8>> model;
  return model.forward(std::vector<float>(3 * 8 * 8)).size() == 4 * 16 * 16 ? 0 : 1;
}
