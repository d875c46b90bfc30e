#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/use_awaitable.hpp>

#include "keyless/detail/co_spawn_on.hpp"
#include "keyless/http/client_options.hpp"
#include "keyless/http/request.hpp"
#include "keyless/http/response.hpp"
#include "keyless/http/response_stream.hpp"

namespace keyless::http {

namespace detail {
class client_impl;
}  // namespace detail

/// Counters of what a client did, for tests, benchmarks and diagnostics.
struct client_stats {
  std::uint64_t requests = 0;            ///< exchanges started (a retry counts again)
  std::uint64_t connections_opened = 0;  ///< TCP connections made (each try counts)
  std::uint64_t reused_connections = 0;  ///< exchanges sent on a pooled (kept-alive) connection
  std::uint64_t retries = 0;             ///< transparent retries after a stale pooled connection
};

/// An asynchronous HTTP/1.1 client over TCP and TLS with a connection pool per origin.
///
/// - TLS: peer and host-name verification always on (IP literals included), SNI for host names,
///   TLS 1.2 minimum; trust comes from client_options::tls.
/// - Pool: keep-alive reuse, at most pool.max_connections_per_origin connections per origin
///   (later callers wait in FIFO order), idle expiry honouring `Keep-Alive: timeout=`,
///   `Connection: close` honoured. A connection is reused only after a complete response. When
///   a reused connection fails before any response byte arrives, the request is retried once
///   on a fresh connection if it is safe to resend (an idempotent method, or nothing of it had
///   been written).
/// - Timeouts: connect, TLS handshake, whole request and idle read, from client_options or the
///   request's request_options; an expired one fails with errc::timeout naming it.
/// - Proxies: client_options::proxy (from the environment by default), CONNECT for https,
///   absolute-form requests for http; request_options::never_proxy bypasses them.
///
/// A non-2xx status is a response, not an error. Failures throw keyless::error (timeout,
/// connection_failed, tls_failed, malformed_response, limit_exceeded, invalid_argument);
/// messages name the origin and path but never the query, headers or body.
///
/// The client creates no threads; it runs on the executor it is given, which may be a
/// multi-threaded io_context. Thread-safety: safe to share (internally stranded). Lifetime: a
/// handle; operations in flight keep its state alive, and destroying it closes idle pooled
/// connections.
class client {
 public:
  /// Completion signature of async_send.
  using send_signature = void(std::exception_ptr, response);
  /// Completion signature of async_send_streaming.
  using stream_signature = void(std::exception_ptr, response_stream);

  /// Throws keyless::error(invalid_argument) for an unusable proxy setting and
  /// keyless::error(tls_failed) when a configured CA cannot be loaded.
  explicit client(asio::any_io_executor executor, client_options options = {});
  client(client&&) noexcept;
  client& operator=(client&&) noexcept;
  client(const client&) = delete;
  client& operator=(const client&) = delete;
  ~client();

  /// The client's strand; completions of async_ functions run here unless their handler has
  /// an executor of its own.
  asio::any_io_executor get_executor() const noexcept;

  /// Sends `req` and reads the whole response body.
  /// Cancellation: terminal; the request's connection is closed.
  asio::awaitable<response> send(request req) const;

  /// Sends `req` and completes once the response head has arrived; the body is read through
  /// the returned stream. Cancellation: terminal; the request's connection is closed.
  asio::awaitable<response_stream> send_streaming(request req) const;

  /// send() for any completion token (callback, use_future, use_awaitable, deferred).
  /// Completion: void(std::exception_ptr, response). Cancellation: as send(); it may be
  /// emitted on any thread and reaches the request on the client's strand.
  template <typename CompletionToken = asio::use_awaitable_t<>>
  auto async_send(request req, CompletionToken&& token = {}) const {
    return keyless::detail::co_spawn_on(get_executor(), send(std::move(req)),
                                        std::forward<CompletionToken>(token));
  }

  /// send_streaming() for any completion token.
  /// Completion: void(std::exception_ptr, response_stream). Cancellation: as async_send.
  template <typename CompletionToken = asio::use_awaitable_t<>>
  auto async_send_streaming(request req, CompletionToken&& token = {}) const {
    return keyless::detail::co_spawn_on(get_executor(), send_streaming(std::move(req)),
                                        std::forward<CompletionToken>(token));
  }

  /// A snapshot of the counters; safe from any thread.
  client_stats stats() const noexcept;

 private:
  std::shared_ptr<detail::client_impl> impl_;
};

}  // namespace keyless::http
