#include "connection.hpp"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <tuple>
#include <utility>

#include <asio/bind_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/address_v4.hpp>
#include <asio/ip/address_v6.hpp>
#include <asio/ssl/error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <fmt/core.h>

#include "error_text.hpp"
#include "keyless/core/error.hpp"
#include "keyless/detail/asio_compat.hpp"
#include "keyless/http/fields.hpp"
#include "request_writer.hpp"

namespace keyless::http::detail {
namespace {

using asio::ip::tcp;

// A connection keeps its send buffer between requests up to this size.
constexpr std::size_t max_kept_send_buffer = 64 * 1024;

// "host:port" with IPv6 literals bracketed, as in a CONNECT target or a message.
std::string authority_of(const std::string& host, std::uint16_t port) {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

// Errors that mean "the peer is gone", as opposed to cancellation or a
// protocol failure: on a pooled connection, the sign of a stale one.
bool is_connection_loss(std::error_code ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted ||
         ec == asio::error::not_connected || ec == asio::ssl::error::stream_truncated;
}

}  // namespace

std::string describe_connection_loss(std::error_code ec) {
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
    return "the server closed the connection";
  }
  return ec.message();
}

std::string describe_request(const request& r) {
  return fmt::format("{} {}://{}{}", r.method, r.target.scheme, r.target.host_header(),
                     r.target.path());
}

std::string exchange::what() const {
  return describe_request(message);
}

std::string route::origin() const {
  return pool_key.substr(0, pool_key.find(" via "));
}

connection::connection(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls)
    : executor_(executor),
      strand_(make_serial(executor)),
      tls_context_(std::move(tls)),
      socket_(executor),
      timer_(strand_) {}

connection::~connection() {
  close();
}

tcp::socket& connection::lowest() noexcept {
  return tls_ ? tls_->next_layer() : socket_;
}

connection::deadline connection::request_deadline(const exchange* x) {
  return {x->deadline, "request timeout", x->request_timeout};
}

connection::deadline connection::earliest(deadline phase, const exchange* x) {
  deadline whole = request_deadline(x);
  return phase.at <= whole.at ? phase : whole;
}

void connection::arm(const deadline& d) {
  // Sending a request and reading its response share one deadline: the timer set for the
  // first step stays for the next, saving a cancel and a timer reprogramming per request.
  if (armed_ && !timer_fired_ && armed_at_ == d.at) return;
  armed_at_ = d.at;
  timer_fired_ = false;
  armed_ = true;
  timer_.expires_at(d.at);
  // The handler runs on the strand (the timer's executor), so it cannot race
  // with the operation it cancels; the generation check makes a late handler
  // from an earlier step harmless.
  timer_.async_wait(
      [weak = weak_from_this(), generation = ++timer_generation_](std::error_code ec) {
        auto self = weak.lock();
        if (ec || !self || generation != self->timer_generation_ || !self->armed_) return;
        self->timer_fired_ = true;
        std::error_code ignored;
        self->lowest().cancel(ignored);
      });
}

void connection::disarm() noexcept {
  armed_ = false;
  timer_.cancel();
}

void connection::give_up() noexcept {
  disarm();
  mark_broken();
}

void connection::mark_broken() noexcept {
  broken_ = true;
  close();
}

void connection::fail(const exchange* x, std::error_code ec, const deadline& d,
                      std::string_view doing) {
  mark_broken();
  if (timer_fired_) {
    throw keyless::error(errc::timeout, fmt::format("{}: {} ({} ms) expired while {}", x->what(),
                                                    d.name, d.budget.count(), doing));
  }
  if (ec == asio::error::operation_aborted) throw asio::system_error(ec);  // the caller cancelled
  throw keyless::error(errc::connection_failed,
                       fmt::format("{}: connection failed while {}: {}", x->what(), doing,
                                   describe_connection_loss(ec)));
}

parse_result connection::parse(const exchange* x, std::string_view data) {
  try {
    return parser_.feed(data);
  } catch (const keyless::error& e) {
    mark_broken();
    throw with_context(e, x->what());
  }
}

parse_result connection::parse_eof(const exchange* x) {
  try {
    return parser_.feed_eof();
  } catch (const keyless::error& e) {
    mark_broken();
    throw with_context(e, x->what());
  }
}

asio::awaitable<std::vector<tcp::endpoint>> connection::resolve(const exchange* x,
                                                                const std::string& host,
                                                                std::uint16_t port) {
  std::error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (!ec) co_return std::vector<tcp::endpoint>{tcp::endpoint(address, port)};
  // RFC 6761: localhost is the loopback interface; no resolver needed.
  if (iequals(host, "localhost")) {
    co_return std::vector<tcp::endpoint>{tcp::endpoint(asio::ip::address_v4::loopback(), port),
                                         tcp::endpoint(asio::ip::address_v6::loopback(), port)};
  }

  // getaddrinfo cannot be interrupted, so the lookup completes into a shared
  // state while this coroutine waits on a timer that either the lookup, the
  // deadline or the caller's cancellation ends.
  struct lookup {
    lookup(asio::any_io_executor ex, const strand_type& strand) : resolver(ex), wake(strand) {}
    tcp::resolver resolver;
    asio::steady_timer wake;
    bool done = false;
    std::error_code ec;
    tcp::resolver::results_type results;
  };
  auto state = std::make_shared<lookup>(executor_, strand_);
  deadline d = earliest(
      {steady_clock::now() + x->connect_timeout, "connect timeout", x->connect_timeout}, x);
  state->wake.expires_at(d.at);
  state->resolver.async_resolve(
      host, std::to_string(port), tcp::resolver::numeric_service,
      asio::bind_executor(strand_, [state](std::error_code rec, tcp::resolver::results_type r) {
        state->done = true;
        state->ec = rec;
        state->results = std::move(r);
        state->wake.cancel();
      }));
  auto [wait_ec] = co_await state->wake.async_wait(net::use_tuple);
  if (!state->done) {
    state->resolver.cancel();
    if (!wait_ec) {
      throw keyless::error(errc::timeout, fmt::format("{}: {} ({} ms) expired while resolving {}",
                                                      x->what(), d.name, d.budget.count(), host));
    }
    throw asio::system_error(asio::error::operation_aborted);
  }
  if (state->ec) {
    throw keyless::error(
        errc::connection_failed,
        fmt::format("{}: cannot resolve {}: {}", x->what(), host, state->ec.message()));
  }
  std::vector<tcp::endpoint> endpoints;
  for (const auto& entry : state->results) endpoints.push_back(entry.endpoint());
  co_return endpoints;
}

asio::awaitable<void> connection::connect(const exchange* x) {
  const auto& proxy = x->where.proxy;
  const std::string& host = proxy ? proxy->host : x->where.host;
  std::uint16_t port = proxy ? proxy->port : x->where.port;
  std::string doing = proxy ? fmt::format("connecting to proxy {}", proxy->display)
                            : fmt::format("connecting to {}", authority_of(host, port));

  auto endpoints = co_await resolve(x, host, port);
  std::error_code last = asio::error::host_not_found;
  deadline last_deadline = request_deadline(x);
  bool timed_out = false;
  for (const auto& endpoint : endpoints) {
    deadline d = earliest(
        {steady_clock::now() + x->connect_timeout, "connect timeout", x->connect_timeout}, x);
    std::error_code ec;
    socket_.open(endpoint.protocol(), ec);
    if (ec) {
      last = ec;
      continue;
    }
    arm(d);
    auto [connect_ec] = co_await socket_.async_connect(endpoint, net::use_tuple);
    disarm();
    if (!connect_ec) {
      socket_.set_option(tcp::no_delay(true), ec);
      timed_out = false;
      break;
    }
    last = connect_ec;
    last_deadline = d;
    timed_out = timer_fired_;
    std::error_code ignored;
    socket_.close(ignored);
    // The caller's cancellation or the request deadline ends the attempt; a
    // per-address connect timeout moves on to the next address.
    bool request_expired = timed_out && d.at == x->deadline;
    if ((connect_ec == asio::error::operation_aborted && !timed_out) || request_expired) {
      fail(x, connect_ec, d, doing);
    }
  }
  if (!socket_.is_open()) {
    timer_fired_ = timed_out;
    fail(x, last, last_deadline, doing);
  }

  if (proxy && x->where.tls) co_await tunnel(x);
  if (x->where.tls) co_await handshake(x);
  connected_ = true;
}

asio::awaitable<void> connection::tunnel(const exchange* x) {
  const proxy_endpoint& proxy = *x->where.proxy;
  std::string authority = authority_of(x->where.host, x->where.port);
  std::string request = fmt::format("CONNECT {0} HTTP/1.1\r\nHost: {0}\r\n", authority);
  if (!x->user_agent.empty()) request += fmt::format("User-Agent: {}\r\n", x->user_agent);
  if (!proxy.authorization.empty()) {
    request += "Proxy-Authorization: ";
    request += proxy.authorization;
    request += "\r\n";
  }
  request += "\r\n";

  deadline d = earliest(
      {steady_clock::now() + x->connect_timeout, "connect timeout", x->connect_timeout}, x);
  std::string doing = fmt::format("asking proxy {} for a tunnel to {}", proxy.display, authority);
  co_await write(x, request, {}, d, doing);

  response_parser reply(x->limits);
  reply.reset(true);  // a 2xx CONNECT reply is followed by the tunnel, not a body
  for (;;) {
    parse_result r;
    try {
      r = reply.feed(buffered());
    } catch (const keyless::error& e) {
      mark_broken();
      throw with_context(e, fmt::format("{}: reply of proxy {}", x->what(), proxy.display));
    }
    begin_ += r.consumed;
    if (r.event == parse_event::head_done) break;
    if (!co_await fill(x, d, doing)) {
      mark_broken();
      throw keyless::error(errc::connection_failed,
                           fmt::format("{}: proxy {} closed the connection instead of answering "
                                       "CONNECT {}",
                                       x->what(), proxy.display, authority));
    }
  }
  const response_head& head = reply.head();
  if (head.status < 200 || head.status > 299) {
    mark_broken();
    diagnostics details;
    details.http_status = head.status;
    throw keyless::error(errc::connection_failed,
                         fmt::format("{}: proxy {} refused to tunnel to {}: {} {}", x->what(),
                                     proxy.display, authority, head.status, head.reason),
                         std::move(details));
  }
  if (begin_ != end_) {
    mark_broken();
    throw keyless::error(
        errc::malformed_response,
        fmt::format("{}: proxy {} sent bytes after its CONNECT reply", x->what(), proxy.display));
  }
}

asio::awaitable<void> connection::handshake(const exchange* x) {
  tls_.emplace(std::move(socket_), *tls_context_);
  prepare_client_stream(*tls_, x->where.host);
  offer_alpn(*tls_, alpn_);
  std::string authority = authority_of(x->where.host, x->where.port);
  deadline d =
      earliest({steady_clock::now() + x->tls_timeout, "TLS handshake timeout", x->tls_timeout}, x);
  arm(d);
  auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::client, net::use_tuple);
  disarm();
  if (!ec) co_return;
  if (timer_fired_ || ec == asio::error::operation_aborted) {
    fail(x, ec, d, fmt::format("doing the TLS handshake with {}", authority));
  }
  std::string why = describe_handshake_failure(*tls_, ec, x->where.host);
  mark_broken();
  throw keyless::error(errc::tls_failed, fmt::format("{}: TLS handshake with {} failed: {}",
                                                     x->what(), authority, why));
}

asio::awaitable<void> connection::write(const exchange* x, std::string_view head,
                                        std::string_view body, const deadline& d,
                                        std::string_view doing) {
  std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::buffer(body)};
  arm(d);
  std::error_code ec;
  std::size_t n = 0;
  if (tls_) {
    std::tie(ec, n) = co_await asio::async_write(*tls_, buffers, net::use_tuple);
  } else {
    std::tie(ec, n) = co_await asio::async_write(socket_, buffers, net::use_tuple);
  }
  bytes_written_ += n;
  if (ec) {
    if (!response_started_ && is_connection_loss(ec)) failed_before_response_ = true;
    fail(x, ec, d, doing);
  }
}

asio::awaitable<bool> connection::fill(const exchange* x, const deadline& d,
                                       std::string_view doing) {
  if (buffer_.empty()) buffer_.resize(read_buffer_size);
  begin_ = end_ = 0;
  arm(d);
  std::error_code ec;
  std::size_t n = 0;
  if (tls_) {
    std::tie(ec, n) = co_await tls_->async_read_some(asio::buffer(buffer_), net::use_tuple);
  } else {
    std::tie(ec, n) = co_await socket_.async_read_some(asio::buffer(buffer_), net::use_tuple);
  }
  if (n > 0) {
    end_ = n;
    response_started_ = true;
  }
  if (!ec) co_return true;
  // A TLS peer closing without close_notify (stream_truncated) ends the stream
  // like a TCP FIN: the parser decides whether the body was complete.
  if (n == 0 && !timer_fired_ &&
      (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)) {
    eof_ = true;
    co_return false;
  }
  if (!response_started_ && is_connection_loss(ec)) failed_before_response_ = true;
  fail(x, ec, d, doing);
}

asio::awaitable<void> connection::run_start(const exchange* x) {
  if (!connected_) co_await connect(x);

  parser_ = response_parser(x->limits);
  parser_.reset(x->head_request);
  begin_ = end_ = 0;
  eof_ = false;
  message_done_ = false;
  response_started_ = false;
  failed_before_response_ = false;
  bytes_written_ = 0;

  // The head goes into a buffer the connection keeps: a fresh one per request is a large
  // allocation once a bearer token is in it, which costs malloc several times a small one.
  send_buffer_.clear();
  append_head(send_buffer_, x->message, x->absolute_form);
  co_await write(x, send_buffer_, x->message.body, request_deadline(x), "sending the request");
  if (send_buffer_.capacity() > max_kept_send_buffer) std::string().swap(send_buffer_);
  for (;;) {
    parse_result r = parse(x, buffered());
    begin_ += r.consumed;
    if (r.event == parse_event::head_done) co_return;
    if (co_await fill(x, request_deadline(x), "waiting for the response")) continue;
    if (!response_started_) {
      failed_before_response_ = true;
      mark_broken();
      throw keyless::error(
          errc::connection_failed,
          fmt::format("{}: the server closed the connection before responding", x->what()));
    }
    parse_eof(x);  // throws connection_failed naming where the head was cut
    mark_broken();
    throw keyless::error(
        errc::connection_failed,
        fmt::format("{}: the connection closed inside the response head", x->what()));
  }
}

asio::awaitable<void> connection::start(const exchange* x) {
  try {
    co_await run_start(x);
  } catch (...) {
    give_up();
    throw;
  }
  disarm();  // a stream's body is read at its reader's pace, each read with its own deadline
}

asio::awaitable<std::optional<std::string_view>> connection::next_piece(const exchange* x) {
  while (!message_done_) {
    parse_result r = parse(x, buffered());
    begin_ += r.consumed;
    if (r.event == parse_event::body_data) {
      if (!r.data.empty()) co_return r.data;
      continue;
    }
    if (r.event == parse_event::message_done) {
      message_done_ = true;
      break;
    }
    if (r.event == parse_event::head_done) continue;
    if (eof_) {
      parse_result last = parse_eof(x);
      if (last.event == parse_event::body_data && !last.data.empty()) co_return last.data;
      message_done_ = true;
      break;
    }
    deadline d =
        earliest({steady_clock::now() + x->idle_timeout, "idle timeout", x->idle_timeout}, x);
    co_await fill(x, d, "reading the response body");
  }
  co_return std::nullopt;
}

asio::awaitable<std::optional<std::string_view>> connection::read_body(const exchange* x) {
  std::optional<std::string_view> piece;
  try {
    piece = co_await next_piece(x);
  } catch (...) {
    give_up();
    throw;
  }
  disarm();
  co_return piece;
}

asio::awaitable<void> connection::start_and_read_all(const exchange* x, std::string* out) {
  try {
    co_await run_start(x);
    while (auto piece = co_await next_piece(x)) out->append(*piece);
  } catch (...) {
    give_up();
    throw;
  }
  disarm();
}

asio::awaitable<void> connection::open(const exchange* x, alpn_offer offer) {
  alpn_ = offer;
  try {
    co_await connect(x);
  } catch (...) {
    give_up();
    throw;
  }
}

std::string_view connection::negotiated_protocol() const noexcept {
  return tls_ ? alpn_selected(*tls_) : std::string_view();
}

asio::awaitable<std::pair<std::error_code, std::size_t>> connection::read_raw(
    asio::mutable_buffer into) {
  std::error_code ec;
  std::size_t n = 0;
  if (tls_) {
    std::tie(ec, n) = co_await tls_->async_read_some(into, net::use_tuple);
  } else {
    std::tie(ec, n) = co_await socket_.async_read_some(into, net::use_tuple);
  }
  co_return std::pair{ec, n};
}

asio::awaitable<std::error_code> connection::write_raw(asio::const_buffer bytes) {
  std::error_code ec;
  if (tls_) {
    std::tie(ec, std::ignore) = co_await asio::async_write(*tls_, bytes, net::use_tuple);
  } else {
    std::tie(ec, std::ignore) = co_await asio::async_write(socket_, bytes, net::use_tuple);
  }
  co_return ec;
}

bool connection::reusable() const noexcept {
  return connected_ && !broken_ && message_done_ && !eof_ && begin_ == end_ && parser_.keep_alive();
}

bool connection::looks_alive() const noexcept {
  if (!connected_ || broken_) return false;
  tcp::socket& s = const_cast<connection*>(this)->lowest();
  if (!s.is_open()) return false;
  char byte = 0;
  ssize_t n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  // Nothing to read is the only healthy answer: 0 is the peer's FIN, bytes
  // are something no request asked for (a close_notify, an error page).
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void connection::close() noexcept {
  connected_ = false;
  std::error_code ignored;
  tcp::socket& s = lowest();
  if (s.is_open()) {
    s.shutdown(tcp::socket::shutdown_both, ignored);
    s.close(ignored);
  }
}

}  // namespace keyless::http::detail
