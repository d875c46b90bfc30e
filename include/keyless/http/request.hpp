#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "keyless/http/fields.hpp"
#include "keyless/http/url.hpp"

namespace keyless::http {

/// Per-request overrides; unset values fall back to the client's defaults.
struct request_options {
  std::optional<std::chrono::milliseconds> connect_timeout;  ///< TCP connect (per address tried)
  std::optional<std::chrono::milliseconds> tls_timeout;      ///< TLS handshake
  std::optional<std::chrono::milliseconds> request_timeout;  ///< whole exchange, until the body is read
  std::optional<std::chrono::milliseconds> idle_timeout;     ///< no bytes arriving while reading
  std::optional<std::size_t> max_body_bytes;                 ///< larger bodies fail with limit_exceeded
  bool never_proxy = false;    ///< identity endpoints (IMDS & co) must never go through a proxy
  bool require_https = false;  ///< refuse a plain-http URL with invalid_argument
};

/// An HTTP/1.1 request. Host, Content-Length and Connection are added when sent.
struct request {
  std::string method = "GET";
  url target;
  fields headers;
  std::string body;
  request_options options;
};

/// Writes the request line and header block (ending in CRLF CRLF) for `req`
/// sent to an origin server (`absolute_form` for a plain-http proxy).
std::string serialize_head(const request& req, bool absolute_form = false);

}  // namespace keyless::http
