#pragma once
// The fields of one request header block (a head or trailers), decoded into
// storage that can wait in a stream until the request body has arrived, and
// the rules RFC 9113 8.3.1 and 8.2 set for them.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "http/h2/field_block.hpp"
#include "http/h2/field_view.hpp"
#include "http/h2/hpack_decoder.hpp"

namespace keyless::http::h2 {

/// What a request head says, once check_head() accepted it. The views point
/// into the request_fields that checked it and die with its next change.
struct request_head_info {
  std::string_view method;
  std::string_view scheme;     ///< empty for CONNECT
  std::string_view authority;  ///< :authority, else the host field, else empty
  std::string_view path;       ///< empty for CONNECT
  std::optional<std::uint64_t> content_length;
};

/// One header block at a time. decode() runs the HPACK decoder (whose
/// exceptions it lets through: they end the connection); the checks return
/// an error message instead of throwing, since a malformed request ends only
/// its stream. Thread-safety: one operation at a time.
class request_fields {
 public:
  request_fields() = default;
  request_fields(const request_fields&) = delete;
  request_fields& operator=(const request_fields&) = delete;

  /// Replaces the stored fields by those of `block`.
  void decode(decoder& hpack, std::string_view block);

  /// Exchanges the contents (and the allocations) of two objects: how a
  /// head waits in its stream while other streams' blocks are decoded.
  void swap(request_fields& other) noexcept { block_.swap(other.block_); }

  /// The fields without pseudo-headers, in order, names in lower case.
  std::span<const field_view> regular() const noexcept { return block_.regular(); }

  /// Checks the block as a request head: :method once; :scheme and a
  /// non-empty :path once each (none for CONNECT, which needs :authority);
  /// at most one :authority, agreeing with host when both are there; no
  /// other pseudo-header, none after a regular field; no connection-specific
  /// field, te only "trailers"; content-length a number (repeats agreeing).
  /// Fills `info`; returns an empty string, or what was wrong.
  std::string check_head(request_head_info& info) const;

  /// Checks the block as trailers: no pseudo-header, no connection-specific
  /// field. Returns an empty string, or what was wrong.
  std::string check_trailers() const;

 private:
  std::string check_regular(request_head_info& info) const;

  field_block block_;
};

}  // namespace keyless::http::h2
