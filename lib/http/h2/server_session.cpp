#include "http/h2/server_session.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include <fmt/core.h>

namespace keyless::http::h2 {

void server_events::on_goaway(std::uint32_t, error_code, std::string_view) {}

preface_match match_client_preface(std::string_view first_bytes) noexcept {
  const std::size_t n = std::min(first_bytes.size(), client_preface.size());
  if (first_bytes.substr(0, n) != client_preface.substr(0, n)) return preface_match::no;
  return n == client_preface.size() ? preface_match::full : preface_match::partial;
}

server_session::server_session(server_session_options options)
    : options_(checked_window_options(options)), connection_(options_, peer_role::client) {}

void server_session::start(std::string& out) {
  if (started_) throw_invalid_argument("start() called twice");
  started_ = true;
  const std::array settings{
      make_setting(setting_id::max_concurrent_streams, options_.max_concurrent_streams),
      make_setting(setting_id::initial_window_size, options_.stream_window),
      make_setting(setting_id::max_header_list_size, options_.max_header_list_size),
      make_setting(setting_id::header_table_size, options_.header_table_size),
  };
  connection_.send_settings(settings, out);
}

bool server_session::closed() const noexcept {
  if (failure_ || lost_ || shut_) return true;
  return (goaway_sent_ || goaway_received_) && streams_.empty();
}

std::size_t server_session::queued_bytes(std::uint32_t stream_id) const noexcept {
  std::size_t n = 0;
  for (const auto& [id, s] : streams_) {
    if (stream_id == 0 || id == stream_id) n += s.unsent().size();
  }
  return n;
}

void server_session::receive(std::string_view bytes, std::string& out, server_events& events) {
  if (!started_) throw_invalid_argument("receive() before start()");
  if (failure_ || lost_ || shut_) return;
  try {
    if (preface_seen_ < client_preface.size()) {
      check_preface(bytes);
      if (preface_seen_ < client_preface.size()) return;
    }
    connection_.read_frames(
        bytes, [&](const read_result& r) { on_frame(r, out, events); },
        [&](const read_result& r) { on_stream_error_event(r, out, events); });
  } catch (const connection_error& e) {
    fail_connection(e, out, events);
    return;
  }
  connection_.announce_window(out);
}

// The 24 bytes in front of the client's first frame (RFC 9113 3.4), which
// may arrive split over reads like anything else.
void server_session::check_preface(std::string_view& bytes) {
  const std::size_t n = std::min(bytes.size(), client_preface.size() - preface_seen_);
  if (bytes.substr(0, n) != client_preface.substr(preface_seen_, n)) {
    throw_peer_error(error_code::protocol_error,
                     "the connection does not start with the client preface "
                     "(\"PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n\"): not an HTTP/2 client?");
  }
  preface_seen_ += n;
  bytes.remove_prefix(n);
}

// --- Frames from the client.

void server_session::on_frame(const read_result& r, std::string& out, server_events& events) {
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
      // PRIORITY is deprecated and ignored; CONTINUATION arrives assembled;
      // frame_reader refuses a client's PUSH_PROMISE.
      break;
  }
}

server_session::stream_lookup server_session::look_up(std::uint32_t id,
                                                      server_stream*& stream) noexcept {
  auto it = streams_.find(id);
  if (it != streams_.end()) {
    stream = &it->second;
    return stream->receiving ? stream_lookup::receiving : stream_lookup::responding;
  }
  stream = nullptr;
  if (id % 2 == 0 || id > highest_id_) return stream_lookup::idle;
  if (id > goaway_last_id_) return stream_lookup::ignored;
  std::optional<reset_by> reset = connection_.resets.find(id);
  if (!reset) return stream_lookup::closed;
  return *reset == reset_by::us ? stream_lookup::ignored : stream_lookup::reset_by_client;
}

// The stream a RST_STREAM or WINDOW_UPDATE is for, when it is open or
// half-closed; nullptr when it has closed (such frames may cross our
// END_STREAM or RST_STREAM, RFC 9113 5.1).
server_stream* server_session::find_open(const read_result& r) {
  server_stream* s = nullptr;
  const stream_lookup found = look_up(r.header.stream_id, s);
  if (found == stream_lookup::idle) {
    throw_peer_error(error_code::protocol_error,
                     fmt::format("{} frame on stream {}, which the client never opened",
                                 to_string(r.header.type), r.header.stream_id));
  }
  return s;
}

// DATA or HEADERS on a stream that is not receiving (RFC 9113 5.1).
void server_session::on_late_frame(const read_result& r, stream_lookup found, std::string& out,
                                   server_events& events) {
  const std::uint32_t id = r.header.stream_id;
  const std::string_view type = to_string(r.header.type);
  switch (found) {
    case stream_lookup::receiving:
    case stream_lookup::ignored:
      return;  // frames the client sent before it saw our RST_STREAM or GOAWAY
    case stream_lookup::idle:
      throw_peer_error(
          error_code::protocol_error,
          fmt::format("{} frame on stream {}, which the client never opened", type, id));
    case stream_lookup::closed:
      throw_peer_error(error_code::stream_closed,
                       fmt::format("{} frame on stream {}, which has closed", type, id));
    case stream_lookup::responding:
    case stream_lookup::reset_by_client:
      reset_stream(id, error_code::stream_closed, out, events);
      return;
  }
}

void server_session::on_data(const read_result& r, std::string& out, server_events& events) {
  const std::uint32_t id = r.header.stream_id;
  const std::uint32_t length = r.header.length;  // padding included: what flow control counts
  connection_.receive_data(r);
  // The session keeps the body itself (max_body_size bounds it), so the
  // bytes are used as soon as they arrive.
  connection_.receive.release(length);
  server_stream* s = nullptr;
  const stream_lookup found = look_up(id, s);
  if (found != stream_lookup::receiving) {
    on_late_frame(r, found, out, events);
    return;
  }
  if (!s->receive.receive(length)) {
    reset_stream(id, error_code::flow_control_error, out, events);
    return;
  }
  s->receive.release(length);
  const std::size_t total = s->body.size() + r.payload.size();
  if (total > options_.max_body_size) {
    reject_too_large(*s, out, events);
    return;
  }
  if (s->expected_length && total > *s->expected_length) {
    reset_stream(id, error_code::protocol_error, out, events);  // more than its content-length
    return;
  }
  s->body.append(r.payload);
  if (r.header.has(flag::end_stream)) {
    fields_.swap(s->head);
    complete_request(*s, out, events);
  } else {
    connection_.announce_windows(s, out);
  }
}

void server_session::on_headers(const read_result& r, std::string& out, server_events& events) {
  // Decoded whatever the stream's state: the decoder's table must follow
  // every block the client's encoder wrote.
  connection_.decode_block(fields_, r);
  server_stream* s = nullptr;
  const stream_lookup found = look_up(r.header.stream_id, s);
  if (found == stream_lookup::idle) {
    open_stream(r, out, events);
  } else if (found == stream_lookup::receiving) {
    on_trailers(*s, r.header.has(flag::end_stream), out, events);
  } else {
    on_late_frame(r, found, out, events);
  }
}

void server_session::open_stream(const read_result& r, std::string& out, server_events& events) {
  const std::uint32_t id = r.header.stream_id;
  if (id % 2 == 0) {
    throw_peer_error(
        error_code::protocol_error,
        fmt::format("HEADERS frame opens stream {}, but a client's streams are odd", id));
  }
  highest_id_ = id;
  if (goaway_sent_) return;  // above our GOAWAY's last stream id: ignored (RFC 9113 6.8)
  if (streams_.size() >= options_.max_concurrent_streams) {
    connection_.send_reset(id, error_code::refused_stream, out);
    return;
  }
  request_head_info info;
  if (!fields_.check_head(info).empty()) {
    connection_.send_reset(id, error_code::protocol_error, out);  // malformed (RFC 9113 8.1.1)
    return;
  }
  server_stream& s =
      streams_.try_emplace(id, id, connection_.peer.initial_window_size, options_.stream_window)
          .first->second;
  s.expected_length = info.content_length;
  if (info.content_length && *info.content_length > options_.max_body_size) {
    reject_too_large(s, out, events);
  } else if (r.header.has(flag::end_stream)) {
    complete_request(s, out, events);
  } else {
    fields_.swap(s.head);  // waits there for the body
  }
}

void server_session::on_trailers(server_stream& s, bool end, std::string& out,
                                 server_events& events) {
  // A second block must end the stream (RFC 9113 8.1) and carry no
  // pseudo-header or connection-specific field.
  if (!end || !fields_.check_trailers().empty()) {
    reset_stream(s.id, error_code::protocol_error, out, events);
    return;
  }
  fields_.swap(s.head);  // the trailers are dropped; the head is checked again below
  complete_request(s, out, events);
}

// END_STREAM arrived on `s`, whose head is in fields_.
void server_session::complete_request(server_stream& s, std::string& out, server_events& events) {
  s.receiving = false;
  if (s.expected_length && *s.expected_length != s.body.size()) {
    reset_stream(s.id, error_code::protocol_error, out, events);  // shorter than its content-length
    return;
  }
  request_head_info info;
  fields_.check_head(info);  // accepted at HEADERS; only the views need refreshing
  incoming_request request{info.method, info.scheme,       info.authority,
                           info.path,   fields_.regular(), std::move(s.body)};
  s.reported = true;
  events.on_request(s.id, request);  // may respond, and so erase `s`
}

void server_session::on_rst_stream(const read_result& r, server_events& events) {
  const error_code code = read_rst_stream(r.payload);
  server_stream* s = find_open(r);
  if (s == nullptr) return;
  const std::uint32_t id = s->id;
  const bool tell = s->reported;
  connection_.resets.remember(id, reset_by::peer);
  erase(id);
  if (tell) events.on_cancelled(id, code);
}

void server_session::on_settings(const read_result& r, std::string& out) {
  const bool applied =
      connection_.on_settings(r, out, [this](std::uint32_t old_size, std::uint32_t new_size) {
        for (auto& [id, s] : streams_) {
          if (s.sending) s.send.apply_initial_window_change(old_size, new_size);
        }
      });
  if (applied) flush_all(out);
}

void server_session::on_goaway(const read_result& r, server_events& events) {
  const goaway_frame g = read_goaway(r.payload);
  goaway_received_ = true;
  events.on_goaway(g.last_stream_id, g.code, g.debug_data);
}

void server_session::on_window_update(const read_result& r, std::string& out,
                                      server_events& events) {
  const std::uint32_t id = r.header.stream_id;
  const std::uint32_t increment = read_window_increment(r.payload);
  if (id == 0) {
    connection_.grow_send_window(increment);
    flush_all(out);
    return;
  }
  server_stream* s = find_open(r);
  if (s == nullptr) return;
  if (!s->send.grow(increment)) {
    reset_stream(id, error_code::flow_control_error, out, events);
    return;
  }
  flush(*s, out);
}

// A frame broke a rule of its stream only (frame_reader found it).
void server_session::on_stream_error_event(const read_result& r, std::string& out,
                                           server_events& events) {
  server_stream* s = nullptr;
  const stream_lookup found = look_up(r.header.stream_id, s);
  if (s != nullptr) {
    reset_stream(r.header.stream_id, r.stream_error, out, events);
  } else if (found == stream_lookup::idle && r.header.type != frame_type::priority) {
    throw connection_error(error_code::protocol_error, std::string(r.message));
  }
  // Else the stream is closed already, or a PRIORITY frame (allowed on an
  // idle stream) was malformed: nothing to reset.
}

// --- Responses.

// The stream a response call is for; nullptr when it is gone. Throws for
// calls out of order, which are the caller's bugs.
server_stream* server_session::sendable_stream(std::uint32_t stream_id, bool need_head,
                                               const char* what) {
  if (!started_) throw_invalid_argument(fmt::format("{}() before start()", what));
  if (failure_ || lost_ || shut_) return nullptr;
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return nullptr;
  server_stream& s = it->second;
  if (!s.sending || s.ending) {
    throw_invalid_argument(
        fmt::format("{}() on stream {} after its response ended", what, stream_id));
  }
  if (need_head && !s.head_sent) {
    throw_invalid_argument(
        fmt::format("{}() on stream {} before its response head", what, stream_id));
  }
  return &s;
}

bool server_session::respond_head(std::uint32_t stream_id, int status,
                                  std::span<const field_view> fields, bool end_stream,
                                  std::string& out) {
  server_stream* s = sendable_stream(stream_id, false, "respond_head");
  if (s == nullptr) return false;
  const bool interim = status < 200;
  if (s->head_sent) {
    throw_invalid_argument(fmt::format("a second response head on stream {}", stream_id));
  }
  if (interim && end_stream) {
    throw_invalid_argument(
        fmt::format("an interim ({}) head cannot end stream {}", status, stream_id));
  }
  block_.clear();
  response_encoder_.encode_head(status, fields, connection_.header_encoder, block_);
  write_headers(out, stream_id, block_, end_stream, connection_.peer.max_frame_size);
  if (!interim) s->head_sent = true;
  if (end_stream) end_response(*s, out);
  return true;
}

bool server_session::send_data(std::uint32_t stream_id, std::string_view data, bool end_stream,
                               std::string& out) {
  server_stream* s = sendable_stream(stream_id, true, "send_data");
  if (s == nullptr) return false;
  if (s->unsent().empty()) {
    // Nothing held back: send straight from `data`, keeping only what the
    // windows do not take.
    std::string_view rest = send_now(*s, data, end_stream, out);
    if (rest.empty()) {
      if (end_stream) end_response(*s, out);
      return true;
    }
    s->pending.assign(rest);
    s->pending_sent = 0;
  } else {
    s->pending.append(data);
  }
  s->ending = end_stream;
  return true;
}

bool server_session::send_trailers(std::uint32_t stream_id, std::span<const field_view> fields,
                                   std::string& out) {
  server_stream* s = sendable_stream(stream_id, true, "send_trailers");
  if (s == nullptr) return false;
  response_encoder::check(fields);
  if (s->unsent().empty()) {
    block_.clear();
    response_encoder_.encode_trailers(fields, connection_.header_encoder, block_);
    write_headers(out, stream_id, block_, true, connection_.peer.max_frame_size);
    end_response(*s, out);
    return true;
  }
  // Encoded only when they go out: HPACK blocks must be encoded in the order
  // they go on the wire.
  s->trailers.clear();
  for (const field_view& f : fields) s->trailers.emplace_back(f.name, f.value);
  s->has_trailers = true;
  s->ending = true;
  return true;
}

// Sends what the windows allow of `data` on `s`, ending the stream with the
// last frame when `end` and all of it went. Returns what did not fit.
std::string_view server_session::send_now(server_stream& s, std::string_view data, bool end,
                                          std::string& out) {
  for (;;) {
    if (data.empty() && !end) return data;
    const auto n = static_cast<std::uint32_t>(
        std::min<std::size_t>({data.size(), connection_.peer.max_frame_size, s.send.sendable(),
                               connection_.send.sendable()}));
    if (n == 0 && !data.empty()) return data;
    const bool last = end && n == data.size();
    write_data(out, s.id, data.substr(0, n), last);
    s.send.consume(n);
    connection_.send.consume(n);
    data.remove_prefix(n);
    if (last) return data;
  }
}

// Sends what `s` holds back, as far as the windows allow.
void server_session::flush(server_stream& s, std::string& out) {
  if (s.unsent().empty() && !s.ending) return;
  const std::string_view rest = send_now(s, s.unsent(), s.ending && !s.has_trailers, out);
  s.pending_sent = s.pending.size() - rest.size();
  if (!rest.empty()) return;
  s.pending.clear();
  s.pending_sent = 0;
  if (!s.ending) return;
  if (s.has_trailers) {
    std::vector<field_view> fields;
    fields.reserve(s.trailers.size());
    for (const auto& [name, value] : s.trailers) fields.push_back({name, value});
    block_.clear();
    response_encoder_.encode_trailers(fields, connection_.header_encoder,
                                      block_);  // checked by send_trailers
    write_headers(out, s.id, block_, true, connection_.peer.max_frame_size);
  }
  end_response(s, out);
}

void server_session::flush_all(std::string& out) {
  // Oldest stream first: responses finish in the order requests came.
  for (auto it = streams_.begin(); it != streams_.end();) {
    if (connection_.send.sendable() == 0) break;
    server_stream& s = it->second;
    ++it;  // flush() may erase `s`
    flush(s, out);
  }
}

// Our END_STREAM went out on `s`, which is erased.
void server_session::end_response(server_stream& s, std::string& out) {
  s.sending = false;
  if (s.receiving) {
    // Answered before the request ended (413): the client may stop sending
    // (RFC 9113 8.1).
    connection_.send_reset(s.id, error_code::no_error, out);
  }
  erase(s.id);
}

void server_session::reject_too_large(server_stream& s, std::string& out, server_events& events) {
  if (s.head_sent || s.reported) {
    reset_stream(s.id, error_code::refused_stream, out, events);
    return;
  }
  static constexpr std::array<field_view, 1> fields{field_view{"content-length", "0"}};
  block_.clear();
  response_encoder_.encode_head(413, fields, connection_.header_encoder, block_);
  write_headers(out, s.id, block_, true, connection_.peer.max_frame_size);
  end_response(s, out);
}

void server_session::reset(std::uint32_t stream_id, error_code code, std::string& out) {
  if (failure_ || lost_ || shut_) return;
  if (!streams_.contains(stream_id)) return;
  connection_.send_reset(stream_id, code, out);
  erase(stream_id);
}

void server_session::goaway(error_code code, std::string_view debug_data, std::string& out) {
  if (!started_) throw_invalid_argument("goaway() before start()");
  if (failure_ || lost_ || shut_) return;
  goaway_sent_ = true;
  goaway_last_id_ = std::min(goaway_last_id_, highest_id_);
  write_goaway(out, goaway_last_id_, code, debug_data);
  if (code != error_code::no_error) {
    shut_ = true;
    streams_.clear();
  }
}

void server_session::connection_lost(std::string_view, server_events& events) {
  if (failure_ || lost_) return;
  lost_ = true;
  cancel_all(error_code::cancel, events);
}

// --- Bookkeeping.

void server_session::reset_stream(std::uint32_t id, error_code code, std::string& out,
                                  server_events& events) {
  connection_.send_reset(id, code, out);
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  const bool tell = it->second.reported;
  streams_.erase(it);
  if (tell) events.on_cancelled(id, code);
}

void server_session::cancel_all(error_code code, server_events& events) {
  while (!streams_.empty()) {
    auto it = streams_.begin();
    const std::uint32_t id = it->first;
    const bool tell = it->second.reported;
    streams_.erase(it);
    if (tell) events.on_cancelled(id, code);
  }
}

void server_session::fail_connection(const connection_error& e, std::string& out,
                                     server_events& events) {
  failure_ = e;
  write_goaway(out, highest_id_, e.h2_code(), e.message());
  cancel_all(e.h2_code(), events);
}

}  // namespace keyless::http::h2
