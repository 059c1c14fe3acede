#pragma once
// A progress bar for training epochs, with throughput and the time left:
//
//   epoch  3/15 [##########..........]  235/468  loss 0.3127  acc 88.41%  612 img/s  ETA 0:38 (run 6:21)
//
// On a terminal it redraws one line in place (at most 8 times a second); written to a file (a
// log of a background run) it prints a plain line every `log_every` of the epoch instead, so the
// log stays readable.
//
//   ctnn::train::ProgressBar bar(stderr);
//   bar.begin_epoch(epoch, epochs, batches, done_batches);
//   bar.update(done_batches, images_per_batch, loss, accuracy, run_seconds_left);
//   bar.end_epoch();

#include <algorithm>   // std::min, std::max
#include <chrono>      // std::chrono::steady_clock
#include <cmath>       // std::isfinite, std::llround
#include <cstddef>     // std::size_t
#include <cstdio>      // std::FILE, std::fprintf, std::fflush, fileno
#include <string>      // std::string

#include <unistd.h>   // isatty

namespace ctnn::train {

// "1:05:03", "4:07", or "?" for an unknown or absurd duration.
inline std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e7) return "?";
  const long long total = std::llround(seconds);
  const long long hours = total / 3600, minutes = total / 60 % 60, secs = total % 60;
  char text[32];
  if (hours > 0)
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", hours, minutes, secs);
  else
    std::snprintf(text, sizeof text, "%lld:%02lld", minutes, secs);
  return text;
}

class ProgressBar {
 public:
  using clock = std::chrono::steady_clock;

  // Writes to `out`; `interactive` (default: whether `out` is a terminal) selects redrawing.
  explicit ProgressBar(std::FILE* out, int interactive = -1, double log_every = 0.25)
      : out_(out), interactive_(interactive < 0 ? isatty(fileno(out)) != 0 : interactive != 0), log_every_(log_every) {}

  // An epoch of `batches` batches starts at batch `first` (non-zero when resuming inside it).
  void begin_epoch(std::size_t epoch, std::size_t epochs, std::size_t batches, std::size_t first = 0) {
    epoch_ = epoch;
    epochs_ = epochs;
    batches_ = std::max<std::size_t>(batches, 1);
    first_ = first;
    start_ = clock::now();
    last_draw_ = start_ - std::chrono::seconds(1);
    next_log_ = log_every_;
    images_ = 0;
  }

  // `done` batches of the epoch are finished, `images` of them in this session; loss and accuracy
  // (a fraction) so far; `run_left_seconds` is the caller's estimate for the whole run (< 0: none).
  void update(std::size_t done, std::size_t images, double loss, double accuracy, double run_left_seconds = -1) {
    images_ = images;
    const auto now = clock::now();
    const double fraction = static_cast<double>(done) / static_cast<double>(batches_);
    if (interactive_) {
      if (now - last_draw_ < std::chrono::milliseconds(125) && done < batches_) return;
      last_draw_ = now;
      std::fprintf(out_, "\r%s\033[K", line(done, loss, accuracy, run_left_seconds).c_str());
      std::fflush(out_);
    } else if (fraction + 1e-12 >= next_log_ && done < batches_) {
      while (next_log_ <= fraction + 1e-12) next_log_ += log_every_;
      std::fprintf(out_, "%s\n", line(done, loss, accuracy, run_left_seconds).c_str());
      std::fflush(out_);
    }
  }

  // Finishes the epoch's line (a terminal keeps the last drawn bar).
  void end_epoch() {
    if (interactive_) {
      std::fprintf(out_, "\n");
      std::fflush(out_);
    }
  }

  // Images per second in this epoch so far.
  double images_per_second() const {
    const double seconds = std::chrono::duration<double>(clock::now() - start_).count();
    return seconds > 0 ? static_cast<double>(images_) / seconds : 0.0;
  }

  // Seconds left in the epoch at the current rate.
  double epoch_seconds_left(std::size_t done) const {
    const double seconds = std::chrono::duration<double>(clock::now() - start_).count();
    const std::size_t session = done > first_ ? done - first_ : 0;
    if (session == 0) return -1;
    return seconds / static_cast<double>(session) * static_cast<double>(batches_ - std::min(done, batches_));
  }

 private:
  std::string line(std::size_t done, double loss, double accuracy, double run_left_seconds) const {
    constexpr std::size_t width = 20;
    const std::size_t filled = std::min(width, done * width / batches_);
    std::string bar(filled, '#');
    bar.append(width - filled, '.');
    char text[256];
    std::snprintf(text, sizeof text, "epoch %3zu/%zu [%s] %5zu/%zu  loss %.4f  acc %6.2f%%  %5.0f img/s  ETA %s",
                  epoch_, epochs_, bar.c_str(), done, batches_, loss, 100.0 * accuracy, images_per_second(),
                  format_duration(epoch_seconds_left(done)).c_str());
    std::string result = text;
    if (run_left_seconds >= 0) result += " (run " + format_duration(run_left_seconds) + ")";
    return result;
  }

  std::FILE* out_;
  bool interactive_;
  double log_every_;
  std::size_t epoch_ = 0, epochs_ = 0, batches_ = 1, first_ = 0, images_ = 0;
  clock::time_point start_{}, last_draw_{};
  double next_log_ = 0;
};

}  // namespace ctnn::train
