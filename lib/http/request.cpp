#include "keyless/http/request.hpp"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <fmt/core.h>

#include "http/h2/field_syntax.hpp"
#include "keyless/core/error.hpp"
#include "request_writer.hpp"

namespace keyless::http {
namespace {

// RFC 9110 5.6.2 tchar: what a method or a header name may consist of.
bool is_tchar(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

[[noreturn]] void fail(std::string message) {
  throw keyless::error(errc::invalid_argument, message);
}

// Control characters but tab: see check_value.
bool is_forbidden_in_value(unsigned char u) noexcept {
  return (u < 0x20 && u != '\t') || u == 0x7f;
}

// A bearer token makes Authorization by far the longest header, and checking it byte by byte
// was most of what a token added to a request's cost: blocks of 16 bytes (SSE2, part of every
// x86-64) or 8 (bit tricks on a word elsewhere) are tested at once, and only a block that may
// hold a forbidden byte is looked at byte by byte, since a tab is allowed.
bool block_has_forbidden_byte(std::string_view block) noexcept {
  for (char c : block) {
    if (is_forbidden_in_value(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

bool has_forbidden_byte(std::string_view value) noexcept {
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128i highest_control = _mm_set1_epi8(0x1f);
  const __m128i del = _mm_set1_epi8(0x7f);
  for (; i + 16 <= value.size(); i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(value.data() + i));
    // Unsigned v <= 0x1f exactly where max(v, 0x1f) == 0x1f.
    const __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(v, highest_control), highest_control);
    const __m128i suspect = _mm_or_si128(control, _mm_cmpeq_epi8(v, del));
    if (_mm_movemask_epi8(suspect) != 0 && block_has_forbidden_byte(value.substr(i, 16))) {
      return true;
    }
  }
#endif
  constexpr std::uint64_t ones = 0x0101010101010101;
  constexpr std::uint64_t highs = 0x8080808080808080;
  for (; i + 8 <= value.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, value.data() + i, sizeof w);
    // Exact "any byte below 0x20" and "any byte equal to 0x7f" tests.
    const std::uint64_t below_space = (w - ones * 0x20) & ~w & highs;
    const std::uint64_t x = w ^ (ones * 0x7f);
    const std::uint64_t is_del = (x - ones) & ~x & highs;
    if ((below_space | is_del) != 0 && block_has_forbidden_byte(value.substr(i, 8))) return true;
  }
  return block_has_forbidden_byte(value.substr(i));
}

// A header value may hold a secret (Authorization, api-key), so errors name
// the header, never the value. A CR or LF would let the value start a new
// header or a second request; any other control character is refused too,
// since RFC 9110 does not allow them and servers reject them unpredictably.
void check_value(std::string_view name, std::string_view value) {
  if (!has_forbidden_byte(value)) [[likely]]
    return;
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\r' || c == '\n') {
      fail(fmt::format("header \"{}\" has a CR or LF in its value (header injection refused)",
                       name));
    }
    if (c == '\0') fail(fmt::format("header \"{}\" has a NUL byte in its value", name));
    if (is_forbidden_in_value(u)) {
      fail(fmt::format("header \"{}\" has a control character in its value", name));
    }
  }
}

void check_target(const url& u, std::string_view target) {
  if (u.host.empty()) fail("request has no target URL (host is empty)");
  for (char c : u.host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || c == '~' || c == ':';
    if (!ok) fail("request URL host contains an invalid character");
  }
  if (u.scheme != "http" && u.scheme != "https") fail("request URL scheme must be http or https");
  if (u.target.empty() || u.target.front() != '/') fail("request target must start with '/'");
  for (char c : target) {
    auto u8 = static_cast<unsigned char>(c);
    if (u8 <= 0x20 || u8 >= 0x7f) {
      fail(
          "request target contains a space, control or non-ASCII character (build it with "
          "url::parse, which escapes them)");
    }
  }
}

void check_field(std::string_view name, std::string_view value, std::string_view body) {
  if (!is_token(name)) {
    fail("a header name is empty or contains characters not allowed in a token");
  }
  check_value(name, value);
  if (iequals(name, "transfer-encoding")) {
    fail("Transfer-Encoding cannot be set: the body is sent whole, with Content-Length");
  }
  if (iequals(name, "content-length")) {
    std::size_t declared = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), declared);
    if (ec != std::errc{} || end != value.data() + value.size() || declared != body.size()) {
      fail(fmt::format("Content-Length header does not match the body size ({} bytes)",
                       body.size()));
    }
  }
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

bool method_implies_body(std::string_view method) noexcept {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

}  // namespace

namespace detail {

void check_head(const request& req, bool absolute_form) {
  if (!is_token(req.method)) fail("request method is empty or not a valid token");
  if (absolute_form) {
    check_target(req.target, req.target.to_string());
  } else {
    check_target(req.target, req.target.target);
  }
  for (const auto& [name, value] : req.headers) check_field(name, value, req.body);
  if (req.credential) {
    const shared_field& f = *req.credential;
    if (!f.owner) fail(fmt::format("shared header \"{}\" has no owner to keep it alive", f.name));
    if (!f.checked()) check_field(f.name, f.value, req.body);
  }
}

void append_head(std::string& out, const request& req, bool absolute_form) {
  out += req.method;
  out += ' ';
  if (absolute_form) {
    out += req.target.to_string();
  } else {
    out += req.target.target;
  }
  out += " HTTP/1.1\r\n";
  // A caller's own Host wins (a test or a gateway may need a different name);
  // otherwise it comes from the URL, as every request needs one.
  if (!req.headers.contains("host")) {
    out += "Host: ";
    out += req.target.host_header();
    out += "\r\n";
  }
  for (const auto& [name, value] : req.headers) {
    if (iequals(name, "content-length")) continue;  // written below, from the body
    append_field(out, name, value);
  }
  if (req.credential && !iequals(req.credential->name, "content-length")) {
    append_field(out, req.credential->name, req.credential->value);
  }
  // POST/PUT/PATCH always state a length: without one, an empty body leaves
  // some servers and proxies waiting for a body or answering 411.
  if (!req.body.empty() || method_implies_body(req.method)) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, req.body.size());
    out += "Content-Length: ";
    out.append(digits, end);
    out += "\r\n";
  }
  out += "\r\n";
}

}  // namespace detail

shared_field checked_field(shared_field field) {
  if (!field.owner) {
    fail(fmt::format("shared header \"{}\" has no owner to keep it alive", field.name));
  }
  check_field(field.name, field.value, {});
  if (iequals(field.name, "content-length") || iequals(field.name, "host")) {
    fail(fmt::format("header \"{}\" belongs to one request and cannot be shared", field.name));
  }
  // What HTTP/2 refuses beyond HTTP/1.1's rules: white space at either end.
  if (const char* problem = h2::value_problem(field.value)) {
    fail(fmt::format("header \"{}\" {}", field.name, problem));
  }
  field.checked_ = true;
  return field;
}

std::string serialize_head(const request& req, bool absolute_form) {
  detail::check_head(req, absolute_form);
  std::string out;
  std::size_t size = req.method.size() + req.target.target.size() + req.target.host.size() + 64;
  for (const auto& [name, value] : req.headers) size += name.size() + value.size() + 4;
  if (req.credential) size += req.credential->name.size() + req.credential->value.size() + 4;
  out.reserve(size);
  detail::append_head(out, req, absolute_form);
  return out;
}

}  // namespace keyless::http
