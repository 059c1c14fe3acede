#pragma once
// Checks of the example programs' numeric options (CLI11 validators), with messages a user can act
// on. CLI11's own PositiveNumber and Range accept "nan", wrap "-1" around to 2^64 - 1 for an
// unsigned option and print the range of a double with 300 digits; these parse the text themselves:
//
//   app.add_option("--top", top)->check(cli_checks::integer_in(1, 1000));
//       --top 0     ->  --top: must be an integer from 1 to 1000, not '0'
//   app.add_option("--lr", lr)->check(cli_checks::finite_above(0));
//       --lr nan    ->  --lr: must be a finite number greater than 0, not 'nan'

#include <algorithm>      // std::max
#include <charconv>       // std::from_chars
#include <cmath>          // std::isfinite
#include <cstdint>        // std::uint64_t
#include <cstdio>         // std::snprintf
#include <limits>         // std::numeric_limits
#include <string>         // std::string
#include <system_error>   // std::errc
#include <thread>         // std::thread::hardware_concurrency

#include <CLI/CLI.hpp>   // CLI::Validator

namespace cli_checks {

inline std::string number_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

// A decimal integer from `low` to `high`, written without sign tricks ("-1" is not 2^64 - 1).
inline CLI::Validator integer_in(std::uint64_t low, std::uint64_t high = std::numeric_limits<std::uint64_t>::max()) {
  const std::string expected = high == std::numeric_limits<std::uint64_t>::max()
                                   ? "an integer of at least " + std::to_string(low)
                                   : "an integer from " + std::to_string(low) + " to " + std::to_string(high);
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        std::uint64_t value = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (error != std::errc() || end != text.data() + text.size() || value < low || value > high)
          return "must be " + expected + ", not '" + text + "'";
        return "";
      },
      high == std::numeric_limits<std::uint64_t>::max() ? "[" + std::to_string(low) + ", ...)"
                                                         : "[" + std::to_string(low) + ", " + std::to_string(high) + "]");
}

// A finite number from `low` (above `low` if `exclusive`) to `high`.
inline CLI::Validator finite_in(double low, double high, bool exclusive = false) {
  std::string expected = "a finite number " + std::string(exclusive ? "above " : std::isfinite(high) ? "from " : "of at least ") +
                         number_text(low);
  if (std::isfinite(high)) expected += (exclusive ? " and at most " : " to ") + number_text(high);
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        double value = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        const bool parsed = error == std::errc() && end == text.data() + text.size();
        if (!parsed || !std::isfinite(value) || value < low || (exclusive && value == low) || value > high)
          return "must be " + expected + ", not '" + text + "'";
        return "";
      },
      std::string("finite ") + (exclusive ? "> " : ">= ") + number_text(low) +
          (std::isfinite(high) ? ", <= " + number_text(high) : std::string()));
}

inline CLI::Validator finite_above(double low) { return finite_in(low, HUGE_VAL, true); }
inline CLI::Validator finite_at_least(double low) { return finite_in(low, HUGE_VAL); }

// The most CPU threads accepted: four per hardware thread (at least 4). More only costs memory
// (each thread keeps its own work space) and time.
inline unsigned max_threads() { return 4 * std::max(1u, std::thread::hardware_concurrency()); }

// --threads: 0 (the default count) up to max_threads().
inline CLI::Validator thread_count() {
  const CLI::Validator check = integer_in(0, max_threads());
  const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  return CLI::Validator(
      [check, hardware](std::string& text) -> std::string {
        const std::string problem = check(text);
        if (problem.empty()) return "";
        return problem + " (this machine runs " + std::to_string(hardware) + " hardware threads; more threads than " +
               std::to_string(max_threads()) + " only cost memory)";
      },
      "[0, " + std::to_string(max_threads()) + "]");
}

}  // namespace cli_checks
