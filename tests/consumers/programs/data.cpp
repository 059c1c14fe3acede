// ctnn::data: an IDX label file (uncompressed; zlib's gzread passes it through) read back.
#include <ctnn/data.hpp>   // ctnn::data::read_idx_labels, fashion_mnist_labels

#include "consumer.hpp"   // consumer::check, consumer::temporary_file

#include <cstdint>      // std::uint8_t
#include <filesystem>   // std::filesystem::remove
#include <fstream>      // std::ofstream
#include <vector>       // std::vector

int main() {
  const std::string path = consumer::temporary_file("labels-idx1-ubyte");
  {
    // Magic 0x00000801 (unsigned bytes, one dimension), 3 labels: 0, 9, 4.
    const unsigned char bytes[] = {0, 0, 8, 1, 0, 0, 0, 3, 0, 9, 4};
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes), sizeof bytes);
  }
  const ctnn::data::IdxArray labels = ctnn::data::read_idx_labels(path);
  std::filesystem::remove(path);
  consumer::check(labels.values == std::vector<std::uint8_t>{0, 9, 4}, "the labels read back are 0, 9, 4");
  std::printf("%s consumer of ctnn::data: labels %s, %s, %s\n", CTNN_CONSUMER,
              std::string(ctnn::data::fashion_mnist_labels[labels.values[0]]).c_str(),
              std::string(ctnn::data::fashion_mnist_labels[labels.values[1]]).c_str(),
              std::string(ctnn::data::fashion_mnist_labels[labels.values[2]]).c_str());
}
