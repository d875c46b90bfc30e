#pragma once
// Helpers shared by the http client tests: client options trusting the test CA, request
// builders, a silent TCP listener and a listener whose backlog is full.

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include "io_helpers.hpp"
#include "keyless/core/error.hpp"
#include "keyless/detail/asio_compat.hpp"
#include "keyless/http/client.hpp"
#include "loopback_server.hpp"
#include "test_pki.hpp"

namespace keyless::http::test {

using namespace std::chrono_literals;
using testing::loopback_server;
using testing::recorded_request;
using testing::responder;
using testing::run_sync;
using testing::run_until_idle;
using testing::server_options;

/// Options for a client that trusts only the test CA, uses no proxy whatever the environment
/// says, and has timeouts long enough that only a test's own short ones fire.
inline client_options test_options(http_version version = http_version::http1_1) {
  client_options o;
  o.version = version;
  o.tls.use_system_trust_store = false;
  o.tls.ca_pem = testing::test_pki::shared().ca_certificate_pem();
  o.proxy = proxy_settings{};
  o.connect_timeout = 20s;
  o.tls_timeout = 20s;
  o.request_timeout = 25s;
  o.idle_timeout = 20s;
  return o;
}

inline server_options tls_server(testing::leaf_kind leaf = testing::leaf_kind::good) {
  server_options o;
  o.tls = true;
  o.leaf = leaf;
  return o;
}

inline request make_request(std::string_view address, std::string method = "GET",
                            std::string body = {}) {
  request r;
  r.method = std::move(method);
  r.target = url::parse(address);
  r.body = std::move(body);
  return r;
}

/// The keyless::error a send failed with; fails the test if it succeeded or threw otherwise.
template <typename Awaitable>
keyless::error expect_error(asio::io_context& io, Awaitable task) {
  try {
    run_sync(io, std::move(task));
  } catch (const keyless::error& e) {
    return e;
  } catch (const std::exception& e) {
    BOOST_FAIL("expected a keyless::error, got: " << e.what());
  }
  BOOST_FAIL("expected a keyless::error, but the operation succeeded");
  throw std::logic_error("unreachable");
}

inline bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

/// Runs `io` until `condition()` holds or `limit` passes; returns whether it held.
inline bool run_until(asio::io_context& io, const std::function<bool()>& condition,
                      std::chrono::steady_clock::duration limit = 10s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(10ms);
  }
  run_until_idle(io);
  return true;
}

/// A TCP listener on 127.0.0.1 that accepts connections, reads and drops whatever arrives and
/// never writes: a server that hangs. Counts bytes received and connections the peer closed.
class silent_server {
 public:
  explicit silent_server(asio::io_context& io) : state_(std::make_shared<state>(io)) {
    asio::co_spawn(io, accept_loop(state_), asio::detached);
  }
  ~silent_server() { stop(); }

  std::uint16_t port() const { return state_->acceptor.local_endpoint().port(); }
  std::size_t accepted() const { return state_->accepted; }
  std::size_t bytes_received() const { return state_->received; }
  std::size_t closed_by_peer() const { return state_->closed_by_peer; }
  void stop() {
    std::error_code ignored;
    state_->acceptor.close(ignored);
    for (auto& s : state_->sockets) s->close(ignored);
  }

 private:
  struct state {
    explicit state(asio::io_context& io)
        : acceptor(io, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {}
    asio::ip::tcp::acceptor acceptor;
    std::vector<std::shared_ptr<asio::ip::tcp::socket>> sockets;
    std::size_t accepted = 0;
    std::size_t received = 0;
    std::size_t closed_by_peer = 0;
  };

  static asio::awaitable<void> drain(std::shared_ptr<state> s,
                                     std::shared_ptr<asio::ip::tcp::socket> socket) {
    char buffer[4096];
    for (;;) {
      auto [ec, n] = co_await socket->async_read_some(asio::buffer(buffer),
                                                      net::as_tuple(asio::use_awaitable));
      s->received += n;
      if (ec) {
        if (ec != asio::error::operation_aborted) ++s->closed_by_peer;
        std::error_code ignored;
        socket->close(ignored);
        co_return;
      }
    }
  }

  static asio::awaitable<void> accept_loop(std::shared_ptr<state> s) {
    for (;;) {
      auto socket = std::make_shared<asio::ip::tcp::socket>(s->acceptor.get_executor());
      auto [ec] = co_await s->acceptor.async_accept(*socket, net::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      ++s->accepted;
      s->sockets.push_back(socket);
      asio::co_spawn(s->acceptor.get_executor(), drain(s, socket), asio::detached);
    }
  }

  std::shared_ptr<state> state_;
};

/// A listener on 127.0.0.1 that never accepts, with its accept queue filled, so further
/// connection attempts get no answer at all (Linux drops their SYNs): a connect that hangs,
/// without leaving the loopback interface.
class full_backlog_listener {
 public:
  explicit full_backlog_listener(asio::io_context& io) : acceptor_(io) {
    asio::ip::tcp::endpoint endpoint(asio::ip::address_v4::loopback(), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.bind(endpoint);
    acceptor_.listen(0);
    endpoint = acceptor_.local_endpoint();
    // Fill the accept queue: connections complete until it is full; later ones hang.
    for (int i = 0; i < 8; ++i) {
      auto socket = std::make_shared<asio::ip::tcp::socket>(io);
      fillers_.push_back(socket);
      socket->async_connect(endpoint, [](std::error_code) {});
    }
    run_until_idle(io);
  }
  ~full_backlog_listener() {
    std::error_code ignored;
    for (auto& s : fillers_) s->close(ignored);
    acceptor_.close(ignored);
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  asio::ip::tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<asio::ip::tcp::socket>> fillers_;
};

}  // namespace keyless::http::test
