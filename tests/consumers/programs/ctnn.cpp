// ctnn::ctnn alone: <ctnn/ctnn.hpp> and the model headers need the standard library, Eigen and
// OpenMP only. The libraries of the other parts may be installed here, so their headers would be
// found: the checks below fail the build if any of them was included.
#include <ctnn/ctnn.hpp>
#include <ctnn/models/fashion_inception.hpp>   // ctnn::FashionInception
#include <ctnn/models/mobilenet_v2.hpp>        // ctnn::MobileNetV2
#include <ctnn/models/resnet18.hpp>            // ctnn::ResNet18
#include <ctnn/models/resnet50.hpp>            // ctnn::ResNet50

#if defined(NLOHMANN_JSON_VERSION_MAJOR) || defined(INCLUDE_NLOHMANN_JSON_HPP_)
#error "<ctnn/ctnn.hpp> included nlohmann/json.hpp: JSON belongs to ctnn::io (<ctnn/io.hpp>), not ctnn::ctnn"
#endif
#if defined(ZLIB_H)
#error "<ctnn/ctnn.hpp> included zlib.h: zlib belongs to ctnn::data and ctnn::train, not ctnn::ctnn"
#endif
#if defined(PNG_H) || defined(JPEGLIB_H)
#error "<ctnn/ctnn.hpp> included png.h or jpeglib.h: image decoding belongs to ctnn::image, not ctnn::ctnn"
#endif
#if defined(INCLUDE_STB_IMAGE_WRITE_H) || defined(INCLUDE_STB_EASY_FONT_H) || defined(STBI_INCLUDE_STB_IMAGE_H)
#error "<ctnn/ctnn.hpp> included an stb header: plots belong to ctnn::train, not ctnn::ctnn"
#endif

#include "consumer.hpp"   // consumer::TinyModel, consumer::check

#include <cmath>    // std::isfinite
#include <vector>   // std::vector

int main() {
  consumer::TinyModel model;
  ctnn::init::pytorch_default(model, 42);
  std::vector<float> images(2 * consumer::TinyInput::size, 0.5f);
  const auto logits = model.forward(images);
  consumer::check(logits.size() == 2 * 3, "two images give 2 x 3 logits");
  for (float logit : logits) consumer::check(std::isfinite(logit), "the logits are finite");
  consumer::check(logits[0] == logits[3], "equal images give equal logits");
  std::printf("%s consumer of ctnn::ctnn: ctnn %d.%d.%d, logits %g %g %g\n", CTNN_CONSUMER, CTNN_VERSION_MAJOR,
              CTNN_VERSION_MINOR, CTNN_VERSION_PATCH, logits[0], logits[1], logits[2]);
}
