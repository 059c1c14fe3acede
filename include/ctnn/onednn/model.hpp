#pragma once
// ctnn::Model<Net, In, float, OneDnn>: the model front end (ctnn/model.hpp) on the oneDNN device,
// with the CPU's thread count and dropout generator and the precision it computes in.
//
//   ctnn::Model<ctnn::GoogLeNet<1000, false>, ctnn::Shape<3, 224, 224>, float, ctnn::OneDnn> model;
//   model.set_precision(ctnn::onednn::Precision::bf16);   // plans again at the next forward
//   if (!model.precision_note().empty()) std::fprintf(stderr, "%s\n", model.precision_note().c_str());
//
//   model.calibrate(calibration_images);                   // int8: f32 passes record each Conv's and
//   model.set_precision(ctnn::onednn::Precision::int8);    // Linear's input range (quantisation.hpp)

#include <algorithm>   // std::min
#include <array>       // std::array
#include <cstddef>     // std::size_t
#include <cstdint>     // std::uint64_t
#include <random>      // std::mt19937_64
#include <span>        // std::span
#include <string>      // std::string
#include <utility>     // std::exchange
#include <vector>      // std::vector

#include <ctnn/model.hpp>            // ctnn::ModelFrontEnd, ctnn::Model
#include <ctnn/onednn/backend.hpp>   // ctnn::Backend<OneDnn, T>
#include <ctnn/onednn/device.hpp>    // ctnn::OneDnn, ctnn::onednn::Precision

namespace ctnn {

template <class Net, ShapeType In, class T>
class Model<Net, In, T, OneDnn> : public ModelFrontEnd<Net, In, T, OneDnn> {
 public:
  Model() = default;

  // OpenMP threads used by oneDNN and the Eigen evaluators (default: omp_get_max_threads()).
  void set_threads(int threads) {
    this->backend_.set_threads(threads);
    this->invalidate_plan();  // primitives are made for a thread count
  }
  int threads() const { return this->context().threads; }
  void seed(std::uint64_t seed) { this->context().generator.seed(seed); }
  std::mt19937_64& generator() { return this->context().generator; }

  // The precision of the next passes: bf16 where the processor has AVX512-BF16 or AMX, otherwise
  // f32 with precision_note() saying why. Returns the precision in use.
  onednn::Precision set_precision(onednn::Precision precision) { return this->backend_.set_precision(precision); }
  onednn::Precision precision() const { return this->backend_.precision(); }

  // How f32 convolutions compute (automatic: Winograd for 3x3 stride-1 ones where it is faster;
  // direct: oneDNN's direct convolution everywhere, the reference's order of operations).
  void set_convolution_algorithm(onednn::ConvolutionAlgorithm algorithm) {
    this->context().convolution_algorithm = algorithm;
    this->invalidate_plan();
  }
  onednn::ConvolutionAlgorithm convolution_algorithm() const { return this->context().convolution_algorithm; }
  // How many convolutions the planned passes run as Winograd (0 before the first pass): each
  // forward, and in training each data gradient (dx), counts one.
  std::size_t winograd_convolutions() const { return this->context().winograd_convolutions; }
  // How many weight gradients (dW, db) the planned training pass computes as Winograd.
  std::size_t winograd_weight_gradients() const { return this->context().winograd_weight_gradients; }
  // How many BatchNorm + ReLU pairs the planned passes run as ctnn's own kernels
  // (batch_norm_relu.hpp; training only): each forward and each backward counts one.
  std::size_t fused_batch_norm_relu_passes() const { return this->context().fused_batch_norm_relu_passes; }
  // How many Conv + BatchNorm (+ activation) the planned evaluation pass runs as one convolution,
  // the batch norm folded into its weights and bias (conv.hpp).
  std::size_t folded_batch_norms() const { return this->context().folded_batch_norms; }
  // How many 1x1 convolutions of the planned evaluation pass compute the depthwise convolution
  // after them as a post-op, the tensor between them never in memory (MobileNetV2's expansions:
  // pointwise_depthwise.hpp).
  std::size_t fused_depthwise_convolutions() const { return this->context().fused_depthwise_convolutions; }
  // How many Sums (a Residual's) of the planned passes add their last branch and compute the
  // ReLU after them in one pass over memory (ResNet's blocks: residual_relu.hpp).
  std::size_t fused_sum_relus() const { return this->context().sum_relus; }
  // Of those, how many the body's last convolution adds and clamps itself, as post-ops of its
  // primitive (bf16 on AMX: onednn::adds_residuals_as_post_ops; residual_relu.hpp).
  std::size_t residual_post_ops() const { return this->context().residual_post_ops; }
  // How many layers of the planned int8 pass write their output as u8 for the layers after them
  // (Conv + ReLU, max pooling, Concat, Sum + ReLU: quantisation.hpp); 0 in other precisions.
  std::size_t quantised_hand_offs() const { return this->context().quantised_outputs; }
  const std::string& precision_note() const { return this->backend_.note(); }

  // int8's calibration: runs the network in f32 and evaluation mode over `images` (N images of
  // In, `batch` at a time) and records the range of every Conv's and Linear's input and output
  // and of every Concat's and fused Sum + ReLU's output, which set_precision(int8) needs; a few
  // hundred images of the data the model will see. Calibrating again replaces the ranges. The
  // precision and mode are left as they were; the weights are quantised from the parameters
  // whenever these change, with no new calibration.
  void calibrate(std::span<const T> images, std::size_t batch = 64) {
    const std::size_t count = this->check_input(images.size());
    if (batch == 0) throw Error("calibrate", "needs a batch size of at least one image");
    auto& ctx = this->context();
    const onednn::Precision precision = this->backend_.precision();
    const Mode mode = this->mode();
    std::array<std::vector<onednn::ValueRange>, 4> previous{std::move(ctx.input_ranges), std::move(ctx.output_ranges),
                                                           std::move(ctx.concat_ranges), std::move(ctx.sum_relu_ranges)};
    const bool was_calibrated = std::exchange(ctx.calibrated, false);
    struct Restore {
      Model& model;
      onednn::Precision precision;
      Mode mode;
      ~Restore() {
        model.context().calibrating = false;
        model.train(mode == Mode::train);
        model.backend_.set_precision(precision);  // int8 had ranges, kept when calibration fails
        model.invalidate_plan();  // int8 plans hold the ranges
      }
    } restore{*this, precision, mode};
    try {
      ctx.input_ranges.clear();
      ctx.output_ranges.clear();
      ctx.concat_ranges.clear();
      ctx.sum_relu_ranges.clear();
      this->backend_.set_precision(onednn::Precision::f32);
      this->eval();
      ctx.calibrating = true;
      this->invalidate_plan();  // planned again for calibration: no fusion hides a convolution's input
      for (std::size_t first = 0; first < count; first += batch) {
        const std::size_t n = std::min(batch, count - first);
        this->forward(images.subspan(first * In::size, n * In::size));
      }
      ctx.calibrated = true;
    } catch (...) {
      ctx.input_ranges = std::move(previous[0]);
      ctx.output_ranges = std::move(previous[1]);
      ctx.concat_ranges = std::move(previous[2]);
      ctx.sum_relu_ranges = std::move(previous[3]);
      ctx.calibrated = was_calibrated;
      throw;
    }
  }
  bool calibrated() const { return this->context().calibrated; }
};

}  // namespace ctnn
