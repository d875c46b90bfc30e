#pragma once
// HTTP/2 flow control (RFC 9113 5.2, 6.9): the arithmetic of one window, for
// the DATA we send and for the DATA we receive. Plain integers, no I/O; a
// connection keeps one pair for itself and one pair per stream.

#include <cstdint>

#include "http/h2/frame.hpp"

namespace keyless::http::h2 {

/// How much DATA we may still send on a stream or on the connection. The
/// peer grows it with WINDOW_UPDATE; a new SETTINGS_INITIAL_WINDOW_SIZE moves
/// every stream's window (never the connection's) and may leave it negative.
/// Thread-safety: one operation at a time.
class send_window {
 public:
  explicit send_window(std::uint32_t initial = default_initial_window_size);

  /// Negative when the peer shrank SETTINGS_INITIAL_WINDOW_SIZE below what
  /// was already in flight.
  std::int64_t available() const noexcept { return available_; }
  /// What the next DATA frame may carry: the window, or 0 when it is
  /// used up or negative.
  std::uint32_t sendable() const noexcept;

  /// A DATA frame of `length` (its header's, padding included) was sent.
  /// Throws keyless::error(invalid_argument) past sendable(): a bug of the
  /// caller.
  void consume(std::uint32_t length);

  /// A WINDOW_UPDATE arrived. False, leaving the window as it was, when the
  /// window would pass 2^31-1: a FLOW_CONTROL_ERROR of the stream (send
  /// RST_STREAM) or, for the connection's window, of the connection (GOAWAY).
  [[nodiscard]] bool grow(std::uint32_t increment) noexcept;

  /// The peer's SETTINGS_INITIAL_WINDOW_SIZE went from `old_size` to
  /// `new_size` (RFC 9113 6.9.2): moves this stream's window by the
  /// difference. Throws connection_error(FLOW_CONTROL_ERROR) if it would pass
  /// 2^31-1.
  void apply_initial_window_change(std::uint32_t old_size, std::uint32_t new_size);

 private:
  std::int64_t available_;
};

/// How much DATA the peer may still send us on a stream or on the
/// connection, and when to let it send more.
///
/// Received bytes count against the window until the application has used
/// them and calls release(). take_update() hands released bytes back in one
/// WINDOW_UPDATE once they reach half the window: a reader that stops
/// reading stops the peer, and updates stay few (two per window's worth of
/// data at most). Thread-safety: one operation at a time.
class receive_window {
 public:
  /// `size`: the window to keep open, at most 2^31-1. `advertised`: where the
  /// peer starts, at most `size`: our SETTINGS_INITIAL_WINDOW_SIZE for a
  /// stream (the same as `size`), 65,535 for the connection, whose larger
  /// `size` the first take_update() announces. Throws
  /// keyless::error(invalid_argument) for values out of range.
  explicit receive_window(std::uint32_t size = default_initial_window_size);
  receive_window(std::uint32_t size, std::uint32_t advertised);

  std::uint32_t size() const noexcept { return size_; }
  /// What the peer may still send before our next WINDOW_UPDATE.
  std::uint32_t available() const noexcept { return available_; }

  /// A DATA frame of `length` (its header's, padding included) arrived.
  /// False, leaving the window as it was, when the peer sent more than the
  /// window allowed: a FLOW_CONTROL_ERROR.
  [[nodiscard]] bool receive(std::uint32_t length) noexcept;

  /// The application is done with `n` received bytes (padding and DATA for a
  /// stream that was reset: at once). Throws keyless::error(invalid_argument)
  /// past what was received and not yet released: a bug of the caller.
  void release(std::uint32_t n);

  /// The increment to send in a WINDOW_UPDATE now, or 0 for "not yet".
  /// Counts it as sent.
  std::uint32_t take_update() noexcept;

 private:
  std::uint32_t size_;
  std::uint32_t available_;     // size_ minus received bytes not yet handed back
  std::uint32_t released_ = 0;  // handed back by the application, not yet announced
  bool announce_ = false;       // size_ is above `advertised`: say so at once
};

}  // namespace keyless::http::h2
