#pragma once
// Sans-I/O HPACK encoder (RFC 7541): turns header fields into the bytes of
// a header block. The HTTP/2 transport frames the block; this knows nothing
// of frames or sockets.

#include <cstddef>
#include <string>
#include <string_view>

#include "http/h2/hpack_dynamic_table.hpp"

namespace keyless::http::h2 {

/// How a field may be indexed (RFC 7541 6.2).
enum class indexing {
  incremental,  ///< add the field to the dynamic table: later blocks send an index
  without,      ///< do not add it (values that change on every request)
  never,        ///< never add it, and intermediaries must not either (secrets worth
                ///< hiding from compression side channels)
};

/// Whether literal strings may be Huffman-coded.
enum class huffman_use {
  when_not_longer,  ///< Huffman whenever it is no longer than the raw bytes
  never,            ///< raw bytes always (to compare with RFC 7541 C.3 and C.5)
};

/// One per connection direction (the request headers we send).
///
/// A block is begin_block() followed by encode() once per field. Field names
/// must already be lower case, as HTTP/2 requires: the encoder neither
/// checks nor folds them (the request layer owns that).
///
/// The choice per field: a full match in the static or dynamic table is sent
/// as an index (unless `never`); otherwise a literal whose name is an index
/// when the name is known (the static table preferred, its indexes never
/// change). A literal with `incremental` that could not fit in the table at
/// all goes out without indexing, rather than emptying the table as the
/// decoder would on inserting it (RFC 7541 4.4).
///
/// Encoding fields the dynamic table already holds into a string with enough
/// capacity does not allocate. Thread-safety: one operation at a time.
class encoder {
 public:
  /// `max_table_size` is the dynamic table size both ends start with: the
  /// peer's SETTINGS_HEADER_TABLE_SIZE (4096 unless it says otherwise).
  explicit encoder(std::size_t max_table_size = 4096,
                   huffman_use huffman = huffman_use::when_not_longer)
      : table_(max_table_size), huffman_(huffman) {}

  /// The peer's new SETTINGS_HEADER_TABLE_SIZE. Shrinking evicts at once;
  /// the next block starts with the size update(s) RFC 7541 4.2 requires:
  /// the smallest size set since the last block when it is below the final
  /// one, then the final size.
  void set_max_table_size(std::size_t size);

  /// Starts a header block: appends any pending dynamic table size update.
  void begin_block(std::string& out);

  /// Appends one field representation. Also emits a pending size update if
  /// begin_block() was skipped, so the two tables cannot drift apart; calling
  /// set_max_table_size() between the fields of one block is a caller bug.
  void encode(std::string& out, std::string_view name, std::string_view value,
              indexing how = indexing::incremental);

  const dynamic_table& table() const noexcept { return table_; }

 private:
  void append_string(std::string& out, std::string_view text) const;

  dynamic_table table_;
  huffman_use huffman_;
  bool update_pending_ = false;
  std::size_t smallest_pending_size_ = 0;  // smallest size set since the last block
};

}  // namespace keyless::http::h2
