#pragma once
// How the HPACK code reports a peer's bad input: keyless::error with a
// message that starts "HPACK: " and names what was wrong.

#include <string>

#include "keyless/core/error.hpp"

namespace keyless::http::h2 {

/// The block cannot be decoded (RFC 7541 calls this a decoding error; the
/// HTTP/2 connection ends with COMPRESSION_ERROR).
[[noreturn]] inline void hpack_malformed(const std::string& what) {
  throw keyless::error(errc::malformed_response, "HPACK: " + what);
}

/// The block decodes to more than a configured limit allows.
[[noreturn]] inline void hpack_too_large(const std::string& what) {
  throw keyless::error(errc::limit_exceeded, "HPACK: " + what);
}

}  // namespace keyless::http::h2
