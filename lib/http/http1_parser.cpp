#include "http/http1_parser.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <string>

#include <fmt/core.h>

#include "keyless/core/error.hpp"

namespace keyless::http::detail {
namespace {

// A chunk-size line is a hex number plus extensions nobody we talk to sends.
// Bounding it keeps a peer from making us buffer an endless line; 4 KiB is
// far beyond any real extension.
constexpr std::size_t max_chunk_line = 4096;

// How much of a bad line an error message quotes: enough to recognise what
// the peer sent (an HTML error page, a TLS alert), not enough to flood a log.
constexpr std::size_t max_excerpt = 64;

struct char_tables {
  std::array<bool, 256> tchar{};        // RFC 9110 5.6.2 token characters
  std::array<bool, 256> field_value{};  // HTAB, SP, VCHAR, obs-text
  std::array<signed char, 256> hex{};   // value of a hex digit, else -1
};

constexpr char_tables make_tables() {
  char_tables t;
  for (int c = 0; c < 256; ++c) {
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool special = c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' ||
                   c == '*' || c == '+' || c == '-' || c == '.' || c == '^' || c == '_' ||
                   c == '`' || c == '|' || c == '~';
    t.tchar[c] = alnum || special;
    t.field_value[c] = c == '\t' || (c >= 0x20 && c != 0x7f);
    t.hex[c] = static_cast<signed char>(c >= '0' && c <= '9'   ? c - '0'
                                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                               : -1);
  }
  return t;
}

constexpr char_tables tables = make_tables();

bool is_tchar(char c) noexcept {
  return tables.tchar[static_cast<unsigned char>(c)];
}
bool is_field_char(char c) noexcept {
  return tables.field_value[static_cast<unsigned char>(c)];
}
bool is_ows(char c) noexcept {
  return c == ' ' || c == '\t';
}

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// Peer bytes quoted in a message: printable ASCII as is, the rest escaped, so
// a log line never carries control characters from the network.
std::string excerpt(std::string_view raw) {
  std::string out;
  for (char c : raw.substr(0, max_excerpt)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  if (raw.size() > max_excerpt) out += "...";
  return out;
}

[[noreturn]] void malformed(const std::string& what) {
  throw keyless::error(errc::malformed_response, "malformed HTTP response: " + what);
}

[[noreturn]] void cut_short(const std::string& what) {
  throw keyless::error(errc::connection_failed, what);
}

[[noreturn]] void too_large(const std::string& what) {
  throw keyless::error(errc::limit_exceeded, what);
}

// Calls `fn` with each non-empty element of a comma-separated header list.
template <typename Fn>
void for_each_element(std::string_view value, Fn&& fn) {
  while (!value.empty()) {
    std::size_t comma = value.find(',');
    std::string_view element = trim_ows(value.substr(0, comma));
    if (!element.empty()) fn(element);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

// The status line must begin "HTTP/". Checking that on a partial line too
// means a peer speaking something else (TLS, SSH, garbage) fails at once
// instead of after 64 KiB. Only bytes inside `budget` are looked at, so the
// outcome is the same however the input was split.
void check_status_prefix(std::string_view raw, std::size_t budget) {
  constexpr std::string_view prefix = "HTTP/";
  std::size_t n = std::min({raw.size(), prefix.size(), budget});
  for (std::size_t i = 0; i < n; ++i) {
    if (raw[i] != prefix[i]) {
      malformed(fmt::format("status line does not start with \"HTTP/\" (got \"{}\")",
                            excerpt(raw.substr(0, i + 1))));
    }
  }
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) noexcept {
  return a > std::numeric_limits<std::uint64_t>::max() - b
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}

}  // namespace

void response_parser::reset(bool request_was_head) {
  request_was_head_ = request_was_head;
  state_ = state::status_line;
  clear_head_state();
  keep_alive_ = false;
  body_bytes_ = 0;
  remaining_ = 0;
  head_bytes_ = 0;
  line_.clear();
}

void response_parser::clear_head_state() {
  // clear() rather than assignment keeps the capacity for the next response.
  head_.status = 0;
  head_.reason.clear();
  head_.version_minor = 1;
  head_.headers.clear();
  head_.headers.reserve(16);  // a typical response's headers, without the vector growing
  has_content_length_ = false;
  has_transfer_encoding_ = false;
  transfer_coding_other_ = false;
  transfer_coding_chunked_ = false;
  connection_close_ = false;
  connection_keep_alive_ = false;
  content_length_ = 0;
}

bool response_parser::head_done() const noexcept {
  return state_ >= state::body_length;
}

bool response_parser::done() const noexcept {
  return state_ == state::complete;
}

bool response_parser::keep_alive() const noexcept {
  return done() && keep_alive_;
}

// Finds the next line. A line split across feeds is gathered in line_; a
// whole one is returned in place. The line excludes its LF and a CR before
// it (a bare LF ends a line too, as RFC 9112 2.2 permits).
bool response_parser::take_line(std::string_view input, std::size_t& pos, std::string_view& line) {
  const char* start = input.data() + pos;
  std::size_t avail = input.size() - pos;
  if (avail == 0) return false;
  bool in_head =
      state_ == state::status_line || state_ == state::header_line || state_ == state::trailer_line;
  std::size_t budget = in_head ? limits_.max_header_bytes - head_bytes_ : max_chunk_line;

  const void* lf = std::memchr(start, '\n', avail);
  if (lf == nullptr) {
    line_.append(start, avail);
    pos = input.size();
    if (state_ == state::status_line) check_status_prefix(line_, budget);
    // The line is not over yet, so it needs at least one more byte.
    if (line_.size() >= budget) {
      if (!in_head) malformed(fmt::format("chunk size line longer than {} bytes", max_chunk_line));
      too_large(
          fmt::format("response head larger than the limit of {} bytes", limits_.max_header_bytes));
    }
    return false;
  }
  std::size_t length = static_cast<std::size_t>(static_cast<const char*>(lf) - start);
  std::size_t total = line_.size() + length + 1;
  if (line_.empty()) {
    line = std::string_view(start, length);
  } else {
    line_.append(start, length);
    line = line_;
  }
  pos += length + 1;
  if (state_ == state::status_line) check_status_prefix(line, budget);
  if (total > budget) {
    if (!in_head) malformed(fmt::format("chunk size line longer than {} bytes", max_chunk_line));
    too_large(
        fmt::format("response head larger than the limit of {} bytes", limits_.max_header_bytes));
  }
  if (in_head) head_bytes_ += total;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return true;
}

parse_result response_parser::feed(std::string_view input) {
  std::size_t pos = 0;
  for (;;) {
    switch (state_) {
      case state::status_line:
      case state::header_line:
      case state::chunk_size:
      case state::chunk_data_end:
      case state::trailer_line: {
        std::string_view line;
        if (!take_line(input, pos, line)) return {parse_event::need_more, input.size(), {}};
        std::optional<parse_event> event = on_line(line);
        line_.clear();  // `line` may have pointed into it; it is used up now
        if (event) return {*event, pos, {}};
        break;
      }
      case state::body_length:
      case state::chunk_data: {
        std::size_t avail = input.size() - pos;
        if (avail == 0) return {parse_event::need_more, input.size(), {}};
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(avail, remaining_));
        remaining_ -= n;
        body_bytes_ += n;
        if (remaining_ == 0) {
          state_ = state_ == state::body_length ? state::complete : state::chunk_data_end;
        }
        return {parse_event::body_data, pos + n, input.substr(pos, n)};
      }
      case state::body_eof: {
        std::size_t avail = input.size() - pos;
        if (avail == 0) return {parse_event::need_more, input.size(), {}};
        // Bytes up to the limit are still delivered, so the caller sees the
        // same body however the input was split before the error.
        if (body_bytes_ >= limits_.max_body_bytes) {
          too_large(fmt::format("response body larger than the limit of {} bytes",
                                limits_.max_body_bytes));
        }
        std::size_t n = static_cast<std::size_t>(
            std::min<std::uint64_t>(avail, limits_.max_body_bytes - body_bytes_));
        body_bytes_ += n;
        return {parse_event::body_data, pos + n, input.substr(pos, n)};
      }
      case state::complete:
        return {parse_event::message_done, pos, {}};
    }
  }
}

// A peer that closes before the end of the message is a failed connection, not a malformed
// response: what arrived parsed, there just was not all of it. The message says where the
// response was cut, so a log tells a dropped body from a dropped head.
parse_result response_parser::feed_eof() {
  switch (state_) {
    case state::body_eof:
      state_ = state::complete;
      return {parse_event::message_done, 0, {}};
    case state::complete:
      return {parse_event::message_done, 0, {}};
    case state::status_line:
    case state::header_line:
      if (head_bytes_ == 0 && line_.empty()) {
        cut_short("connection closed before any response byte arrived");
      }
      cut_short(
          fmt::format("connection closed before the end of the response head (after {} bytes)",
                      head_bytes_ + line_.size()));
    case state::body_length:
      cut_short(fmt::format("connection closed before the end of the body ({} of {} bytes)",
                            body_bytes_, body_bytes_ + remaining_));
    case state::chunk_size:
      cut_short(fmt::format(
          "connection closed before the end of the chunked body (after {} bytes, {})", body_bytes_,
          line_.empty() ? "at a chunk boundary" : "inside a chunk size line"));
    case state::chunk_data:
      cut_short(fmt::format(
          "connection closed before the end of the chunked body (after {} bytes, {} short of "
          "the end of a chunk)",
          body_bytes_, remaining_));
    case state::chunk_data_end:
      cut_short(fmt::format(
          "connection closed before the end of the chunked body (after {} bytes, before the "
          "CRLF ending a chunk)",
          body_bytes_));
    case state::trailer_line:
      cut_short(fmt::format(
          "connection closed before the end of the chunked body's trailers (after all {} bytes "
          "of the body)",
          body_bytes_));
  }
  cut_short("connection closed in an unknown parser state");
}

std::optional<parse_event> response_parser::on_line(std::string_view line) {
  switch (state_) {
    case state::status_line:
      parse_status_line(line);
      state_ = state::header_line;
      return std::nullopt;
    case state::header_line:
      if (line.empty()) return end_of_head();
      parse_header_line(line, false);
      return std::nullopt;
    case state::chunk_size:
      parse_chunk_size(line);
      return std::nullopt;
    case state::chunk_data_end:
      if (!line.empty()) malformed("chunk data not followed by CRLF (chunk longer than its size)");
      state_ = state::chunk_size;
      return std::nullopt;
    case state::trailer_line:
      if (line.empty()) {
        state_ = state::complete;
        return parse_event::message_done;
      }
      parse_header_line(line, true);
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

void response_parser::parse_status_line(std::string_view line) {
  // status-line = HTTP-version SP status-code SP [ reason-phrase ]
  // The SP before an empty reason is often missing in the wild; accept that.
  auto bad = [&](std::string_view why) {
    malformed(fmt::format("status line {} (got \"{}\")", why, excerpt(line)));
  };
  if (line.size() < 8 || line[5] != '1' || line[6] != '.' || (line[7] != '0' && line[7] != '1')) {
    bad("has an unsupported HTTP version (expected HTTP/1.0 or HTTP/1.1)");
  }
  if (line.size() < 12 || line[8] != ' ') bad("has no status code");
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') bad("has no three-digit status code");
    status = status * 10 + (line[i] - '0');
  }
  if (status < 100 || status > 599) bad("has a status code outside 100-599");
  if (line.size() > 12 && line[12] != ' ') bad("has no space after the status code");
  std::string_view reason = line.size() > 13 ? line.substr(13) : std::string_view{};
  for (char c : reason) {
    if (!is_field_char(c)) bad("has a control character in the reason phrase");
  }
  head_.version_minor = line[7] - '0';
  head_.status = status;
  head_.reason.assign(reason);
}

void response_parser::parse_header_line(std::string_view line, bool trailer) {
  const char* where = trailer ? "trailer" : "header";
  if (is_ows(line.front())) {
    // RFC 9112 5.2: obs-fold is deprecated; a client may reject it, and
    // rejecting is what keeps two parsers from seeing different headers.
    malformed(fmt::format("{} line starts with whitespace (obsolete line folding)", where));
  }
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) malformed(fmt::format("{} line has no colon", where));
  std::string_view name = line.substr(0, colon);
  if (name.empty()) malformed(fmt::format("{} line has an empty name", where));
  for (char c : name) {
    if (!is_tchar(c)) {
      if (is_ows(name.back())) {
        malformed(fmt::format("whitespace between a {} name and its colon", where));
      }
      malformed(fmt::format("{} name has an invalid character", where));
    }
  }
  std::string_view value = trim_ows(line.substr(colon + 1));
  for (char c : value) {
    // Names are tokens and safe to quote; values may be cookies or tokens.
    if (!is_field_char(c)) {
      malformed(fmt::format("{} \"{}\" has a control character in its value", where, name));
    }
  }
  if (trailer) return;  // validated; nothing in keyless reads trailers

  switch (name.size()) {
    case 10:
      if (iequals(name, "connection")) {
        for_each_element(value, [&](std::string_view option) {
          if (iequals(option, "close")) connection_close_ = true;
          if (iequals(option, "keep-alive")) connection_keep_alive_ = true;
        });
      }
      break;
    case 14:
      if (iequals(name, "content-length")) {
        // A list of equal values ("42, 42") is one length (RFC 9110 8.6);
        // lengths that differ are a framing attack or a broken proxy.
        bool any = false;
        for_each_element(value, [&](std::string_view number) {
          std::uint64_t n = 0;
          for (char c : number) {
            if (c < '0' || c > '9') malformed("Content-Length is not a number");
            // Saturate: any length that large fails the body limit anyway.
            n = n > (std::numeric_limits<std::uint64_t>::max() - 9) / 10
                    ? std::numeric_limits<std::uint64_t>::max()
                    : n * 10 + static_cast<std::uint64_t>(c - '0');
          }
          if (has_content_length_ && n != content_length_) {
            malformed("conflicting Content-Length values");
          }
          has_content_length_ = true;
          content_length_ = n;
          any = true;
        });
        if (!any) malformed("Content-Length is empty");
      }
      break;
    case 17:
      if (iequals(name, "transfer-encoding")) {
        has_transfer_encoding_ = true;
        for_each_element(value, [&](std::string_view coding) {
          if (iequals(coding, "chunked") && !transfer_coding_chunked_) {
            transfer_coding_chunked_ = true;
          } else {
            transfer_coding_other_ = true;
          }
        });
      }
      break;
    default:
      break;
  }
  head_.headers.add(std::string(name), std::string(value));
}

std::optional<parse_event> response_parser::end_of_head() {
  int status = head_.status;
  if (status < 200) {
    if (status == 101) {
      malformed("101 Switching Protocols: protocol upgrades are not supported");
    }
    // Interim responses (100 Continue, 103 Early Hints) carry nothing we use;
    // the final response follows. Their bytes stay counted in head_bytes_ so
    // an endless stream of them still hits the head limit.
    clear_head_state();
    state_ = state::status_line;
    return std::nullopt;
  }
  if (has_transfer_encoding_ && head_.version_minor == 0) {
    // RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means the framing is faulty.
    malformed("Transfer-Encoding in an HTTP/1.0 response");
  }
  bool reusable =
      head_.version_minor >= 1 ? !connection_close_ : connection_keep_alive_ && !connection_close_;
  if (request_was_head_ || status == 204 || status == 304) {
    keep_alive_ = reusable;
    state_ = state::complete;
  } else if (has_transfer_encoding_) {
    if (transfer_coding_other_ || !transfer_coding_chunked_) {
      malformed("unsupported Transfer-Encoding (only a single \"chunked\" is decoded)");
    }
    // Both headers at once smells of request smuggling: decode by
    // Transfer-Encoding as RFC 9112 6.1 says, then close the connection.
    keep_alive_ = reusable && !has_content_length_;
    state_ = state::chunk_size;
  } else if (has_content_length_) {
    if (content_length_ > limits_.max_body_bytes) {
      too_large(fmt::format("response body of {} bytes is larger than the limit of {} bytes",
                            content_length_, limits_.max_body_bytes));
    }
    keep_alive_ = reusable;
    remaining_ = content_length_;
    state_ = remaining_ == 0 ? state::complete : state::body_length;
  } else {
    keep_alive_ = false;  // the body ends when the connection does
    state_ = state::body_eof;
  }
  return parse_event::head_done;
}

void response_parser::parse_chunk_size(std::string_view line) {
  // chunk = chunk-size [ chunk-ext ] CRLF, chunk-size = 1*HEXDIG
  std::uint64_t size = 0;
  std::size_t i = 0;
  for (; i < line.size(); ++i) {
    int digit = tables.hex[static_cast<unsigned char>(line[i])];
    if (digit < 0) break;
    size = size > (std::numeric_limits<std::uint64_t>::max() >> 4)
               ? std::numeric_limits<std::uint64_t>::max()
               : (size << 4) | static_cast<std::uint64_t>(digit);
  }
  if (i == 0) malformed(fmt::format("invalid chunk size \"{}\"", excerpt(line)));
  while (i < line.size() && is_ows(line[i])) ++i;
  if (i < line.size()) {
    if (line[i] != ';') malformed(fmt::format("invalid chunk size \"{}\"", excerpt(line)));
    // Extensions are skipped, but only if they are made of field characters.
    for (; i < line.size(); ++i) {
      if (!is_field_char(line[i])) malformed("control character in a chunk extension");
    }
  }
  if (size == 0) {
    state_ = state::trailer_line;
    return;
  }
  if (saturating_add(body_bytes_, size) > limits_.max_body_bytes) {
    too_large(fmt::format("chunked response body larger than the limit of {} bytes",
                          limits_.max_body_bytes));
  }
  remaining_ = size;
  state_ = state::chunk_data;
}

}  // namespace keyless::http::detail
