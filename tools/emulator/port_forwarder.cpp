#include "port_forwarder.hpp"

#include <array>
#include <list>
#include <system_error>
#include <utility>

#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "keyless/detail/asio_compat.hpp"

namespace keyless::emulator {

using asio::ip::tcp;

struct port_forwarder::impl : std::enable_shared_from_this<impl> {
  impl(asio::any_io_executor ex, std::uint16_t listen_port, std::uint16_t target)
      : executor(ex),
        acceptor(ex, tcp::endpoint(asio::ip::address_v4::loopback(), listen_port)),
        target_port(target) {}

  asio::any_io_executor executor;
  tcp::acceptor acceptor;
  std::uint16_t target_port;
  // Every open socket, so stop() can close them; entries are erased when a relay ends.
  std::list<tcp::socket*> sockets;
  bool stopped = false;

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    while (!stopped) {
      auto [ec, client] = co_await acceptor.async_accept(net::as_tuple(asio::use_awaitable));
      if (ec) {
        if (stopped || ec == asio::error::operation_aborted) co_return;
        continue;  // e.g. EMFILE: keep serving the connections we have
      }
      asio::co_spawn(executor, relay(std::move(client)), asio::detached);
    }
  }

  static asio::awaitable<void> pump(tcp::socket& from, tcp::socket& to) {
    std::array<char, 16 * 1024> buffer;
    for (;;) {
      auto [ec, n] =
          co_await from.async_read_some(asio::buffer(buffer), net::as_tuple(asio::use_awaitable));
      if (n > 0) {
        auto [wec, written] = co_await asio::async_write(to, asio::buffer(buffer.data(), n),
                                                         net::as_tuple(asio::use_awaitable));
        (void)written;
        if (wec) break;
      }
      if (ec) break;
    }
    // Pass the end of the stream on; the other direction may still have bytes to deliver.
    std::error_code ignored;
    to.shutdown(tcp::socket::shutdown_send, ignored);
  }

  asio::awaitable<void> relay(tcp::socket client) {
    auto self = shared_from_this();
    tcp::socket upstream(executor);
    auto client_entry = sockets.insert(sockets.end(), &client);
    auto upstream_entry = sockets.insert(sockets.end(), &upstream);
    auto [ec] = co_await upstream.async_connect(
        tcp::endpoint(asio::ip::address_v4::loopback(), target_port),
        net::as_tuple(asio::use_awaitable));
    if (!ec && !stopped) {
      // Both directions at once; the relay ends when both have seen the end of their stream.
      using namespace net::awaitable_operators;
      co_await (pump(client, upstream) && pump(upstream, client));
    }
    sockets.erase(client_entry);
    sockets.erase(upstream_entry);
  }
};

port_forwarder::port_forwarder(asio::any_io_executor executor, std::uint16_t listen_port,
                               std::uint16_t target_port)
    : impl_(std::make_shared<impl>(executor, listen_port, target_port)) {
  asio::co_spawn(executor, impl_->accept_loop(), asio::detached);
}

port_forwarder::~port_forwarder() {
  stop();
}

std::uint16_t port_forwarder::port() const noexcept {
  std::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void port_forwarder::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  std::error_code ignored;
  impl_->acceptor.close(ignored);
  for (tcp::socket* s : impl_->sockets) s->close(ignored);
}

}  // namespace keyless::emulator
