#include "progress.hpp"

#include <unistd.h>

#include <fmt/format.h>

namespace keyless::cli::bench {
namespace {

// The rate shown is over this window: short enough to follow changes, long enough not to
// flicker with each 250 ms update.
constexpr auto rate_window = std::chrono::seconds(1);

// Erase the whole line and return to its start (VT100, understood by every terminal in use).
constexpr std::string_view erase_line = "\r\033[K";

}  // namespace

progress_line::progress_line(std::FILE* out) : out_(out), enabled_(isatty(fileno(out)) == 1) {}

void progress_line::update(std::string_view label, std::uint64_t done, std::uint64_t errors) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  // A new round starts again from zero.
  if (!samples_.empty() && done < samples_.back().done) samples_.clear();
  samples_.push_back({now, done});
  while (samples_.size() > 2 && now - samples_[1].at >= rate_window) samples_.pop_front();
  double rate = 0;
  if (samples_.size() > 1) {
    const double seconds = std::chrono::duration<double>(now - samples_.front().at).count();
    if (seconds > 0) rate = static_cast<double>(done - samples_.front().done) / seconds;
  }
  const std::string line = fmt::format("{}keyless bench: {}  {} done  {:.0f}/s  {} errors",
                                       erase_line, label, done, rate, errors);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
  shown_ = true;
}

void progress_line::erase() {
  samples_.clear();
  if (!shown_) return;
  std::fwrite(erase_line.data(), 1, erase_line.size(), out_);
  std::fflush(out_);
  shown_ = false;
}

}  // namespace keyless::cli::bench
