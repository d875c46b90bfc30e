#include "keyless/http/client.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>
#include <type_traits>
#include <utility>

#include <asio/dispatch.hpp>
#include <asio/system_executor.hpp>

#include <fmt/core.h>

#include "client_impl.hpp"
#include "core/logging.hpp"
#include "error_text.hpp"
#include "keyless/core/error.hpp"
#include "request_writer.hpp"
#include "run_on.hpp"
#include "tls_context.hpp"

namespace keyless::http {
namespace detail {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// Keep a connection this much shorter than the server's advertised
// Keep-Alive timeout: a request sent just as the server gives up on the
// connection would otherwise meet a closed socket.
constexpr milliseconds keep_alive_margin = 1s;

// Deadlines further out than this are treated as "no deadline" rather than
// overflowing steady_clock.
constexpr auto far_future = std::chrono::hours(24 * 365 * 10);

steady_clock::time_point after(milliseconds timeout) {
  auto span = std::chrono::duration_cast<steady_clock::duration>(
      std::min<milliseconds>(std::max(timeout, 0ms), far_future));
  return steady_clock::now() + span;
}

bool is_idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

// The `timeout=` parameter of a Keep-Alive header ("timeout=5, max=100").
std::optional<milliseconds> keep_alive_timeout(const response_head& head) {
  auto value = head.headers.find("keep-alive");
  if (!value) return std::nullopt;
  std::string_view rest = *value;
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    std::size_t eq = item.find('=');
    if (eq == std::string_view::npos || !iequals(item.substr(0, eq), "timeout")) continue;
    std::string_view digits = item.substr(eq + 1);
    unsigned long seconds = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seconds);
    if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
    return milliseconds(std::min<unsigned long>(seconds, 24 * 3600) * 1000);
  }
  return std::nullopt;
}

std::shared_ptr<const exchange> prepare(const client_impl& c, request req) {
  const url& target = req.target;
  if (target.scheme != "http" && target.scheme != "https") {
    throw keyless::error(errc::invalid_argument,
                         "request URL scheme must be http or https (build it with url::parse)");
  }
  auto x = std::make_shared<exchange>();
  if (req.options.require_https && !target.is_https()) {
    throw keyless::error(
        errc::invalid_argument,
        fmt::format("{}: refusing plain http, this request requires https", describe_request(req)));
  }

  const request_options& o = req.options;
  const client_options& d = c.options_;
  x->connect_timeout = o.connect_timeout.value_or(d.connect_timeout);
  x->tls_timeout = o.tls_timeout.value_or(d.tls_timeout);
  x->request_timeout = o.request_timeout.value_or(d.request_timeout);
  x->idle_timeout = o.idle_timeout.value_or(d.idle_timeout);
  x->limits.max_header_bytes = d.max_header_bytes;
  x->limits.max_body_bytes = o.max_body_bytes.value_or(d.max_body_bytes);

  route& where = x->where;
  where.tls = target.is_https();
  where.host = target.host;
  where.port = target.port;
  where.proxy = o.never_proxy ? nullptr : c.proxy_.select(target);
  where.pool_key = target.origin();
  if (where.proxy) where.pool_key += " via " + where.proxy->display;

  x->user_agent = d.user_agent;
  if (!x->user_agent.empty() && !req.headers.contains("user-agent")) {
    req.headers.add("User-Agent", x->user_agent);
  }
  // Plain http through a proxy: the request itself goes to the proxy, in
  // absolute form, carrying the proxy's credentials.
  bool absolute_form = where.proxy && !where.tls;
  if (absolute_form && !where.proxy->authorization.empty()) {
    req.headers.set("Proxy-Authorization", where.proxy->authorization);
  }
  try {
    check_head(req, absolute_form);
  } catch (const keyless::error& e) {
    throw with_context(e, describe_request(req));
  }
  x->head_request = req.method == "HEAD";
  x->idempotent = is_idempotent(req.method);
  x->absolute_form = absolute_form;
  x->message = std::move(req);
  x->deadline = after(x->request_timeout);
  return x;
}

// Takes a connection and runs the exchange up to the response head, or with `body` to the
// end of the response (appended to it: one strand hop for the whole exchange). A pooled
// connection that turns out to be dead before any response byte arrived is replaced once by
// a fresh one, when resending cannot do harm.
asio::awaitable<lease> start(std::shared_ptr<client_impl> self, std::shared_ptr<const exchange> x,
                             std::string* body = nullptr) {
  for (int attempt = 0;; ++attempt) {
    pool_grant grant;
    if (auto free_now = self->pool_->try_acquire(x.get(), attempt > 0)) {
      grant = std::move(*free_now);
    } else {
      grant = co_await connection_pool::acquire(self->pool_, x.get(), attempt > 0);
    }
    bool reused = grant.conn != nullptr;
    lease slot(self->pool_, x, std::move(grant.conn));
    if (reused) {
      ++self->reused_;
    } else {
      slot.set_conn(
          std::make_shared<connection>(self->executor_, x->where.tls ? self->tls_ : nullptr));
      ++self->connections_opened_;
    }
    ++self->requests_;
    std::shared_ptr<connection> conn = slot.conn();
    try {
      // Not a ?: inside co_await's operand: g++ 12 destroys such a temporary twice.
      asio::awaitable<void> exchange_on_conn;
      if (body) {
        exchange_on_conn = conn->start_and_read_all(x.get(), body);
      } else {
        exchange_on_conn = conn->start(x.get());
      }
      co_await run_on(conn->strand(), std::move(exchange_on_conn));
      co_return slot;
    } catch (const keyless::error& e) {
      bool retry = reused && attempt == 0 && conn->failed_before_response() &&
                   (x->idempotent || conn->bytes_written() == 0);
      if (!retry) throw;
      keyless::detail::log(log_level::verbose, "{}: pooled connection was stale ({}); retrying",
                           x->what(), message_of(e));
    }
    ++self->retries_;
  }
}

// HTTP/2 for this request, or at least a try: the client speaks it, and the route allows it.
// Plain http through a proxy is the proxy's HTTP/1.1 request; plain http to the origin is
// HTTP/2 by prior knowledge only when the client was told to speak nothing else.
bool uses_h2(const client_impl& c, const exchange& x) {
  if (!c.h2_) return false;
  return x.where.tls || (!x.where.proxy && c.options_.version == http_version::http2);
}

// Runs `op` (made for a connection) on the origin's HTTP/2 connection. A request the server
// did not process (REFUSED_STREAM, a GOAWAY, a connection that died before the stream was
// opened) goes to a new connection, a few times at most. Throws h2_declined when the origin
// chose HTTP/1.1 (http_version::automatic), now or before.
template <typename Op>
auto on_h2_connection(std::shared_ptr<client_impl> self, const exchange& x, Op op)
    -> decltype(op(std::shared_ptr<h2_connection>())) {
  constexpr int max_attempts = 3;
  for (int attempt = 1;; ++attempt) {
    bool opened = false;
    std::shared_ptr<h2_connection> conn = self->h2_->acquire(x.where.pool_key, opened);
    if (!conn) throw h2_declined{};
    ++(opened ? self->connections_opened_ : self->reused_);
    ++self->requests_;
    try {
      if constexpr (std::is_void_v<typename decltype(op(conn))::value_type>) {
        co_await op(std::move(conn));
        co_return;
      } else {
        co_return co_await op(std::move(conn));
      }
    } catch (const h2_declined&) {
      self->h2_->remember_http1(x.where.pool_key);
      ++self->retries_;  // it goes again, over HTTP/1.1
      throw;
    } catch (const h2_not_processed& e) {
      if (attempt == max_attempts) {
        throw keyless::error(errc::connection_failed,
                             fmt::format("{}: the server did not process the request in {} "
                                         "tries over HTTP/2; the last time: {}",
                                         x.what(), max_attempts, e.why));
      }
    }
    ++self->retries_;
  }
}

asio::awaitable<response> send_h2(std::shared_ptr<client_impl> self,
                                  std::shared_ptr<const exchange> x) {
  co_return co_await on_h2_connection(
      self, *x, [&x](std::shared_ptr<h2_connection> conn) -> asio::awaitable<response> {
        response out;
        co_await run_on(conn->strand(), conn->start_and_read_all(x.get(), out));
        co_return out;
      });
}

asio::awaitable<response_stream> send_streaming_h2(std::shared_ptr<client_impl> self,
                                                   std::shared_ptr<stream_state> state) {
  co_await on_h2_connection(self, *state->x,
                            [&state](std::shared_ptr<h2_connection> conn) -> asio::awaitable<void> {
                              std::shared_ptr<h2_stream> stream =
                                  co_await run_on(conn->strand(), conn->start(state->x.get()));
                              state->executor = conn->strand();
                              state->head = stream->head;
                              state->h2 = h2_slot(std::move(conn), std::move(stream));
                            });
  co_return stream_state::make(std::move(state));
}

asio::awaitable<response> send(std::shared_ptr<client_impl> self, request req) {
  std::shared_ptr<const exchange> x = prepare(*self, std::move(req));
  if (uses_h2(*self, *x)) {
    try {
      co_return co_await send_h2(self, x);
    } catch (const h2_declined&) {
      // The origin speaks HTTP/1.1: on to that.
    }
  }
  response out;
  lease slot = co_await start(self, x, &out.body);
  static_cast<response_head&>(out) = slot.conn()->take_head();
  slot.finish(out);
  co_return out;
}

asio::awaitable<response_stream> send_streaming(std::shared_ptr<client_impl> self, request req) {
  auto state = std::make_shared<stream_state>();
  state->x = prepare(*self, std::move(req));
  if (uses_h2(*self, *state->x)) {
    try {
      co_return co_await send_streaming_h2(self, state);
    } catch (const h2_declined&) {
      // The origin speaks HTTP/1.1: on to that.
    }
  }
  state->slot = co_await start(self, state->x);
  state->executor = state->slot.conn()->strand();
  state->head = state->slot.conn()->head();
  co_return stream_state::make(std::move(state));
}

asio::awaitable<std::optional<std::string_view>> read_h2_piece(std::shared_ptr<stream_state> s) {
  const std::shared_ptr<h2_connection>& conn = s->h2.conn();
  std::optional<std::string_view> piece;
  try {
    piece = co_await run_on(conn->strand(), conn->read_body(s->h2.stream()));
  } catch (...) {
    s->done = true;
    s->h2.release();  // read_body has abandoned the stream
    throw;
  }
  if (!piece) {
    s->done = true;
    s->h2.release();
  }
  co_return piece;
}

asio::awaitable<std::optional<std::string_view>> read_piece(std::shared_ptr<stream_state> s) {
  if (!s || s->done) co_return std::nullopt;
  if (s->h2) co_return co_await read_h2_piece(std::move(s));
  std::shared_ptr<connection> conn = s->slot.conn();
  std::optional<std::string_view> piece;
  try {
    piece = co_await run_on(conn->strand(), conn->read_body(s->x.get()));
  } catch (...) {
    s->done = true;
    s->slot.close();
    throw;
  }
  if (!piece) {
    s->done = true;
    s->slot.finish(s->head);
  }
  co_return piece;
}

asio::awaitable<std::optional<std::string>> read_piece_copy(std::shared_ptr<stream_state> s) {
  auto piece = co_await read_piece(std::move(s));
  if (!piece) co_return std::nullopt;
  co_return std::string(*piece);
}

asio::awaitable<std::string> read_rest(std::shared_ptr<stream_state> s) {
  std::string body;
  while (auto piece = co_await read_piece(s)) body.append(*piece);
  co_return body;
}

}  // namespace

client_impl::client_impl(asio::any_io_executor executor, client_options options)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : keyless::clock::system()),
      tls_(make_client_tls_context(options_.tls)),
      proxy_(options_.proxy ? *options_.proxy : proxy_settings::from_environment()),
      pool_(std::make_shared<connection_pool>(executor_, options_.pool, clock_)) {
  if (options_.version != http_version::http1_1) {
    h2_settings settings;
    settings.session.max_header_list_size = static_cast<std::uint32_t>(std::min<std::size_t>(
        options_.max_header_bytes, std::numeric_limits<std::uint32_t>::max()));
    settings.offer_http1 = options_.version == http_version::automatic;
    settings.clock = clock_;
    h2_ =
        std::make_unique<h2_pool>(executor_, tls_, std::move(settings), options_.pool.idle_expiry);
  }
}

void h2_slot::release() noexcept {
  conn_.reset();
  stream_.reset();
}

void h2_slot::close() noexcept {
  if (!conn_) return;
  strand_type strand = conn_->strand();  // before the lambda takes conn_
  asio::dispatch(strand,
                 [conn = std::move(conn_), stream = std::move(stream_)] { conn->cancel(*stream); });
}

void client_impl::shutdown() {
  pool_->shutdown();
  if (h2_) h2_->shutdown();
}

void lease::finish(const response_head& head) {
  if (!pool_) return;
  std::optional<keyless::clock::time_point> keep_until;
  if (conn_ && conn_->reusable()) {
    milliseconds keep = pool_->options().idle_expiry;
    if (auto server = keep_alive_timeout(head)) {
      keep = std::min(keep, *server - std::min(keep_alive_margin, *server / 2));
    }
    if (keep > 0ms) {
      keep_until =
          pool_->clock().now() + std::chrono::duration_cast<keyless::clock::duration>(keep);
    }
  }
  pool_->release(x_->where.pool_key, std::move(conn_), keep_until);
  pool_.reset();
  x_.reset();
}

void lease::close() noexcept {
  if (!pool_) return;
  pool_->release(x_->where.pool_key, std::move(conn_), std::nullopt);
  pool_.reset();
  x_.reset();
}

}  // namespace detail

// --- client ---

client::client(asio::any_io_executor executor, client_options options)
    : impl_(std::make_shared<detail::client_impl>(std::move(executor), std::move(options))) {}

client::client(client&&) noexcept = default;

client& client::operator=(client&& other) noexcept {
  if (this != &other) {
    if (impl_) impl_->shutdown();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

client::~client() {
  if (impl_) impl_->shutdown();
}

asio::any_io_executor client::get_executor() const noexcept {
  return impl_->pool_->strand();
}

asio::awaitable<response> client::send(request req) const {
  return detail::send(impl_, std::move(req));
}

asio::awaitable<response_stream> client::send_streaming(request req) const {
  return detail::send_streaming(impl_, std::move(req));
}

client_stats client::stats() const noexcept {
  client_stats s;
  s.requests = impl_->requests_.load(std::memory_order_relaxed);
  s.connections_opened = impl_->connections_opened_.load(std::memory_order_relaxed);
  s.reused_connections = impl_->reused_.load(std::memory_order_relaxed);
  s.retries = impl_->retries_.load(std::memory_order_relaxed);
  return s;
}

// --- response_stream ---

namespace {
const response_head empty_head{};
}  // namespace

response_stream::response_stream() noexcept = default;
response_stream::response_stream(std::shared_ptr<detail::stream_state> state) noexcept
    : state_(std::move(state)) {}
response_stream::response_stream(response_stream&&) noexcept = default;
response_stream& response_stream::operator=(response_stream&&) noexcept = default;
response_stream::~response_stream() = default;

const response_head& response_stream::head() const noexcept {
  return state_ ? state_->head : empty_head;
}

bool response_stream::done() const noexcept {
  return !state_ || state_->done;
}

asio::awaitable<std::optional<std::string_view>> response_stream::read_some() {
  return detail::read_piece(state_);
}

asio::awaitable<std::string> response_stream::read_all() {
  return detail::read_rest(state_);
}

asio::awaitable<std::optional<std::string>> response_stream::read_some_copy() {
  return detail::read_piece_copy(state_);
}

void response_stream::close() noexcept {
  if (state_ && !state_->done) {
    state_->done = true;
    state_->slot.close();
    state_->h2.close();
  }
}

asio::any_io_executor response_stream::get_executor() const {
  if (state_) return state_->executor;
  return asio::system_executor();
}

}  // namespace keyless::http
