#pragma once
// A header field borrowed from elsewhere, which the client session takes for
// requests and hands out for responses so neither copies field bytes; and
// the fields HTTP/2 leaves out.

#include <string_view>

#include "http/h2/hpack_static_table.hpp"

namespace keyless::http::h2 {

using field_view = header_field;

/// Fields that only mean something to one HTTP/1.1 connection, which an
/// HTTP/2 message must not carry (RFC 9113 8.2.2). `name` is lower case.
constexpr bool is_connection_specific(std::string_view name) noexcept {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade";
}

}  // namespace keyless::http::h2
