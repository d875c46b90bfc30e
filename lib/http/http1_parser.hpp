#pragma once
// Sans-I/O incremental HTTP/1.1 response parser. Takes bytes, returns events;
// knows nothing of sockets, so it is tested, fuzzed and benchmarked alone.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "keyless/http/response.hpp"

namespace keyless::http::detail {

struct parser_limits {
  std::size_t max_header_bytes = 64 * 1024;       ///< status line + header block (+ trailers)
  std::size_t max_body_bytes = 64 * 1024 * 1024;  ///< decoded body
};

enum class parse_event {
  need_more,     ///< all input consumed; feed more (or feed_eof)
  head_done,     ///< head() is final (1xx interim responses are skipped silently)
  body_data,     ///< `data` holds decoded body bytes (valid until the next feed)
  message_done,  ///< the response is complete; unconsumed input belongs to the next one
};

struct parse_result {
  parse_event event = parse_event::need_more;
  std::size_t consumed = 0;  ///< bytes of the input used for this step
  std::string_view data;     ///< body bytes for body_data; points into the input
};

/// One response at a time. Failures throw keyless::error: malformed_response
/// (naming what was malformed), limit_exceeded (naming the limit), or from
/// feed_eof connection_failed (naming where the response was cut). After a
/// throw the parser must be reset() before it is used again.
///
/// Typical loop: feed the bytes read so far; act on the event; drop
/// `consumed` bytes; repeat. After head_done call feed again even when no
/// input is left: a response without a body (HEAD, 204, 304,
/// Content-Length: 0) then reports message_done without further bytes.
/// Splitting the input differently never changes the head, the body bytes
/// (concatenated), or the error thrown. Thread-safety: one operation at a time.
class response_parser {
 public:
  explicit response_parser(parser_limits limits = {}) : limits_(limits) {}

  /// Prepares for the next response. HEAD requests have no body whatever the
  /// headers say; 204 and 304 never have one either. Pass true as well for a
  /// CONNECT request: its 2xx reply is followed by the tunnel, not a body.
  void reset(bool request_was_head = false);

  /// Consumes a prefix of `input` and reports what it completed. Call again
  /// with the rest until need_more (all consumed) or message_done. After
  /// message_done, further calls return message_done and consume nothing.
  parse_result feed(std::string_view input);

  /// The peer closed the connection. Completes a close-delimited body
  /// (returns message_done); anywhere else the response was cut short and it
  /// throws connection_failed saying where ("connection closed before the end
  /// of the body (120 of 300 bytes)").
  parse_result feed_eof();

  const response_head& head() const noexcept { return head_; }
  /// Moves the head out (after head_done, once nobody needs head() any more).
  response_head take_head() noexcept { return std::move(head_); }
  bool head_done() const noexcept;
  bool done() const noexcept;
  /// After message_done: may the connection carry another request?
  /// False for a close-delimited body, "Connection: close", HTTP/1.0 without
  /// "Connection: keep-alive", or a response with both Transfer-Encoding and
  /// Content-Length (RFC 9112 6.1: the connection must not be reused).
  bool keep_alive() const noexcept;

 private:
  enum class state : std::uint8_t {
    status_line,
    header_line,
    // Everything from here on has a final head.
    body_length,
    body_eof,
    chunk_size,
    chunk_data,
    chunk_data_end,
    trailer_line,
    complete,
  };

  bool take_line(std::string_view input, std::size_t& pos, std::string_view& line);
  std::optional<parse_event> on_line(std::string_view line);
  void parse_status_line(std::string_view line);
  void parse_header_line(std::string_view line, bool trailer);
  std::optional<parse_event> end_of_head();
  void parse_chunk_size(std::string_view line);
  void clear_head_state();

  parser_limits limits_;
  response_head head_;
  state state_ = state::status_line;
  bool request_was_head_ = false;
  bool keep_alive_ = false;
  bool has_content_length_ = false;
  bool has_transfer_encoding_ = false;
  bool transfer_coding_other_ = false;  // a coding we cannot decode, or "chunked" twice
  bool transfer_coding_chunked_ = false;
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
  std::uint64_t content_length_ = 0;
  std::uint64_t remaining_ = 0;   // bytes left of a Content-Length body or of a chunk
  std::uint64_t body_bytes_ = 0;  // decoded body bytes so far
  std::size_t head_bytes_ = 0;    // head lines so far, interim heads and trailers included
  std::string line_;              // a line that arrived split across feeds
};

}  // namespace keyless::http::detail
