#pragma once
// Sans-I/O HPACK decoder (RFC 7541): turns a complete header block (the
// HEADERS frame's fragment plus any CONTINUATIONs, joined by the transport)
// into header fields, keeping the connection's dynamic table in step.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "http/h2/hpack_dynamic_table.hpp"
#include "keyless/http/fields.hpp"

namespace keyless::http::h2 {

/// One decoded field. The views are valid only during the sink call: they
/// point into the block, the dynamic table or the decoder's scratch space.
struct decoded_field {
  std::string_view name;
  std::string_view value;
  /// Sent as "never indexed" (RFC 7541 6.2.3). Only a caller that re-encodes
  /// the field (a proxy) needs it: it must then use indexing::never as well.
  bool never_indexed = false;
};

/// A borrowed reference to a callable taking `const decoded_field&`. It keeps
/// decode() compiled in lib/ without std::function's allocation; the
/// callable must outlive the decode() call it is passed to (a lambda written
/// in the call does).
class field_sink {
 public:
  template <typename Fn>
  requires(!std::same_as<std::remove_cvref_t<Fn>, field_sink> &&
           std::invocable<Fn&, const decoded_field&>) field_sink(Fn&& fn)
  noexcept  // NOLINT(google-explicit-constructor): a sink is its callable
      : target_(const_cast<void*>(static_cast<const void*>(std::addressof(fn)))),
        call_([](void* target, const decoded_field& field) {
          (*static_cast<std::remove_reference_t<Fn>*>(target))(field);
        }) {}

  void operator()(const decoded_field& field) const { call_(target_, field); }

 private:
  void* target_;
  void (*call_)(void*, const decoded_field&);
};

/// One per connection direction (the response headers we receive).
///
/// Each call decodes one whole header block, in the order the blocks arrived.
/// Besides RFC 7541 it checks what HTTP/2 requires of field names and values
/// (RFC 9113 8.2.1): names are non-empty and hold no upper-case letters,
/// controls, spaces or bytes above 0x7e; values hold no NUL, CR or LF.
///
/// Failures throw keyless::error naming what was wrong: malformed_response
/// for anything that does not decode or breaks those rules, limit_exceeded
/// when the header list grows past max_header_list_size (counted as RFC 9113
/// 6.5.2 counts it: name + value + 32 per field). Fields before the failure
/// have already reached the sink. After a throw the decoder's table may no
/// longer match the peer's: the connection must end (COMPRESSION_ERROR) and
/// the decoder must not be used again.
///
/// Thread-safety: one operation at a time.
class decoder {
 public:
  /// `max_table_size` is the dynamic table size both ends start with (4096
  /// in HTTP/2) and the limit for the peer's size updates.
  explicit decoder(std::size_t max_table_size = 4096, std::size_t max_header_list_size = 64 * 1024)
      : table_(max_table_size),
        table_size_limit_(max_table_size),
        max_header_list_size_(max_header_list_size) {}

  /// The SETTINGS_HEADER_TABLE_SIZE we advertised, once the peer has
  /// acknowledged it: the largest size update the peer may send from now on.
  /// When it is below the table's current size, the next block must start
  /// with a size update (RFC 7541 4.2), else decoding it fails.
  void set_max_table_size(std::size_t limit);

  void set_max_header_list_size(std::size_t limit) noexcept { max_header_list_size_ = limit; }

  /// Decodes one complete header block, handing each field to `sink` in order.
  void decode(std::string_view block, field_sink sink);

  /// Decodes one complete header block, appending copies of the fields to
  /// `out` (never_indexed is dropped).
  void decode(std::string_view block, fields& out);

  const dynamic_table& table() const noexcept { return table_; }

 private:
  header_field lookup(std::uint32_t index) const;
  std::string_view read_string(std::string_view block, std::size_t& pos, std::string& scratch);
  void read_size_update(std::string_view block, std::size_t& pos);

  dynamic_table table_;
  std::size_t table_size_limit_;
  std::size_t max_header_list_size_;
  bool size_update_required_ = false;
  std::string name_scratch_;  // Huffman-decoded strings; reused across blocks
  std::string value_scratch_;
};

}  // namespace keyless::http::h2
