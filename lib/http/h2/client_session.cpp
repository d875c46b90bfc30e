#include "http/h2/client_session.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include <fmt/core.h>

namespace keyless::http::h2 {
namespace {

// Responses that have no body, whatever content-length says (RFC 9110 6.4.1).
bool has_no_body(int status, bool head_request) noexcept {
  return head_request || status == 204 || status == 304;
}

}  // namespace

void session_events::on_goaway(std::uint32_t, error_code, std::string_view) {}

client_session::client_session(session_options options)
    : options_(checked_window_options(options)), connection_(options_, peer_role::server) {}

void client_session::start(std::string& out) {
  if (started_) throw_invalid_argument("start() called twice");
  started_ = true;
  out.append(client_preface);
  const std::array settings{
      make_setting(setting_id::enable_push, 0),
      make_setting(setting_id::initial_window_size, options_.stream_window),
      make_setting(setting_id::max_header_list_size, options_.max_header_list_size),
      make_setting(setting_id::header_table_size, options_.header_table_size),
  };
  connection_.send_settings(settings, out);
}

open_status client_session::can_open() const noexcept {
  if (!started_ || failure_ || lost_ || goaway_received_ || next_stream_id_ > max_stream_id) {
    return open_status::unusable;
  }
  if (streams_.active_count() >= connection_.peer.max_concurrent_streams) {
    return open_status::at_stream_limit;
  }
  return open_status::ready;
}

bool client_session::closed() const noexcept {
  if (failure_ || lost_) return true;
  const bool no_new_streams = goaway_received_ || next_stream_id_ > max_stream_id;
  return no_new_streams && streams_.active_count() == 0;
}

std::optional<std::uint32_t> client_session::open_stream(const request_head& head,
                                                         std::string_view body, std::string& out) {
  if (!started_) throw_invalid_argument("open_stream() before start()");
  if (can_open() != open_status::ready) return std::nullopt;
  block_.clear();
  request_encoder_.encode(head, body.size(), connection_.peer.max_header_list_size,
                          connection_.header_encoder, block_);
  const std::uint32_t id = next_stream_id_;
  next_stream_id_ += 2;
  write_headers(out, id, block_, body.empty(), connection_.peer.max_frame_size);
  client_stream& s = streams_.add(id, connection_.peer.initial_window_size, options_.stream_window);
  s.head_request = head.method == "HEAD";
  s.sending = !body.empty();
  const std::size_t sent = send_data(s, body, out);
  if (s.sending) s.body.assign(body.substr(sent));  // held back until the windows open
  return id;
}

void client_session::receive(std::string_view bytes, std::string& out, session_events& events) {
  if (!started_) throw_invalid_argument("receive() before start()");
  if (failure_ || lost_) return;
  try {
    connection_.read_frames(
        bytes, [&](const read_result& r) { on_frame(r, out, events); },
        [&](const read_result& r) { on_stream_error_event(r, out, events); });
  } catch (const connection_error& e) {
    fail_connection(e, out, events);
    return;
  }
  connection_.announce_window(out);
}

void client_session::consume(std::uint32_t stream_id, std::size_t n, std::string& out) {
  if (failure_ || lost_) return;
  client_stream* s = streams_.find(stream_id);
  if (s == nullptr) return;
  if (n > s->unconsumed) {
    throw_invalid_argument(
        fmt::format("consume({}, {}) with only {} bytes delivered and not consumed", stream_id, n,
                    s->unconsumed));
  }
  const auto bytes = static_cast<std::uint32_t>(n);
  s->unconsumed -= bytes;
  if (s->receiving) s->receive.release(bytes);
  connection_.receive.release(bytes);
  connection_.announce_windows(s, out);
  if (s->done()) streams_.erase(stream_id);
}

void client_session::cancel(std::uint32_t stream_id, std::string& out) {
  if (failure_ || lost_) return;
  client_stream* s = streams_.find(stream_id);
  if (s == nullptr) return;
  if (s->active()) {
    connection_.send_reset(stream_id, error_code::cancel, out);
  }
  forget(*s);
  connection_.announce_window(out);
}

void client_session::ping(std::string& out) {
  if (!started_) throw_invalid_argument("ping() before start()");
  if (closed()) return;
  write_ping(out, 0);
}

void client_session::connection_lost(std::string_view why, session_events& events) {
  if (failure_ || lost_) return;
  lost_ = true;
  const std::string message =
      fmt::format("HTTP/2: the connection was lost ({}) before the response ended", why);
  fail_streams_above(0,
                     {failure_kind::connection_lost, errc::connection_failed, error_code::no_error,
                      false, message},
                     events);
}

// --- Frames from the server.

void client_session::on_frame(const read_result& r, std::string& out, session_events& events) {
  switch (r.header.type) {
    case frame_type::data:
      on_data(r, out, events);
      break;
    case frame_type::headers:
      on_headers(r, out, events);
      break;
    case frame_type::rst_stream:
      on_rst_stream(r, events);
      break;
    case frame_type::settings:
      on_settings(r, out);
      break;
    case frame_type::push_promise:
      throw_peer_error(error_code::protocol_error,
                       fmt::format("PUSH_PROMISE frame on stream {}, but we disabled server push "
                                   "(SETTINGS_ENABLE_PUSH = 0)",
                                   r.header.stream_id));
    case frame_type::ping:
      connection_.answer_ping(r, out);
      break;
    case frame_type::goaway:
      on_goaway(r, events);
      break;
    case frame_type::window_update:
      on_window_update(r, out, events);
      break;
    default:
      break;  // PRIORITY is deprecated and ignored; CONTINUATION arrives assembled
  }
}

client_session::stream_lookup client_session::look_up(std::uint32_t id,
                                                      client_stream*& stream) noexcept {
  stream = streams_.find(id);
  if (stream != nullptr && stream->receiving) return stream_lookup::receiving;
  if (stream != nullptr && stream->sending) return stream_lookup::sending_only;
  if (stream != nullptr) return stream_lookup::closed;  // kept until its data is consumed
  if (id % 2 == 0 || id >= next_stream_id_) return stream_lookup::idle;
  std::optional<reset_by> reset = connection_.resets.find(id);
  if (!reset) return stream_lookup::closed;
  return *reset == reset_by::us ? stream_lookup::reset_by_us : stream_lookup::reset_by_peer;
}

// The stream a RST_STREAM or WINDOW_UPDATE is for, when it is open or
// half-closed; nullptr when it has closed (such frames may cross our
// END_STREAM or RST_STREAM, RFC 9113 5.1).
client_stream* client_session::find_open(const read_result& r) {
  client_stream* s = nullptr;
  const stream_lookup found = look_up(r.header.stream_id, s);
  if (found == stream_lookup::idle) {
    throw_peer_error(error_code::protocol_error,
                     fmt::format("{} frame on stream {}, which we never opened",
                                 to_string(r.header.type), r.header.stream_id));
  }
  return found == stream_lookup::receiving || found == stream_lookup::sending_only ? s : nullptr;
}

// DATA or HEADERS on a stream that is not receiving (RFC 9113 5.1).
void client_session::on_late_frame(const read_result& r, stream_lookup found, std::string& out,
                                   session_events& events) {
  const std::uint32_t id = r.header.stream_id;
  const std::string_view type = to_string(r.header.type);
  switch (found) {
    case stream_lookup::receiving:
    case stream_lookup::reset_by_us:
      return;  // frames the server sent before it saw our RST_STREAM
    case stream_lookup::idle:
      throw_peer_error(error_code::protocol_error,
                       fmt::format("{} frame on stream {}, which we never opened", type, id));
    case stream_lookup::closed:
      throw_peer_error(error_code::stream_closed,
                       fmt::format("{} frame on stream {}, which has closed", type, id));
    case stream_lookup::sending_only:
    case stream_lookup::reset_by_peer:
      reset_stream(id, error_code::stream_closed,
                   fmt::format("HTTP/2: {} frame on stream {} after the server {} it", type, id,
                               found == stream_lookup::sending_only ? "ended" : "reset"),
                   out, events);
      return;
  }
}

void client_session::on_data(const read_result& r, std::string& out, session_events& events) {
  const std::uint32_t id = r.header.stream_id;
  const std::uint32_t length = r.header.length;  // padding included: what flow control counts
  connection_.receive_data(r);
  client_stream* s = nullptr;
  const stream_lookup found = look_up(id, s);
  if (found != stream_lookup::receiving) {
    connection_.receive.release(length);  // nobody will consume it
    on_late_frame(r, found, out, events);
    return;
  }
  std::string problem;
  if (!s->receive.receive(length)) {
    problem = fmt::format(
        "HTTP/2: DATA frame of {} bytes on stream {} is over its receive window "
        "of {}",
        length, id, s->receive.available());
  } else if (!s->head_received) {
    problem = fmt::format("HTTP/2: DATA frame on stream {} before its response head", id);
  } else if (s->expected_length && s->received_length + r.payload.size() > *s->expected_length) {
    problem = fmt::format(
        "HTTP/2: stream {} received {} body bytes, more than its "
        "content-length of {}",
        id, s->received_length + r.payload.size(), *s->expected_length);
  }
  if (!problem.empty()) {
    connection_.receive.release(length);
    reset_stream(id, error_code::protocol_error, problem, out, events);
    return;
  }
  const auto data_size = static_cast<std::uint32_t>(r.payload.size());
  const std::uint32_t padding = length - data_size;
  s->received_length += data_size;
  s->unconsumed += data_size;
  if (padding > 0) {
    s->receive.release(padding);
    connection_.receive.release(padding);
    connection_.announce_windows(s, out);
  }
  if (data_size > 0) events.on_data(id, r.payload);
  if (r.header.has(flag::end_stream)) end_stream(id, {}, out, events);
}

void client_session::on_headers(const read_result& r, std::string& out, session_events& events) {
  // Decoded whatever the stream's state: the decoder's table must follow
  // every block the server's encoder wrote.
  connection_.decode_block(response_fields_, r);
  client_stream* s = nullptr;
  const stream_lookup found = look_up(r.header.stream_id, s);
  if (found != stream_lookup::receiving) {
    on_late_frame(r, found, out, events);
    return;
  }
  const bool end = r.header.has(flag::end_stream);
  if (s->head_received) {
    on_trailers(*s, end, out, events);
  } else {
    on_response_head(*s, end, out, events);
  }
}

void client_session::on_response_head(client_stream& s, bool end, std::string& out,
                                      session_events& events) {
  response_head_info info;
  std::string problem = response_fields_.check_head(info);
  if (problem.empty() && info.status < 200 && end) {
    problem = "an interim (1xx) response head ends the stream";
  }
  if (!problem.empty()) {
    reset_stream(s.id, error_code::protocol_error,
                 fmt::format("HTTP/2: malformed response on stream {}: {}", s.id, problem), out,
                 events);
    return;
  }
  if (info.status < 200) return;  // 100 Continue and the like: the final head follows
  s.head_received = true;
  s.expected_length = has_no_body(info.status, s.head_request) ? 0 : info.content_length;
  const std::uint32_t id = s.id;
  events.on_response_head(id, info.status, response_fields_.regular());
  if (end) end_stream(id, {}, out, events);
}

void client_session::on_trailers(client_stream& s, bool end, std::string& out,
                                 session_events& events) {
  std::string problem = end ? response_fields_.check_trailers()
                            : "a second header block does not end the stream (trailers must)";
  if (!problem.empty()) {
    reset_stream(s.id, error_code::protocol_error,
                 fmt::format("HTTP/2: malformed trailers on stream {}: {}", s.id, problem), out,
                 events);
    return;
  }
  end_stream(s.id, response_fields_.regular(), out, events);
}

// The server's END_STREAM arrived on stream `id`, which is receiving.
void client_session::end_stream(std::uint32_t id, std::span<const field_view> trailers,
                                std::string& out, session_events& events) {
  client_stream* s = streams_.find(id);
  if (s->expected_length && s->received_length != *s->expected_length) {
    reset_stream(id, error_code::protocol_error,
                 fmt::format("HTTP/2: stream {} ended after {} body bytes, but its "
                             "content-length is {}",
                             id, s->received_length, *s->expected_length),
                 out, events);
    return;
  }
  s->receiving = false;
  events.on_end(id, trailers);
  s = streams_.find(id);  // the handler may have consumed the last bytes
  if (s != nullptr && s->done()) streams_.erase(id);
}

void client_session::on_rst_stream(const read_result& r, session_events& events) {
  const std::uint32_t id = r.header.stream_id;
  const error_code code = read_rst_stream(r.payload);
  client_stream* s = find_open(r);
  if (s == nullptr) return;
  const bool tell = s->receiving;  // else the response is complete: the server only stops the body
  connection_.resets.remember(id, reset_by::peer);
  forget(*s);
  if (!tell) return;
  const std::string message =
      fmt::format("HTTP/2: the server reset stream {} with {}", id, to_string(code));
  events.on_failed(id, {failure_kind::reset_by_peer, errc::connection_failed, code,
                        code == error_code::refused_stream, message});
}

void client_session::on_settings(const read_result& r, std::string& out) {
  const bool applied =
      connection_.on_settings(r, out, [this](std::uint32_t old_size, std::uint32_t new_size) {
        for (client_stream& s : streams_.all()) {
          if (s.sending) s.send.apply_initial_window_change(old_size, new_size);
        }
      });
  if (applied) send_bodies(out);
}

void client_session::on_goaway(const read_result& r, session_events& events) {
  const goaway_frame g = read_goaway(r.payload);
  goaway_received_ = true;
  goaway_last_id_ = std::min(goaway_last_id_, g.last_stream_id);  // it may only go down
  events.on_goaway(g.last_stream_id, g.code, g.debug_data);
  const std::string message = fmt::format(
      "HTTP/2: the server sent GOAWAY ({}) with last stream id {}; the request was "
      "not processed",
      to_string(g.code), goaway_last_id_);
  fail_streams_above(goaway_last_id_,
                     {failure_kind::goaway, errc::connection_failed, g.code, true, message},
                     events);
}

void client_session::on_window_update(const read_result& r, std::string& out,
                                      session_events& events) {
  const std::uint32_t id = r.header.stream_id;
  const std::uint32_t increment = read_window_increment(r.payload);
  if (id == 0) {
    connection_.grow_send_window(increment);
    send_bodies(out);
    return;
  }
  client_stream* s = find_open(r);
  if (s == nullptr) return;
  if (!s->send.grow(increment)) {
    reset_stream(id, error_code::flow_control_error,
                 fmt::format("HTTP/2: WINDOW_UPDATE of {} takes stream {}'s send window over "
                             "2^31-1",
                             increment, id),
                 out, events);
    return;
  }
  send_body(*s, out);
  if (s->done()) streams_.erase(id);
}

// A frame broke a rule of its stream only (frame_reader found it).
void client_session::on_stream_error_event(const read_result& r, std::string& out,
                                           session_events& events) {
  client_stream* s = nullptr;
  const stream_lookup found = look_up(r.header.stream_id, s);
  if (found == stream_lookup::receiving || found == stream_lookup::sending_only) {
    reset_stream(r.header.stream_id, r.stream_error, std::string(r.message), out, events);
  } else if (found == stream_lookup::idle && r.header.type != frame_type::priority) {
    throw connection_error(error_code::protocol_error, std::string(r.message));
  }
  // Else the stream is closed already, or a PRIORITY frame (allowed on an
  // idle stream) was malformed: nothing to reset.
}

// --- Sending and bookkeeping.

std::size_t client_session::send_data(client_stream& s, std::string_view rest, std::string& out) {
  std::size_t sent = 0;
  while (s.sending) {
    const std::size_t left = rest.size() - sent;
    const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(
        {left, connection_.peer.max_frame_size, s.send.sendable(), connection_.send.sendable()}));
    if (n == 0) break;
    const bool last = n == left;
    write_data(out, s.id, rest.substr(sent, n), last);
    s.send.consume(n);
    connection_.send.consume(n);
    sent += n;
    if (last) s.sending = false;
  }
  return sent;
}

void client_session::send_body(client_stream& s, std::string& out) {
  if (!s.sending) return;
  s.body_sent += send_data(s, std::string_view(s.body).substr(s.body_sent), out);
  if (!s.sending) std::string().swap(s.body);  // a long response need not keep the request body
}

void client_session::send_bodies(std::string& out) {
  // Oldest stream first: requests finish in the order they were made.
  for (client_stream& s : streams_.all()) {
    if (connection_.send.sendable() == 0) break;
    send_body(s, out);
  }
  streams_.erase_done();
}

void client_session::reset_stream(std::uint32_t id, error_code code, const std::string& message,
                                  std::string& out, session_events& events) {
  connection_.send_reset(id, code, out);
  client_stream* s = streams_.find(id);
  if (s == nullptr) return;
  const bool tell = s->receiving;
  forget(*s);
  if (tell) {
    events.on_failed(id,
                     {failure_kind::stream_error, errc::malformed_response, code, false, message});
  }
}

// Drops a stream whose frames no longer matter; bytes the application has
// not consumed go back to the connection window.
void client_session::forget(client_stream& s) {
  connection_.receive.release(s.unconsumed);
  streams_.erase(s.id);
}

void client_session::fail_streams_above(std::uint32_t last_id, const stream_failure& failure,
                                        session_events& events) {
  while (!streams_.empty() && streams_.newest().id > last_id) {
    client_stream& s = streams_.newest();
    const std::uint32_t id = s.id;
    const bool tell = s.receiving;
    forget(s);
    if (tell) events.on_failed(id, failure);
  }
}

void client_session::fail_connection(const connection_error& e, std::string& out,
                                     session_events& events) {
  failure_ = e;
  write_goaway(out, 0, e.h2_code(), e.message());
  fail_streams_above(0,
                     {failure_kind::connection_error, static_cast<errc>(e.code().value()),
                      e.h2_code(), false, failure_->message()},
                     events);
}

}  // namespace keyless::http::h2
