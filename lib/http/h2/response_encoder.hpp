#pragma once
// Turns a response's status and fields (or its trailers) into an HPACK
// header block for HTTP/2 (RFC 9113 8.3.2): the server side's counterpart
// of request_encoder.

#include <span>
#include <string>
#include <string_view>

#include "http/h2/field_view.hpp"
#include "http/h2/hpack_encoder.hpp"

namespace keyless::http::h2 {

/// Encodes response heads and trailers. Field names may come in any case
/// (they go out in lower case); connection-specific fields (connection,
/// transfer-encoding, ...) are left out, since an HTTP/1.1-minded caller
/// may well set them. Thread-safety: one operation at a time.
class response_encoder {
 public:
  /// Throws keyless::error(invalid_argument) for a field HTTP/2 cannot
  /// carry: a pseudo-header, a name that is not a token, a value with NUL,
  /// CR or LF or with white space at either end. The message names the
  /// field, never its value.
  static void check(std::span<const field_view> fields);

  /// Appends the block for a head with `status` (100-599 but 101) and
  /// `fields` to `block`. Throws as check() does, or for the status, before
  /// touching `hpack` (whose table the client mirrors).
  void encode_head(int status, std::span<const field_view> fields, encoder& hpack,
                   std::string& block);

  /// Appends the block for trailers. Throws as check() does, before
  /// touching `hpack`.
  void encode_trailers(std::span<const field_view> fields, encoder& hpack, std::string& block);

 private:
  void encode_fields(std::span<const field_view> fields, encoder& hpack, std::string& block);
  std::string_view lower(std::string_view name);

  std::string lower_;  // a field name in lower case; reused
};

}  // namespace keyless::http::h2
