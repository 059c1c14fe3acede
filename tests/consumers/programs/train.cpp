// ctnn::train: a checkpoint (safetensors with a zlib checksum) written and read back, and a plot
// encoded as PNG by stb.
#include <ctnn/ctnn.hpp>
#include <ctnn/train.hpp>   // ctnn::train::save_checkpoint, load_checkpoint, plot_panels, encode_png

#include "consumer.hpp"   // consumer::TinyModel, consumer::check, consumer::temporary_file

#include <cstdint>      // std::uint8_t
#include <filesystem>   // std::filesystem::remove
#include <vector>       // std::vector

int main() {
  consumer::TinyModel model;
  ctnn::init::pytorch_default(model, 3);
  ctnn::optim::SGD<float> sgd(consumer::TinyModel::parameter_count, {.lr = 0.1, .momentum = 0.9});
  ctnn::train::TrainingState state;
  state.epoch = 2;
  state.optimizer = "sgd";
  state.dropout_generator = ctnn::train::generator_state(model.generator());
  state.history = std::string(ctnn::train::metrics_header) + "\n";
  const std::string path = consumer::temporary_file("checkpoint.safetensors");
  ctnn::train::save_checkpoint(path, model, sgd.state_tensors(), state);
  consumer::TinyModel resumed;
  ctnn::optim::SGD<float> resumed_sgd(consumer::TinyModel::parameter_count, {.lr = 0.1, .momentum = 0.9});
  const ctnn::train::TrainingState read = ctnn::train::load_checkpoint(path, resumed, resumed_sgd.state_tensors());
  std::filesystem::remove(path);
  consumer::check(read.epoch == 2, "the checkpoint's epoch reads back");

  const std::vector<ctnn::train::Panel> panels = {{.title = "loss", .series = {{.name = "train", .x = {1, 2}, .y = {2, 1}}}}};
  const std::vector<std::uint8_t> png = ctnn::train::encode_png(ctnn::train::plot_panels(panels, 64, 48));
  consumer::check(png.size() > 8 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', "the plot is a PNG");
  std::printf("%s consumer of ctnn::train: checkpoint of epoch %zu, plot of %zu bytes\n", CTNN_CONSUMER, read.epoch,
              png.size());
}
