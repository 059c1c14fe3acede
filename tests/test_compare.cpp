// The comparison helpers every test uses (tests/support/compare.hpp) fail on anything not
// finite: a NaN or an infinity in the output or in the reference, anywhere, gives an error of
// +infinity, which no tolerance accepts. (A maximum kept with std::max would skip a NaN: an
// all-NaN output would show an error of 0.)

#include <doctest/doctest.h>   // TEST_CASE, CHECK

#include <cmath>    // std::isinf
#include <limits>   // std::numeric_limits
#include <span>     // std::span
#include <vector>   // std::vector

#include "support/compare.hpp"   // ctnn::test::*

namespace test = ctnn::test;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
const std::vector<float> expected{1.0f, -2.0f, 0.5f, 4.0f};

// Every helper on (actual, reference) must report +infinity.
void check_not_comparable(const std::vector<float>& actual, const std::vector<float>& reference) {
  const std::span<const float> a(actual), b(reference);
  CHECK(std::isinf(test::relative_error(a, b)));
  CHECK(std::isinf(test::max_difference(a, b)));
  CHECK(std::isinf(test::normwise_error(a, b)));
  CHECK_FALSE(test::relative_error(a, b) <= 1e30);
}

}  // namespace

TEST_CASE("comparisons: a NaN output fails, wherever it is and however many") {
  for (std::size_t at = 0; at < expected.size(); ++at) {
    CAPTURE(at);
    std::vector<float> actual = expected;
    actual[at] = kNaN;
    check_not_comparable(actual, expected);
  }
  check_not_comparable(std::vector<float>(expected.size(), kNaN), expected);  // std::max would say 0
}

TEST_CASE("comparisons: an infinite output fails") {
  std::vector<float> actual = expected;
  actual[3] = kInf;
  check_not_comparable(actual, expected);
  actual[3] = -kInf;
  check_not_comparable(actual, expected);
}

TEST_CASE("comparisons: a NaN or an infinity in the reference fails") {
  std::vector<float> reference = expected;
  reference[0] = kNaN;
  check_not_comparable(expected, reference);
  reference[0] = kInf;
  check_not_comparable(expected, reference);
  check_not_comparable(std::vector<float>(4, kNaN), std::vector<float>(4, kNaN));  // NaN == NaN is no pass either
}

TEST_CASE("comparisons: finite values give the usual errors") {
  std::vector<float> actual = expected;
  actual[1] = -2.5f;  // off by 0.5; the reference's largest magnitude is 4
  CHECK(test::max_difference(std::span<const float>(actual), std::span<const float>(expected)) == 0.5);
  CHECK(test::relative_error(actual, expected) == 0.125);
  CHECK(test::relative_error(expected, expected) == 0.0);
  CHECK(test::normwise_error(std::span<const float>(expected), std::span<const float>(expected)) == 0.0);
  // An all-zero reference: the absolute difference.
  CHECK(test::relative_error(std::vector<double>{0.25, 0}, std::vector<double>{0, 0}) == 0.25);
  // Sizes that differ cannot be compared.
  CHECK(std::isinf(test::relative_error(std::vector<float>{1, 2}, std::vector<float>{1, 2, 3})));
}

TEST_CASE("comparisons: worse() and scalar_error() keep a NaN as the worst error") {
  CHECK(test::worse(0.0, 1e-3) == 1e-3);
  CHECK(std::isinf(test::worse(0.0, std::numeric_limits<double>::quiet_NaN())));
  CHECK(std::isinf(test::worse(std::numeric_limits<double>::quiet_NaN(), 0.0)));
  double worst = 0;
  for (double error : {1e-7, double(kNaN), 1e-6}) worst = test::worse(worst, error);
  CHECK_FALSE(worst <= 1.0);
  CHECK(test::scalar_error(1.5, 1.0, 2.0) == 0.25);
  CHECK(std::isinf(test::scalar_error(kNaN, 1.0, 1.0)));
  CHECK(std::isinf(test::scalar_error(1.0, kInf, 1.0)));
  CHECK(std::isinf(test::scalar_error(1.0, 1.0, kNaN)));  // a scale computed from NaN values
  CHECK(std::isinf(test::largest_magnitude(std::span<const float>(std::vector<float>{1, kNaN}))));
  CHECK_FALSE(test::all_finite(std::vector<float>{1, -kInf}));
  CHECK(test::all_finite(expected));
}
