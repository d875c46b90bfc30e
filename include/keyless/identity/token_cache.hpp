#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "keyless/core/clock.hpp"
#include "keyless/identity/access_token.hpp"
#include "keyless/identity/token_credential.hpp"
#include "keyless/identity/token_request.hpp"

namespace keyless::identity {

/// Tuning and injection points of a token_cache. Every duration must be >= 0.
struct token_cache_options {
  /// Time source for expiry, refresh windows, throttles and backoff.
  /// Null means keyless::clock::system().
  std::shared_ptr<const keyless::clock> clock;

  /// Uniform numbers in [0, 1) for the refresh jitter (out-of-range results are
  /// clamped). Called only on the cache's strand, so it need not be thread-safe.
  /// Empty means a privately seeded engine.
  std::function<double()> random;

  /// Treat a token as expired this long before its expires_on: absorbs clock
  /// skew between this host and Entra ID and the time a request spends in flight.
  std::chrono::seconds expiry_skew{30};

  /// Without a refresh_on hint from the credential, refresh this long before
  /// expiry (the window the Azure SDKs use).
  std::chrono::seconds refresh_before_expiry{std::chrono::minutes(5)};

  /// The refresh point moves earlier by a uniform random amount up to this, so a
  /// fleet started together does not refresh together.
  std::chrono::seconds max_refresh_jitter{30};

  /// Minimum time between background refresh attempts while a valid token is
  /// cached (after a failure, and for tokens too short-lived to have a window).
  std::chrono::seconds background_retry_interval{30};

  /// After a failed fetch with no valid token, calls fail fast with
  /// errc::throttled for this long; doubles on each consecutive failure up to
  /// max_failure_backoff and resets on success.
  std::chrono::milliseconds failure_backoff{1000};
  std::chrono::milliseconds max_failure_backoff{std::chrono::seconds(30)};
};

/// A token_credential decorator that caches tokens per (sorted scopes, tenant,
/// CAE flag), refreshes them in the background and shares one fetch among all
/// concurrent callers.
///
/// - Hit: a lock-free read of an immutable per-thread snapshot; no allocation,
///   no strand hop, no write to memory shared between threads.
/// - Refresh point: the credential's refresh_on if it is before expires_on,
///   else `refresh_before_expiry` before expiry; moved earlier by jitter.
///   From there until `expires_on - expiry_skew` callers get the cached token at
///   once and exactly one background refresh runs. A failed background refresh
///   is logged, never reported to callers, and retried at most every
///   `background_retry_interval`.
/// - Miss (no token valid long enough): callers wait on one shared fetch; its
///   error reaches all of them, then calls fail fast with errc::throttled
///   (naming the error) until the backoff has passed.
/// - A request with claims (a CAE challenge) is never answered from the cache;
///   concurrent identical claims share one fetch, whose token replaces the
///   cached one for the same scopes and tenant.
///
/// Share one cache between clients by passing the same shared_ptr to several
/// bearer_token_providers. Thread-safety: every member may be called
/// concurrently from any thread; state changes run on one strand of the
/// credential's executor, so a multi-threaded io_context is fine. The cache
/// creates no threads. Lifetime: pending operations keep the cache's internals
/// (and the credential) alive.
class token_cache final : public token_credential {
 public:
  /// Throws keyless::error(errc::invalid_argument) if `credential` is null or an
  /// option is negative.
  explicit token_cache(std::shared_ptr<token_credential> credential,
                       token_cache_options options = {});
  ~token_cache() override;

  token_cache(const token_cache&) = delete;
  token_cache& operator=(const token_cache&) = delete;

  /// The wrapped credential's executor.
  asio::any_io_executor get_executor() const override;

  /// The wrapped credential's name: the cache is transparent in diagnostics.
  std::string_view name() const noexcept override;

  /// Cached token for `req`, fetching through the credential when needed (see
  /// the class comment). Completion of async_get_token: void(std::exception_ptr,
  /// access_token), on the caller's executor for coroutines. Cancellation:
  /// terminal for the caller only; a shared fetch keeps running. Throws
  /// errc::invalid_argument for a request without scopes.
  asio::awaitable<access_token> get_token(token_request req) override;

  /// The cached token for `req` if it is valid now, else nothing. Never waits and
  /// never starts a fetch for an empty cache (it may start a background refresh
  /// when the token is in its refresh window). Builds the lookup key, so it
  /// allocates; bearer_token_provider::try_get does not.
  std::optional<access_token> try_get(const token_request& req) const;

  /// Drops `token` for `req` if it is still the cached one (call it after the
  /// service rejected the token with 401). Returns whether it was dropped. Later
  /// calls with the same stale token do nothing, so many concurrent 401s cause
  /// one refresh. Thread-safe, never blocks on I/O.
  bool invalidate(const token_request& req, const access_token& token);

  /// The options in effect (defaults filled in).
  const token_cache_options& options() const noexcept;

  class impl;  // lib/identity/token_cache_impl.hpp

 private:
  friend class bearer_token_provider;

  std::shared_ptr<impl> impl_;
};

}  // namespace keyless::identity
