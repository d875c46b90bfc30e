#pragma once
// The HPACK static table (RFC 7541 Appendix A): 61 fields every HTTP/2
// encoder and decoder know by heart, so common fields cost one byte.

#include <cstddef>
#include <string_view>

namespace keyless::http::h2 {

/// A header field as a table holds it. The views point into the table.
struct header_field {
  std::string_view name;
  std::string_view value;
};

inline constexpr std::size_t static_table_size = 61;

/// Where a field was found, as HPACK indexes (1-61 static, 62 on dynamic);
/// 0 means not found. `full` matches name and value, `name` the name only.
struct table_match {
  std::size_t full = 0;
  std::size_t name = 0;
};

/// Entry `index` of the static table, 1 <= index <= static_table_size.
const header_field& static_entry(std::size_t index) noexcept;

/// The static entries for `name` (lower case) and `value`: the full match if
/// there is one, and the first entry with that name. A few comparisons, no
/// hashing: the candidates are grouped by name length at compile time.
table_match find_static(std::string_view name, std::string_view value) noexcept;

}  // namespace keyless::http::h2
