#pragma once
// One HTTP/2 connection carrying many requests at once: the asio side of h2::client_session.
// Everything runs on the connection's strand: one read loop, one writer, and the requests
// waiting for their streams.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ssl/context.hpp>
#include <asio/steady_timer.hpp>

#include "connection.hpp"
#include "http/h2/client_session.hpp"
#include "keyless/core/clock.hpp"
#include "keyless/core/error.hpp"
#include "keyless/http/response.hpp"

namespace keyless::http::detail {

/// Thrown when a request never reached the server's application on this connection (the
/// connection went away before the stream was opened, the server refused the stream, or its
/// GOAWAY left the stream unprocessed): sending it on another connection is safe.
struct h2_not_processed {
  std::string why;  ///< what happened to it, for the error when no connection takes it
};

/// What the HTTP/2 connections of one client share.
struct h2_settings {
  h2::session_options session;
  /// http_version::automatic: the TLS handshake offers HTTP/1.1 too, and start() throws
  /// h2_declined when the server picks it.
  bool offer_http1 = false;
  std::shared_ptr<const keyless::clock> clock;  ///< tells when a connection became idle
};

/// Thrown when the server's TLS handshake picked HTTP/1.1 (or no protocol) for a connection
/// that offered both: the request, and the origin's later ones, go over HTTP/1.1.
struct h2_declined {};

/// A request's stream: what arrived for it, and the timer its requester waits on.
struct h2_stream {
  explicit h2_stream(const strand_type& strand) : wake(strand) {}

  const exchange* x = nullptr;
  std::uint32_t id = 0;
  response_head head;
  bool head_done = false;
  bool ended = false;
  bool failed = false;
  errc failure_code = errc::connection_failed;
  std::string failure_message;
  bool retryable = false;  ///< failed unprocessed: may be sent on another connection
  /// The whole body is wanted: bytes are handed back to flow control as they arrive.
  bool collect = false;
  std::string arrived;        ///< body bytes not handed to the reader yet
  std::string handed_out;     ///< the piece read_body's last view points into
  std::size_t body_size = 0;  ///< decoded body bytes so far, against the limit
  asio::steady_timer wake;    ///< cancelled to tell the requester something happened
  bool notified = false;      ///< something happened since the requester last looked
};

/// Thread-safety: accepting() and users from any thread; the rest on strand().
class h2_connection : public std::enable_shared_from_this<h2_connection>,
                      private h2::session_events {
 public:
  h2_connection(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls,
                const h2_settings& settings);
  ~h2_connection();

  const strand_type& strand() const noexcept { return link_->strand(); }

  /// May carry new streams: not failed, not closed, no GOAWAY received. Any thread.
  bool accepting() const noexcept { return accepting_.load(std::memory_order_acquire); }
  /// Since when no stream has been open (by the settings' clock); nothing while one is, or
  /// before the first. Any thread.
  std::optional<keyless::clock::time_point> idle_since() const noexcept;
  // --- on strand() ---

  /// Connects on first use, sends `x`'s request and waits for the response head. Throws
  /// keyless::error, h2_not_processed (retry elsewhere), h2_declined, or
  /// asio::system_error(operation_aborted) when cancelled; the stream is gone then.
  asio::awaitable<std::shared_ptr<h2_stream>> start(const exchange* x, bool collect = false);
  /// The next piece of `s`'s body, or nothing at its end; the view lives until the next call.
  /// Failures as start().
  asio::awaitable<std::optional<std::string_view>> read_body(std::shared_ptr<h2_stream> s);
  /// start(), then the whole body into `out`.
  asio::awaitable<void> start_and_read_all(const exchange* x, response& out);
  /// Abandons `s` (RST_STREAM) unless it has ended.
  void cancel(h2_stream& s) noexcept;
  /// Closes the socket; streams fail with connection_failed. Idempotent.
  void close() noexcept;

 private:
  enum class state : std::uint8_t { fresh, opening, open, dead };

  asio::awaitable<void> ensure_open(const exchange* x);
  asio::awaitable<void> open(const exchange* x);
  void abandon_opening(std::string_view why);
  asio::awaitable<void> wait_for_stream_slot();
  // What a requester waits for: the head (the request timeout applies) or body bytes (the
  // idle timeout too).
  enum class awaiting : std::uint8_t { head, body };
  // Waits until `s` is notified; throws on the timeout or the caller's cancellation.
  asio::awaitable<void> await_event(h2_stream& s, awaiting what);
  [[noreturn]] void throw_failure(const h2_stream& s) const;
  // Why no stream can be opened here any more, for h2_not_processed.
  std::string why_not_accepting() const;
  void stop_accepting(std::string_view why);
  void notify(h2_stream& s) noexcept;
  void forget(h2_stream& s) noexcept;
  void wake_slot_waiters() noexcept;
  void flush();
  void ensure_reading();
  void lose(std::string_view why) noexcept;
  static asio::awaitable<void> write_loop(std::shared_ptr<h2_connection> self);
  static asio::awaitable<void> read_loop(std::shared_ptr<h2_connection> self);

  // h2::session_events, called from inside client_session on the strand.
  void on_response_head(std::uint32_t stream_id, int status,
                        std::span<const h2::field_view> fields) override;
  void on_data(std::uint32_t stream_id, std::string_view data) override;
  void on_end(std::uint32_t stream_id, std::span<const h2::field_view> trailers) override;
  void on_failed(std::uint32_t stream_id, const h2::stream_failure& failure) override;
  void on_goaway(std::uint32_t last_stream_id, h2::error_code code,
                 std::string_view debug_data) override;

  std::shared_ptr<connection> link_;  // the socket (TCP, proxy tunnel, TLS), as HTTP/1.1's
  h2::client_session session_;
  bool offer_http1_;
  std::shared_ptr<const keyless::clock> clock_;
  std::atomic<keyless::clock::duration::rep> idle_since_{0};  // since the epoch; 0: not idle
  state state_ = state::fresh;
  std::exception_ptr open_failure_;
  std::atomic<bool> accepting_{true};
  std::string not_accepting_why_;  // the first reason accepting_ went false
  asio::steady_timer opened_;      // cancelled when opening ends, either way
  asio::steady_timer slot_freed_;  // cancelled when a stream ends while some wait for a slot
  std::size_t slot_waiters_ = 0;
  std::uint64_t slots_freed_count_ = 0;  // tells a woken slot waiter from a cancelled one
  std::unordered_map<std::uint32_t, h2_stream*> streams_;
  std::string out_;      // frames not written yet
  std::string writing_;  // frames being written
  std::string read_buffer_;
  bool writer_running_ = false;
  bool reader_running_ = false;
  bool heard_from_server_ = false;
};

}  // namespace keyless::http::detail
