// loopback_server's HTTP/2 path: one read loop per connection feeding a server_session, one
// handler coroutine per stream, and one ordered write buffer that a writer coroutine drains.

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include "http/h2/server_session.hpp"
#include "loopback_server_impl.hpp"

namespace keyless::testing {
namespace {

namespace h2 = http::h2;

class h2_responder;

h2::server_session_options session_options_for(const server_options& o) {
  h2::server_session_options s;
  s.max_concurrent_streams = o.http2_max_concurrent_streams;
  s.max_header_list_size =
      static_cast<std::uint32_t>(std::min<std::size_t>(o.limits.max_head_bytes, 0xffff'ffff));
  s.max_body_size = o.limits.max_body_bytes;
  return s;
}

/// One HTTP/2 connection: the session, its output, and the streams whose handlers run.
/// Touched only on the server's executor.
class h2_link final : public h2::server_events, public std::enable_shared_from_this<h2_link> {
 public:
  h2_link(std::shared_ptr<loopback_server::impl> server,
          std::shared_ptr<server_connection> connection)
      : server(std::move(server)),
        connection(std::move(connection)),
        session(session_options_for(this->server->options)) {}

  asio::awaitable<void> run();

  /// Starts the writer unless it is running: it takes whatever `out` holds when it gets to
  /// run, so responses of many streams go out in one write.
  void flush();
  /// Drops the connection once what is queued is written, so a fault mid-body still sends what
  /// came before it (as HTTP/1.1's close() after awaited writes does).
  void close_once_flushed();
  /// close_once_flushed() was called, or the connection is gone.
  bool closing() const noexcept { return close_when_flushed_ || connection->closed; }
  /// After a stream's handler is done: whether the connection now counts as idle.
  void update_idle() { connection->idle = session.active_streams() == 0; }

  void on_request(std::uint32_t stream_id, h2::incoming_request& request) override;
  void on_cancelled(std::uint32_t stream_id, h2::error_code code) override;

  std::shared_ptr<loopback_server::impl> server;
  std::shared_ptr<server_connection> connection;
  h2::server_session session;
  std::string out;                                           // pending output, in order
  std::vector<h2::field_view> fields;                        // a response head; reused
  std::unordered_map<std::uint32_t, h2_responder*> streams;  // handlers running

 private:
  asio::awaitable<void> write_loop();
  void cancel_all();

  std::string sending_;  // the bytes being written; swapped with `out`
  bool writing_ = false;
  bool close_when_flushed_ = false;
};

class h2_responder final : public responder {
 public:
  h2_responder(std::shared_ptr<h2_link> link, std::uint32_t stream_id, bool head_request)
      : link_(std::move(link)),
        id_(stream_id),
        head_request_(head_request),
        close_after_(!link_->server->options.keep_alive) {
    link_->streams.emplace(id_, this);
  }
  ~h2_responder() override { link_->streams.erase(id_); }
  h2_responder(const h2_responder&) = delete;
  h2_responder& operator=(const h2_responder&) = delete;

  asio::awaitable<void> respond(int status, std::string body, header_map headers,
                                std::string content_type) override {
    // 1xx, 204 and 304 never carry a body (RFC 9110 §6.4.1).
    const bool bodiless = status == 204 || status == 304 || (status >= 100 && status < 200);
    if (!content_type.empty() && !bodiless && !headers.contains("content-type"))
      headers.add("content-type", std::move(content_type));
    if (!bodiless && !headers.contains("content-length"))
      headers.add("content-length", std::to_string(body.size()));
    const bool interim = status < 200;
    const bool end_with_head = !interim && (bodiless || head_request_ || body.empty());
    send_head(status, headers, end_with_head);
    if (!interim && !end_with_head) send_data(body, true);
    ended_ = !interim;
    link_->flush();
    co_return;
  }

  asio::awaitable<void> start_chunked(int status, header_map headers,
                                      std::string content_type) override {
    if (!content_type.empty() && !headers.contains("content-type"))
      headers.add("content-type", std::move(content_type));
    send_head(status, headers, false);
    chunk_open_ = true;
    link_->flush();
    co_return;
  }

  asio::awaitable<void> write_chunk(std::string data) override {
    if (!chunk_open_) throw std::logic_error("responder::write_chunk before start_chunked");
    if (data.empty()) co_return;
    send_data(data, false);
    link_->flush();
  }

  asio::awaitable<void> finish_chunked() override {
    if (!chunk_open_) throw std::logic_error("responder::finish_chunked before start_chunked");
    chunk_open_ = false;
    send_data({}, true);
    ended_ = true;
    link_->flush();
    co_return;
  }

  asio::awaitable<void> write_raw(std::string bytes) override {
    ensure_usable();
    responded_ = true;
    link_->out += bytes;
    link_->flush();
    co_return;
  }

  asio::awaitable<void> delay(std::chrono::milliseconds duration) override {
    ensure_usable();
    asio::steady_timer& timer = make_timer();
    timer.expires_after(duration);
    auto [ec] = co_await timer.async_wait(use_tuple);
    if (ec || cancelled_ || link_->closing()) abort_stream();
  }

  asio::awaitable<void> stall() override {
    ensure_usable();
    // Ends when the client resets the stream or leaves, or the server stops.
    asio::steady_timer& timer = make_timer();
    timer.expires_at(asio::steady_timer::time_point::max());
    co_await timer.async_wait(use_tuple);
    abort_stream();
  }

  void close() override { link_->close_once_flushed(); }

  void close_after_response() override { close_after_ = true; }

  bool responded() const noexcept override { return responded_; }

  /// The client reset the stream, or the connection is going away.
  void cancel() {
    cancelled_ = true;
    if (timer_) timer_->cancel();
  }

  std::uint32_t id() const noexcept { return id_; }
  bool failed() const noexcept { return failed_; }
  bool ended() const noexcept { return ended_; }
  bool chunk_open() const noexcept { return chunk_open_; }
  bool close_after() const noexcept { return close_after_; }

 private:
  void send_head(int status, const header_map& headers, bool end_stream) {
    ensure_usable();
    if (has_close_token(headers)) close_after_ = true;
    auto& fields = link_->fields;
    fields.clear();
    for (const auto& [name, value] : headers) fields.push_back({name, value});
    responded_ = true;
    if (!link_->session.respond_head(id_, status, fields, end_stream, link_->out)) stream_gone();
  }

  void send_data(std::string_view data, bool end_stream) {
    ensure_usable();
    if (!link_->session.send_data(id_, data, end_stream, link_->out)) stream_gone();
  }

  void ensure_usable() {
    if (cancelled_ || link_->closing() || link_->server->stopped) stream_gone();
  }

  // Made on first use: most handlers never wait, and a timer costs a service lookup.
  asio::steady_timer& make_timer() {
    if (!timer_) timer_.emplace(link_->server->executor);
    return *timer_;
  }

  [[noreturn]] void stream_gone() {
    failed_ = true;
    throw_code(make_error_code(asio::error::connection_reset));
  }

  [[noreturn]] void abort_stream() {
    failed_ = true;
    throw_code(make_error_code(asio::error::operation_aborted));
  }

  std::shared_ptr<h2_link> link_;
  std::uint32_t id_;
  bool head_request_;
  bool close_after_;
  std::optional<asio::steady_timer> timer_;  // delay() and stall()
  bool responded_ = false;
  bool ended_ = false;  // the response is complete (END_STREAM sent or queued)
  bool chunk_open_ = false;
  bool cancelled_ = false;
  bool failed_ = false;  // an operation threw because the stream or connection is gone
};

// One stream's handler, from the complete request to the end of its response.
asio::awaitable<void> run_stream(std::shared_ptr<h2_link> link, std::uint32_t stream_id,
                                 recorded_request request, handler h) {
  h2_responder r(link, stream_id, request.method == "HEAD");
  std::string label = request.method + " " + std::string(request.path());
  std::exception_ptr failure;
  try {
    co_await h(std::move(request), r);
  } catch (...) {
    failure = std::current_exception();
  }
  auto& server = *link->server;
  if (link->closing() || server.stopped || r.failed()) co_return;
  try {
    if (failure) {
      server.note_handler_failure(label, failure);
      link->session.reset(stream_id, h2::error_code::internal_error, link->out);
    } else if (r.chunk_open() || (r.responded() && !r.ended())) {
      // The body was never finished (or only raw bytes went out): the client sees the
      // stream cut off.
      link->session.reset(stream_id, h2::error_code::internal_error, link->out);
    } else if (!r.responded()) {
      r.close_after_response();
      responder& base = r;
      co_await base.respond(500, "handler sent no response\n");
    }
    if (r.close_after()) link->session.goaway(h2::error_code::no_error, {}, link->out);
  } catch (...) {
    // The stream went away while we answered for the handler.
  }
  link->update_idle();
  link->flush();
}

void h2_link::on_request(std::uint32_t stream_id, h2::incoming_request& in) {
  recorded_request request;
  request.method.assign(in.method);
  request.target.assign(in.method == "CONNECT" ? in.authority : in.path);
  request.version = "HTTP/2";
  // The Host an HTTP/1.1 request would carry, so handlers and tests need not care.
  const bool has_authority = !in.authority.empty();
  if (has_authority) request.headers.add("host", std::string(in.authority));
  for (const h2::field_view& f : in.fields) {
    if (has_authority && f.name == "host") continue;
    request.headers.add(std::string(f.name), std::string(f.value));
  }
  request.body = std::move(in.body);
  request.connection = connection->index;
  request.tls_server_name = connection->server_name;
  request.tls_protocol = connection->protocol;
  server->admit(request);
  handler h = server->find_handler(request);
  asio::co_spawn(server->executor,
                 run_stream(shared_from_this(), stream_id, std::move(request), std::move(h)),
                 asio::detached);
}

void h2_link::on_cancelled(std::uint32_t stream_id, h2::error_code) {
  auto it = streams.find(stream_id);
  if (it != streams.end()) it->second->cancel();
}

void h2_link::cancel_all() {
  for (auto& [id, r] : streams) r->cancel();
}

void h2_link::close_once_flushed() {
  close_when_flushed_ = true;
  if (writing_) return;  // the writer closes when it is done
  if (out.empty()) {
    connection->close();
  } else {
    flush();
  }
}

void h2_link::flush() {
  if (writing_ || out.empty() || connection->closed) return;
  writing_ = true;
  asio::co_spawn(
      server->executor, [self = shared_from_this()] { return self->write_loop(); }, asio::detached);
}

asio::awaitable<void> h2_link::write_loop() {
  // Swap and write: whatever the session and the handlers append meanwhile waits in `out`
  // for the next round, in order.
  while (!out.empty() && !connection->closed) {
    sending_.clear();
    sending_.swap(out);
    auto [ec, n] = co_await connection->write(asio::buffer(sending_));
    if (ec) {
      connection->close();
      break;
    }
  }
  writing_ = false;
  if (close_when_flushed_) {
    connection->close();
    co_return;
  }
  if (session.closed() && !connection->closed) {
    // GOAWAY (ours or the client's) and nothing left to answer: half-close, so the client
    // sees the end; the read loop ends when it closes its side.
    std::error_code ignored;
    connection->lowest().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  }
}

asio::awaitable<void> h2_link::run() {
  std::weak_ptr<h2_link> weak = weak_from_this();
  connection->on_close = [weak] {
    if (auto self = weak.lock()) self->cancel_all();
  };
  session.start(out);
  if (!connection->pending.empty()) {
    session.receive(connection->pending, out, *this);
    connection->pending.clear();
  }
  flush();
  std::array<char, 32 * 1024> buffer;
  while (!connection->closed) {
    update_idle();
    auto [ec, n] = co_await connection->read_some(asio::buffer(buffer));
    connection->idle = false;
    if (ec) break;
    session.receive(std::string_view(buffer.data(), n), out, *this);
    flush();
  }
  session.connection_lost("the connection closed", *this);
  cancel_all();
}

}  // namespace

asio::awaitable<void> serve_h2(std::shared_ptr<loopback_server::impl> server,
                               std::shared_ptr<server_connection> connection) {
  auto link = std::make_shared<h2_link>(std::move(server), std::move(connection));
  co_await link->run();
}

}  // namespace keyless::testing
