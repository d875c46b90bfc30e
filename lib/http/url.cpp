#include "keyless/http/url.hpp"

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>

#include <fmt/core.h>

#include "keyless/core/error.hpp"

namespace keyless::http {
namespace {

constexpr char hex_digits[] = "0123456789ABCDEF";

// Longest echo of a URL in an error message; enough to recognise it, short
// enough not to flood a log with a pasted blob.
constexpr std::size_t max_echo = 200;

// DNS caps a name at 253 characters; anything longer is not a host.
constexpr std::size_t max_host = 253;

bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int hex_value(char c) noexcept {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}
char to_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}
bool is_control(char c) noexcept {
  auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}
bool is_unreserved(char c) noexcept {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// Printable ASCII that may stand in a request target as is (RFC 3986 pchar,
// '/', '?', and '%' which is checked separately). Everything else that is not
// a control character is percent-encoded, as browsers do, so a path with a
// space or UTF-8 still yields a valid request line.
bool target_char_ok(char c) noexcept {
  if (is_unreserved(c)) return true;
  switch (c) {
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case ':':
    case '@':
    case '/':
    case '?':
    case '%':
      return true;
    default:
      return false;
  }
}

// How a URL may appear in an error message. The query and fragment can carry
// secrets (SAS signatures, codes, tokens) and user info carries a password,
// so neither is ever echoed: the query is replaced by a marker and a URL with
// an '@' before it is not shown at all.
std::string shown(std::string_view text) {
  std::string_view head = text.substr(0, text.find_first_of("?#"));
  if (head.find('@') != std::string_view::npos) return "(not shown: it may hold a password)";
  std::string out = "\"";
  for (char c : head.substr(0, max_echo)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  if (head.size() > max_echo) out += "...";
  if (head.size() < text.size()) out += "?<hidden>";
  out += '"';
  return out;
}

[[noreturn]] void fail(std::string_view text, std::string_view problem) {
  throw keyless::error(errc::invalid_argument,
                       fmt::format("invalid URL {}: {}", shown(text), problem));
}

// Appends `part` of a path or query to `out`, percent-encoding what cannot
// stand in a request line and rejecting what cannot be meant.
void append_target(std::string& out, std::string_view part, std::string_view text,
                   std::string_view where) {
  for (std::size_t i = 0; i < part.size(); ++i) {
    char c = part[i];
    if (is_control(c)) fail(text, fmt::format("the {} contains a control character", where));
    if (c == '%') {
      if (i + 2 >= part.size() || !is_hex(part[i + 1]) || !is_hex(part[i + 2])) {
        fail(text, fmt::format("the {} has a '%' not followed by two hex digits", where));
      }
      out += part.substr(i, 3);
      i += 2;
    } else if (target_char_ok(c)) {
      out += c;
    } else {
      auto u = static_cast<unsigned char>(c);
      out += '%';
      out += hex_digits[u >> 4];
      out += hex_digits[u & 0xf];
    }
  }
}

std::uint16_t parse_port(std::string_view digits, std::string_view text) {
  if (digits.empty()) return 0;  // "host:" means the default port (RFC 3986 3.2.3)
  unsigned long value = 0;
  for (char c : digits) {
    if (!is_digit(c)) fail(text, "the port is not a number");
    value = value * 10 + static_cast<unsigned long>(c - '0');
    if (value > 65535) break;
  }
  if (value == 0 || value > 65535) fail(text, "the port is out of range (1-65535)");
  return static_cast<std::uint16_t>(value);
}

std::string parse_ipv6(std::string_view literal, std::string_view text) {
  if (literal.empty()) fail(text, "the IPv6 address in brackets is empty");
  if (literal.find('%') != std::string_view::npos) {
    fail(text, "IPv6 zone identifiers are not supported");
  }
  std::string host;
  host.reserve(literal.size());
  for (char c : literal) {
    if (!is_hex(c) && c != ':' && c != '.') fail(text, "the IPv6 address in brackets is invalid");
    host += to_lower(c);
  }
  std::array<unsigned char, 16> bytes{};
  if (::inet_pton(AF_INET6, host.c_str(), bytes.data()) != 1) {
    fail(text, "the IPv6 address in brackets is invalid");
  }
  return host;
}

std::string parse_reg_name(std::string_view name, std::string_view text) {
  if (name.empty()) fail(text, "it has no host");
  if (name.size() > max_host) fail(text, "the host name is longer than 253 characters");
  std::string host;
  host.reserve(name.size());
  for (char c : name) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      fail(text, "the host name is not ASCII (use its punycode form)");
    }
    // Only what DNS names and IPv4 literals use; RFC 3986 sub-delims and
    // escapes in a host are legal URL syntax but never a host we can reach.
    if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_' && c != '~') {
      fail(text, "the host contains an invalid character");
    }
    host += to_lower(c);
  }
  return host;
}

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

}  // namespace

url url::parse(std::string_view text) {
  // Values read from environment variables and files often carry a trailing
  // newline; surrounding whitespace is never part of a URL.
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  if (text.empty()) throw keyless::error(errc::invalid_argument, "invalid URL: it is empty");

  url result;
  std::size_t colon = text.find(':');
  std::string_view scheme =
      colon == std::string_view::npos ? std::string_view{} : text.substr(0, colon);
  bool scheme_ok = !scheme.empty() && is_alpha(scheme.front());
  for (char c : scheme) {
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') scheme_ok = false;
  }
  bool has_slashes = scheme_ok && text.substr(colon + 1, 2) == "//";
  if (!scheme_ok) fail(text, "it must start with http:// or https://");
  for (char c : scheme) result.scheme += to_lower(c);
  if (result.scheme != "http" && result.scheme != "https") {
    if (!has_slashes) fail(text, "it must start with http:// or https://");
    fail(text,
         fmt::format("unsupported scheme \"{}\" (only http and https)", scheme.substr(0, 32)));
  }
  if (!has_slashes) fail(text, fmt::format("expected \"//\" after \"{}:\"", result.scheme));

  std::string_view rest = text.substr(colon + 3);
  std::size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  rest = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);

  // User info is refused rather than dropped: keyless never sends URL
  // credentials, so silently stripping them would make a request go out
  // unauthenticated, and a password in a URL ends up in logs and proxies.
  if (authority.find('@') != std::string_view::npos) {
    fail(text, "user info (user:password@) is not supported; pass credentials another way");
  }

  std::string_view port_digits;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) fail(text, "the IPv6 address has no closing ']'");
    result.host = parse_ipv6(authority.substr(1, close - 1), text);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') fail(text, "unexpected characters after the IPv6 address");
      port_digits = after.substr(1);
    }
  } else {
    std::size_t port_colon = authority.find(':');
    if (port_colon != std::string_view::npos &&
        authority.find(':', port_colon + 1) != std::string_view::npos) {
      fail(text, "an IPv6 address must be enclosed in brackets");
    }
    result.host = parse_reg_name(authority.substr(0, port_colon), text);
    if (port_colon != std::string_view::npos) port_digits = authority.substr(port_colon + 1);
  }
  result.port = parse_port(port_digits, text);
  if (result.port == 0) result.port = result.is_https() ? 443 : 80;

  rest = rest.substr(0, rest.find('#'));  // the fragment never goes on the wire
  std::string_view path = rest.substr(0, rest.find('?'));
  bool has_query = path.size() < rest.size();
  std::string_view query = has_query ? rest.substr(path.size() + 1) : std::string_view{};

  result.target.clear();
  result.target.reserve(path.size() + query.size() + 2);
  if (path.empty()) result.target += '/';
  append_target(result.target, path, text, "path");
  if (has_query) {
    result.target += '?';
    append_target(result.target, query, text, "query");
  }
  return result;
}

std::string_view url::path() const noexcept {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::string_view url::query() const noexcept {
  std::string_view t = target;
  std::size_t q = t.find('?');
  return q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
}

namespace {
// Both are built for every request (pool key, Host header): plain appends, one allocation.
void append_host(std::string& out, const std::string& host) {
  bool ipv6 = host.find(':') != std::string::npos;
  if (ipv6) out += '[';
  out += host;
  if (ipv6) out += ']';
}

void append_port(std::string& out, std::uint16_t port) {
  char digits[8];
  auto end = std::to_chars(digits, digits + sizeof digits, port).ptr;
  out += ':';
  out.append(digits, end);
}
}  // namespace

std::string url::origin() const {
  std::string out;
  out.reserve(scheme.size() + host.size() + 11);
  out += scheme;
  out += "://";
  append_host(out, host);
  append_port(out, port);
  return out;
}

std::string url::host_header() const {
  std::string out;
  out.reserve(host.size() + 8);
  append_host(out, host);
  std::uint16_t default_port = is_https() ? 443 : 80;
  if (port != 0 && port != default_port) append_port(out, port);
  return out;
}

std::string url::to_string() const {
  return scheme + "://" + host_header() + target;
}

std::string percent_encode(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 2);
  for (char c : text) {
    if (is_unreserved(c)) {
      out += c;
    } else {
      auto u = static_cast<unsigned char>(c);
      out += '%';
      out += hex_digits[u >> 4];
      out += hex_digits[u & 0xf];
    }
  }
  return out;
}

// The unreserved-only output of percent_encode is already a valid form
// component. Space stays "%20" rather than '+': every form decoder reads
// "%20" as a space, while a '+' is only a space to decoders that know they
// read a form, and the token endpoints accept both.
std::string form_encode(std::string_view text) {
  return percent_encode(text);
}

std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      // The text may be a secret (a form body), so only the offset is named.
      if (i + 2 >= text.size() || !is_hex(text[i + 1]) || !is_hex(text[i + 2])) {
        throw keyless::error(errc::invalid_argument,
                             fmt::format("bad percent-escape at offset {}: '%' needs two hex "
                                         "digits after it",
                                         i));
      }
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace keyless::http
