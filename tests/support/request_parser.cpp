#include "request_parser.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace keyless::testing {
namespace {

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 token characters; anything else in a method or field name is malformed.
bool is_tchar(char c) noexcept {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

// Whether the comma-separated header value list contains `token`.
bool has_token(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = trim(list.substr(0, comma));
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Guards against chunk sizes that would overflow size_t.
constexpr std::size_t max_chunk_digits = 15;
constexpr std::size_t max_chunk_line = 1024;

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

void header_map::add(std::string name, std::string value) {
  items_.emplace_back(std::move(name), std::move(value));
}

void header_map::set(std::string name, std::string value) {
  erase(name);
  add(std::move(name), std::move(value));
}

void header_map::erase(std::string_view name) {
  std::erase_if(items_, [&](const value_type& f) { return iequals(f.first, name); });
}

std::optional<std::string_view> header_map::find(std::string_view name) const noexcept {
  for (const auto& f : items_)
    if (iequals(f.first, name)) return std::string_view(f.second);
  return std::nullopt;
}

std::vector<std::string_view> header_map::find_all(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& f : items_)
    if (iequals(f.first, name)) out.emplace_back(f.second);
  return out;
}

std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      int hi = hex_value(text[i + 1]);
      int lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::optional<std::string> find_url_encoded(std::string_view encoded, std::string_view name) {
  while (!encoded.empty()) {
    auto amp = encoded.find('&');
    auto pair = encoded.substr(0, amp);
    auto eq = pair.find('=');
    auto key = pair.substr(0, eq);
    if (percent_decode(key, true) == name)
      return eq == std::string_view::npos ? std::string()
                                          : percent_decode(pair.substr(eq + 1), true);
    if (amp == std::string_view::npos) break;
    encoded.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::string_view recorded_request::path() const noexcept {
  std::string_view t = target;
  if (t.empty() || (t.front() != '/' && t.find("://") == std::string_view::npos)) {
    return t == "*" ? t : std::string_view();  // authority form (CONNECT) has no path
  }
  if (t.front() != '/') {
    auto start = t.find('/', t.find("://") + 3);
    if (start == std::string_view::npos) return "/";
    t.remove_prefix(start);
  }
  return t.substr(0, t.find_first_of("?#"));
}

std::string_view recorded_request::query() const noexcept {
  std::string_view t = target;
  auto q = t.find('?');
  if (q == std::string_view::npos) return {};
  t.remove_prefix(q + 1);
  return t.substr(0, t.find('#'));
}

std::optional<std::string> recorded_request::query_param(std::string_view name) const {
  return find_url_encoded(query(), name);
}

std::optional<std::string> recorded_request::form_param(std::string_view name) const {
  return find_url_encoded(body, name);
}

std::string recorded_request::header(std::string_view name) const {
  return std::string(headers.find(name).value_or(std::string_view()));
}

bool recorded_request::keep_alive() const noexcept {
  for (auto value : headers.find_all("connection")) {
    if (has_token(value, "close")) return false;
    if (has_token(value, "keep-alive")) return true;
  }
  return version == "HTTP/1.1";
}

void request_parser::fail(std::string message, bool limit) {
  state_ = state::failed;
  error_ = std::move(message);
  limit_exceeded_ = limit;
}

bool request_parser::take_line(std::string_view data, std::size_t& used, std::size_t max_line) {
  // A CR may already be buffered from the previous feed.
  while (used < data.size()) {
    char c = data[used++];
    buffer_.push_back(c);
    if (c == '\n' && buffer_.size() >= 2 && buffer_[buffer_.size() - 2] == '\r') {
      buffer_.resize(buffer_.size() - 2);
      return true;
    }
    if (buffer_.size() > max_line) {
      fail("line too long", true);
      return false;
    }
  }
  return false;
}

std::size_t request_parser::feed(std::string_view data) {
  std::size_t used = 0;
  while (state_ != state::done && state_ != state::failed) {
    switch (state_) {
      case state::head: {
        // The head is collected whole (until the empty line), then parsed at once.
        if (buffer_.empty()) {
          // RFC 9112 §2.2: ignore empty lines before the request line.
          while (used < data.size() && (data[used] == '\r' || data[used] == '\n')) ++used;
        }
        if (used == data.size()) return used;
        std::size_t before = buffer_.size();
        std::size_t search_from = before >= 3 ? before - 3 : 0;
        buffer_.append(data.substr(used));
        auto end = buffer_.find("\r\n\r\n", search_from);
        if (end == std::string::npos) {
          used = data.size();
          if (buffer_.size() > limits_.max_head_bytes) fail("request head too large", true);
          return used;
        }
        used += end + 4 - before;
        if (end + 2 > limits_.max_head_bytes) {
          fail("request head too large", true);
          return used;
        }
        // Parsed in place (keeping the last line's CRLF); the buffer keeps its capacity for
        // the connection's next request.
        parse_head(std::string_view(buffer_).substr(0, end + 2));
        buffer_.clear();
        break;
      }
      case state::body_length: {
        std::size_t n = std::min(remaining_, data.size() - used);
        current_.body.append(data.substr(used, n));
        used += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = state::done;
        if (used == data.size()) return used;
        break;
      }
      case state::chunk_size: {
        if (!take_line(data, used, max_chunk_line)) return used;
        std::string_view line = buffer_;
        line = trim(line.substr(0, line.find(';')));  // chunk extensions are ignored
        if (line.empty() || line.size() > max_chunk_digits) {
          fail("malformed chunk size");
          return used;
        }
        std::size_t size = 0;
        for (char c : line) {
          int v = hex_value(c);
          if (v < 0) {
            fail("malformed chunk size");
            return used;
          }
          size = size * 16 + static_cast<std::size_t>(v);
        }
        buffer_.clear();
        if (size > limits_.max_body_bytes - current_.body.size()) {
          fail("request body too large", true);
          return used;
        }
        remaining_ = size;
        state_ = size == 0 ? state::trailers : state::chunk_data;
        break;
      }
      case state::chunk_data: {
        std::size_t n = std::min(remaining_, data.size() - used);
        current_.body.append(data.substr(used, n));
        used += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = state::chunk_data_end;
        if (used == data.size()) return used;
        break;
      }
      case state::chunk_data_end: {
        while (buffer_.size() < 2 && used < data.size()) buffer_.push_back(data[used++]);
        if (buffer_.size() < 2) return used;
        if (buffer_ != "\r\n") {
          fail("chunk data not followed by CRLF");
          return used;
        }
        buffer_.clear();
        state_ = state::chunk_size;
        break;
      }
      case state::trailers: {
        if (!take_line(data, used, limits_.max_head_bytes)) return used;
        bool last = buffer_.empty();
        buffer_.clear();
        if (last) state_ = state::done;
        break;
      }
      case state::done:
      case state::failed:
        break;
    }
  }
  return used;
}

bool request_parser::parse_head(std::string_view head) {
  current_ = recorded_request{};
  auto line_end = head.find("\r\n");
  std::string_view request_line = head.substr(0, line_end);
  head.remove_prefix(line_end + 2);

  auto sp1 = request_line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || request_line.find(' ', sp2 + 1) != std::string_view::npos) {
    fail("malformed request line");
    return false;
  }
  auto method = request_line.substr(0, sp1);
  auto target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  auto version = request_line.substr(sp2 + 1);
  if (!is_token(method)) {
    fail("malformed method");
    return false;
  }
  if (target.empty() || target.find_first_of(" \t\r\n") != std::string_view::npos) {
    fail("malformed request target");
    return false;
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    fail("unsupported HTTP version");
    return false;
  }
  current_.method = method;
  current_.target = target;
  current_.version = version;

  while (!head.empty()) {
    line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    head.remove_prefix(line_end + 2);
    if (line.front() == ' ' || line.front() == '\t') {
      fail("obsolete header line folding");
      return false;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
      fail("malformed header line");
      return false;
    }
    current_.headers.add(std::string(line.substr(0, colon)),
                         std::string(trim(line.substr(colon + 1))));
  }

  auto te = current_.headers.find_all("transfer-encoding");
  auto cl = current_.headers.find_all("content-length");
  if (!te.empty()) {
    // Both framings at once is the request-smuggling shape; refuse it.
    if (!cl.empty()) {
      fail("both Transfer-Encoding and Content-Length");
      return false;
    }
    std::string_view last = te.back();
    auto comma = last.rfind(',');
    if (comma != std::string_view::npos) last.remove_prefix(comma + 1);
    if (!iequals(trim(last), "chunked")) {
      fail("unsupported transfer coding");
      return false;
    }
    current_.chunked = true;
    state_ = state::chunk_size;
    return true;
  }
  std::size_t length = 0;
  for (std::size_t i = 0; i < cl.size(); ++i) {
    std::size_t value = 0;
    auto v = cl[i];
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
    if (v.empty() || ec != std::errc() || ptr != v.data() + v.size() ||
        (i > 0 && value != length)) {
      fail("malformed Content-Length");
      return false;
    }
    length = value;
  }
  if (length > limits_.max_body_bytes) {
    fail("request body too large", true);
    return false;
  }
  remaining_ = length;
  state_ = length == 0 ? state::done : state::body_length;
  return true;
}

recorded_request request_parser::take() {
  if (state_ != state::done) throw std::logic_error("request_parser::take: no complete request");
  recorded_request out = std::move(current_);
  current_ = recorded_request{};
  state_ = state::head;
  buffer_.clear();
  remaining_ = 0;
  return out;
}

}  // namespace keyless::testing
