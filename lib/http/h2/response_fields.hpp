#pragma once
// The fields of one response header block (a head, an interim head or
// trailers), decoded into storage that is reused from block to block, and
// the rules RFC 9113 8.3.2 and 8.1 set for them.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "http/h2/field_block.hpp"
#include "http/h2/field_view.hpp"
#include "http/h2/hpack_decoder.hpp"

namespace keyless::http::h2 {

/// What a response head says, once check_head() accepted it.
struct response_head_info {
  int status = 0;
  /// content-length, when the head has one.
  std::optional<std::uint64_t> content_length;
};

/// One header block at a time. decode() runs the HPACK decoder (whose
/// exceptions it lets through: they end the connection); the checks return
/// an error message instead of throwing, since a malformed block ends only
/// its stream. Once storage has grown to the largest block seen, decoding
/// allocates nothing. Thread-safety: one operation at a time.
class response_fields {
 public:
  /// Replaces the stored fields by those of `block`.
  void decode(decoder& hpack, std::string_view block);

  /// The fields without pseudo-headers, in order; valid until the next decode().
  std::span<const field_view> regular() const noexcept { return block_.regular(); }

  /// Checks the block as a response head: exactly one :status of three
  /// digits first and no other pseudo-header, no connection-specific field,
  /// content-length a number (repeats must agree). Fills `info`; returns an
  /// empty string, or what was wrong.
  std::string check_head(response_head_info& info) const;

  /// Checks the block as trailers: no pseudo-header, no connection-specific
  /// field. Returns an empty string, or what was wrong.
  std::string check_trailers() const;

 private:
  std::string check_regular() const;

  field_block block_;
};

}  // namespace keyless::http::h2
