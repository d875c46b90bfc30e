#pragma once

#include <exception>
#include <string_view>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/use_awaitable.hpp>

#include "keyless/detail/co_spawn_on.hpp"
#include "keyless/identity/access_token.hpp"
#include "keyless/identity/token_request.hpp"

namespace keyless::identity {

/// The interface every credential source implements.
/// Thread-safety: implementations are safe to share between concurrent operations.
class token_credential {
 public:
  using signature = void(std::exception_ptr, access_token);

  virtual ~token_credential() = default;

  /// Executor on which get_token runs and plain completions are delivered.
  virtual asio::any_io_executor get_executor() const = 0;

  /// A short stable name for diagnostics, e.g. "AzureCliCredential".
  virtual std::string_view name() const noexcept = 0;

  /// Gets a token for `req`. Completion: void(std::exception_ptr, access_token);
  /// failures are keyless::error (credential_unavailable means "cannot try here").
  /// Cancellation: terminal; the caller stops waiting. The signal may be emitted on any
  /// thread: it reaches get_token on get_executor().
  template <asio::completion_token_for<signature> CompletionToken = asio::use_awaitable_t<>>
  auto async_get_token(token_request req, CompletionToken&& token = {}) {
    return keyless::detail::co_spawn_on(get_executor(), get_token(std::move(req)),
                                        std::forward<CompletionToken>(token));
  }

  /// The coroutine behind async_get_token, for implementations and composites.
  virtual asio::awaitable<access_token> get_token(token_request req) = 0;
};

}  // namespace keyless::identity
