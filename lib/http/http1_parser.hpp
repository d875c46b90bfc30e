#pragma once
// Sans-I/O incremental HTTP/1.1 response parser. Takes bytes, returns events;
// knows nothing of sockets, so it is tested, fuzzed and benchmarked alone.

#include <cstddef>
#include <string_view>

#include "keyless/http/response.hpp"

namespace keyless::http::detail {

struct parser_limits {
  std::size_t max_header_bytes = 64 * 1024;         ///< status line + header block (+ trailers)
  std::size_t max_body_bytes = 64 * 1024 * 1024;    ///< decoded body
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
/// (naming what was malformed) or limit_exceeded (naming the limit).
class response_parser {
 public:
  explicit response_parser(parser_limits limits = {}) : limits_(limits) {}

  /// Prepares for the next response. HEAD requests have no body whatever the
  /// headers say; 204 and 304 never have one either.
  void reset(bool request_was_head = false);

  /// Consumes a prefix of `input` and reports what it completed. Call again
  /// with the rest until need_more (all consumed) or message_done.
  parse_result feed(std::string_view input);

  /// The peer closed the connection. Completes a close-delimited body
  /// (returns message_done); anywhere else throws malformed_response
  /// ("connection closed before the end of the ...").
  parse_result feed_eof();

  const response_head& head() const noexcept { return head_; }
  bool head_done() const noexcept;
  bool done() const noexcept;
  /// After message_done: may the connection carry another request?
  bool keep_alive() const noexcept;

 private:
  parser_limits limits_;
  response_head head_;
  // Implementation state is the implementer's to add.
};

}  // namespace keyless::http::detail
