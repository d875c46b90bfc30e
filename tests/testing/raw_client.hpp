#pragma once
// A deliberately naive HTTP/1.1 client over plain Asio sockets, so the fakes in tests/support
// are tested with nothing of lib/http involved.

#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/host_name_verification.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <keyless/detail/asio_compat.hpp>

#include "request_parser.hpp"
#include "test_pki.hpp"

namespace keyless::testing::raw {

using tcp = asio::ip::tcp;
using tls_stream = asio::ssl::stream<tcp::socket>;
inline constexpr auto use_tuple = net::as_tuple(asio::use_awaitable);

/// A response as read off the wire.
struct response {
  int status = 0;
  header_map headers;
  std::string body;
  bool chunked = false;
};

inline asio::awaitable<tcp::socket> connect(std::uint16_t port, bool ipv6 = false) {
  auto executor = co_await asio::this_coro::executor;
  tcp::socket socket(executor);
  auto address = ipv6 ? asio::ip::address(asio::ip::address_v6::loopback())
                      : asio::ip::address(asio::ip::address_v4::loopback());
  co_await socket.async_connect(tcp::endpoint(address, port), asio::use_awaitable);
  co_return socket;
}

/// A client TLS context trusting `pki`'s CA, with peer verification on.
inline asio::ssl::context client_context(const test_pki& pki = test_pki::shared()) {
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  pki.trust_ca(ctx);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  return ctx;
}

/// Connects and handshakes, verifying the certificate for `host`. Completes with the
/// handshake's error code (the stream is usable only when it is empty).
inline asio::awaitable<std::error_code> connect_tls(tls_stream& stream, std::uint16_t port,
                                                    std::string host = "127.0.0.1",
                                                    bool ipv6 = false) {
  stream.next_layer() = co_await connect(port, ipv6);
  stream.set_verify_callback(asio::ssl::host_name_verification(host));
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, use_tuple);
  co_return ec;
}

template <typename Stream>
asio::awaitable<void> send(Stream& stream, std::string bytes) {
  co_await asio::async_write(stream, asio::buffer(bytes), asio::use_awaitable);
}

/// Reads from `stream` into `buffer` until `more()` is false; throws on error or EOF.
template <typename Stream, typename More>
asio::awaitable<void> fill(Stream& stream, std::string& buffer, More more) {
  char chunk[4096];
  while (more()) {
    std::size_t n = co_await stream.async_read_some(asio::buffer(chunk), asio::use_awaitable);
    buffer.append(chunk, n);
  }
}

/// Reads one response (Content-Length, chunked, or until EOF). `pending` carries bytes read
/// past the response to the next call on the same stream.
template <typename Stream>
asio::awaitable<response> read_response(Stream& stream, std::string& pending,
                                        bool head_request = false) {
  co_await fill(stream, pending, [&] { return pending.find("\r\n\r\n") == std::string::npos; });
  auto head_end = pending.find("\r\n\r\n");
  std::string_view head(pending.data(), head_end);
  response out;
  if (head.substr(0, 9) != "HTTP/1.1 " || head.size() < 12)
    throw std::runtime_error("raw client: bad status line");
  out.status = std::stoi(std::string(head.substr(9, 3)));
  auto line_start = head.find("\r\n");
  while (line_start != std::string_view::npos) {
    auto next = head.find("\r\n", line_start + 2);
    auto line = head.substr(line_start + 2, next == std::string_view::npos ? std::string_view::npos
                                                                           : next - line_start - 2);
    auto colon = line.find(':');
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    out.headers.add(std::string(line.substr(0, colon)), std::string(value));
    line_start = next;
  }
  std::string rest = pending.substr(head_end + 4);
  pending.clear();
  bool bodiless = head_request || out.status == 204 || out.status == 304;
  if (bodiless) {
    pending = std::move(rest);
  } else if (auto te = out.headers.find("transfer-encoding")) {
    out.chunked = true;
    for (;;) {
      co_await fill(stream, rest, [&] { return rest.find("\r\n") == std::string::npos; });
      std::size_t size = std::stoul(rest.substr(0, rest.find("\r\n")), nullptr, 16);
      rest.erase(0, rest.find("\r\n") + 2);
      co_await fill(stream, rest, [&] { return rest.size() < size + 2; });
      out.body += rest.substr(0, size);
      rest.erase(0, size + 2);
      if (size == 0) break;
    }
    pending = std::move(rest);
  } else if (auto cl = out.headers.find("content-length")) {
    std::size_t size = std::stoul(std::string(*cl));
    co_await fill(stream, rest, [&] { return rest.size() < size; });
    out.body = rest.substr(0, size);
    pending = rest.substr(size);
  } else {
    // Delimited by EOF.
    char chunk[4096];
    for (;;) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(chunk), use_tuple);
      if (ec) break;
      rest.append(chunk, n);
    }
    out.body = std::move(rest);
  }
  co_return out;
}

/// Sends `request_text` and reads one response.
template <typename Stream>
asio::awaitable<response> exchange(Stream& stream, std::string request_text) {
  std::string pending;
  co_await send(stream, std::move(request_text));
  co_return co_await read_response(stream, pending);
}

/// "GET <target> HTTP/1.1" with Host and optional extra header lines (each ending in CRLF).
inline std::string get(std::string_view target, std::string_view extra = {}) {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + std::string(extra) +
         "\r\n";
}

/// Reads until the peer closes; returns everything read. Throws on errors other than EOF /
/// reset, which both count as "closed".
template <typename Stream>
asio::awaitable<std::string> read_until_closed(Stream& stream) {
  std::string out;
  char chunk[4096];
  for (;;) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(chunk), use_tuple);
    out.append(chunk, n);
    if (ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::ssl::error::stream_truncated)
      co_return out;
    if (ec) throw std::system_error(ec);
  }
}

/// Yields to the executor until `condition()` holds, for at most `limit` (a generous upper
/// bound, not a sleep): returns the condition's last value. For waiting on the other side of a
/// socket to notice something (a close, a disconnect).
template <typename Condition>
asio::awaitable<bool> eventually(Condition condition,
                                 std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto executor = co_await asio::this_coro::executor;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) co_return false;
    co_await asio::post(executor, asio::use_awaitable);
  }
  co_return true;
}

}  // namespace keyless::testing::raw
