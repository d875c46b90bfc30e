#pragma once
// Sans-I/O Server-Sent Events decoder (WHATWG HTML, "event stream
// interpretation"): bytes in, events out, no sockets. Any split of the input
// into feed() calls yields the same events.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace keyless::openai {

/// One dispatched event.
struct sse_event {
  std::string type;  ///< the `event` field, "message" when the stream sent none
  std::string data;  ///< `data` lines joined with "\n"
  std::string id;    ///< the last event id in force when the event was dispatched
};

/// Decodes an event stream incrementally.
///
/// feed() buffers bytes; next() returns complete events one at a time (pull
/// model: the client drains next() after each feed). Handles the `data`,
/// `event`, `id` and `retry` fields, comments, CRLF / LF / CR line ends (also
/// when split across feeds), multi-line data and a UTF-8 byte order mark at the
/// start. An event is dispatched at a blank line; events without data are not
/// dispatched (per the standard). A line or an event's data longer than
/// max_event_size throws keyless::error(errc::limit_exceeded); the decoder then
/// stays failed and throws again on use. One operation at a time.
class sse_decoder {
 public:
  /// Azure's chunks are a few hundred bytes; 1 MiB leaves room for huge tool
  /// arguments in one delta while still bounding a peer that never sends "\n".
  static constexpr std::size_t default_max_event_size = 1 << 20;

  explicit sse_decoder(std::size_t max_event_size = default_max_event_size)
      : max_event_size_(max_event_size) {}

  /// Appends bytes of the stream.
  void feed(std::string_view bytes);

  /// The next complete event, or false when more bytes are needed. Reuses
  /// `out`'s storage.
  bool next(sse_event& out);

  /// The next complete event, or nullopt.
  std::optional<sse_event> next();

  /// After next() returned false: true when a partial line or undispatched
  /// fields are pending. At the end of the body this means the stream was cut
  /// mid-event (the standard drops such an event).
  bool has_partial_event() const noexcept;

  /// Bytes fed but not yet consumed by next().
  std::size_t buffered() const noexcept { return buffer_.size() - pos_; }

  /// The reconnection time from the last valid `retry` field, if any.
  std::optional<std::chrono::milliseconds> retry() const noexcept { return retry_; }

 private:
  // Returns true when the line completed an event (stored in `out`).
  bool process_line(std::string_view line, sse_event& out);
  void check_size(std::size_t size);
  [[noreturn]] void fail_too_large() const;

  std::size_t max_event_size_;
  std::string buffer_;
  std::size_t pos_ = 0;   // first unconsumed byte of buffer_
  std::size_t scan_ = 0;  // buffer_ before this holds no line end (from pos_ on)
  bool bom_checked_ = false;
  bool skip_lf_ = false;  // the last line ended with CR; a leading LF belongs to it
  bool failed_ = false;
  // The event being assembled.
  std::string data_;
  std::size_t data_lines_ = 0;
  std::string type_;
  std::string last_id_;
  std::optional<std::chrono::milliseconds> retry_;
};

/// True when `data` is the end-of-stream marker: like the openai SDKs, any data
/// starting with "[DONE]".
inline bool is_done_marker(std::string_view data) noexcept {
  return data.starts_with("[DONE]");
}

}  // namespace keyless::openai
