// The main() of every unit test executable: doctest's, compiled once (ctnn_doctest_main), which
// turns a run that only skipped into ctest's "skipped" (support/skip.hpp).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>   // doctest::Context, TEST_CASE, CHECK

#include <cstdio>    // std::printf, std::fflush
#include <cstdlib>   // std::getenv
#include <string>    // std::string

#include "support/skip.hpp"   // ctnn::test::mark_skipped, dataset_available, skipped_exit_code

namespace {
bool skipped = false;
}  // namespace

void ctnn::test::mark_skipped(std::string_view reason) {
  skipped = true;
  std::printf("SKIPPED: %.*s\n", static_cast<int>(reason.size()), reason.data());
  std::fflush(stdout);
}

bool ctnn::test::marked_skipped() { return skipped; }

bool ctnn::test::dataset_available(const std::filesystem::path& directory, std::string_view package) {
  if (std::filesystem::is_directory(directory)) return true;
  const std::string reason =
      "data set not found at " + directory.string() + " (install " + std::string(package) + ": tools/install-deps)";
  const char* required = std::getenv("CTNN_REQUIRE_DATASETS");
  if (required != nullptr && std::string(required) == "1") {
    FAIL(reason << "; CTNN_REQUIRE_DATASETS=1 makes a missing data set a failure");
  } else {
    mark_skipped(reason);
  }
  return false;
}

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int failures = context.run();
  if (context.shouldExit() || failures != 0) return failures;
  return skipped ? ctnn::test::skipped_exit_code : 0;
}
