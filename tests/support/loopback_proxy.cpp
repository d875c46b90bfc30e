#include "loopback_proxy.hpp"

#include <array>
#include <charconv>
#include <map>
#include <mutex>
#include <system_error>
#include <utility>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/dispatch.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <keyless/detail/asio_compat.hpp>

#include "io_helpers.hpp"
#include "request_parser.hpp"

namespace keyless::testing {
namespace {

using tcp = asio::ip::tcp;
using namespace net::awaitable_operators;
// co_await then yields (error_code, results...) instead of throwing.
constexpr auto as_error_tuple = net::as_tuple(asio::use_awaitable);

// Hop-by-hop fields (RFC 9110 §7.6.1) plus the proxy's own credentials: never forwarded.
constexpr std::string_view hop_by_hop[] = {"connection",
                                           "keep-alive",
                                           "proxy-connection",
                                           "proxy-authorization",
                                           "proxy-authenticate",
                                           "te",
                                           "trailer",
                                           "transfer-encoding",
                                           "upgrade",
                                           "content-length"};

struct target_address {
  std::string host;  // without brackets
  std::uint16_t port = 0;
};

// "host:port" or "[v6]:port"; nullopt when malformed.
std::optional<target_address> parse_authority(std::string_view authority,
                                              std::uint16_t default_port) {
  target_address out;
  std::string_view rest;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = authority.substr(1, close - 1);
    rest = authority.substr(close + 1);
  } else {
    auto colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
  }
  if (out.host.empty()) return std::nullopt;
  if (rest.empty()) {
    if (default_port == 0) return std::nullopt;
    out.port = default_port;
    return out;
  }
  if (rest.front() != ':' || rest.size() < 2) return std::nullopt;
  rest.remove_prefix(1);
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  if (ec != std::errc() || ptr != rest.data() + rest.size() || value == 0 || value > 65535)
    return std::nullopt;
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

// Only loopback targets are dialled: a test must never reach a real host through the proxy.
std::optional<asio::ip::address> loopback_address(const std::string& host) {
  if (host == "localhost") return asio::ip::address_v4::loopback();
  std::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec || !address.is_loopback()) return std::nullopt;
  if (address.is_v4() && address.to_v4() != asio::ip::address_v4::loopback()) return std::nullopt;
  return address;
}

std::string simple_response(int status, std::string_view reason, std::string_view extra = {}) {
  std::string body = std::string(reason) + "\n";
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  out += extra;
  out += "Content-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n";
  return out + body;
}

}  // namespace

/// One client connection, and its upstream once dialled. Executor only.
struct proxy_connection {
  proxy_connection(tcp::socket s, std::size_t index)
      : client(std::move(s)), upstream(client.get_executor()), index(index) {}

  void close() {
    std::error_code ignored;
    client.close(ignored);
    upstream.close(ignored);
  }

  tcp::socket client;
  tcp::socket upstream;
  std::size_t index;
};

struct loopback_proxy::impl : std::enable_shared_from_this<impl> {
  impl(asio::any_io_executor ex, proxy_options opts)
      : executor(std::move(ex)), options(std::move(opts)), acceptor(executor) {
    listen_on_loopback(acceptor, options.ipv6, options.port);
    port = acceptor.local_endpoint().port();
  }

  void stop_now() {
    if (stopped) return;
    stopped = true;
    std::error_code ignored;
    acceptor.close(ignored);
    for (auto& [index, connection] : live) connection->close();
  }

  asio::any_io_executor executor;
  proxy_options options;
  tcp::acceptor acceptor;
  std::uint16_t port = 0;
  bool stopped = false;                                           // executor only
  std::map<std::size_t, std::shared_ptr<proxy_connection>> live;  // executor only

  mutable std::mutex mutex;  // guards everything below
  std::size_t accepted = 0;
  std::size_t open = 0;
  std::vector<std::string> connect_targets;
  std::vector<std::string> forwarded_targets;
  std::vector<std::string> authorizations;
  std::size_t refused = 0;
};

namespace {

asio::awaitable<bool> send(tcp::socket& socket, std::string bytes) {
  auto [ec, n] = co_await asio::async_write(socket, asio::buffer(bytes), as_error_tuple);
  co_return !ec;
}

// Copies bytes one way until EOF, then half-closes the other side so the peer sees EOF too.
// Any error tears both sockets down, which ends the opposite pump as well.
asio::awaitable<void> pump(tcp::socket& from, tcp::socket& to) {
  std::array<char, 16 * 1024> buffer;
  for (;;) {
    auto [ec, n] = co_await from.async_read_some(asio::buffer(buffer), as_error_tuple);
    std::error_code ignored;
    if (ec == asio::error::eof) {
      to.shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    if (ec) {
      from.close(ignored);
      to.close(ignored);
      co_return;
    }
    auto [write_ec, written] =
        co_await asio::async_write(to, asio::buffer(buffer.data(), n), as_error_tuple);
    if (write_ec) {
      from.close(ignored);
      to.close(ignored);
      co_return;
    }
  }
}

asio::awaitable<bool> dial(proxy_connection& connection, const asio::ip::address& address,
                           std::uint16_t port) {
  auto [ec] =
      co_await connection.upstream.async_connect(tcp::endpoint(address, port), as_error_tuple);
  if (!ec) {
    std::error_code ignored;
    connection.upstream.set_option(tcp::no_delay(true), ignored);
  }
  co_return !ec;
}

asio::awaitable<void> handle(std::shared_ptr<loopback_proxy::impl> proxy,
                             std::shared_ptr<proxy_connection> connection) {
  request_parser parser;
  std::array<char, 16 * 1024> buffer;
  std::string leftover;
  while (!parser.done() && !parser.failed()) {
    auto [ec, n] =
        co_await connection->client.async_read_some(asio::buffer(buffer), as_error_tuple);
    if (ec) co_return;
    std::string_view data(buffer.data(), n);
    std::size_t used = parser.feed(data);
    // Bytes after a CONNECT head already belong to the tunnel (e.g. an eager TLS ClientHello).
    if (parser.done()) leftover.assign(data.substr(used));
  }
  if (parser.failed()) {
    co_await send(connection->client, simple_response(400, "Bad Request"));
    co_return;
  }
  recorded_request request = parser.take();
  bool is_connect = request.method == "CONNECT";
  bool is_absolute = !is_connect && request.target.find("://") != std::string::npos;
  std::string authorization = request.header("proxy-authorization");
  {
    std::lock_guard lock(proxy->mutex);
    if (is_connect) proxy->connect_targets.push_back(request.target);
    if (is_absolute) proxy->forwarded_targets.push_back(request.target);
    proxy->authorizations.push_back(authorization);
  }
  if (proxy->options.required_authorization &&
      authorization != *proxy->options.required_authorization) {
    {
      std::lock_guard lock(proxy->mutex);
      ++proxy->refused;
    }
    co_await send(connection->client,
                  simple_response(407, "Proxy Authentication Required",
                                  "Proxy-Authenticate: Basic realm=\"keyless-test\"\r\n"));
    co_return;
  }

  std::optional<target_address> target;
  std::string origin_target;
  std::string authority;
  if (is_connect) {
    target = parse_authority(request.target, 0);
  } else if (request.target.rfind("http://", 0) == 0) {
    std::string_view rest = std::string_view(request.target).substr(7);
    auto slash = rest.find_first_of("/?");
    authority = rest.substr(0, slash);
    target = parse_authority(authority, 80);
    origin_target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    if (!origin_target.empty() && origin_target.front() == '?') origin_target.insert(0, "/");
  }
  if (!target) {
    co_await send(connection->client, simple_response(400, "Bad Request"));
    co_return;
  }
  auto address = loopback_address(target->host);
  if (!address) {
    {
      std::lock_guard lock(proxy->mutex);
      ++proxy->refused;
    }
    co_await send(connection->client, simple_response(403, "Forbidden"));
    co_return;
  }
  if (!co_await dial(*connection, *address, target->port)) {
    co_await send(connection->client, simple_response(502, "Bad Gateway"));
    co_return;
  }

  if (is_connect) {
    if (!co_await send(connection->client, "HTTP/1.1 200 Connection Established\r\n\r\n"))
      co_return;
    if (!leftover.empty() && !co_await send(connection->upstream, std::move(leftover))) co_return;
    co_await (pump(connection->client, connection->upstream) &&
              pump(connection->upstream, connection->client));
    co_return;
  }

  std::string out = request.method + " " + origin_target + " HTTP/1.1\r\n";
  if (!request.headers.contains("host")) out += "Host: " + authority + "\r\n";
  for (const auto& [name, value] : request.headers) {
    bool skip = false;
    for (auto h : hop_by_hop) skip = skip || iequals(name, h);
    if (!skip) out += name + ": " + value + "\r\n";
  }
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
      request.method == "PATCH")
    out += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  out += request.body;
  if (!co_await send(connection->upstream, std::move(out))) co_return;
  co_await pump(connection->upstream, connection->client);
}

asio::awaitable<void> serve(std::shared_ptr<loopback_proxy::impl> proxy,
                            std::shared_ptr<proxy_connection> connection) {
  try {
    co_await handle(proxy, connection);
  } catch (...) {
    // A peer vanished mid-operation; the connection is simply dropped.
  }
  connection->close();
  proxy->live.erase(connection->index);
  std::lock_guard lock(proxy->mutex);
  --proxy->open;
}

asio::awaitable<void> accept_loop(std::shared_ptr<loopback_proxy::impl> proxy) {
  for (;;) {
    auto [ec, socket] = co_await proxy->acceptor.async_accept(as_error_tuple);
    if (proxy->stopped || !proxy->acceptor.is_open()) co_return;
    if (ec) {
      // Out of descriptors or similar: back off briefly rather than spin.
      asio::steady_timer pause(proxy->executor, std::chrono::milliseconds(10));
      co_await pause.async_wait(as_error_tuple);
      continue;
    }
    std::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::size_t index;
    {
      std::lock_guard lock(proxy->mutex);
      index = proxy->accepted++;
      ++proxy->open;
    }
    auto connection = std::make_shared<proxy_connection>(std::move(socket), index);
    proxy->live.emplace(index, connection);
    asio::co_spawn(proxy->executor, serve(proxy, std::move(connection)), asio::detached);
  }
}

}  // namespace

loopback_proxy::loopback_proxy(asio::any_io_executor executor, proxy_options options)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(options))) {
  asio::co_spawn(impl_->executor, accept_loop(impl_), asio::detached);
}

loopback_proxy::~loopback_proxy() {
  stop();
}

std::uint16_t loopback_proxy::port() const noexcept {
  return impl_->port;
}

std::string loopback_proxy::url() const {
  return std::string(impl_->options.ipv6 ? "http://[::1]:" : "http://127.0.0.1:") +
         std::to_string(impl_->port);
}

std::size_t loopback_proxy::connections_accepted() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->accepted;
}

std::size_t loopback_proxy::open_connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->open;
}

std::size_t loopback_proxy::connect_requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->connect_targets.size();
}

std::vector<std::string> loopback_proxy::connect_targets() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->connect_targets;
}

std::size_t loopback_proxy::forwarded_requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->forwarded_targets.size();
}

std::vector<std::string> loopback_proxy::forwarded_targets() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->forwarded_targets;
}

std::size_t loopback_proxy::refused_requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->refused;
}

std::vector<std::string> loopback_proxy::authorizations() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->authorizations;
}

void loopback_proxy::stop() {
  asio::dispatch(impl_->executor, [proxy = impl_] { proxy->stop_now(); });
}

}  // namespace keyless::testing
