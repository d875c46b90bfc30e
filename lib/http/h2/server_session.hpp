#pragma once
// Sans-I/O HTTP/2 server session: the protocol state of one connection
// (RFC 9113) from the server's side. Bytes from the client go in, bytes for
// the client come out in a buffer the caller owns, and each complete request
// is reported to a handler. No sockets, no timers, no coroutines. The
// counterpart of client_session, with the same driving contract.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "http/h2/connection_state.hpp"
#include "http/h2/field_view.hpp"
#include "http/h2/flow_window.hpp"
#include "http/h2/frame.hpp"
#include "http/h2/frame_reader.hpp"
#include "http/h2/hpack_decoder.hpp"
#include "http/h2/hpack_encoder.hpp"
#include "http/h2/request_fields.hpp"
#include "http/h2/response_encoder.hpp"
#include "http/h2/server_stream.hpp"
#include "http/h2/settings.hpp"

namespace keyless::http::h2 {

/// What we announce in our SETTINGS, and our own limits.
struct server_session_options {
  /// SETTINGS_MAX_CONCURRENT_STREAMS: a client's stream beyond it is
  /// refused (RST_STREAM(REFUSED_STREAM), safe for the client to retry).
  std::uint32_t max_concurrent_streams = 1000;
  /// SETTINGS_INITIAL_WINDOW_SIZE: how much of a request body a client may
  /// send ahead. In [65,535, 2^31-1].
  std::uint32_t stream_window = 1 << 20;
  /// The connection's receive window, announced with a WINDOW_UPDATE right
  /// after our SETTINGS. In [65,535, 2^31-1].
  std::uint32_t connection_window = 64 << 20;
  /// SETTINGS_MAX_HEADER_LIST_SIZE: a larger request head or trailer block
  /// ends the connection.
  std::uint32_t max_header_list_size = 64 * 1024;
  /// SETTINGS_HEADER_TABLE_SIZE: the HPACK table for request headers.
  std::uint32_t header_table_size = 4'096;
  /// The HPACK table for response headers: the client's
  /// SETTINGS_HEADER_TABLE_SIZE, but no more than this.
  std::uint32_t max_encoder_table_size = 4'096;
  /// A request body (or a content-length) over this many bytes is answered
  /// 413 by the session itself, and the stream reset (NO_ERROR).
  std::uint64_t max_body_size = 64 << 20;
};

/// A complete request. The views are valid during on_request only; `body`
/// is the application's to move out.
struct incoming_request {
  std::string_view method;
  std::string_view scheme;     ///< empty for CONNECT
  std::string_view authority;  ///< :authority, else the host field, else empty
  std::string_view path;       ///< with the query; empty for CONNECT
  /// The regular fields in arrival order, names in lower case (host among
  /// them when the client sent one).
  std::span<const field_view> fields;
  std::string body;
};

/// What the session reports, called from inside receive() and
/// connection_lost(). Each stream gets on_request at most once, and then
/// on_cancelled at most once, if its response can no longer be sent. A
/// handler may call respond_head(), send_data(), send_trailers() and reset()
/// with the `out` buffer receive() was given, but nothing else of the
/// session; a handler that throws leaves the session unusable.
class server_events {
 public:
  /// The request on `stream_id` is complete (END_STREAM arrived). Answer
  /// with respond_head() and the rest, now or later.
  virtual void on_request(std::uint32_t stream_id, incoming_request& request) = 0;
  /// The response to a reported request cannot be sent any more: the client
  /// reset the stream (`code` is its RST_STREAM's), broke a rule of the
  /// stream, or the connection failed or was lost (CANCEL, or the GOAWAY's
  /// code). Stop working on it; later calls for it do nothing.
  virtual void on_cancelled(std::uint32_t stream_id, error_code code) = 0;
  /// The client sent GOAWAY: it opens no new stream; the open ones go on.
  virtual void on_goaway(std::uint32_t last_stream_id, error_code code,
                         std::string_view debug_data);

 protected:
  ~server_events() = default;
};

/// How the first bytes of a connection compare with the client preface.
enum class preface_match : std::uint8_t {
  no,       ///< not HTTP/2 (with prior knowledge): an HTTP/1.x request, say
  partial,  ///< a prefix of the preface: read more to tell
  full,     ///< the whole 24-byte preface is there
};
/// For a server that speaks HTTP/1.1 and h2c on one port.
preface_match match_client_preface(std::string_view first_bytes) noexcept;

/// One HTTP/2 connection of a server. Thread-safety: one operation at a time.
///
/// Driving contract (a transport with one read loop and one write buffer):
/// - Every call that can produce bytes appends them to `out`, the
///   connection's pending output, which the caller owns. After each call
///   the caller writes whatever `out` holds, in order, and clears what it
///   wrote. Bytes must never be reordered or dropped: the HPACK tables of
///   both ends depend on the order of header blocks. To write while more
///   may be appended, swap `out` with an empty buffer and write that.
/// - start() once, before anything else: our SETTINGS need not wait for the
///   client's preface.
/// - Read loop: for each read, receive(bytes, out, events), then write out.
///   When the socket reaches EOF or fails, call connection_lost().
/// - After any call, closed() true means: write what `out` holds (maybe a
///   GOAWAY) and close the socket.
/// - Answer each on_request with respond_head(), then send_data() and
///   optionally send_trailers(); the stream ends with END_STREAM. Body bytes
///   the client's windows hold back go out later, from receive(), in order.
/// - Timers are the caller's (SETTINGS_TIMEOUT, idle connections).
///
/// Errors: a peer's protocol violation never throws out of receive(); it
/// becomes a GOAWAY in `out`, on_cancelled for every reported stream, and
/// failure(). Caller bugs (a response with a field HTTP/2 cannot carry, data
/// before the head, anything after the end) throw
/// keyless::error(invalid_argument) and change nothing.
class server_session {
 public:
  /// Throws keyless::error(invalid_argument) for options out of range.
  explicit server_session(server_session_options options = {});

  /// Appends our SETTINGS (the stream limit, the windows, the header
  /// limits) and the connection WINDOW_UPDATE.
  void start(std::string& out);

  /// Consumes all of `bytes` (what the client sent: the preface first),
  /// reporting to `events`. Does nothing once closed() because the
  /// connection failed or was lost.
  void receive(std::string_view bytes, std::string& out, server_events& events);

  /// Sends a response head: HEADERS (and CONTINUATION frames, cut to the
  /// client's SETTINGS_MAX_FRAME_SIZE). A 1xx head is interim: the final one
  /// follows. `end_stream` (not for 1xx) ends the response with the head.
  /// False, sending nothing, when the stream is gone (reset, connection
  /// failed). Throws keyless::error(invalid_argument) for a second final
  /// head, after the end, or as response_encoder::encode_head does.
  bool respond_head(std::uint32_t stream_id, int status, std::span<const field_view> fields,
                    bool end_stream, std::string& out);

  /// Sends body bytes after the head, as much as the client's windows allow
  /// now, in DATA frames of at most its SETTINGS_MAX_FRAME_SIZE; the rest is
  /// kept (copied) and goes out as WINDOW_UPDATEs arrive. `end_stream` ends
  /// the response after `data` (an empty DATA frame when `data` is empty).
  /// False when the stream is gone. Throws keyless::error(invalid_argument)
  /// before the head or after the end.
  bool send_data(std::uint32_t stream_id, std::string_view data, bool end_stream, std::string& out);

  /// Ends the response with trailers, after any body bytes still held back.
  /// False when the stream is gone. Throws keyless::error(invalid_argument)
  /// as send_data does, or as response_encoder::check does.
  bool send_trailers(std::uint32_t stream_id, std::span<const field_view> fields, std::string& out);

  /// Abandons a stream: RST_STREAM(`code`), and whatever it still had to
  /// send is dropped. No event follows. Does nothing for a stream gone.
  void reset(std::uint32_t stream_id, error_code code, std::string& out);

  /// Sends GOAWAY with the highest stream id the client has opened as the
  /// last one. NO_ERROR is graceful: streams above it are ignored, those
  /// below go on, and closed() turns true once they have all ended. Any
  /// other code ends the connection now: every stream is dropped (no
  /// events) and closed() turns true.
  void goaway(error_code code, std::string_view debug_data, std::string& out);

  /// The transport lost the connection (EOF, reset, timeout): every
  /// reported stream gets on_cancelled(CANCEL).
  void connection_lost(std::string_view why, server_events& events);

  /// Time to close the socket (after writing `out`): the connection failed,
  /// was lost or was shut with an error, or a GOAWAY went either way and no
  /// stream is left.
  bool closed() const noexcept;
  /// The protocol error that ended the connection, if one did.
  const connection_error* failure() const noexcept { return failure_ ? &*failure_ : nullptr; }
  /// The client has acknowledged our SETTINGS.
  bool settings_acknowledged() const noexcept { return connection_.settings_acknowledged; }
  /// Streams open or half-closed: a request arriving or a response not yet
  /// ended (held-back bytes included).
  std::size_t active_streams() const noexcept { return streams_.size(); }
  /// Response bytes flow control holds back on `stream_id` (0: all streams).
  std::size_t queued_bytes(std::uint32_t stream_id = 0) const noexcept;
  /// The highest stream id the client has opened so far.
  std::uint32_t last_stream_id() const noexcept { return highest_id_; }
  const peer_settings& client_settings() const noexcept { return connection_.peer; }

 private:
  void check_preface(std::string_view& bytes);
  void on_frame(const read_result& r, std::string& out, server_events& events);
  void on_data(const read_result& r, std::string& out, server_events& events);
  void on_headers(const read_result& r, std::string& out, server_events& events);
  void open_stream(const read_result& r, std::string& out, server_events& events);
  void on_trailers(server_stream& s, bool end_stream, std::string& out, server_events& events);
  void complete_request(server_stream& s, std::string& out, server_events& events);
  void on_rst_stream(const read_result& r, server_events& events);
  void on_settings(const read_result& r, std::string& out);
  void on_goaway(const read_result& r, server_events& events);
  void on_window_update(const read_result& r, std::string& out, server_events& events);
  void on_stream_error_event(const read_result& r, std::string& out, server_events& events);

  // Where a stream id stands, as far as frames from the client go.
  enum class stream_lookup : std::uint8_t {
    receiving,   // open: its request is arriving
    responding,  // half-closed (remote): the request is complete, the response is not
    closed,      // closed normally (or reset too long ago to remember)
    ignored,     // reset by us, or above our GOAWAY: its late frames are dropped
    reset_by_client,
    idle,  // never opened
  };
  stream_lookup look_up(std::uint32_t id, server_stream*& stream) noexcept;
  server_stream* find_open(const read_result& r);
  void on_late_frame(const read_result& r, stream_lookup found, std::string& out,
                     server_events& events);

  server_stream* sendable_stream(std::uint32_t stream_id, bool need_head, const char* what);
  std::string_view send_now(server_stream& s, std::string_view data, bool end, std::string& out);
  void flush(server_stream& s, std::string& out);
  void flush_all(std::string& out);
  void end_response(server_stream& s, std::string& out);
  void reject_too_large(server_stream& s, std::string& out, server_events& events);
  void reset_stream(std::uint32_t id, error_code code, std::string& out, server_events& events);
  void erase(std::uint32_t id) { streams_.erase(id); }
  void cancel_all(error_code code, server_events& events);
  void fail_connection(const connection_error& e, std::string& out, server_events& events);

  server_session_options options_;
  connection_state connection_;
  response_encoder response_encoder_;
  request_fields fields_;  // the block just decoded; a stream's waiting head is swapped in
  std::string block_;      // the response header block being built; reused
  // Ordered by id, which is the order streams were opened: held-back
  // output goes out oldest first. Nodes keep their address while others
  // come and go, so a handler may respond from inside on_request.
  std::map<std::uint32_t, server_stream> streams_;
  std::size_t preface_seen_ = 0;  // bytes of the client preface checked so far
  std::uint32_t highest_id_ = 0;
  std::uint32_t goaway_last_id_ = max_stream_id;
  bool started_ = false;
  bool goaway_sent_ = false;
  bool goaway_received_ = false;
  bool shut_ = false;  // we sent GOAWAY with an error code
  bool lost_ = false;
  std::optional<connection_error> failure_;
};

}  // namespace keyless::http::h2
