#pragma once
// A tiny HTTP/1.1 forward proxy on loopback, for HTTPS_PROXY / HTTP_PROXY tests.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/any_io_executor.hpp>

namespace keyless::testing {

/// How a loopback_proxy listens and what it demands.
struct proxy_options {
  /// Listen on ::1 instead of 127.0.0.1.
  bool ipv6 = false;
  /// 0 picks an ephemeral port.
  std::uint16_t port = 0;
  /// When set, requests must carry exactly this Proxy-Authorization value (e.g.
  /// "Basic dXNlcjpwYXNz"); others get 407 with Proxy-Authenticate.
  std::optional<std::string> required_authorization;
};

/// HTTP/1.1 forward proxy on loopback. Understands:
///  - `CONNECT host:port`: answers 200 and tunnels bytes both ways until either side closes;
///  - absolute-form requests (`GET http://127.0.0.1:8080/x HTTP/1.1`): forwards the request in
///    origin form with Connection: close, relays the origin's reply verbatim, then closes the
///    client connection (one forwarded request per connection keeps the proxy simple).
/// Only 127.0.0.1, ::1 and localhost targets are allowed; others get 403 and nothing is dialled,
/// so a test can never reach a real host through it. An unreachable target gets 502. Other
/// requests get 400. Runs as coroutines on the executor it is given (pass a strand when the
/// io_context runs on several threads); records are behind a mutex and readable from any thread.
/// Not movable.
class loopback_proxy {
 public:
  /// Binds and listens immediately; serves once `executor` runs. Throws asio::system_error
  /// when the address cannot be bound.
  explicit loopback_proxy(asio::any_io_executor executor, proxy_options options = {});
  /// stop()s; see loopback_server::~loopback_server.
  ~loopback_proxy();
  loopback_proxy(const loopback_proxy&) = delete;
  loopback_proxy& operator=(const loopback_proxy&) = delete;

  std::uint16_t port() const noexcept;
  /// "http://127.0.0.1:<port>" (or "http://[::1]:<port>"), the form HTTPS_PROXY takes.
  std::string url() const;

  std::size_t connections_accepted() const;
  std::size_t open_connections() const;
  /// CONNECT requests received (allowed or not), and their targets in arrival order.
  std::size_t connect_requests() const;
  std::vector<std::string> connect_targets() const;
  /// Absolute-form requests received (allowed or not), and their targets in arrival order.
  std::size_t forwarded_requests() const;
  std::vector<std::string> forwarded_targets() const;
  /// Requests answered 403 (target not on loopback) or 407 (missing/wrong authorization).
  std::size_t refused_requests() const;
  /// Proxy-Authorization values received, in arrival order (empty string when absent).
  std::vector<std::string> authorizations() const;

  /// Closes the listener, every client connection and every tunnel. Idempotent. Dispatched on
  /// the proxy's executor: at once when called from code running on it, otherwise when it runs.
  void stop();

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace keyless::testing
