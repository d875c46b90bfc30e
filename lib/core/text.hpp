#pragma once
// Small ASCII text helpers shared by the parsers of headers, environment
// values, CLI output and endpoints.

#include <string>
#include <string_view>

namespace keyless::detail {

/// Spaces and tabs: the blanks of HTTP fields and of single-line values.
inline constexpr std::string_view blanks = " \t";
/// Blanks and line ends: for values read from files and program output.
inline constexpr std::string_view whitespace = " \t\r\n";

/// `text` without the leading and trailing characters found in `strip`.
constexpr std::string_view trim(std::string_view text, std::string_view strip = blanks) noexcept {
  const auto first = text.find_first_not_of(strip);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(strip) - first + 1);
}

/// `text` with A-Z lowered; other bytes (UTF-8 included) unchanged.
inline std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace keyless::detail
