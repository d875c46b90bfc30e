#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "keyless/http/fields.hpp"
#include "keyless/http/url.hpp"

namespace keyless::http {

/// Per-request overrides; unset values fall back to the client's defaults.
struct request_options {
  std::optional<std::chrono::milliseconds> connect_timeout;  ///< TCP connect (per address tried)
  std::optional<std::chrono::milliseconds> tls_timeout;      ///< TLS handshake
  std::optional<std::chrono::milliseconds> request_timeout;  ///< whole exchange, body included
  std::optional<std::chrono::milliseconds> idle_timeout;     ///< no bytes arriving while reading
  std::optional<std::size_t> max_body_bytes;  ///< larger bodies fail with limit_exceeded
  bool never_proxy = false;    ///< identity endpoints (IMDS & co) must never go through a proxy
  bool require_https = false;  ///< refuse a plain-http URL with invalid_argument
};

namespace detail {
struct shared_field_access;  // lib/: marks the fields of tokens checked once, when made
}  // namespace detail

/// A header field whose bytes a request shares rather than owns: a client's credential
/// (`api-key`, or `Authorization: Bearer ...`) is the same for thousands of requests, and a
/// bearer token is most of a request's head, so each request holds a reference, not a copy.
struct shared_field {
  shared_field() = default;
  shared_field(std::string_view field_name, std::string_view field_value,
               std::shared_ptr<const void> field_owner) noexcept
      : name(field_name), value(field_value), owner(std::move(field_owner)) {}

  std::string_view name;
  std::string_view value;             ///< valid while `owner` lives
  std::shared_ptr<const void> owner;  ///< keeps `name` and `value` alive

  /// Made by checked_field() (or by keyless from a token it checked when it was made): the
  /// name and value are known to be sendable, and requests skip scanning them again.
  bool checked() const noexcept { return checked_; }

 private:
  friend struct detail::shared_field_access;
  friend shared_field checked_field(shared_field field);
  bool checked_ = false;
};

/// `field`, checked once as requests over HTTP/1.1 and HTTP/2 check their fields, so that the
/// requests carrying it skip the scan. Throws keyless::error(errc::invalid_argument), naming
/// the field but never its value, for no owner, a name that is not a token or is
/// Content-Length, Transfer-Encoding or Host, or a value with a control character or with
/// white space at either end.
shared_field checked_field(shared_field field);

/// An HTTP/1.1 request. Host, Content-Length and Connection are added when sent.
struct request {
  std::string method = "GET";
  url target;
  fields headers;
  /// Written after `headers` and checked like them (see serialize_head), unless checked().
  std::optional<shared_field> credential;
  std::string body;
  request_options options;
};

/// Writes the request line and header block (ending in CRLF CRLF) for `req`
/// sent to an origin server (`absolute_form` for a plain-http proxy). Adds
/// Host (unless `req.headers` has one) and Content-Length (when there is a
/// body, and always for POST/PUT/PATCH); Connection is the caller's to add.
/// Throws keyless::error(errc::invalid_argument) for a method or header name
/// that is not a token, a header value with CR, LF, NUL or another control
/// character (header injection), a Transfer-Encoding header, a Content-Length
/// header that disagrees with the body, or an empty or unsafe target. Messages
/// name the header, never its value.
std::string serialize_head(const request& req, bool absolute_form = false);

}  // namespace keyless::http
