#pragma once
// Small ASCII text helpers shared by the parsers of headers, environment
// values, CLI output and endpoints.

#include <cstddef>
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

/// 8-4-4-4-12 hex digits: a client, tenant, object or trace id, which messages keep whole.
constexpr bool guid_shaped(std::string_view run) noexcept {
  if (run.size() != 36) return false;
  for (std::size_t i = 0; i < run.size(); ++i) {
    const char c = run[i];
    const bool dash_place = i == 8 || i == 13 || i == 18 || i == 23;
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (dash_place ? c != '-' : !hex) return false;
  }
  return true;
}

/// The first non-blank line of `text` without control characters, at most `limit` bytes (cut
/// on a UTF-8 boundary, "..." marking the cut): a service's description, short enough that a pasted
/// body cannot flood a log or an error message.
inline std::string first_line(std::string_view text, std::size_t limit = 400) {
  const auto start = text.find_first_not_of(whitespace);
  if (start == std::string_view::npos) return {};
  text.remove_prefix(start);
  text = text.substr(0, text.find_first_of("\r\n"));
  std::string out;
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) out.push_back(c);
  }
  if (out.size() > limit) {
    std::size_t cut = limit;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    out += "...";
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace keyless::detail
