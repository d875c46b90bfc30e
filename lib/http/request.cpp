#include "keyless/http/request.hpp"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <fmt/core.h>

#include "keyless/core/error.hpp"

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

// Eight bytes per step: a bearer token makes Authorization by far the longest header, and
// byte-at-a-time checking was most of the cost a token adds to a request. A word holding a
// byte below 0x20 or a DEL (exact "any" tests, bit tricks on the word) is checked byte by byte,
// since a tab is allowed.
bool has_forbidden_byte(std::string_view value) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101;
  constexpr std::uint64_t highs = 0x8080808080808080;
  std::size_t i = 0;
  for (; i + 8 <= value.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, value.data() + i, sizeof w);
    const std::uint64_t below_space = (w - ones * 0x20) & ~w & highs;
    const std::uint64_t del = w ^ (ones * 0x7f);
    const std::uint64_t is_del = (del - ones) & ~del & highs;
    if ((below_space | is_del) == 0) [[likely]]
      continue;
    for (std::size_t j = i; j < i + 8; ++j) {
      if (is_forbidden_in_value(static_cast<unsigned char>(value[j]))) return true;
    }
  }
  for (; i < value.size(); ++i) {
    if (is_forbidden_in_value(static_cast<unsigned char>(value[i]))) return true;
  }
  return false;
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

bool method_implies_body(std::string_view method) noexcept {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

}  // namespace

std::string serialize_head(const request& req, bool absolute_form) {
  if (!is_token(req.method)) fail("request method is empty or not a valid token");
  std::string absolute;
  if (absolute_form) absolute = req.target.to_string();
  std::string_view target = absolute_form ? std::string_view(absolute) : req.target.target;
  check_target(req.target, target);

  bool user_host = false;
  std::size_t size = req.method.size() + target.size() + req.target.host.size() + 64;
  for (const auto& [name, value] : req.headers) {
    if (!is_token(name)) {
      fail("a header name is empty or contains characters not allowed in a token");
    }
    check_value(name, value);
    if (iequals(name, "host")) user_host = true;
    if (iequals(name, "transfer-encoding")) {
      fail("Transfer-Encoding cannot be set: the body is sent whole, with Content-Length");
    }
    if (iequals(name, "content-length")) {
      std::size_t declared = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), declared);
      if (ec != std::errc{} || end != value.data() + value.size() || declared != req.body.size()) {
        fail(fmt::format("Content-Length header does not match the body size ({} bytes)",
                         req.body.size()));
      }
    }
    size += name.size() + value.size() + 4;
  }

  std::string out;
  out.reserve(size);
  out += req.method;
  out += ' ';
  out += target;
  out += " HTTP/1.1\r\n";
  // A caller's own Host wins (a test or a gateway may need a different name);
  // otherwise it comes from the URL, as every request needs one.
  if (!user_host) {
    out += "Host: ";
    out += req.target.host_header();
    out += "\r\n";
  }
  for (const auto& [name, value] : req.headers) {
    if (iequals(name, "content-length")) continue;  // written below, from the body
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  // POST/PUT/PATCH always state a length: without one, an empty body leaves
  // some servers and proxies waiting for a body or answering 411.
  if (!req.body.empty() || method_implies_body(req.method)) {
    out += "Content-Length: ";
    out += std::to_string(req.body.size());
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

}  // namespace keyless::http
