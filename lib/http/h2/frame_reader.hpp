#pragma once
// Sans-I/O incremental reader of the frames one end of an HTTP/2 connection
// sends the other (RFC 9113). Takes bytes, returns frames, and checks every framing rule that
// needs no stream state; it knows nothing of sockets, so it is tested and
// fuzzed alone.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/h2/frame.hpp"

namespace keyless::http::h2 {

struct reader_options {
  /// Our SETTINGS_MAX_FRAME_SIZE: a longer frame is a FRAME_SIZE_ERROR.
  std::uint32_t max_frame_size = default_max_frame_size;
  /// True: a header block split over HEADERS (or PUSH_PROMISE) and
  /// CONTINUATION frames arrives as one event. False: each fragment arrives
  /// as its frame does.
  bool assemble_header_blocks = true;
  /// With assembly, the largest header block (without padding) we keep in
  /// memory; a larger one ends the connection.
  std::size_t max_header_block = 64 * 1024;
  /// The peer's first frame must be SETTINGS (RFC 9113 3.4): the server
  /// preface, or what follows the client's preface string (which the
  /// session checks, not the reader). Off only to read frames out of context.
  bool expect_server_preface = true;
  /// Who sends the frames read. server: we are the client. client: we are
  /// the server, so a PUSH_PROMISE is a PROTOCOL_ERROR and SETTINGS values
  /// are checked with check_client_setting.
  peer_role peer = peer_role::server;
};

enum class read_event : std::uint8_t {
  need_more,     ///< all input consumed; feed more
  frame,         ///< `header` and `payload` describe one frame
  stream_error,  ///< a frame broke a rule of its stream only (see read_result)
};

struct read_result {
  read_event event = read_event::need_more;
  std::size_t consumed = 0;  ///< bytes of the input used for this step
  /// The frame's header. length is the payload on the wire, padding
  /// included, which is what flow control counts.
  frame_header header;
  /// DATA: the data, without padding. HEADERS, PUSH_PROMISE: the header block
  /// fragment, without padding, priority fields or promised stream id; with
  /// assembly, the whole block (header.flags then has END_HEADERS and
  /// CONTINUATION frames are not reported). CONTINUATION (without assembly):
  /// the fragment. Other types: the payload as it is, its size checked.
  /// Points into the input or into the reader: valid until the next feed.
  std::string_view payload;
  std::uint32_t promised_stream_id = 0;  ///< PUSH_PROMISE
  /// For stream_error: the code to reset header.stream_id with, and what was
  /// wrong. A stream the client never opened is idle and must not be reset
  /// (RFC 9113 5.1): ignore the event for it, or end the connection.
  error_code stream_error = error_code::no_error;
  std::string_view message;
};

/// Reads frames one at a time. Connection errors throw connection_error
/// (its h2_code() goes into GOAWAY); they end the connection, so an exception
/// costs nothing on the normal path, and the reader then stays failed,
/// throwing the same error again on every feed. Errors that end only one
/// stream come back as stream_error events, and reading goes on.
///
/// Checked here: the length against max_frame_size; the lengths of
/// fixed-size frames; which frames go on stream 0 and which may not;
/// padding; the CONTINUATION sequence; SETTINGS values (check_setting); a
/// WINDOW_UPDATE increment of 0; the SETTINGS frame first; no PUSH_PROMISE
/// from a client. Frames of unknown types are skipped without buffering.
/// Left to the connection: stream states, SETTINGS ACKs we did not ask for,
/// PUSH_PROMISE when we disabled push, flow control (flow_window.hpp).
///
/// Typical loop: feed the bytes read so far; act on the event; drop
/// `consumed` bytes; repeat until need_more. Splitting the input differently
/// never changes the events or the error. Thread-safety: one operation at a
/// time.
class frame_reader {
 public:
  explicit frame_reader(reader_options options = {});

  /// Consumes a prefix of `input` and reports the frame it completed, or
  /// need_more once all of it is used. Throws connection_error.
  read_result feed(std::string_view input);

  /// True when nothing is buffered: no partial frame and no open header
  /// block. Where the server may close the connection without cutting a
  /// frame short.
  bool between_frames() const noexcept;

 private:
  enum class state : std::uint8_t { header, payload, skip };

  read_result read(std::string_view input);
  void check_header();
  void check_sequence() const;
  void check_stream_id() const;
  void check_length();
  bool on_frame(std::string_view payload, read_result& out);
  bool on_header_block(std::string_view payload, read_result& out);
  bool on_continuation(std::string_view fragment, read_result& out);
  std::string_view unpad(std::string_view payload, std::size_t fixed) const;
  void check_block_size(std::size_t size) const;
  void set_stream_error(error_code code, std::string message);
  read_result stream_error_result(std::size_t consumed) const;

  reader_options options_;
  state state_ = state::header;
  std::array<char, frame_header_size> header_bytes_{};
  std::size_t header_have_ = 0;  // bytes of header_bytes_ filled
  frame_header header_;          // the frame being read
  std::size_t remaining_ = 0;    // its payload bytes still to come
  std::string buffer_;           // its payload, when it arrived split
  bool seen_frame_ = false;
  // An open header block: the HEADERS or PUSH_PROMISE frame lacked END_HEADERS.
  bool in_block_ = false;
  frame_header block_header_;  // the frame that opened it
  std::uint32_t block_promised_ = 0;
  std::string block_;  // its fragments so far, when assembling
  // A stream error found in the header, reported once the payload is skipped.
  error_code stream_error_ = error_code::no_error;
  std::string message_;
  std::optional<connection_error> failure_;
};

}  // namespace keyless::http::h2
