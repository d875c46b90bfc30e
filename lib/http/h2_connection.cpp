#include "h2_connection.hpp"

#include <algorithm>
#include <utility>

#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/error.hpp>
#include <asio/ssl/error.hpp>
#include <asio/use_awaitable.hpp>

#include <fmt/core.h>

#include "error_text.hpp"
#include "keyless/detail/asio_compat.hpp"

namespace keyless::http::detail {
namespace {

// Streams opened before the server's SETTINGS say how many it allows: RFC 9113 asks servers
// to allow at least 100, and a stream over its limit is refused and sent again.
constexpr std::size_t streams_before_settings = 100;

}  // namespace

h2_connection::h2_connection(asio::any_io_executor executor,
                             std::shared_ptr<asio::ssl::context> tls, const h2_settings& settings)
    : link_(std::make_shared<connection>(std::move(executor), std::move(tls))),
      session_(settings.session),
      offer_http1_(settings.offer_http1),
      clock_(settings.clock ? settings.clock : keyless::clock::system()),
      opened_(link_->strand()),
      slot_freed_(link_->strand()) {
  // Both are only ever cancelled, to wake everyone waiting on them.
  opened_.expires_at(steady_clock::time_point::max());
  slot_freed_.expires_at(steady_clock::time_point::max());
}

h2_connection::~h2_connection() {
  link_->close();
}

// --- Opening.

asio::awaitable<void> h2_connection::ensure_open(const exchange* x) {
  for (;;) {
    switch (state_) {
      case state::open:
        co_return;
      case state::fresh:
        co_await open(x);
        co_return;
      case state::dead:
        if (open_failure_) std::rethrow_exception(open_failure_);
        throw h2_not_processed{why_not_accepting()};
      case state::opening: {
        co_await opened_.async_wait(net::use_tuple);
        // Still opening: the wait ended because this request was cancelled.
        if (state_ == state::opening) throw asio::system_error(asio::error::operation_aborted);
        break;
      }
    }
  }
}

asio::awaitable<void> h2_connection::open(const exchange* x) {
  state_ = state::opening;
  try {
    co_await link_->open(x, offer_http1_ ? alpn_offer::h2_or_http1 : alpn_offer::h2);
    if (x->where.tls && link_->negotiated_protocol() != "h2") {
      if (offer_http1_) throw h2_declined{};
      throw keyless::error(errc::connection_failed,
                           fmt::format("{}: {} does not speak HTTP/2 (the TLS handshake agreed "
                                       "on no ALPN protocol)",
                                       x->what(), x->where.origin()));
    }
    session_.start(out_);
  } catch (const asio::system_error&) {
    // Cancelled: the requests waiting for this connection try another one.
    abandon_opening("the request opening the connection was cancelled");
    throw;
  } catch (...) {
    // A failure, or HTTP/1.1 chosen, is every waiting request's too.
    open_failure_ = std::current_exception();
    abandon_opening("opening the connection failed");
    throw;
  }
  state_ = state::open;
  opened_.cancel();
  flush();
}

void h2_connection::abandon_opening(std::string_view why) {
  state_ = state::dead;
  stop_accepting(why);
  link_->close();
  opened_.cancel();
}

asio::awaitable<void> h2_connection::wait_for_stream_slot() {
  const std::uint64_t seen = slots_freed_count_;
  ++slot_waiters_;
  co_await slot_freed_.async_wait(net::use_tuple);
  --slot_waiters_;
  if (slots_freed_count_ == seen && state_ == state::open) {
    throw asio::system_error(asio::error::operation_aborted);  // cancelled, not woken
  }
}

// --- Requests.

asio::awaitable<std::shared_ptr<h2_stream>> h2_connection::start(const exchange* x, bool collect) {
  co_await ensure_open(x);
  for (;;) {
    h2::open_status status = session_.can_open();
    if (status == h2::open_status::ready &&
        (heard_from_server_ || session_.active_streams() < streams_before_settings)) {
      break;
    }
    if (status == h2::open_status::unusable) throw h2_not_processed{why_not_accepting()};
    co_await wait_for_stream_slot();
  }

  auto s = std::make_shared<h2_stream>(strand());
  s->x = x;
  s->collect = collect;
  const request& message = x->message;
  const std::string authority = message.target.host_header();
  h2::request_head head;
  head.method = message.method;
  head.scheme = x->where.tls ? "https" : "http";
  head.authority = authority;
  head.path = message.target.target;
  head.fields = &message.headers;
  h2::field_view credential[1];
  if (message.credential) {
    credential[0] = {message.credential->name, message.credential->value};
    head.more_fields = credential;
    head.more_fields_checked = message.credential->checked();
  }
  std::optional<std::uint32_t> id;
  try {
    id = session_.open_stream(head, message.body, out_);
  } catch (const keyless::error& e) {
    throw with_context(e, x->what());
  }
  if (!id) throw h2_not_processed{why_not_accepting()};
  s->id = *id;
  streams_.emplace(s->id, s.get());
  idle_since_.store(0, std::memory_order_relaxed);
  flush();
  ensure_reading();

  try {
    while (!s->head_done) {
      if (s->failed) throw_failure(*s);
      co_await await_event(*s, awaiting::head);
    }
  } catch (...) {
    cancel(*s);
    throw;
  }
  co_return s;
}

asio::awaitable<std::optional<std::string_view>> h2_connection::read_body(
    std::shared_ptr<h2_stream> stream) {
  h2_stream& s = *stream;
  // The previous piece is used up: its bytes may flow again.
  if (!s.handed_out.empty()) {
    session_.consume(s.id, s.handed_out.size(), out_);
    s.handed_out.clear();
    flush();
  }
  try {
    for (;;) {
      if (!s.arrived.empty()) {
        s.handed_out.swap(s.arrived);
        co_return std::string_view(s.handed_out);
      }
      if (s.failed) throw_failure(s);
      if (s.ended) co_return std::nullopt;
      co_await await_event(s, awaiting::body);
    }
  } catch (...) {
    cancel(s);
    throw;
  }
}

asio::awaitable<void> h2_connection::start_and_read_all(const exchange* x, response& out) {
  std::shared_ptr<h2_stream> s = co_await start(x, true);
  try {
    while (!s->ended) {
      if (s->failed) throw_failure(*s);
      co_await await_event(*s, awaiting::body);
    }
  } catch (...) {
    cancel(*s);
    throw;
  }
  static_cast<response_head&>(out) = std::move(s->head);
  out.body = std::move(s->arrived);
}

asio::awaitable<void> h2_connection::await_event(h2_stream& s, awaiting what) {
  if (!s.notified) {
    const exchange& x = *s.x;
    steady_clock::time_point at = x.deadline;
    if (what == awaiting::body) at = std::min(steady_clock::now() + x.idle_timeout, at);
    s.wake.expires_at(at);
    auto [ec] = co_await s.wake.async_wait(net::use_tuple);
    if (!s.notified) {
      if (ec == asio::error::operation_aborted) throw asio::system_error(ec);  // cancelled
      const bool request_timeout = at == x.deadline;
      throw keyless::error(
          errc::timeout, fmt::format("{}: {} ({} ms) expired while {}", x.what(),
                                     request_timeout ? "request timeout" : "idle timeout",
                                     (request_timeout ? x.request_timeout : x.idle_timeout).count(),
                                     what == awaiting::head ? "waiting for the response"
                                                            : "reading the response body"));
    }
  }
  s.notified = false;
}

void h2_connection::throw_failure(const h2_stream& s) const {
  if (s.retryable) throw h2_not_processed{s.failure_message};
  throw keyless::error(s.failure_code, fmt::format("{}: {}", s.x->what(), s.failure_message));
}

std::string h2_connection::why_not_accepting() const {
  if (const h2::connection_error* e = session_.failure()) return e->what();
  if (!not_accepting_why_.empty()) return not_accepting_why_;
  return "HTTP/2: the connection has used up its stream ids";
}

void h2_connection::stop_accepting(std::string_view why) {
  accepting_ = false;
  if (not_accepting_why_.empty()) not_accepting_why_ = fmt::format("HTTP/2: {}", why);
}

std::optional<keyless::clock::time_point> h2_connection::idle_since() const noexcept {
  const auto since = idle_since_.load(std::memory_order_relaxed);
  if (since == 0) return std::nullopt;
  return keyless::clock::time_point(keyless::clock::duration(since));
}

void h2_connection::notify(h2_stream& s) noexcept {
  s.notified = true;
  s.wake.cancel();
}

void h2_connection::forget(h2_stream& s) noexcept {
  streams_.erase(s.id);
  if (streams_.empty()) {
    idle_since_.store(clock_->now().time_since_epoch().count(), std::memory_order_relaxed);
  }
  wake_slot_waiters();
}

void h2_connection::wake_slot_waiters() noexcept {
  ++slots_freed_count_;
  if (slot_waiters_ > 0) slot_freed_.cancel();
}

void h2_connection::cancel(h2_stream& s) noexcept {
  if (s.id == 0) return;
  if (streams_.count(s.id) != 0) forget(s);
  // Also for a stream that ended: what the reader never consumed goes back to the connection.
  session_.cancel(s.id, out_);
  s.id = 0;
  // The read loop stops once no stream is open, but only when its read returns: a PING's
  // answer makes it return, so an idle client leaves no pending work.
  if (reader_running_ && session_.active_streams() == 0) session_.ping(out_);
  flush();
}

// --- I/O.

void h2_connection::flush() {
  if (writer_running_ || out_.empty() || state_ != state::open) return;
  writer_running_ = true;
  asio::co_spawn(strand(), write_loop(shared_from_this()), asio::detached);
}

void h2_connection::ensure_reading() {
  if (reader_running_ || state_ != state::open) return;
  reader_running_ = true;
  asio::co_spawn(strand(), read_loop(shared_from_this()), asio::detached);
}

asio::awaitable<void> h2_connection::write_loop(std::shared_ptr<h2_connection> self) {
  // Frames appended while a write is under way go out with the next one, in order.
  while (!self->out_.empty() && self->state_ == state::open) {
    self->writing_.swap(self->out_);
    std::error_code ec = co_await self->link_->write_raw(asio::buffer(self->writing_));
    self->writing_.clear();
    if (ec) {
      self->lose(describe_connection_loss(ec));
      break;
    }
  }
  self->writer_running_ = false;
  if (self->session_.closed() && self->state_ == state::open) self->close();
}

asio::awaitable<void> h2_connection::read_loop(std::shared_ptr<h2_connection> self) {
  if (self->read_buffer_.empty()) self->read_buffer_.resize(read_buffer_size);
  // Reading stops once no stream is open: a pending read on an idle connection would keep
  // io_context::run() from returning. The next request starts it again.
  while (self->state_ == state::open &&
         (self->session_.active_streams() > 0 || !self->session_.settings_acknowledged())) {
    auto [ec, n] = co_await self->link_->read_raw(asio::buffer(self->read_buffer_));
    if (self->state_ != state::open) break;
    if (n > 0) {
      std::string_view bytes(self->read_buffer_.data(), n);
      if (!self->heard_from_server_ && bytes.starts_with("HTTP/1.")) {
        self->lose("the server answered in HTTP/1.1: it does not speak HTTP/2 on this port");
        break;
      }
      if (!self->heard_from_server_) {
        self->heard_from_server_ = true;
        self->wake_slot_waiters();  // the server's SETTINGS came first: its limit is known
      }
      self->session_.receive(bytes, self->out_, *self);
      if (self->session_.closed()) self->stop_accepting("the connection is closing");
      self->flush();
      if (self->session_.closed()) {
        if (!self->writer_running_) self->close();
        break;
      }
    }
    if (ec) {
      self->lose(describe_connection_loss(ec));
      break;
    }
  }
  self->reader_running_ = false;
}

void h2_connection::lose(std::string_view why) noexcept {
  if (state_ == state::dead) return;
  state_ = state::dead;
  try {
    stop_accepting(fmt::format("the connection ended ({})", why));
    session_.connection_lost(why, *this);  // fails the streams still open
  } catch (...) {
    // Only an allocation can throw there; the streams then fail when their owners give up.
    accepting_ = false;
  }
  link_->close();
}

void h2_connection::close() noexcept {
  lose("the client closed it");
}

// --- What the session reports.

void h2_connection::on_response_head(std::uint32_t stream_id, int status,
                                     std::span<const h2::field_view> fields) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  h2_stream& s = *it->second;
  s.head.status = status;
  s.head.version_major = 2;
  s.head.version_minor = 0;
  s.head.headers.reserve(fields.size());
  for (const h2::field_view& f : fields) {
    s.head.headers.add(std::string(f.name), std::string(f.value));
  }
  s.head_done = true;
  notify(s);
}

void h2_connection::on_data(std::uint32_t stream_id, std::string_view data) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  h2_stream& s = *it->second;
  if (s.failed) return;  // over the limit already; cancel() releases the bytes
  s.body_size += data.size();
  if (s.body_size > s.x->limits.max_body_bytes) {
    s.failed = true;
    s.failure_code = errc::limit_exceeded;
    s.failure_message =
        fmt::format("response body exceeds the limit of {} bytes", s.x->limits.max_body_bytes);
    notify(s);
    return;
  }
  s.arrived.append(data);
  // A whole body is read at the connection's pace; a stream at its reader's.
  if (s.collect) session_.consume(stream_id, data.size(), out_);
  notify(s);
}

void h2_connection::on_end(std::uint32_t stream_id, std::span<const h2::field_view>) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  h2_stream& s = *it->second;
  s.ended = true;
  forget(s);
  notify(s);
}

void h2_connection::on_failed(std::uint32_t stream_id, const h2::stream_failure& failure) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  h2_stream& s = *it->second;
  s.failed = true;
  s.failure_code = failure.error;
  s.failure_message = std::string(failure.message);
  s.retryable = failure.retryable && !s.head_done;
  forget(s);
  s.id = 0;  // the session has forgotten it too
  notify(s);
}

void h2_connection::on_goaway(std::uint32_t last_stream_id, h2::error_code code, std::string_view) {
  stop_accepting(fmt::format("the server sent GOAWAY ({}) with last stream id {}",
                             h2::to_string(code), last_stream_id));
}

}  // namespace keyless::http::detail
