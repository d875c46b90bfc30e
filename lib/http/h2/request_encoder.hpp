#pragma once
// Turns a request's method, target and fields into an HPACK header block
// for HTTP/2 (RFC 9113 8.3.1), choosing per field how HPACK may index it.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "http/h2/field_view.hpp"
#include "http/h2/hpack_encoder.hpp"
#include "keyless/http/fields.hpp"

namespace keyless::http::h2 {

/// What goes into a request's header block. The views must live until
/// encode() returns.
struct request_head {
  std::string_view method = "GET";
  std::string_view scheme = "https";
  std::string_view authority;  ///< host[:port]
  std::string_view path;       ///< "/..." with the query; "*" for OPTIONS
  const http::fields* fields = nullptr;
  /// Sent after `fields`: a field shared by many requests, such as the
  /// credential, which the caller need not copy into `fields`.
  std::span<const field_view> more_fields;
  /// `more_fields` hold names and values checked already (http::checked_field):
  /// a bearer token is not scanned again for every request.
  bool more_fields_checked = false;
};

/// How a request field is indexed: `authorization` incrementally (a bearer
/// token is most of a request's head, and once in the table it costs a byte
/// or two); `api-key`, `cookie` and `proxy-authorization` never (short
/// secrets a compression side channel could guess, RFC 7541 7.1.3);
/// content-length and per-request ids without (a new value each time would
/// push older entries, the token among them, out of the table); the rest
/// incrementally. `name` is lower case.
indexing indexing_for(std::string_view name) noexcept;

/// Encodes request heads. Thread-safety: one operation at a time.
class request_encoder {
 public:
  /// Appends the header block for `head` to `block`: the pseudo-header
  /// fields first, then the fields with lower-cased names. Leaves out
  /// connection-specific fields, host (:authority replaces it) and te
  /// other than "trailers"; adds content-length for a body when there is
  /// none. Throws keyless::error before touching `hpack` (whose table the
  /// server mirrors): invalid_argument for a method, name or value HTTP/2
  /// cannot carry, a pseudo-header among the fields, or a content-length
  /// that disagrees with `body_size`; limit_exceeded when the field list
  /// is over `max_header_list_size` (the server's SETTINGS). Messages name
  /// the field, never its value.
  void encode(const request_head& head, std::size_t body_size, std::uint32_t max_header_list_size,
              encoder& hpack, std::string& block);

 private:
  struct checked {
    std::size_t list_size = 0;  // as SETTINGS_MAX_HEADER_LIST_SIZE counts it
    bool has_content_length = false;
  };

  checked check(const request_head& head, std::size_t body_size);
  std::string_view lower(std::string_view name);

  std::string lower_;  // a field name in lower case; reused
};

}  // namespace keyless::http::h2
