#include "http/h2/hpack_static_table.hpp"

#include <array>
#include <cstdint>
#include <stdexcept>

namespace keyless::http::h2 {
namespace {

// Index 0 is unused so that entries[i] is HPACK index i.
constexpr std::array<header_field, static_table_size + 1> entries = {{
    {"", ""},
    {":authority", ""},
    {":method", "GET"},
    {":method", "POST"},
    {":path", "/"},
    {":path", "/index.html"},
    {":scheme", "http"},
    {":scheme", "https"},
    {":status", "200"},
    {":status", "204"},
    {":status", "206"},
    {":status", "304"},
    {":status", "400"},
    {":status", "404"},
    {":status", "500"},
    {"accept-charset", ""},
    {"accept-encoding", "gzip, deflate"},
    {"accept-language", ""},
    {"accept-ranges", ""},
    {"accept", ""},
    {"access-control-allow-origin", ""},
    {"age", ""},
    {"allow", ""},
    {"authorization", ""},
    {"cache-control", ""},
    {"content-disposition", ""},
    {"content-encoding", ""},
    {"content-language", ""},
    {"content-length", ""},
    {"content-location", ""},
    {"content-range", ""},
    {"content-type", ""},
    {"cookie", ""},
    {"date", ""},
    {"etag", ""},
    {"expect", ""},
    {"expires", ""},
    {"from", ""},
    {"host", ""},
    {"if-match", ""},
    {"if-modified-since", ""},
    {"if-none-match", ""},
    {"if-range", ""},
    {"if-unmodified-since", ""},
    {"last-modified", ""},
    {"link", ""},
    {"location", ""},
    {"max-forwards", ""},
    {"proxy-authenticate", ""},
    {"proxy-authorization", ""},
    {"range", ""},
    {"referer", ""},
    {"refresh", ""},
    {"retry-after", ""},
    {"server", ""},
    {"set-cookie", ""},
    {"strict-transport-security", ""},
    {"transfer-encoding", ""},
    {"user-agent", ""},
    {"vary", ""},
    {"via", ""},
    {"www-authenticate", ""},
}};

constexpr std::size_t longest_name = 27;       // access-control-allow-origin
constexpr std::size_t max_names_per_size = 8;  // six is the most (lengths 4, 7 and 13)

// The first index of each distinct name, grouped by name length. Entries
// sharing a name are adjacent in the table, so a name's full matches are the
// run of entries starting at its first index.
struct name_group {
  std::array<std::uint8_t, max_names_per_size> first{};
  std::uint8_t count = 0;
};

constexpr std::array<name_group, longest_name + 1> make_groups() {
  std::array<name_group, longest_name + 1> groups{};
  for (std::size_t i = 1; i <= static_table_size; ++i) {
    std::string_view name = entries[i].name;
    if (name == entries[i - 1].name) continue;
    if (name.size() > longest_name) throw std::logic_error("longest_name is too small");
    name_group& g = groups[name.size()];
    if (g.count == max_names_per_size) throw std::logic_error("max_names_per_size is too small");
    g.first[g.count++] = static_cast<std::uint8_t>(i);
  }
  return groups;
}

constexpr std::array<name_group, longest_name + 1> groups_by_size = make_groups();

}  // namespace

const header_field& static_entry(std::size_t index) noexcept {
  return entries[index];
}

table_match find_static(std::string_view name, std::string_view value) noexcept {
  table_match match;
  if (name.size() > longest_name) return match;
  const name_group& group = groups_by_size[name.size()];
  for (std::size_t g = 0; g < group.count; ++g) {
    std::size_t first = group.first[g];
    if (entries[first].name != name) continue;
    match.name = first;
    for (std::size_t i = first; i <= static_table_size && entries[i].name == name; ++i) {
      if (entries[i].value == value) {
        match.full = i;
        break;
      }
    }
    break;
  }
  return match;
}

}  // namespace keyless::http::h2
