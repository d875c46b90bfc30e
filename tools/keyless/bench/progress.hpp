#pragma once
// The live progress line shown on a terminal: requests done, the current rate and errors,
// rewritten in place and erased when the run ends. Nothing at all when stdout is not a
// terminal, so piped and --output json runs stay clean.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <string>
#include <string_view>

namespace keyless::cli::bench {

/// Thread-safety: one thread (the one waiting for the run).
class progress_line {
 public:
  /// Shows the line only when `out` is a terminal (isatty).
  explicit progress_line(std::FILE* out);
  ~progress_line() { erase(); }
  progress_line(const progress_line&) = delete;
  progress_line& operator=(const progress_line&) = delete;

  bool enabled() const noexcept { return enabled_; }

  /// Rewrites the line: `label` (e.g. "keyless round 2/6"), `done` requests finished,
  /// `errors` of them failed. The rate is measured over the last second or so of updates.
  void update(std::string_view label, std::uint64_t done, std::uint64_t errors);
  /// Erases the line (if shown) and forgets the rate samples.
  void erase();

 private:
  struct sample {
    std::chrono::steady_clock::time_point at;
    std::uint64_t done;
  };

  std::FILE* out_;
  bool enabled_;
  bool shown_ = false;
  std::deque<sample> samples_;
};

}  // namespace keyless::cli::bench
