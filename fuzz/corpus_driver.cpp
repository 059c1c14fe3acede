// A main() for a fuzz target where libFuzzer is not available (g++): runs LLVMFuzzerTestOneInput
// once on each file named on the command line, or on each file in a named directory, like
// `<fuzzer> file...` does with libFuzzer. ctest runs the targets over their seed corpora this way.

#include <cstddef>      // std::size_t
#include <cstdint>      // std::uint8_t
#include <cstdio>       // std::printf, std::fprintf
#include <filesystem>   // std::filesystem::directory_iterator, is_directory
#include <fstream>      // std::ifstream
#include <iterator>     // std::istreambuf_iterator
#include <string>       // std::string
#include <vector>       // std::vector

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

int run_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    std::fprintf(stderr, "corpus_driver: cannot read %s\n", path.string().c_str());
    return 1;
  }
  const std::vector<char> bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  std::printf("Running: %s (%zu bytes)\n", path.string().c_str(), bytes.size());
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int failures = 0;
  std::size_t inputs = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path path = argv[i];
    if (std::filesystem::is_directory(path)) {
      for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (entry.is_regular_file()) failures += run_file(entry.path()), ++inputs;
      }
    } else {
      failures += run_file(path), ++inputs;
    }
  }
  std::printf("Executed %zu inputs\n", inputs);
  return failures == 0 && inputs > 0 ? 0 : 1;
}
