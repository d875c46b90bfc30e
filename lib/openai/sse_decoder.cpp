#include "openai/sse_decoder.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>

#include <fmt/core.h>

#include "keyless/core/error.hpp"

namespace keyless::openai {
namespace {

constexpr std::string_view bom = "\xEF\xBB\xBF";

}  // namespace

void sse_decoder::fail_too_large() const {
  throw error(errc::limit_exceeded,
              fmt::format("server-sent event larger than the {} byte limit", max_event_size_));
}

void sse_decoder::check_size(std::size_t size) {
  if (size > max_event_size_) {
    failed_ = true;
    fail_too_large();
  }
}

void sse_decoder::feed(std::string_view bytes) {
  if (failed_) fail_too_large();
  // Drop consumed bytes once they are at least half the buffer, so appends
  // stay amortised O(1) without moving a large tail on every call.
  if (pos_ == buffer_.size()) {
    buffer_.clear();
    scan_ = pos_ = 0;
  } else if (pos_ > 0 && pos_ >= buffer_.size() / 2) {
    buffer_.erase(0, pos_);
    scan_ -= pos_;
    pos_ = 0;
  }
  buffer_.append(bytes);
}

bool sse_decoder::next(sse_event& out) {
  if (failed_) fail_too_large();
  if (!bom_checked_) {
    const auto available = buffer_.size() - pos_;
    const auto n = std::min(available, bom.size());
    if (std::string_view(buffer_).substr(pos_, n) != bom.substr(0, n)) {
      bom_checked_ = true;
    } else if (n == bom.size()) {
      pos_ += n;
      scan_ = std::max(scan_, pos_);
      bom_checked_ = true;
    } else {
      return false;  // a prefix of the BOM so far: wait for more bytes
    }
  }
  for (;;) {
    if (skip_lf_) {
      if (pos_ == buffer_.size()) return false;
      if (buffer_[pos_] == '\n') ++pos_;
      scan_ = std::max(scan_, pos_);
      skip_lf_ = false;
    }
    const char* base = buffer_.data();
    const std::size_t from = std::max(scan_, pos_);
    const std::size_t size = buffer_.size();
    // LF ends nearly every line; look for a CR only before the first LF.
    std::size_t eol = size;
    if (const void* lf = std::memchr(base + from, '\n', size - from))
      eol = static_cast<std::size_t>(static_cast<const char*>(lf) - base);
    if (const void* cr = std::memchr(base + from, '\r', eol - from))
      eol = static_cast<std::size_t>(static_cast<const char*>(cr) - base);
    if (eol == size) {
      scan_ = size;
      check_size(size - pos_);
      return false;
    }
    const std::string_view line(base + pos_, eol - pos_);
    check_size(line.size());
    pos_ = scan_ = eol + 1;
    if (base[eol] == '\r') {
      // CRLF may arrive split across feeds: remember to drop the LF.
      if (pos_ < size) {
        if (base[pos_] == '\n') scan_ = ++pos_;
      } else {
        skip_lf_ = true;
      }
    }
    if (process_line(line, out)) return true;
  }
}

std::optional<sse_event> sse_decoder::next() {
  sse_event e;
  if (next(e)) return e;
  return std::nullopt;
}

bool sse_decoder::has_partial_event() const noexcept {
  return buffer_.size() > pos_ || data_lines_ > 0 || !type_.empty();
}

bool sse_decoder::process_line(std::string_view line, sse_event& out) {
  if (line.empty()) {
    if (data_lines_ == 0) {
      // The standard resets the buffers and dispatches nothing.
      type_.clear();
      return false;
    }
    out.type.assign(type_.empty() ? std::string_view("message") : std::string_view(type_));
    // Swap so the caller's old buffer becomes ours: no allocation per event
    // once both have grown.
    out.data.swap(data_);
    data_.clear();
    out.id.assign(last_id_);
    type_.clear();
    data_lines_ = 0;
    return true;
  }
  if (line.front() == ':') return false;  // comment (keep-alive)
  std::string_view field = line;
  std::string_view value;
  if (auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (data_lines_ > 0) data_.push_back('\n');
    data_.append(value);
    ++data_lines_;
    check_size(data_.size());
  } else if (field == "event") {
    type_.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_id_.assign(value);
  } else if (field == "retry") {
    std::uint64_t ms = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
    if (!value.empty() && ec == std::errc{} && end == value.data() + value.size() &&
        ms <= static_cast<std::uint64_t>(std::chrono::milliseconds::max().count()))
      retry_ = std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(ms));
  }
  return false;
}

}  // namespace keyless::openai
