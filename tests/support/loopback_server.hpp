#pragma once
// A scriptable HTTP/1.1 and HTTP/2 (+TLS) server on loopback for tests, benchmarks and the
// emulator.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "request_parser.hpp"
#include "test_pki.hpp"

namespace keyless::testing {

/// TLS protocol versions, for emulating old servers.
enum class tls_version { tls1_0, tls1_1, tls1_2, tls1_3 };

/// How a loopback_server listens.
struct server_options {
  /// Serve HTTPS with `leaf` signed by test_pki (`pki`, or test_pki::shared() when null).
  bool tls = false;
  leaf_kind leaf = leaf_kind::good;
  const test_pki* pki = nullptr;
  /// Lowest / highest TLS version offered. A maximum below 1.2 also lowers OpenSSL's security
  /// level so such a handshake is possible at all (emulates a TLS-1.0-only server).
  std::optional<tls_version> min_tls_version;
  std::optional<tls_version> max_tls_version;
  /// Listen on ::1 instead of 127.0.0.1.
  bool ipv6 = false;
  /// 0 picks an ephemeral port.
  std::uint16_t port = 0;
  /// Answer with keep-alive where the client allows it; false closes after every response.
  bool keep_alive = true;
  /// Larger requests are answered 413 and the connection is closed.
  parser_limits limits{};
  /// Keep a copy of every request for requests() / last_request() / requests_seen(path).
  /// Benchmarks turn it off: the copies cost the server time and memory per request, and more
  /// for a request with a long Authorization header. requests_seen() counts either way.
  bool record_requests = true;
  /// Also speak HTTP/2. Over TLS, ALPN offers "h2" and "http/1.1" and picks h2 when the client
  /// offers it; over plain TCP, a connection that starts with the HTTP/2 client preface speaks
  /// h2c (prior knowledge), any other stays HTTP/1.1. Each h2 stream's request goes through
  /// the same routes, counters and records (version "HTTP/2", a Host field made from
  /// :authority, lower-case field names), concurrently, one handler coroutine per stream; see
  /// `responder` for what each operation does on a stream. `limits` bound the header list and
  /// the body (a body over the limit is answered 413 by the HTTP/2 layer itself).
  bool http2 = false;
  /// SETTINGS_MAX_CONCURRENT_STREAMS of an h2 connection; more streams are refused.
  std::uint32_t http2_max_concurrent_streams = 1000;
};

/// The connection-side view a handler answers through. Owned by the server; valid only during
/// the handler call. Operations throw asio::system_error when the peer went away (the server
/// catches it and drops the connection). One operation at a time.
///
/// Over HTTP/2 each operation works on the request's stream, and writes are queued in order on
/// the connection rather than awaited: respond() is HEADERS (+content-type, content-length)
/// and DATA with END_STREAM; start_chunked() is HEADERS, write_chunk() one DATA frame (or more,
/// by the client's frame size), finish_chunked() an empty DATA with END_STREAM; write_raw()
/// puts bytes on the connection between frames; close() drops the whole connection once what
/// was queued before it is written;
/// close_after_response() sends GOAWAY after this response. Operations throw once the client
/// reset the stream. A handler that throws, or returns mid-body, resets its stream
/// (INTERNAL_ERROR) instead of dropping the connection.
class responder {
 public:
  virtual ~responder() = default;

  /// Sends a complete response: status line, `headers`, Content-Type (unless `content_type` is
  /// empty or `headers` has one), Content-Length, and Connection: close when the connection is
  /// going to close (client asked, server option, or close_after_response()).
  virtual asio::awaitable<void> respond(int status, std::string body = {}, header_map headers = {},
                                        std::string content_type = "text/plain") = 0;
  /// respond() with content type application/json.
  asio::awaitable<void> respond_json(int status, std::string json, header_map headers = {});

  /// Sends a chunked response: one chunk per element (empty elements are skipped, since an
  /// empty chunk would end the body), then the terminating chunk.
  asio::awaitable<void> respond_chunked(int status, std::vector<std::string> chunks,
                                        header_map headers = {},
                                        std::string content_type = "text/plain");

  /// Streaming in steps (e.g. Server-Sent Events with delays between events): start_chunked()
  /// sends status and headers with Transfer-Encoding: chunked, write_chunk() sends one non-empty
  /// chunk, finish_chunked() sends the terminating chunk.
  virtual asio::awaitable<void> start_chunked(int status, header_map headers = {},
                                              std::string content_type = "text/plain") = 0;
  virtual asio::awaitable<void> write_chunk(std::string data) = 0;
  virtual asio::awaitable<void> finish_chunked() = 0;

  /// Writes bytes exactly as given (garbage, partial or hand-framed responses). The server does
  /// not know their framing: it keeps reading the next request afterwards unless close() or
  /// close_after_response() was called.
  virtual asio::awaitable<void> write_raw(std::string bytes) = 0;

  /// Waits `duration` on a real timer on the server's executor (emulates a slow service). Ends
  /// early, throwing operation_aborted, when the server stops.
  virtual asio::awaitable<void> delay(std::chrono::milliseconds duration) = 0;

  /// Keeps the connection open and silent until the server stops (then throws
  /// operation_aborted). For client timeout tests.
  virtual asio::awaitable<void> stall() = 0;

  /// Drops the connection now (TCP close, no TLS close_notify): e.g. mid-body after write_raw
  /// of a partial response. Further operations throw.
  virtual void close() = 0;

  /// Closes the connection once the handler returns, and marks respond()'s response with
  /// Connection: close. For stale-pooled-connection tests, use close_idle_connections() instead
  /// (it closes without the client being told).
  virtual void close_after_response() = 0;

  /// Whether anything was written for this request yet.
  virtual bool responded() const noexcept = 0;
};

/// Answers one request. The handler object is copied before each call and kept alive until the
/// returned coroutine finishes, so a capturing lambda coroutine is safe here. If it returns
/// without writing anything or closing, the server answers 500 "handler sent no response"; if it
/// throws, the connection is dropped (HTTP/2: its stream is reset) and handler_failures() counts
/// it.
using handler = std::function<asio::awaitable<void>(recorded_request, responder&)>;

/// HTTP/1.1 (and, with server_options::http2, HTTP/2) server on 127.0.0.1 (or ::1), plain or
/// TLS, running as coroutines on the executor it is given, so client and server can share one
/// io_context thread. Records every request. Parses HTTP/1.1 requests itself (not with
/// lib/http); HTTP/2 goes through lib/http/h2's server_session, which shares only the codec
/// (frames, HPACK) with the client, and tests against curl and nghttp2 keep it honest.
/// Threading: sockets are touched only on `executor`; when the io_context runs on several
/// threads, pass a strand (`asio::make_strand(pool)`). Counters, records and handlers are behind
/// a mutex, so they can be read and set from any thread. Not movable.
class loopback_server {
 public:
  /// Binds and listens immediately (so port() is valid on return) and starts accepting once
  /// `executor` runs. Throws asio::system_error when the address cannot be bound.
  explicit loopback_server(asio::any_io_executor executor, server_options options = {});
  /// stop()s. Coroutines still parked finish the next time the executor runs (or are destroyed
  /// with the io_context); none of them outlives its state.
  ~loopback_server();
  loopback_server(const loopback_server&) = delete;
  loopback_server& operator=(const loopback_server&) = delete;

  std::uint16_t port() const noexcept;
  /// "http(s)://127.0.0.1:<port><path>" (or "[::1]" with ipv6).
  std::string url(std::string_view path = "/") const;
  /// "127.0.0.1:<port>" (or "[::1]:<port>"), e.g. a CONNECT target.
  std::string authority() const;
  bool tls() const noexcept;

  /// The handler for requests no route matches. Default: 200 "ok" (text/plain).
  void set_handler(handler h);
  /// Sends requests whose method equals `method` (empty matches any) and whose path (target
  /// without query) equals `path` to `h`. Later routes for the same method and path replace
  /// earlier ones.
  void route(std::string method, std::string path, handler h);

  /// Connections accepted so far (TCP level, counted before any TLS handshake).
  std::size_t connections_accepted() const;
  /// Connections currently open.
  std::size_t open_connections() const;
  /// Complete requests parsed so far.
  std::size_t requests_seen() const;
  /// Requests whose path equals `path`.
  std::size_t requests_seen(std::string_view path) const;
  /// Failed TLS handshakes (e.g. the client rejected our certificate).
  std::size_t handshake_failures() const;
  /// Handlers that threw.
  std::size_t handler_failures() const;
  /// A copy of every request so far, in arrival order.
  std::vector<recorded_request> requests() const;
  /// The most recent request; throws std::logic_error when there is none.
  recorded_request last_request() const;
  /// Forgets recorded requests (counters too); connections are unaffected.
  void clear_requests();

  /// Fault injection: closes every connection that is waiting for its next request (no byte of
  /// it received; for HTTP/2, no open stream), without answering, leaving the client with a
  /// stale pooled connection.
  /// Runs through asio::dispatch on the server's executor: at once when called from code running
  /// on it (any coroutine on a single-threaded io_context, or inside the strand), otherwise when
  /// the executor next runs. Returns the number closed in the former case, 0 in the latter.
  std::size_t close_idle_connections();

  /// Closes the listener and every connection and wakes every delay()/stall(), so all server
  /// coroutines end and an io_context with nothing else to do returns from run(). Idempotent.
  /// Dispatched like close_idle_connections(). Afterwards the port is free again.
  void stop();

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace keyless::testing
