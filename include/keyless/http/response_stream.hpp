#pragma once

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/use_awaitable.hpp>

#include "keyless/detail/co_spawn_on.hpp"
#include "keyless/http/fields.hpp"
#include "keyless/http/response.hpp"

namespace keyless::http {

namespace detail {
struct stream_state;
}  // namespace detail

/// A response whose head has arrived and whose body is read piece by piece as it arrives (the
/// base of Server-Sent Events). Obtained from client::send_streaming.
///
/// The connection goes back to the client's pool only once the body has been read to its end;
/// destroying (or close()-ing) the stream earlier closes the connection instead. The request
/// timeout keeps running until the body ends, and the idle timeout bounds each wait for bytes.
///
/// Thread-safety: one operation at a time; keep the stream alive until it completes. Movable.
class response_stream {
 public:
  /// Completion signature of async_read_some.
  using read_signature = void(std::exception_ptr, std::optional<std::string>);

  /// An empty stream: no head, and already at the end of its (empty) body.
  response_stream() noexcept;
  response_stream(response_stream&&) noexcept;
  response_stream& operator=(response_stream&&) noexcept;
  response_stream(const response_stream&) = delete;
  response_stream& operator=(const response_stream&) = delete;
  /// Closes the connection unless the body was read to its end.
  ~response_stream();

  /// Status line and headers.
  const response_head& head() const noexcept;
  int status() const noexcept { return head().status; }
  const fields& headers() const noexcept { return head().headers; }
  /// Whether the body has been read to its end (or the stream was closed).
  bool done() const noexcept;

  /// Reads the next piece of the decoded body (chunk framing removed); an empty optional means
  /// the body has ended. The view stays valid until the next call on this stream or its
  /// destruction. Throws keyless::error: timeout (idle or request timeout, named in the
  /// message), connection_failed, malformed_response, limit_exceeded; after an error the
  /// stream is done and its connection closed.
  /// Cancellation: terminal; the connection is closed and the stream is done.
  asio::awaitable<std::optional<std::string_view>> read_some();

  /// Reads the rest of the body and returns it.
  asio::awaitable<std::string> read_all();

  /// read_some for any completion token; the piece is copied.
  /// Completion: void(std::exception_ptr, std::optional<std::string>), run on get_executor()
  /// unless the handler has its own executor. Cancellation: as read_some; it may be emitted on
  /// any thread and reaches the read on get_executor().
  template <typename CompletionToken = asio::use_awaitable_t<>>
  auto async_read_some(CompletionToken&& token = {}) {
    return keyless::detail::co_spawn_on(get_executor(), read_some_copy(),
                                        std::forward<CompletionToken>(token));
  }

  /// Closes the connection now unless the body has ended; the stream becomes done.
  void close() noexcept;

  /// The executor the connection's I/O runs on (a strand).
  asio::any_io_executor get_executor() const;

 private:
  friend struct detail::stream_state;
  explicit response_stream(std::shared_ptr<detail::stream_state> state) noexcept;
  asio::awaitable<std::optional<std::string>> read_some_copy();

  std::shared_ptr<detail::stream_state> state_;
};

}  // namespace keyless::http
