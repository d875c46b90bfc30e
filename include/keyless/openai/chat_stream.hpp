#pragma once

#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/use_awaitable.hpp>

#include "keyless/detail/co_spawn_on.hpp"
#include "keyless/http/fields.hpp"
#include "keyless/openai/chat_types.hpp"

namespace keyless::openai {

namespace detail {
struct chat_stream_state;
}  // namespace detail

/// A streamed chat completion: Server-Sent Events read one chunk at a time (pull
/// model, so a slow reader slows the socket instead of growing a buffer).
/// Obtained from chat_client::stream once the service has accepted the request.
///
/// next() yields every chunk the service sends, in order, including Azure's
/// first chunk (empty choices, only prompt_filter_results), filter-only chunks
/// and, with include_usage, the final usage chunk (empty choices). It returns an
/// empty optional at `data: [DONE]`. Every chunk is also folded into
/// accumulated(), which stays readable after an error, so a caller keeps the
/// partial reply of a stream that broke.
///
/// Failures are keyless::error: an `error` event from the service
/// (errc::http_status with its code and message), a body that ends without
/// [DONE] or is cut mid-event, a connection reset or closed mid-chunk
/// (errc::connection_failed, the message saying where it was cut), no byte for
/// the stream idle timeout (errc::timeout), bytes that do not parse as HTTP, an
/// event or a chunk (errc::malformed_response). After an error the stream is
/// finished: next() returns an empty optional. A stream is never retried.
///
/// Thread-safety: one operation at a time. Movable; destroying it before the end
/// closes its connection (it is not returned to the pool).
class chat_stream {
 public:
  /// Completion signature of async_next.
  using next_signature = void(std::exception_ptr, std::optional<chat_chunk>);

  /// A finished, empty stream.
  chat_stream() noexcept;
  chat_stream(chat_stream&&) noexcept;
  chat_stream& operator=(chat_stream&&) noexcept;
  chat_stream(const chat_stream&) = delete;
  chat_stream& operator=(const chat_stream&) = delete;
  ~chat_stream();

  /// The next chunk; an empty optional at the end ([DONE]). Throws keyless::error
  /// as described above. Cancellation: terminal; the connection is closed and
  /// the stream is finished.
  asio::awaitable<std::optional<chat_chunk>> next();

  /// next() for any completion token. Completion: void(std::exception_ptr,
  /// std::optional<chat_chunk>), run on get_executor() unless the handler has
  /// its own executor. Keep the stream alive until it completes. Cancellation: as
  /// next(); it may be emitted on any thread and reaches the read on get_executor().
  template <asio::completion_token_for<next_signature> CompletionToken = asio::use_awaitable_t<>>
  auto async_next(CompletionToken&& token = {}) {
    return keyless::detail::co_spawn_on(get_executor(), next(),
                                        std::forward<CompletionToken>(token));
  }

  /// Everything received so far folded into one completion (content and
  /// tool-call arguments concatenated, usage and filter results collected); see
  /// chat_stream_accumulator.
  const chat_completion& accumulated() const noexcept;

  /// Moves the accumulated completion out.
  chat_completion take_accumulated();

  /// Chunks returned by next() so far.
  std::size_t chunk_count() const noexcept;

  /// True once [DONE] was read, an error occurred or close() was called.
  bool done() const noexcept;

  /// The response headers (for apim-request-id, x-ratelimit-*, ...).
  const http::fields& headers() const noexcept;

  /// The service's request id (apim-request-id, x-ms-request-id or x-request-id).
  const std::string& request_id() const noexcept;

  /// Stops reading and closes the connection; the stream becomes done.
  void close() noexcept;

  /// The executor async_next runs on.
  asio::any_io_executor get_executor() const;

 private:
  friend struct detail::chat_stream_state;
  explicit chat_stream(std::unique_ptr<detail::chat_stream_state> state) noexcept;

  std::unique_ptr<detail::chat_stream_state> state_;
};

}  // namespace keyless::openai
