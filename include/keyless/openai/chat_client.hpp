#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/use_awaitable.hpp>

#include "keyless/core/clock.hpp"
#include "keyless/detail/co_spawn_on.hpp"
#include "keyless/http/client.hpp"
#include "keyless/http/client_options.hpp"
#include "keyless/identity/authority.hpp"
#include "keyless/openai/auth.hpp"
#include "keyless/openai/chat_stream.hpp"
#include "keyless/openai/chat_types.hpp"

namespace keyless::openai {

/// The api-version sent on the dated surface when neither the options nor
/// OPENAI_API_VERSION name one: the newest generally available version.
inline constexpr std::string_view default_api_version = "2024-10-21";

/// Which URL shape the client calls.
enum class api_surface {
  /// `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…`,
  /// what the AzureOpenAI classes of the openai SDKs call.
  deployments,
  /// `{endpoint}/openai/v1/chat/completions` with the deployment as `model` and
  /// no api-version, the OpenAI-compatible v1 API.
  v1,
};

/// Options of chat_client. Unset values come from the environment:
/// AZURE_OPENAI_ENDPOINT (endpoint), AZURE_OPENAI_API_KEY (auth, when no auth is
/// given) and OPENAI_API_VERSION (api_version).
struct chat_client_options {
  /// The resource endpoint, e.g. "https://my-resource.openai.azure.com" (a path
  /// prefix is kept, for gateways). Must be https, except on loopback hosts.
  std::string endpoint{};
  /// The deployment name (not the model name). Required.
  std::string deployment{};
  /// Empty: OPENAI_API_VERSION, else default_api_version. Not sent on v1.
  std::string api_version{};
  api_surface surface = api_surface::deployments;
  /// `keyless::api_key{"..."}`, a bearer_token_provider or a token_credential; see chat_auth.
  chat_auth auth{};

  /// HTTP settings of the client's own http::client (TLS trust, pool, proxy,
  /// connect timeout, User-Agent). Ignored when `http_client` is set.
  http::client_options http{};
  /// A client to share (its pool) with other users; null: one is made from `http`.
  std::shared_ptr<http::client> http_client{};

  /// Retries after 408, 409, 429, 5xx and connection errors (x-should-retry
  /// overrides the status). 2 as in the openai SDKs: 3 attempts in all.
  int max_retries = 2;
  /// The longest retry-after-ms / retry-after wait honoured; a longer one fails
  /// the call at once (Azure asks for a day when a quota is exhausted).
  std::chrono::milliseconds max_server_delay{std::chrono::seconds(60)};
  /// Jittered exponential backoff when the service names no delay:
  /// min(initial × 2ⁿ, max) × (1 − 0.25 × random).
  std::chrono::milliseconds retry_initial_delay{500};
  std::chrono::milliseconds retry_max_delay{std::chrono::seconds(8)};
  /// Retry 403/401 PermissionDenied for this long after the call's first
  /// attempt, for a role assignment that has not propagated yet (they take up
  /// to about 10 minutes). Zero (the default) reports it at once.
  std::chrono::milliseconds permission_grace{0};

  /// complete(): the whole exchange. stream(): until the last chunk.
  std::chrono::milliseconds request_timeout{std::chrono::minutes(10)};
  /// stream(): the longest silence between bytes of the event stream.
  std::chrono::milliseconds stream_idle_timeout{std::chrono::seconds(60)};
  /// stream(): the token is requested valid for at least this long, so a stream
  /// never starts with a token about to expire.
  std::chrono::milliseconds expected_stream_duration{std::chrono::minutes(5)};

  /// Time for retry delays (sleep_for) and HTTP-date retry-after; null:
  /// keyless::clock::system(). Tests pass a manual_clock.
  std::shared_ptr<const keyless::clock> clock{};
  /// Uniform numbers in [0, 1) for backoff jitter; null: a per-thread engine.
  /// Called from whichever thread runs a retry, so it must be thread-safe when
  /// the io_context has several threads.
  std::function<double()> random{};
  /// Variables to read instead of the process environment.
  std::optional<identity::environment_map> environment{};
};

/// Counters of a chat_client; safe to read from any thread.
struct chat_client_stats {
  std::uint64_t calls = 0;         ///< complete() and stream() calls started
  std::uint64_t attempts = 0;      ///< HTTP requests sent (retries included)
  std::uint64_t retries = 0;       ///< retries after 408/409/429/5xx/connection errors
  std::uint64_t auth_retries = 0;  ///< retries after a 401 with a fresh token
  std::uint64_t token_waits = 0;   ///< calls whose token was not ready in the cache
};

/// A client for Azure OpenAI chat completions, keyless (Entra ID) or with an API key.
///
///     keyless::openai::chat_client chat(io.get_executor(), {
///         .endpoint = "https://my-resource.openai.azure.com",
///         .deployment = "gpt-4o-mini",
///         .auth = tokens,                 // or: keyless::api_key{"..."}
///     });
///     auto reply = co_await chat.complete({.messages = {{"user", "Hello"}}});
///
/// Each attempt takes a token from the provider (a cache hit costs no more than
/// building the header) and sends it with a x-ms-client-request-id that stays the
/// same across the call's retries. A 401 with a bearer token drops that token
/// from the cache and retries once with a fresh one (or, for a CAE
/// insufficient_claims challenge, with a token carrying the claims). 408, 409,
/// 429, 5xx and connection errors are retried up to max_retries, waiting what
/// retry-after-ms / x-ms-retry-after-ms / retry-after ask or a jittered backoff,
/// on the injected clock. Failures are keyless::error with diagnostics (HTTP
/// status, Azure error code, request id, retry-after) and a hint naming the
/// usual pitfall (wrong token scope, missing "Cognitive Services OpenAI User"
/// role, unknown deployment, throttling); never a token or key.
///
/// The constructor throws keyless::error(errc::invalid_argument) for a missing
/// or unusable endpoint, deployment or auth. Thread-safety: safe to share; any
/// number of calls may run concurrently, on a multi-threaded io_context too. It
/// creates no threads. Lifetime: a cheap handle; calls in flight keep its state
/// alive.
class chat_client {
 public:
  using complete_signature = void(std::exception_ptr, chat_completion);
  using stream_signature = void(std::exception_ptr, chat_stream);

  explicit chat_client(asio::any_io_executor executor, chat_client_options options = {});

  /// The executor token-based completions run on (unless the handler has its own).
  asio::any_io_executor get_executor() const noexcept;

  /// Sends `request` and returns the whole completion. Throws keyless::error
  /// (http_status with diagnostics, timeout, connection_failed, tls_failed,
  /// malformed_response, invalid_argument for a request that cannot be written).
  /// Cancellation: terminal; the request's connection is closed.
  asio::awaitable<chat_completion> complete(chat_request request) const;

  /// complete() for any completion token: void(std::exception_ptr, chat_completion).
  /// A cancellation may be emitted on any thread; it reaches the request on get_executor().
  template <asio::completion_token_for<complete_signature> CompletionToken>
  auto complete(chat_request request, CompletionToken&& token) const {
    return async_complete(std::move(request), std::forward<CompletionToken>(token));
  }
  template <
      asio::completion_token_for<complete_signature> CompletionToken = asio::use_awaitable_t<>>
  auto async_complete(chat_request request, CompletionToken&& token = {}) const {
    return keyless::detail::co_spawn_on(get_executor(), complete(std::move(request)),
                                        std::forward<CompletionToken>(token));
  }

  /// Sends `request` with "stream": true and completes once the service has
  /// accepted it (2xx with text/event-stream); chunks are then read with
  /// chat_stream::next(). Errors before that point are handled as in complete()
  /// (retries included); a 2xx with another Content-Type is
  /// errc::malformed_response. The token is requested valid for
  /// expected_stream_duration. Cancellation: terminal.
  asio::awaitable<chat_stream> stream(chat_request request) const;

  /// stream() for any completion token: void(std::exception_ptr, chat_stream).
  /// A cancellation may be emitted on any thread; it reaches the request on get_executor().
  template <asio::completion_token_for<stream_signature> CompletionToken>
  auto stream(chat_request request, CompletionToken&& token) const {
    return async_stream(std::move(request), std::forward<CompletionToken>(token));
  }
  template <asio::completion_token_for<stream_signature> CompletionToken = asio::use_awaitable_t<>>
  auto async_stream(chat_request request, CompletionToken&& token = {}) const {
    return keyless::detail::co_spawn_on(get_executor(), stream(std::move(request)),
                                        std::forward<CompletionToken>(token));
  }

  /// The URL requests go to (no credentials in it).
  const std::string& url() const noexcept;
  /// The scope tokens are requested for; empty with an API key.
  const std::string& scope() const noexcept;
  /// The api-version sent; empty on the v1 surface.
  const std::string& api_version() const noexcept;

  chat_client_stats stats() const noexcept;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace keyless::openai
