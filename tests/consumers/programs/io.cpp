// ctnn::io: weights saved by one model and loaded into another give the same logits.
#include <ctnn/ctnn.hpp>
#include <ctnn/io.hpp>   // ctnn::save_weights, ctnn::load_weights

#include "consumer.hpp"   // consumer::TinyModel, consumer::check, consumer::temporary_file

#include <algorithm>    // std::equal
#include <filesystem>   // std::filesystem::remove
#include <vector>       // std::vector

int main() {
  consumer::TinyModel saved, loaded;
  ctnn::init::pytorch_default(saved, 1);
  ctnn::init::pytorch_default(loaded, 2);
  const std::string path = consumer::temporary_file("io.safetensors");
  ctnn::save_weights(saved, path);
  const ctnn::LoadReport report = ctnn::load_weights(loaded, path);
  std::filesystem::remove(path);
  consumer::check(report.loaded == 4, "the four tensors (conv and fc, weight and bias) are loaded");

  std::vector<float> images(consumer::TinyInput::size, 0.25f);
  const std::vector<float> expected(saved.forward(images).begin(), saved.forward(images).end());
  const auto logits = loaded.forward(images);
  consumer::check(std::equal(logits.begin(), logits.end(), expected.begin(), expected.end()),
                  "the loaded model gives the saved model's logits");
  std::printf("%s consumer of ctnn::io: %zu tensors through %s\n", CTNN_CONSUMER, report.loaded, path.c_str());
}
