#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "keyless/core/clock.hpp"
#include "keyless/http/tls_options.hpp"
#include "keyless/version.hpp"

namespace keyless::http {

/// Proxy configuration in the shape of the conventional environment variables. Proxy URLs are
/// "http://[user:password@]host[:port]" (a bare "host:port" means http://); only plain-http
/// proxies are supported, and https URLs go through them with CONNECT.
struct proxy_settings {
  std::string https_proxy;  ///< proxy for https URLs; empty: connect directly
  std::string http_proxy;   ///< proxy for plain-http URLs; empty: connect directly
  /// Hosts that bypass the proxy: a comma-separated list of host names (matching the name and
  /// its subdomains; a leading '.' or "*." is ignored), IP literals or CIDR ranges, each
  /// optionally with ":port"; "*" alone bypasses every host.
  std::string no_proxy;

  /// Reads https_proxy / HTTPS_PROXY, http_proxy / HTTP_PROXY and no_proxy / NO_PROXY (the
  /// lower-case form wins). HTTP_PROXY is ignored when REQUEST_METHOD is set, since a CGI
  /// program's HTTP_PROXY comes from the client's "Proxy:" request header.
  static proxy_settings from_environment();

  friend bool operator==(const proxy_settings&, const proxy_settings&) = default;
};

/// Connection pool limits.
struct pool_options {
  /// Connections per origin (scheme, host, port, proxy). Callers beyond it wait in FIFO order.
  std::size_t max_connections_per_origin = 16;
  /// How long an idle connection is kept for reuse; a server's `Keep-Alive: timeout=` shortens
  /// it. The pool arms no timer for this: expired connections are closed by the next request
  /// (to any origin; over HTTP/2, to their origin) or when the client is destroyed, so an idle
  /// client never keeps `io_context::run()` from returning. An HTTP/2 connection is idle while
  /// no stream is open on it.
  std::chrono::milliseconds idle_expiry{std::chrono::seconds(60)};
};

/// Which HTTP a client speaks.
enum class http_version {
  /// HTTP/1.1: one request at a time per connection, up to
  /// pool_options::max_connections_per_origin connections.
  http1_1,
  /// HTTP/2 (RFC 9113): every request to an origin is a stream on one connection. Over TLS the
  /// handshake must agree on "h2" (ALPN), else the request fails with errc::connection_failed;
  /// plain http speaks HTTP/2 with prior knowledge (h2c) and fails against an HTTP/1.1-only
  /// server. HPACK sends a bearer token once per connection and a one-byte index after that.
  /// Plain http through a proxy stays HTTP/1.1.
  http2,
  /// HTTP/2 where the server agrees to it, else HTTP/1.1: over TLS the handshake offers "h2"
  /// and "http/1.1" (ALPN) and the server picks. An origin that picks HTTP/1.1 (or nothing) is
  /// remembered for the client's life; that first connection is closed and the request goes
  /// again over a new HTTP/1.1 one. Plain http speaks HTTP/1.1.
  automatic,
};

/// Defaults for every request a client sends; request_options overrides the timeouts and the
/// body limit per request.
struct client_options {
  /// TCP connect, per address tried (a CONNECT exchange with a proxy counts as connecting).
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  /// TLS handshake.
  std::chrono::milliseconds tls_timeout{std::chrono::seconds(10)};
  /// The whole exchange: waiting for a pooled connection, connecting, sending, and reading the
  /// response until its body ends (for a streamed response, until its last piece is read).
  std::chrono::milliseconds request_timeout{std::chrono::minutes(5)};
  /// No byte arriving for this long while a response body is being read.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  /// Status line plus header block; larger heads fail with errc::limit_exceeded.
  std::size_t max_header_bytes = 64 * 1024;
  /// Decoded body; larger bodies fail with errc::limit_exceeded.
  std::size_t max_body_bytes = 64 * 1024 * 1024;
  pool_options pool;
  tls_options tls;
  http_version version = http_version::http1_1;
  /// Proxies. Unset: proxy_settings::from_environment() when the client is created.
  std::optional<proxy_settings> proxy;
  /// Sent as User-Agent unless a request sets its own; empty sends none.
  std::string user_agent = "keyless/" KEYLESS_VERSION_STRING;
  /// Decides idle-connection expiry; null means keyless::clock::system(). Tests pass a
  /// manual_clock.
  std::shared_ptr<const keyless::clock> clock;
};

}  // namespace keyless::http
