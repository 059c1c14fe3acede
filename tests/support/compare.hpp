#pragma once
// Test support: comparing results, NaN-proof.
//
// std::max(0.0, NaN) is 0.0, so a maximum accumulated with std::max skips a NaN and an all-NaN
// output would show an error of 0. Every error here is +infinity instead when a value on either
// side is NaN or infinite (or the sizes differ), and `worse` keeps a NaN error as +infinity, so
// `error <= tolerance` fails for anything not finite.

#include <algorithm>   // std::max
#include <cmath>       // std::abs, std::isfinite, std::isnan, std::sqrt
#include <cstddef>     // std::size_t
#include <limits>      // std::numeric_limits
#include <span>        // std::span
#include <vector>      // std::vector

namespace ctnn::test {

// The error of a comparison that cannot be made: a non-finite value, or sizes that differ.
inline constexpr double not_comparable = std::numeric_limits<double>::infinity();

// The larger of two errors; a NaN error counts as +infinity.
inline double worse(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return not_comparable;
  return std::max(a, b);
}

// Whether every value is finite.
template <class T>
bool all_finite(std::span<const T> values) {
  for (const T v : values)
    if (!std::isfinite(static_cast<double>(v))) return false;
  return true;
}
template <class T>
bool all_finite(const std::vector<T>& values) {
  return all_finite(std::span<const T>(values));
}

// max |v|, or +infinity when a value is not finite.
template <class T>
double largest_magnitude(std::span<const T> values) {
  double largest = 0;
  for (const T v : values) {
    const double x = static_cast<double>(v);
    if (!std::isfinite(x)) return not_comparable;
    largest = std::max(largest, std::abs(x));
  }
  return largest;
}

// max |a - b|.
template <class A, class B>
double max_difference(std::span<const A> actual, std::span<const B> expected) {
  if (actual.size() != expected.size()) return not_comparable;
  double difference = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double a = static_cast<double>(actual[i]), b = static_cast<double>(expected[i]);
    if (!std::isfinite(a) || !std::isfinite(b)) return not_comparable;
    difference = std::max(difference, std::abs(a - b));
  }
  return difference;
}

// max |a - b| / max |b|: the error relative to the reference's scale (max |a - b| when the
// reference is all zeros).
template <class A, class B>
double relative_error(std::span<const A> actual, std::span<const B> expected) {
  const double difference = max_difference(actual, expected);
  if (difference == not_comparable) return not_comparable;
  const double scale = largest_magnitude(expected);
  return scale == 0 ? difference : difference / scale;
}
template <class A, class B>
double relative_error(const std::vector<A>& actual, const std::vector<B>& expected) {
  return relative_error(std::span<const A>(actual), std::span<const B>(expected));
}
template <class A, class B>
double relative_error(std::span<const A> actual, const std::vector<B>& expected) {
  return relative_error(actual, std::span<const B>(expected));
}

// ||a - b|| / ||b|| (||a - b|| when the reference is all zeros).
template <class A, class B>
double normwise_error(std::span<const A> actual, std::span<const B> expected) {
  if (actual.size() != expected.size()) return not_comparable;
  double difference = 0, scale = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double a = static_cast<double>(actual[i]), b = static_cast<double>(expected[i]);
    if (!std::isfinite(a) || !std::isfinite(b)) return not_comparable;
    difference += (a - b) * (a - b);
    scale += b * b;
  }
  return scale == 0 ? std::sqrt(difference) : std::sqrt(difference / scale);
}

// |a - b| / scale for two scalars, +infinity when either is not finite or the scale is not
// positive and finite.
inline double scalar_error(double actual, double expected, double scale) {
  if (!std::isfinite(actual) || !std::isfinite(expected) || !std::isfinite(scale)) return not_comparable;
  const double difference = std::abs(actual - expected);
  return scale > 0 ? difference / scale : difference;
}

}  // namespace ctnn::test
