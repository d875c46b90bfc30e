#include "http/h2/hpack_encoder.hpp"

#include <algorithm>
#include <cstdint>

#include "http/h2/hpack_huffman.hpp"
#include "http/h2/hpack_integer.hpp"

namespace keyless::http::h2 {
namespace {

// First-byte patterns and prefix sizes of RFC 7541 6.
constexpr std::uint8_t indexed_field = 0x80;      // 6.1, 7-bit index
constexpr std::uint8_t literal_indexed = 0x40;    // 6.2.1, 6-bit name index
constexpr std::uint8_t literal_without = 0x00;    // 6.2.2, 4-bit name index
constexpr std::uint8_t literal_never = 0x10;      // 6.2.3, 4-bit name index
constexpr std::uint8_t table_size_update = 0x20;  // 6.3, 5-bit size
constexpr std::uint8_t huffman_flag = 0x80;       // 5.2, 7-bit length

}  // namespace

void encoder::set_max_table_size(std::size_t size) {
  if (!update_pending_ && size == table_.max_size()) return;
  smallest_pending_size_ = update_pending_ ? std::min(smallest_pending_size_, size) : size;
  update_pending_ = true;
  table_.set_max_size(size);
}

void encoder::begin_block(std::string& out) {
  if (!update_pending_) return;
  // A shrink evicted entries; the decoder must shrink as far before it grows
  // again, or its table would keep entries ours no longer has.
  if (smallest_pending_size_ < table_.max_size()) {
    append_integer(out, table_size_update, 5, smallest_pending_size_);
  }
  append_integer(out, table_size_update, 5, table_.max_size());
  update_pending_ = false;
}

void encoder::encode(std::string& out, std::string_view name, std::string_view value,
                     indexing how) {
  begin_block(out);
  table_match in_static = find_static(name, value);
  table_match in_dynamic;
  if (in_static.full == 0) in_dynamic = table_.find(name, value);
  if (how != indexing::never) {
    std::size_t full = in_static.full != 0 ? in_static.full : in_dynamic.full;
    if (full != 0) {
      append_integer(out, indexed_field, 7, full);
      return;
    }
  }
  if (how == indexing::incremental && entry_size(name, value) > table_.max_size()) {
    how = indexing::without;
  }
  std::size_t name_index = in_static.name != 0 ? in_static.name : in_dynamic.name;
  switch (how) {
    case indexing::incremental:
      append_integer(out, literal_indexed, 6, name_index);
      break;
    case indexing::without:
      append_integer(out, literal_without, 4, name_index);
      break;
    case indexing::never:
      append_integer(out, literal_never, 4, name_index);
      break;
  }
  if (name_index == 0) append_string(out, name);
  append_string(out, value);
  if (how == indexing::incremental) table_.insert(name, value);
}

void encoder::append_string(std::string& out, std::string_view text) const {
  if (huffman_ == huffman_use::when_not_longer) {
    std::size_t coded_size = huffman::encoded_size(text);
    if (coded_size <= text.size()) {
      append_integer(out, huffman_flag, 7, coded_size);
      std::size_t start = out.size();
      out.resize(start + coded_size);
      huffman::encode(text, out.data() + start);
      return;
    }
  }
  append_integer(out, 0, 7, text.size());
  out.append(text);
}

}  // namespace keyless::http::h2
