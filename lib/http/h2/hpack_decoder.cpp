#include "http/h2/hpack_decoder.hpp"

#include <array>

#include <fmt/core.h>

#include "http/h2/hpack_error.hpp"
#include "http/h2/hpack_huffman.hpp"
#include "http/h2/hpack_integer.hpp"

namespace keyless::http::h2 {
namespace {

// RFC 7541 allows two updates at the start of a block (the smallest size
// and the final one); more can only be a peer wasting our time.
constexpr int max_size_updates = 2;

enum class byte_rule : std::uint8_t { ok, upper_case, not_allowed };

// RFC 9113 8.2.1: a field name holds no upper-case letters, controls,
// spaces or bytes above 0x7e; a value holds no NUL, CR or LF, which could
// split it into two fields further on.
struct char_tables {
  std::array<byte_rule, 256> name{};
  std::array<bool, 256> value_ok{};
};

constexpr char_tables make_tables() {
  char_tables t;
  for (int c = 0; c < 256; ++c) {
    t.name[c] = c >= 'A' && c <= 'Z'     ? byte_rule::upper_case
                : c <= 0x20 || c >= 0x7f ? byte_rule::not_allowed
                                         : byte_rule::ok;
    t.value_ok[c] = c != 0 && c != '\r' && c != '\n';
  }
  return t;
}

constexpr char_tables tables = make_tables();

void check_name(std::string_view name) {
  if (name.empty()) hpack_malformed("header name is empty");
  for (char c : name) {
    auto byte = static_cast<unsigned char>(c);
    switch (tables.name[byte]) {
      case byte_rule::ok:
        break;
      case byte_rule::upper_case:
        hpack_malformed("header name has an upper-case letter (HTTP/2 requires lower case)");
      case byte_rule::not_allowed:
        hpack_malformed(
            fmt::format("header name has the byte 0x{:02x}, not allowed in HTTP/2", byte));
    }
  }
}

// We lowered SETTINGS_HEADER_TABLE_SIZE below the table's size; the peer
// must confirm with a size update before anything else.
[[noreturn]] void missing_size_update() {
  hpack_malformed(
      "block does not start with the dynamic table size update that our lowered "
      "SETTINGS_HEADER_TABLE_SIZE requires");
}

void check_value(std::string_view value) {
  for (char c : value) {
    if (!tables.value_ok[static_cast<unsigned char>(c)]) {
      hpack_malformed("header value contains NUL, CR or LF");
    }
  }
}

}  // namespace

void decoder::set_max_table_size(std::size_t limit) {
  table_size_limit_ = limit;
  if (limit < table_.max_size()) size_update_required_ = true;
}

void decoder::decode(std::string_view block, fields& out) {
  decode(block, [&out](const decoded_field& field) {
    out.add(std::string(field.name), std::string(field.value));
  });
}

void decoder::decode(std::string_view block, field_sink sink) {
  std::size_t pos = 0;
  std::size_t list_size = 0;
  int size_updates = 0;
  bool in_fields = false;
  while (pos < block.size()) {
    const auto first = static_cast<unsigned char>(block[pos]);
    if ((first & 0xe0) == 0x20) {  // 001xxxxx: dynamic table size update (6.3)
      if (in_fields) hpack_malformed("dynamic table size update after the first field of a block");
      if (++size_updates > max_size_updates) {
        hpack_malformed("more than two dynamic table size updates at the start of a block");
      }
      read_size_update(block, pos);
      continue;
    }
    if (size_update_required_) missing_size_update();
    in_fields = true;

    decoded_field field;
    if (first & 0x80) {  // 1xxxxxxx: indexed field (6.1)
      header_field entry = lookup(read_integer(block, pos, 7));
      field.name = entry.name;
      field.value = entry.value;
    } else {  // 01xxxxxx with indexing, 0000xxxx without, 0001xxxx never (6.2)
      const bool incremental = (first & 0x40) != 0;
      field.never_indexed = !incremental && (first & 0x10) != 0;
      std::uint32_t name_index = read_integer(block, pos, incremental ? 6 : 4);
      if (name_index != 0) {
        field.name = lookup(name_index).name;
      } else {
        field.name = read_string(block, pos, name_scratch_);
        check_name(field.name);
      }
      field.value = read_string(block, pos, value_scratch_);
      check_value(field.value);
    }

    list_size += entry_size(field.name, field.value);
    if (list_size > max_header_list_size_) {
      hpack_too_large(
          fmt::format("header list is larger than the limit of {} bytes", max_header_list_size_));
    }
    if ((first & 0xc0) == 0x40 && table_.insert(field.name, field.value)) {
      // The name may have pointed into an entry the insertion evicted.
      header_field newest = table_[0];
      field.name = newest.name;
      field.value = newest.value;
    }
    sink(field);
  }
  if (size_update_required_) missing_size_update();
}

void decoder::read_size_update(std::string_view block, std::size_t& pos) {
  std::uint32_t size = read_integer(block, pos, 5);
  if (size > table_size_limit_) {
    hpack_malformed(
        fmt::format("dynamic table size update to {} bytes is above our limit of {} bytes", size,
                    table_size_limit_));
  }
  table_.set_max_size(size);
  size_update_required_ = false;
}

header_field decoder::lookup(std::uint32_t index) const {
  if (index == 0) hpack_malformed("index 0 does not name a table entry");
  if (index <= static_table_size) return static_entry(index);
  std::size_t position = index - static_table_size - 1;
  if (position >= table_.count()) {
    hpack_malformed(fmt::format("index {} is past the end of the dynamic table ({} entries)", index,
                                table_.count()));
  }
  return table_[position];
}

std::string_view decoder::read_string(std::string_view block, std::size_t& pos,
                                      std::string& scratch) {
  if (pos >= block.size()) hpack_malformed("block ends where a string literal should start");
  const bool huffman_coded = (static_cast<unsigned char>(block[pos]) & 0x80) != 0;
  std::uint32_t length = read_integer(block, pos, 7);
  if (length > block.size() - pos) {
    hpack_malformed(
        fmt::format("string literal of {} bytes runs past the end of the block ({} left)", length,
                    block.size() - pos));
  }
  std::string_view raw = block.substr(pos, length);
  pos += length;
  if (!huffman_coded) return raw;
  scratch.clear();
  huffman::decode(raw, scratch);
  return scratch;
}

}  // namespace keyless::http::h2
