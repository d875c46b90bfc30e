#pragma once

#include <chrono>
#include <concepts>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/use_awaitable.hpp>

#include "keyless/detail/co_spawn_on.hpp"
#include "keyless/identity/access_token.hpp"
#include "keyless/identity/token_cache.hpp"
#include "keyless/identity/token_credential.hpp"
#include "keyless/identity/token_request.hpp"

namespace keyless::identity {

/// keyless's get_bearer_token_provider: a callable that yields a valid bearer
/// token for fixed scopes, cached and refreshed by a token_cache.
///
///     auto tokens = keyless::identity::bearer_token_provider(credential,
///                       "https://cognitiveservices.azure.com/.default");
///     access_token t = co_await tokens();          // cached: ~tens of ns
///     if (auto t2 = tokens.try_get()) { ... }       // synchronous, never waits
///     tokens.invalidate(t);                         // after a 401
///
/// A cheap copyable handle: copies share one cache entry. Give one to every
/// client that should share tokens. Thread-safety: all members may be called
/// concurrently from any thread. The provider creates no threads.
class bearer_token_provider {
 public:
  using signature = void(std::exception_ptr, access_token);
  using duration = std::chrono::system_clock::duration;

  /// Tokens for `scopes` from `credential`. If `credential` is a token_cache it
  /// is shared, otherwise the provider gets a private token_cache with default
  /// options. Throws keyless::error(errc::invalid_argument) for a null
  /// credential or an empty scope.
  template <typename... Scopes>
  requires(sizeof...(Scopes) > 0 &&
           (std::convertible_to<Scopes, std::string_view> &&
            ...)) explicit bearer_token_provider(std::shared_ptr<token_credential> credential,
                                                 Scopes&&... scopes)
      : bearer_token_provider(
            std::move(credential),
            token_request{{std::string(std::string_view(scopes))...}, {}, {}, false}) {}

  /// Tokens for `request` (scopes, optional tenant, enable_cae; claims must be
  /// empty: use get_with_claims) from `credential`, shared as above.
  bearer_token_provider(std::shared_ptr<token_credential> credential, token_request request);

  /// The executor of the underlying credential; token-based (non-coroutine)
  /// completions run there unless the handler has its own executor.
  asio::any_io_executor get_executor() const;

  /// The normalised request (sorted, de-duplicated scopes).
  const token_request& request() const noexcept;

  /// The cache behind this provider.
  const std::shared_ptr<token_cache>& cache() const noexcept;

  /// `co_await provider()`: a token valid now. A hit completes without
  /// suspending and without allocating beyond Asio's recycled coroutine frame;
  /// a miss waits on the cache's shared fetch and resumes on the awaiting
  /// coroutine's executor. Throws keyless::error on failure. Cancellation: the
  /// caller stops waiting with operation_aborted; the shared fetch goes on.
  /// Lifetime: the awaitable refers to this provider's shared state, which must
  /// still be alive (through any copy) when the awaitable is first awaited.
  asio::awaitable<access_token> operator()() const;

  /// The same for any completion token: void(std::exception_ptr, access_token).
  /// `use_awaitable` takes the direct coroutine path above; other tokens go
  /// through co_spawn on get_executor() and keep the provider's state alive; their
  /// cancellation may be emitted on any thread and reaches the call on get_executor().
  template <asio::completion_token_for<signature> CompletionToken>
  auto operator()(CompletionToken&& token) const {
    return get(duration::zero(), std::forward<CompletionToken>(token));
  }

  /// A token still valid `min_valid_for` from now (after the expiry skew),
  /// refreshing first if the cached one is not. Use it before a long stream so
  /// the stream never outlives its token. Fails with errc::invalid_argument if
  /// even a freshly fetched token does not live that long. Completion and
  /// cancellation as for operator().
  asio::awaitable<access_token> get(duration min_valid_for) const;

  template <asio::completion_token_for<signature> CompletionToken>
  auto get(duration min_valid_for, CompletionToken&& token) const {
    if constexpr (std::is_same_v<std::decay_t<CompletionToken>, asio::use_awaitable_t<>>) {
      return get(min_valid_for);
    } else {
      return keyless::detail::co_spawn_on(get_executor(), get_owned(state_, min_valid_for, {}),
                                          std::forward<CompletionToken>(token));
    }
  }

  /// Fetches a token satisfying a CAE claims challenge (the decoded claims JSON
  /// from a 401's WWW-Authenticate), bypassing the cache; the result replaces
  /// the cached token. Concurrent calls with the same claims share one fetch.
  /// Completion and cancellation as for operator().
  template <asio::completion_token_for<signature> CompletionToken = asio::use_awaitable_t<>>
  auto get_with_claims(std::string claims, CompletionToken&& token = {}) const {
    return keyless::detail::co_spawn_on(get_executor(),
                                        get_owned(state_, duration::zero(), std::move(claims)),
                                        std::forward<CompletionToken>(token));
  }

  /// The cached token if it is valid now, else nothing; never waits and never
  /// allocates on a hit. Does not start a fetch for an empty cache, but starts
  /// the one background refresh when the token is in its refresh window.
  std::optional<access_token> try_get() const noexcept;

  /// Drops `token` if it is still the cached one (after a 401); returns whether
  /// it did. Concurrent calls with the same stale token cause one refresh.
  bool invalidate(const access_token& token) const noexcept;

  class state;  // lib/identity/bearer_token_provider.cpp

 private:
  static asio::awaitable<access_token> get_owned(std::shared_ptr<state> s, duration min_valid_for,
                                                 std::optional<std::string> claims);

  std::shared_ptr<state> state_;
};

}  // namespace keyless::identity
