// ctnn::onednn, when ctnn has it: <ctnn/onednn.hpp> builds against the oneDNN ctnn was installed
// with, and the small network gives on oneDNN the logits it gives on the Eigen reference.
#include <ctnn/onednn.hpp>   // ctnn::OneDnn, ctnn::onednn::isa_name

#include "consumer.hpp"   // consumer::TinyNet, TinyInput, TinyModel, check

#include <cmath>    // std::abs
#include <vector>   // std::vector

int main() {
  consumer::TinyModel reference;
  ctnn::Model<consumer::TinyNet, consumer::TinyInput, float, ctnn::OneDnn> fast;
  ctnn::init::pytorch_default(reference, 42);
  ctnn::init::pytorch_default(fast, 42);
  std::vector<float> images(2 * consumer::TinyInput::size);
  for (std::size_t i = 0; i < images.size(); ++i) images[i] = static_cast<float>(i % 7) / 7.0f;
  const auto reference_logits = reference.forward(images);
  const std::vector<float> expected(reference_logits.begin(), reference_logits.end());
  const auto logits = fast.forward(images);
  consumer::check(logits.size() == expected.size(), "oneDNN gives 2 x 3 logits");
  for (std::size_t i = 0; i < logits.size(); ++i)
    consumer::check(std::abs(logits[i] - expected[i]) <= 1e-5f * (1.0f + std::abs(expected[i])),
                    "oneDNN's logits equal the Eigen reference's");
  const dnnl_version_t* version = dnnl_version();
  std::printf("%s consumer of ctnn::onednn: oneDNN %d.%d.%d on %s, logits %g %g %g\n", CTNN_CONSUMER, version->major,
              version->minor, version->patch, ctnn::onednn::isa_name().c_str(), logits[0], logits[1], logits[2]);
}
