#pragma once
// What the consumer programs share: a small network of ctnn::ctnn and a check that ends the
// program with a message. CTNN_CONSUMER names the project (find_package or add_subdirectory).

#include <ctnn/ctnn.hpp>   // ctnn::Sequential, ctnn::Model, ctnn::init

#include <cstdio>       // std::fprintf, std::printf
#include <cstdlib>      // std::exit, EXIT_FAILURE
#include <filesystem>   // std::filesystem::temp_directory_path
#include <string>       // std::string

namespace consumer {

// 1x8x8 -> Conv(1, 4, 3) -> 4x6x6 -> ReLU -> AdaptiveAvgPool(1) -> 4 -> Linear(4, 3) -> 3 logits.
using TinyNet = ctnn::Sequential<ctnn::Named<"conv", ctnn::Conv<1, 4, 3>>, ctnn::ReLU,
                                 ctnn::AdaptiveAvgPool<1>, ctnn::Flatten,
                                 ctnn::Named<"fc", ctnn::Linear<4, 3>>>;
using TinyInput = ctnn::Shape<1, 8, 8>;
using TinyModel = ctnn::Model<TinyNet, TinyInput>;

// Conv: 4*1*3*3 + 4 = 40, Linear: 3*4 + 3 = 15.
static_assert(ctnn::parameter_count_v<TinyNet> == 55);

inline void check(bool condition, const std::string& what) {
  if (condition) return;
  std::fprintf(stderr, "%s consumer: check failed: %s\n", CTNN_CONSUMER, what.c_str());
  std::exit(EXIT_FAILURE);
}

// A file name in the temporary directory, one per consumer project and program.
inline std::string temporary_file(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (std::string("ctnn-") + CTNN_CONSUMER + "-" + name)).string();
}

}  // namespace consumer
