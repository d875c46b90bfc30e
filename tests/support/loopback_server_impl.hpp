#pragma once
// loopback_server's insides, shared by its HTTP/1.1 path (loopback_server.cpp) and its
// HTTP/2 path (loopback_h2.cpp): one accepted connection, and the server's state.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <keyless/detail/asio_compat.hpp>

#include "loopback_server.hpp"

namespace keyless::testing {

inline constexpr auto use_tuple = net::as_tuple(asio::use_awaitable);

[[noreturn]] inline void throw_code(std::error_code ec) {
  throw std::system_error(ec);
}

/// One accepted connection. Touched only on the server's executor.
struct server_connection {
  using tcp = asio::ip::tcp;

  server_connection(tcp::socket socket, std::size_t index, asio::ssl::context* ssl)
      : index(index), timer(socket.get_executor()) {
    if (ssl != nullptr)
      tls = std::make_unique<asio::ssl::stream<tcp::socket>>(std::move(socket), *ssl);
    else
      plain.emplace(std::move(socket));
  }

  tcp::socket& lowest() { return tls ? tls->next_layer() : *plain; }

  asio::awaitable<std::tuple<std::error_code, std::size_t>> read_some(asio::mutable_buffer b) {
    if (tls) co_return co_await tls->async_read_some(b, use_tuple);
    co_return co_await plain->async_read_some(b, use_tuple);
  }

  asio::awaitable<std::tuple<std::error_code, std::size_t>> write(asio::const_buffer b) {
    if (tls) co_return co_await asio::async_write(*tls, b, use_tuple);
    co_return co_await asio::async_write(*plain, b, use_tuple);
  }

  void close() {
    closed = true;
    std::error_code ignored;
    lowest().close(ignored);
    timer.cancel();
    if (on_close) std::exchange(on_close, nullptr)();
  }

  std::size_t index;
  std::unique_ptr<asio::ssl::stream<tcp::socket>> tls;
  std::optional<tcp::socket> plain;
  asio::steady_timer timer;        // delay() and stall() (HTTP/1.1)
  std::string pending;             // received bytes not parsed yet
  std::string server_name;         // SNI
  std::string protocol;            // negotiated TLS version
  std::function<void()> on_close;  // wakes what else waits on the connection (h2 streams)
  bool idle = false;       // waiting for the first byte of the next request (h2: no open stream)
  bool closed = false;     // close() was called
  bool io_failed = false;  // a responder operation failed: the peer left or we stopped
};

struct loopback_server::impl : std::enable_shared_from_this<impl> {
  struct route_entry {
    std::string method;
    std::string path;
    handler h;
  };

  impl(asio::any_io_executor ex, server_options opts);

  handler find_handler(const recorded_request& req);
  /// Numbers a complete request and records it (when recording): the same for both protocols.
  void admit(recorded_request& req);
  /// Reports a handler that threw (unless the peer left or the server stopped, which make
  /// responder operations throw on purpose).
  void note_handler_failure(const std::string& label, std::exception_ptr failure);

  void stop_now();
  std::size_t close_idle_now();

  asio::any_io_executor executor;
  server_options options;
  std::optional<asio::ssl::context> ssl;
  asio::ip::tcp::acceptor acceptor;
  std::uint16_t port = 0;
  bool stopped = false;                                            // executor only
  std::map<std::size_t, std::shared_ptr<server_connection>> live;  // executor only

  mutable std::mutex mutex;  // guards everything below
  handler fallback;
  std::vector<route_entry> routes;
  std::vector<recorded_request> records;
  std::size_t received = 0;
  std::size_t accepted = 0;
  std::size_t open = 0;
  std::size_t handshake_failures = 0;
  std::size_t handler_failures = 0;
};

/// Whether `headers` has Connection: close (or another token that ends keep-alive).
bool has_close_token(const header_map& headers);

/// Serves an HTTP/2 connection (after ALPN chose h2, or the client preface arrived on plain
/// TCP; `connection->pending` holds what was read already) until it ends. Defined in
/// loopback_h2.cpp.
asio::awaitable<void> serve_h2(std::shared_ptr<loopback_server::impl> server,
                               std::shared_ptr<server_connection> connection);

}  // namespace keyless::testing
