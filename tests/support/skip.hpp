#pragma once
// Test support: a test that cannot run here (no data set, no GPU) reports "skipped" to ctest
// instead of passing without checking anything.
//
// Unit tests exit with skipped_exit_code, ctest's SKIP_RETURN_CODE (tests/CMakeLists.txt), when a
// test case called mark_skipped() and no check failed (tests/doctest_main.cpp). Test cases that
// need a data set carry `* doctest::test_suite("dataset")`: tests/CMakeLists.txt runs them as
// their own ctest, <test>.dataset, so a skip there does not hide the file's other cases.

#include <filesystem>    // std::filesystem::path, is_directory
#include <string>        // std::string
#include <string_view>   // std::string_view

#include <doctest/doctest.h>   // FAIL, MESSAGE

namespace ctnn::test {

inline constexpr int skipped_exit_code = 77;

// Marks this run of the executable as skipped, printing "SKIPPED: <reason>" (defined in
// tests/doctest_main.cpp).
void mark_skipped(std::string_view reason);
bool marked_skipped();

// Whether the data set that `package` installs is at `directory`. When it is not, the test fails
// if CTNN_REQUIRE_DATASETS=1 is set (tools/run-tests sets it: CI must not skip), else the run is
// marked skipped. Use as: if (!test::dataset_available(directory, "dataset-fashion-mnist")) return;
bool dataset_available(const std::filesystem::path& directory, std::string_view package);

}  // namespace ctnn::test
