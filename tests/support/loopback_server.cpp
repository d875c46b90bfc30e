#include "loopback_server.hpp"

#include <array>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <utility>

#include <openssl/ssl.h>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/dispatch.hpp>
#include <asio/ip/v6_only.hpp>

#include "http/h2/server_session.hpp"
#include "io_helpers.hpp"
#include "loopback_server_impl.hpp"

namespace keyless::testing {
namespace {

using tcp = asio::ip::tcp;
using namespace net::awaitable_operators;

// How long a closing TLS connection waits for the client's close_notify before dropping TCP.
// Clients usually answer at once or just close; the bound only keeps a silent one from parking
// the coroutine until stop().
constexpr auto tls_shutdown_grace = std::chrono::milliseconds(500);

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

}  // namespace

bool has_close_token(const header_map& headers) {
  for (auto value : headers.find_all("connection")) {
    recorded_request probe;
    probe.version = "HTTP/1.1";
    probe.headers.add("Connection", std::string(value));
    if (!probe.keep_alive()) return true;
  }
  return false;
}

namespace {

int openssl_version(tls_version v) {
  switch (v) {
    case tls_version::tls1_0:
      return TLS1_VERSION;
    case tls_version::tls1_1:
      return TLS1_1_VERSION;
    case tls_version::tls1_2:
      return TLS1_2_VERSION;
    case tls_version::tls1_3:
      return TLS1_3_VERSION;
  }
  return 0;
}

// ALPN (RFC 7301): h2 when the client offers it, else http/1.1, else no ALPN at all.
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
                unsigned int in_length, void*) {
  static constexpr unsigned char ours[] = "\x02h2\x08http/1.1";
  unsigned char* chosen = nullptr;
  unsigned char chosen_length = 0;
  if (SSL_select_next_proto(&chosen, &chosen_length, ours, sizeof ours - 1, in, in_length) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = chosen;
  *out_length = chosen_length;
  return SSL_TLSEXT_ERR_OK;
}

asio::ssl::context make_server_tls_context(const server_options& options) {
  asio::ssl::context ctx(asio::ssl::context::tls_server);
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::single_dh_use);
  SSL_CTX* native = ctx.native_handle();
  bool legacy = options.max_tls_version && *options.max_tls_version < tls_version::tls1_2;
  if (legacy) {
    // OpenSSL 3 refuses TLS 1.0/1.1 (SHA-1 signatures) above security level 0, and Debian's
    // system configuration raises the minimum protocol to 1.2; undo both for this context.
    SSL_CTX_set_security_level(native, 0);
    if (SSL_CTX_set_cipher_list(native, "DEFAULT:@SECLEVEL=0") != 1)
      throw std::runtime_error("loopback_server: cannot enable legacy TLS ciphers");
    SSL_CTX_set_min_proto_version(native, TLS1_VERSION);
  }
  if (options.min_tls_version)
    SSL_CTX_set_min_proto_version(native, openssl_version(*options.min_tls_version));
  if (options.max_tls_version)
    SSL_CTX_set_max_proto_version(native, openssl_version(*options.max_tls_version));
  const test_pki& pki = options.pki ? *options.pki : test_pki::shared();
  pki.use_leaf(ctx, options.leaf);
  if (options.http2) SSL_CTX_set_alpn_select_cb(native, select_alpn, nullptr);
  return ctx;
}

}  // namespace

loopback_server::impl::impl(asio::any_io_executor ex, server_options opts)
    : executor(std::move(ex)), options(std::move(opts)), acceptor(executor) {
  if (options.tls) {
    ssl.emplace(make_server_tls_context(options));
  }
  listen_on_loopback(acceptor, options.ipv6, options.port);
  port = acceptor.local_endpoint().port();
  fallback = [](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.respond(200, "ok");
  };
}

handler loopback_server::impl::find_handler(const recorded_request& req) {
  std::lock_guard lock(mutex);
  auto path = req.path();
  for (auto it = routes.rbegin(); it != routes.rend(); ++it)
    if ((it->method.empty() || it->method == req.method) && it->path == path) return it->h;
  return fallback;
}

void loopback_server::impl::admit(recorded_request& req) {
  std::lock_guard lock(mutex);
  req.sequence = received++;
  if (options.record_requests) records.push_back(req);
}

void loopback_server::impl::note_handler_failure(const std::string& label,
                                                 std::exception_ptr failure) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  std::cerr << "loopback_server: handler for " << label << " threw: " << what << "\n";
  std::lock_guard lock(mutex);
  ++handler_failures;
}

void loopback_server::impl::stop_now() {
  if (stopped) return;
  stopped = true;
  std::error_code ignored;
  acceptor.close(ignored);
  // close() may end a connection's coroutines, which erase it from `live`: iterate a copy.
  auto connections = live;
  for (auto& [index, connection] : connections) connection->close();
}

std::size_t loopback_server::impl::close_idle_now() {
  std::size_t closed = 0;
  auto connections = live;
  for (auto& [index, connection] : connections) {
    if (connection->idle && !connection->closed) {
      connection->close();
      ++closed;
    }
  }
  return closed;
}

namespace {

class connection_responder final : public responder {
 public:
  connection_responder(std::shared_ptr<loopback_server::impl> server,
                       std::shared_ptr<server_connection> connection, const recorded_request& req)
      : server_(std::move(server)),
        connection_(std::move(connection)),
        keep_alive_(req.keep_alive() && server_->options.keep_alive),
        http10_(req.version == "HTTP/1.0"),
        head_request_(req.method == "HEAD") {}

  asio::awaitable<void> respond(int status, std::string body, header_map headers,
                                std::string content_type) override {
    // 1xx, 204 and 304 never carry a body (RFC 9110 §6.4.1).
    bool bodiless = status == 204 || status == 304 || (status >= 100 && status < 200);
    if (!content_type.empty() && !bodiless && !headers.contains("content-type"))
      headers.add("Content-Type", std::move(content_type));
    if (!bodiless && !headers.contains("content-length"))
      headers.add("Content-Length", std::to_string(body.size()));
    std::string out = head(status, headers);
    if (!bodiless && !head_request_) out += body;
    co_await write(std::move(out));
  }

  asio::awaitable<void> start_chunked(int status, header_map headers,
                                      std::string content_type) override {
    if (!content_type.empty() && !headers.contains("content-type"))
      headers.add("Content-Type", std::move(content_type));
    headers.set("Transfer-Encoding", "chunked");
    std::string out = head(status, headers);
    chunk_open_ = true;
    co_await write(std::move(out));
  }

  asio::awaitable<void> write_chunk(std::string data) override {
    if (!chunk_open_) throw std::logic_error("responder::write_chunk before start_chunked");
    if (data.empty()) co_return;
    char size[32];
    int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    std::string out(size, static_cast<std::size_t>(n));
    out += data;
    out += "\r\n";
    co_await write(std::move(out));
  }

  asio::awaitable<void> finish_chunked() override {
    if (!chunk_open_) throw std::logic_error("responder::finish_chunked before start_chunked");
    chunk_open_ = false;
    co_await write("0\r\n\r\n");
  }

  asio::awaitable<void> write_raw(std::string bytes) override { co_await write(std::move(bytes)); }

  asio::awaitable<void> delay(std::chrono::milliseconds duration) override {
    ensure_open();
    connection_->timer.expires_after(duration);
    auto [ec] = co_await connection_->timer.async_wait(use_tuple);
    if (ec || connection_->closed) {
      connection_->io_failed = true;
      throw_code(make_error_code(asio::error::operation_aborted));
    }
  }

  asio::awaitable<void> stall() override {
    ensure_open();
    connection_->timer.expires_at(asio::steady_timer::time_point::max());
    // Also read (and drop) whatever arrives, so a client that gives up and disconnects ends
    // the stall instead of leaving a dead connection open until stop().
    co_await (wait_forever() || drain());
    connection_->io_failed = true;
    throw_code(make_error_code(asio::error::operation_aborted));
  }

  void close() override { connection_->close(); }

  void close_after_response() override { keep_alive_ = false; }

  bool responded() const noexcept override { return responded_; }

  bool keep_alive() const noexcept { return keep_alive_; }
  bool chunk_open() const noexcept { return chunk_open_; }

 private:
  std::string head(int status, header_map& headers) {
    if (has_close_token(headers)) keep_alive_ = false;
    if (!keep_alive_ && !headers.contains("connection")) headers.add("Connection", "close");
    if (keep_alive_ && http10_ && !headers.contains("connection"))
      headers.add("Connection", "keep-alive");
    std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
    out += reason_phrase(status);
    out += "\r\n";
    for (const auto& [name, value] : headers) {
      out += name;
      out += ": ";
      out += value;
      out += "\r\n";
    }
    out += "\r\n";
    return out;
  }

  void ensure_open() {
    if (connection_->closed || server_->stopped) {
      connection_->io_failed = true;
      throw_code(make_error_code(asio::error::not_connected));
    }
  }

  asio::awaitable<void> write(std::string bytes) {
    ensure_open();
    responded_ = true;
    auto [ec, n] = co_await connection_->write(asio::buffer(bytes));
    if (ec) {
      connection_->io_failed = true;
      throw_code(ec);
    }
  }

  asio::awaitable<void> wait_forever() { co_await connection_->timer.async_wait(use_tuple); }

  asio::awaitable<void> drain() {
    std::array<char, 4096> scratch;
    for (;;) {
      auto [ec, n] = co_await connection_->read_some(asio::buffer(scratch));
      if (ec) co_return;
    }
  }

  std::shared_ptr<loopback_server::impl> server_;
  std::shared_ptr<server_connection> connection_;
  bool keep_alive_;
  bool http10_;
  bool head_request_;
  bool responded_ = false;
  bool chunk_open_ = false;
};

asio::awaitable<void> close_gracefully(std::shared_ptr<server_connection> connection) {
  if (connection->closed) co_return;
  if (connection->tls) {
    connection->timer.expires_after(tls_shutdown_grace);
    co_await (connection->tls->async_shutdown(use_tuple) ||
              connection->timer.async_wait(use_tuple));
  } else {
    std::error_code ignored;
    connection->plain->shutdown(tcp::socket::shutdown_send, ignored);
  }
  connection->close();
}

asio::awaitable<void> answer_parse_error(std::shared_ptr<loopback_server::impl> server,
                                         std::shared_ptr<server_connection> connection, int status,
                                         std::string message) {
  recorded_request placeholder;
  placeholder.version = "HTTP/1.1";
  placeholder.headers.add("Connection", "close");
  connection_responder r(server, connection, placeholder);
  responder& base = r;
  co_await base.respond(status, std::move(message));
}

// The HTTP/1.1 request loop, until the connection closes.
asio::awaitable<void> serve_http1(std::shared_ptr<loopback_server::impl> server,
                                  std::shared_ptr<server_connection> connection) {
  request_parser parser(server->options.limits);
  std::array<char, 16 * 1024> buffer;
  for (;;) {
    while (!parser.done() && !parser.failed()) {
      if (!connection->pending.empty()) {
        std::size_t used = parser.feed(connection->pending);
        connection->pending.erase(0, used);
        continue;
      }
      connection->idle = parser.idle();
      auto [ec, n] = co_await connection->read_some(asio::buffer(buffer));
      connection->idle = false;
      if (ec) throw_code(ec);  // the client left, or we closed the connection
      connection->pending.append(buffer.data(), n);
    }
    if (parser.failed()) {
      co_await answer_parse_error(server, connection, parser.limit_exceeded() ? 413 : 400,
                                  parser.error() + "\n");
      co_await close_gracefully(connection);
      break;
    }

    recorded_request request = parser.take();
    request.connection = connection->index;
    request.tls_server_name = connection->server_name;
    request.tls_protocol = connection->protocol;
    server->admit(request);
    handler h = server->find_handler(request);
    connection_responder r(server, connection, request);
    std::string label = request.method + " " + std::string(request.path());
    std::exception_ptr failure;
    try {
      co_await h(std::move(request), r);
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      if (!connection->io_failed && !server->stopped) server->note_handler_failure(label, failure);
      break;
    }
    if (connection->closed) break;
    if (r.chunk_open()) break;  // the body was never finished: the client sees it cut off
    if (!r.responded()) {
      r.close_after_response();
      responder& base = r;
      co_await base.respond(500, "handler sent no response\n");
    }
    if (!r.keep_alive()) {
      co_await close_gracefully(connection);
      break;
    }
  }
}

// With server_options::http2: whether the connection speaks h2. Over TLS, ALPN said so; over
// plain TCP, the first bytes are the client preface (prior knowledge). Bytes read to tell stay
// in connection->pending for whichever protocol reads next.
asio::awaitable<bool> speaks_h2(std::shared_ptr<server_connection> connection) {
  if (connection->tls) {
    const unsigned char* protocol = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(connection->tls->native_handle(), &protocol, &length);
    co_return length == 2 && std::memcmp(protocol, "h2", 2) == 0;
  }
  std::array<char, 4 * 1024> buffer;
  for (;;) {
    switch (http::h2::match_client_preface(connection->pending)) {
      case http::h2::preface_match::full:
        co_return true;
      case http::h2::preface_match::no:
        co_return false;
      case http::h2::preface_match::partial:
        break;
    }
    connection->idle = connection->pending.empty();
    auto [ec, n] = co_await connection->read_some(asio::buffer(buffer));
    connection->idle = false;
    if (ec) throw_code(ec);
    connection->pending.append(buffer.data(), n);
  }
}

asio::awaitable<void> serve(std::shared_ptr<loopback_server::impl> server,
                            std::shared_ptr<server_connection> connection) {
  try {
    if (connection->tls) {
      auto [ec] =
          co_await connection->tls->async_handshake(asio::ssl::stream_base::server, use_tuple);
      if (ec) {
        if (!connection->closed) {
          std::lock_guard lock(server->mutex);
          ++server->handshake_failures;
        }
        throw_code(ec);
      }
      SSL* ssl = connection->tls->native_handle();
      if (const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name))
        connection->server_name = name;
      connection->protocol = SSL_get_version(ssl);
    }
    if (server->options.http2 && co_await speaks_h2(connection)) {
      co_await serve_h2(server, connection);
    } else {
      co_await serve_http1(server, connection);
    }
  } catch (...) {
    // The peer went away or stop() closed the socket; nothing to report.
  }
  connection->close();
  server->live.erase(connection->index);
  std::lock_guard lock(server->mutex);
  --server->open;
}

asio::awaitable<void> accept_loop(std::shared_ptr<loopback_server::impl> server) {
  for (;;) {
    auto [ec, socket] = co_await server->acceptor.async_accept(use_tuple);
    if (server->stopped || !server->acceptor.is_open()) co_return;
    if (ec) {
      // Out of descriptors or similar: back off briefly rather than spin.
      asio::steady_timer pause(server->executor, std::chrono::milliseconds(10));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    std::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::size_t index;
    {
      std::lock_guard lock(server->mutex);
      index = server->accepted++;
      ++server->open;
    }
    auto connection = std::make_shared<server_connection>(std::move(socket), index,
                                                          server->ssl ? &*server->ssl : nullptr);
    server->live.emplace(index, connection);
    asio::co_spawn(server->executor, serve(server, std::move(connection)), asio::detached);
  }
}

}  // namespace

asio::awaitable<void> responder::respond_json(int status, std::string json, header_map headers) {
  co_await respond(status, std::move(json), std::move(headers), "application/json");
}

asio::awaitable<void> responder::respond_chunked(int status, std::vector<std::string> chunks,
                                                 header_map headers, std::string content_type) {
  co_await start_chunked(status, std::move(headers), std::move(content_type));
  for (auto& chunk : chunks)
    if (!chunk.empty()) co_await write_chunk(std::move(chunk));
  co_await finish_chunked();
}

loopback_server::loopback_server(asio::any_io_executor executor, server_options options)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(options))) {
  asio::co_spawn(impl_->executor, accept_loop(impl_), asio::detached);
}

loopback_server::~loopback_server() {
  stop();
}

std::uint16_t loopback_server::port() const noexcept {
  return impl_->port;
}

std::string loopback_server::authority() const {
  std::string host = impl_->options.ipv6 ? "[::1]" : "127.0.0.1";
  return host + ":" + std::to_string(impl_->port);
}

std::string loopback_server::url(std::string_view path) const {
  std::string out = impl_->ssl ? "https://" : "http://";
  out += authority();
  if (path.empty() || path.front() != '/') out += '/';
  out += path;
  return out;
}

bool loopback_server::tls() const noexcept {
  return impl_->ssl.has_value();
}

void loopback_server::set_handler(handler h) {
  std::lock_guard lock(impl_->mutex);
  impl_->fallback = std::move(h);
}

void loopback_server::route(std::string method, std::string path, handler h) {
  std::lock_guard lock(impl_->mutex);
  std::erase_if(impl_->routes,
                [&](const impl::route_entry& r) { return r.method == method && r.path == path; });
  impl_->routes.push_back({std::move(method), std::move(path), std::move(h)});
}

std::size_t loopback_server::connections_accepted() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->accepted;
}

std::size_t loopback_server::open_connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->open;
}

std::size_t loopback_server::requests_seen() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->received;
}

std::size_t loopback_server::requests_seen(std::string_view path) const {
  std::lock_guard lock(impl_->mutex);
  std::size_t n = 0;
  for (const auto& r : impl_->records)
    if (r.path() == path) ++n;
  return n;
}

std::size_t loopback_server::handshake_failures() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->handshake_failures;
}

std::size_t loopback_server::handler_failures() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->handler_failures;
}

std::vector<recorded_request> loopback_server::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->records;
}

recorded_request loopback_server::last_request() const {
  std::lock_guard lock(impl_->mutex);
  if (impl_->records.empty()) throw std::logic_error("loopback_server: no request received yet");
  return impl_->records.back();
}

void loopback_server::clear_requests() {
  std::lock_guard lock(impl_->mutex);
  impl_->records.clear();
  impl_->received = 0;
}

std::size_t loopback_server::close_idle_connections() {
  // Shared, not a reference to a local: when dispatch has to post, the lambda runs after return.
  auto result = std::make_shared<std::size_t>(0);
  asio::dispatch(impl_->executor, [server = impl_, result] { *result = server->close_idle_now(); });
  return *result;
}

void loopback_server::stop() {
  asio::dispatch(impl_->executor, [server = impl_] { server->stop_now(); });
}

}  // namespace keyless::testing
