#pragma once
// Sans-I/O HTTP/2 client session: the protocol state of one connection
// (RFC 9113) from the client's side. Bytes from the server go in, bytes for
// the server come out in a buffer the caller owns, and what happens to each
// stream is reported to a handler. No sockets, no timers, no coroutines.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "http/h2/client_stream.hpp"
#include "http/h2/connection_state.hpp"
#include "http/h2/field_view.hpp"
#include "http/h2/flow_window.hpp"
#include "http/h2/frame.hpp"
#include "http/h2/frame_reader.hpp"
#include "http/h2/hpack_decoder.hpp"
#include "http/h2/hpack_encoder.hpp"
#include "http/h2/request_encoder.hpp"
#include "http/h2/response_fields.hpp"
#include "http/h2/settings.hpp"
#include "keyless/core/error.hpp"

namespace keyless::http::h2 {

/// What we announce in our SETTINGS, and our own limits.
struct session_options {
  /// SETTINGS_INITIAL_WINDOW_SIZE: how much of a response body the server
  /// may send ahead of the application. At least 65,535 (the server may
  /// send that much before it has seen our SETTINGS), at most 2^31-1.
  std::uint32_t stream_window = 1 << 20;
  /// The connection's receive window, announced with a WINDOW_UPDATE right
  /// after our SETTINGS. In [65,535, 2^31-1].
  std::uint32_t connection_window = 16 << 20;
  /// SETTINGS_MAX_HEADER_LIST_SIZE: a larger response head or trailer block
  /// ends the connection.
  std::uint32_t max_header_list_size = 64 * 1024;
  /// SETTINGS_HEADER_TABLE_SIZE: the HPACK table for response headers.
  std::uint32_t header_table_size = 4'096;
  /// The HPACK table for request headers: the server's
  /// SETTINGS_HEADER_TABLE_SIZE, but no more than this. It must hold the
  /// bearer token (plus 32 bytes) for the token to be sent as an index.
  std::uint32_t max_encoder_table_size = 16 * 1024;
};

/// Why a stream ended without its response.
enum class failure_kind : std::uint8_t {
  reset_by_peer,     ///< the server sent RST_STREAM
  stream_error,      ///< the server broke a rule of this stream; we sent RST_STREAM
  goaway,            ///< the server's GOAWAY left the stream unprocessed
  connection_error,  ///< the connection failed (we sent GOAWAY)
  connection_lost,   ///< the transport reported the connection gone (connection_lost())
};

struct stream_failure {
  failure_kind kind = failure_kind::connection_error;
  errc error = errc::connection_failed;  ///< for the keyless::error the transport raises
  error_code h2_code = error_code::no_error;
  /// The server did not process the request (REFUSED_STREAM, or a stream
  /// above a GOAWAY's last stream id): sending it again on another
  /// connection is safe, even for a POST.
  bool retryable = false;
  std::string_view message;  ///< what happened; valid during the call
};

/// What the session reports, called from inside receive() and
/// connection_lost(). Each stream gets on_response_head at most once, then
/// on_data any number of times, and ends with exactly one of on_end or
/// on_failed (on_failed may also come first). After that the stream id is
/// never reported again. The views are valid during the call only. A handler
/// may call client_session::consume() but nothing else of the session; a
/// handler that throws leaves the session unusable.
class session_events {
 public:
  /// The final response head: 1xx interim heads are skipped. `fields` has
  /// no pseudo-header fields.
  virtual void on_response_head(std::uint32_t stream_id, int status,
                                std::span<const field_view> fields) = 0;
  /// Response body bytes. Every byte must be handed back with consume(),
  /// also after on_end, unless the stream fails or is cancelled first.
  virtual void on_data(std::uint32_t stream_id, std::string_view data) = 0;
  /// The response is complete. `trailers` is empty when there were none.
  virtual void on_end(std::uint32_t stream_id, std::span<const field_view> trailers) = 0;
  /// The stream ended without (the rest of) its response. Bytes it
  /// delivered and were not consumed yet are released by the session.
  virtual void on_failed(std::uint32_t stream_id, const stream_failure& failure) = 0;
  /// The server sent GOAWAY: no new streams; streams above `last_stream_id`
  /// get on_failed (retryable) right after this call.
  virtual void on_goaway(std::uint32_t last_stream_id, error_code code,
                         std::string_view debug_data);

 protected:
  ~session_events() = default;
};

/// Whether open_stream() can start a stream now.
enum class open_status : std::uint8_t {
  ready,
  at_stream_limit,  ///< the server's SETTINGS_MAX_CONCURRENT_STREAMS; wait for a stream to end
  unusable,         ///< failed, lost, GOAWAY received or stream ids used up: use another connection
};

/// One HTTP/2 connection of a client. Thread-safety: one operation at a time.
///
/// Driving contract (a transport with one read loop and one write buffer):
/// - Every call that can produce bytes appends them to `out`, the
///   connection's pending output, which the caller owns. After each call
///   the caller writes whatever `out` holds, in order, and clears what it
///   wrote. Bytes must never be reordered or dropped: the HPACK tables of
///   both ends depend on the order of header blocks. To write while more
///   may be appended, swap `out` with an empty buffer and write that.
/// - start() once, before anything else; then write `out`.
/// - Read loop: for each read, receive(bytes, out, events), then write out.
///   When the socket reaches EOF or fails, call connection_lost().
/// - After receive() returns, closed() true means: write what `out` holds
///   (maybe a GOAWAY) and close the socket.
/// - To send a request, open_stream() and write `out`. Body bytes the flow
///   control windows hold back go out later, from receive().
/// - Each on_data byte is handed back with consume(), when the application
///   has used it, which may append WINDOW_UPDATE frames to `out`.
/// - cancel() abandons a stream (RST_STREAM(CANCEL)); no event follows.
/// - Timers are the caller's: if settings_acknowledged() is still false some
///   seconds after start(), end the connection (SETTINGS_TIMEOUT).
///
/// Errors: a peer's protocol violation never throws out of receive(); it
/// becomes a GOAWAY in `out`, on_failed for every stream, and failure().
/// Caller bugs (an invalid request, consuming more than was delivered)
/// throw keyless::error(invalid_argument) and change nothing.
///
/// Allocation, once warm (the tables and buffers have grown to their
/// working size): a request and its response allocate nothing here, but
/// for HPACK entries whose strings outgrow a reused table slot, and the part
/// of a body that flow control holds back, which is copied.
class client_session {
 public:
  /// Throws keyless::error(invalid_argument) for options out of range.
  explicit client_session(session_options options = {});

  /// Appends the client preface, our SETTINGS (SETTINGS_ENABLE_PUSH = 0,
  /// the windows, the header limits) and the connection WINDOW_UPDATE.
  void start(std::string& out);

  open_status can_open() const noexcept;

  /// Starts a request: appends HEADERS (and CONTINUATION) for `head`, then
  /// as much of `body` as the windows and the server's SETTINGS_MAX_FRAME_SIZE
  /// allow; the rest follows as WINDOW_UPDATEs arrive. The stream ends with
  /// the body (with HEADERS when there is none). Only what the windows hold
  /// back is copied. Returns the new stream id,
  /// or nothing when can_open() is not ready. Throws keyless::error as
  /// request_encoder::encode does, having sent nothing.
  std::optional<std::uint32_t> open_stream(const request_head& head, std::string_view body,
                                           std::string& out);

  /// Consumes all of `bytes` (what the server sent), reporting to `events`.
  /// Does nothing once closed() because the connection failed or was lost.
  void receive(std::string_view bytes, std::string& out, session_events& events);

  /// The application is done with `n` bytes on_data delivered for
  /// `stream_id`. Does nothing for a stream that failed or was cancelled.
  /// Throws keyless::error(invalid_argument) for more than was delivered.
  void consume(std::uint32_t stream_id, std::size_t n, std::string& out);

  /// Abandons a stream: RST_STREAM(CANCEL) if it is still open, and its
  /// unconsumed bytes are released. Its later frames are ignored. Does
  /// nothing for a stream already gone.
  void cancel(std::uint32_t stream_id, std::string& out);

  /// Appends a PING; the server's acknowledgement arrives through receive() and reports
  /// nothing. Does nothing once closed().
  void ping(std::string& out);

  /// The transport lost the connection (EOF, reset, timeout). Every stream
  /// fails with connection_lost (errc::connection_failed), `why` in the message.
  void connection_lost(std::string_view why, session_events& events);

  /// Time to close the socket (after writing `out`): the connection failed
  /// or was lost, or no stream is active and no new one can be opened.
  bool closed() const noexcept;
  /// The protocol error that ended the connection, if one did.
  const connection_error* failure() const noexcept { return failure_ ? &*failure_ : nullptr; }
  /// The server has acknowledged our SETTINGS.
  bool settings_acknowledged() const noexcept { return connection_.settings_acknowledged; }
  /// Streams open or half-closed (what SETTINGS_MAX_CONCURRENT_STREAMS counts).
  std::size_t active_streams() const noexcept { return streams_.active_count(); }
  const peer_settings& server_settings() const noexcept { return connection_.peer; }

 private:
  void on_frame(const read_result& r, std::string& out, session_events& events);
  void on_data(const read_result& r, std::string& out, session_events& events);
  void on_headers(const read_result& r, std::string& out, session_events& events);
  void on_response_head(client_stream& s, bool end_stream, std::string& out,
                        session_events& events);
  void on_trailers(client_stream& s, bool end_stream, std::string& out, session_events& events);
  void end_stream(std::uint32_t id, std::span<const field_view> trailers, std::string& out,
                  session_events& events);
  void on_rst_stream(const read_result& r, session_events& events);
  void on_settings(const read_result& r, std::string& out);
  void on_goaway(const read_result& r, session_events& events);
  void on_window_update(const read_result& r, std::string& out, session_events& events);
  void on_stream_error_event(const read_result& r, std::string& out, session_events& events);

  // Where a stream id stands, as far as frames from the server go.
  enum class stream_lookup : std::uint8_t {
    receiving,     // open or half-closed (local): its response is coming
    sending_only,  // half-closed (remote): the response is complete, the body is not
    closed,        // closed normally (or reset too long ago to remember)
    reset_by_us,   // we sent RST_STREAM
    reset_by_peer,
    idle,  // never opened
  };
  stream_lookup look_up(std::uint32_t id, client_stream*& stream) noexcept;
  client_stream* find_open(const read_result& r);
  void on_late_frame(const read_result& r, stream_lookup found, std::string& out,
                     session_events& events);

  // Sends what the windows allow of `rest`, the stream's unsent body; returns how much.
  std::size_t send_data(client_stream& s, std::string_view rest, std::string& out);
  void send_body(client_stream& s, std::string& out);
  void send_bodies(std::string& out);
  void reset_stream(std::uint32_t id, error_code code, const std::string& message, std::string& out,
                    session_events& events);
  void forget(client_stream& s);
  void fail_streams_above(std::uint32_t last_id, const stream_failure& failure,
                          session_events& events);
  void fail_connection(const connection_error& e, std::string& out, session_events& events);

  session_options options_;
  connection_state connection_;
  request_encoder request_encoder_;
  response_fields response_fields_;
  std::string block_;  // the request header block being built; reused
  stream_table streams_;
  std::uint32_t next_stream_id_ = 1;
  std::uint32_t goaway_last_id_ = max_stream_id;
  bool started_ = false;
  bool goaway_received_ = false;
  bool lost_ = false;
  std::optional<connection_error> failure_;
};

}  // namespace keyless::http::h2
