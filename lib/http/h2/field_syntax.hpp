#pragma once
// What HTTP/2 field names, methods and values may hold (RFC 9110 5.6.2, RFC 9113 8.2.1), for
// the request encoder, the response encoder and the server's request checks alike.

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace keyless::http::h2 {

/// RFC 9110 5.6.2: a character a token (method, field name) may hold.
constexpr bool is_tchar(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

/// A non-empty run of tchars.
constexpr bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

/// What is wrong with a field value HTTP/2 cannot carry ("has a NUL, CR or LF in its value"),
/// or nullptr. Never quotes the value: it may be a secret.
constexpr const char* value_problem(std::string_view value) noexcept {
  // One branch-free pass: a bearer token (~650 bytes) is checked on every request, and
  // find_first_of would search the three characters once per byte.
  bool forbidden = false;
  for (char c : value) forbidden |= (c == '\0') | (c == '\r') | (c == '\n');
  if (forbidden) return "has a NUL, CR or LF in its value";
  auto blank = [](char c) {
    return c == ' ' || c == '\t';
  };
  if (!value.empty() && (blank(value.front()) || blank(value.back()))) {
    return "has a value that starts or ends with white space";
  }
  return nullptr;
}

/// What a content-length field adds to those before it in a block.
enum class content_length_check : std::uint8_t {
  ok,
  not_a_number,
  disagrees,  ///< a number other than an earlier content-length's
};

/// Folds one content-length value into `length` (what the block's earlier
/// ones said, if any), for the request and response checks alike.
inline content_length_check add_content_length(std::string_view value,
                                               std::optional<std::uint64_t>& length) noexcept {
  std::uint64_t n = 0;
  const char* end = value.data() + value.size();
  auto [stop, ec] = std::from_chars(value.data(), end, n);
  if (ec != std::errc{} || stop != end || value.empty()) return content_length_check::not_a_number;
  if (length && *length != n) return content_length_check::disagrees;
  length = n;
  return content_length_check::ok;
}

}  // namespace keyless::http::h2
