#pragma once
// The oneDNN backend's tests (tests/test_onednn*.cpp) where ctnn was configured without oneDNN:
// the executable says so and exits 77, which ctest shows as skipped. It exits before doctest
// starts, so that a filtered run (--test-suite=dataset, --test-case=layers:*) is skipped too, not
// passed with nothing run. CI installs oneDNN (tools/install-deps), so there the tests run. A
// test includes this first and puts its cases under #if defined(CTNN_WITH_ONEDNN).

#if !defined(CTNN_WITH_ONEDNN)
#include <cstdio>    // std::fprintf
#include <cstdlib>   // std::exit

namespace {
[[maybe_unused]] const bool onednn_missing = [] {
  std::fprintf(stderr, "SKIPPED: ctnn was configured without oneDNN (tools/install-deps installs it)\n");
  std::exit(77);
  return true;
}();
}  // namespace
#endif
