#pragma once
// Private internals of token_cache, shared with bearer_token_provider.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/strand.hpp>

#include "keyless/core/clock.hpp"
#include "keyless/core/single_flight.hpp"
#include "keyless/identity/access_token.hpp"
#include "keyless/identity/token_cache.hpp"
#include "keyless/identity/token_request.hpp"

namespace keyless::identity::detail {

using time_point = std::chrono::system_clock::time_point;
using duration = std::chrono::system_clock::duration;

/// What a cached token means for the cache, computed once when it arrives.
struct snapshot {
  access_token token;
  time_point usable_until;  ///< expires_on - expiry_skew: a miss from here on
  time_point refresh_at;    ///< jittered start of the refresh window
};

/// Outcome of one single-flight run.
struct fetch_result {
  access_token token;
  time_point usable_until{};
  bool fresh = false;  ///< fetched by this run, not an already-cached token
};

/// Entries hold normalised requests: sorted unique scopes, tenant, CAE flag.
struct cache_key {
  std::vector<std::string> scopes;
  std::optional<std::string> tenant;
  bool enable_cae = false;
  friend bool operator==(const cache_key&, const cache_key&) = default;
};

struct cache_key_hash {
  std::size_t operator()(const cache_key& k) const noexcept;
};

/// Flights are per entry and per claims: identical CAE challenges share a fetch.
struct flight_key {
  std::uint64_t entry = 0;
  std::optional<std::string> claims;
  friend bool operator==(const flight_key&, const flight_key&) = default;
};

struct flight_key_hash {
  std::size_t operator()(const flight_key& k) const noexcept;
};

enum class fetch_kind { foreground, background };

struct tls_slot;  // one thread's copy of one entry's snapshot

/// One cached token: the lock-free hit path and its publication protocol.
///
/// Hits never write shared memory. The entry publishes an immutable snapshot
/// under `mutex_` and bumps `generation_`. Each thread keeps its own copy of the
/// snapshot (with a private reference count on the token bytes) in a
/// thread-local slot and re-reads the shared snapshot only when `generation_`
/// moved. A hit is therefore one shared load of a line that changes about once
/// an hour, a thread-local lookup and a clock read.
class cache_entry : public std::enable_shared_from_this<cache_entry> {
 public:
  cache_entry(std::uint64_t id, token_request request, token_cache::impl& owner,
              std::shared_ptr<const keyless::clock> clock);

  /// The cached token if it stays usable for `min_valid`; starts the one
  /// background refresh when the refresh point has passed. Never blocks.
  std::optional<access_token> hit(duration min_valid) noexcept;

  /// The shared snapshot (null if none). Takes the publication mutex.
  std::shared_ptr<const snapshot> current() const;

  /// Replaces the snapshot; `next_background` gates the next background refresh.
  void publish(std::shared_ptr<const snapshot> s, time_point next_background);

  /// Drops the snapshot if it holds `token`.
  bool invalidate(const access_token& token) noexcept;

  /// Earliest time a hit may start another background refresh.
  void defer_background(time_point next) noexcept;

  std::uint64_t id() const noexcept { return id_; }
  const token_request& request() const noexcept { return request_; }

  // Failure bookkeeping; touched only on the cache's strand.
  time_point backoff_until{};
  duration backoff_step{};
  std::exception_ptr last_error;

 private:
  bool refill(tls_slot& slot) noexcept;
  void maybe_start_background(time_point now) noexcept;
  time_point now() const noexcept;

  // Read by every hit and written only on publish / drop / refresh start: kept
  // on a line of its own so the mutex and the owner's bookkeeping never share it.
  alignas(64) std::atomic<std::uint64_t> generation_{1};
  std::atomic<duration::rep> next_background_at_{0};
  const std::uint64_t id_;
  const bool system_clock_;
  const keyless::clock* clock_;
  token_cache::impl* owner_;  // outlives every caller of hit(): callers hold the cache

  alignas(64) mutable std::mutex mutex_;
  std::shared_ptr<const snapshot> current_;
  std::shared_ptr<const keyless::clock> clock_owner_;
  token_request request_;
};

}  // namespace keyless::identity::detail

namespace keyless::identity {

class token_cache::impl : public std::enable_shared_from_this<token_cache::impl> {
 public:
  using duration = detail::duration;
  using time_point = detail::time_point;

  impl(std::shared_ptr<token_credential> credential, token_cache_options options);

  /// The entry for `req` (claims ignored), created on first use. Throws
  /// errc::invalid_argument for a request without usable scopes.
  std::shared_ptr<detail::cache_entry> entry_for(const token_request& req);

  /// A token from `e` valid for `min_valid`, or fetched with `claims`.
  static asio::awaitable<access_token> acquire(std::shared_ptr<impl> self,
                                               std::shared_ptr<detail::cache_entry> e,
                                               std::optional<std::string> claims,
                                               duration min_valid);

  /// Starts (or joins) the background refresh of `e`. Any thread.
  void start_background(detail::cache_entry& e);

  const token_cache_options& options() const noexcept { return options_; }
  token_credential& credential() const noexcept { return *credential_; }
  std::uint64_t fetches() const noexcept { return fetches_.load(std::memory_order_relaxed); }

 private:
  // Called on the strand when a flight starts: decides between the cached
  // token, a fail-fast error and a real fetch.
  asio::awaitable<detail::fetch_result> make_producer(std::shared_ptr<detail::cache_entry> e,
                                                      std::optional<std::string> claims,
                                                      duration min_valid, detail::fetch_kind kind);
  static asio::awaitable<detail::fetch_result> fetch(std::shared_ptr<impl> self,
                                                     std::shared_ptr<detail::cache_entry> e,
                                                     token_request req, detail::fetch_kind kind);
  std::exception_ptr check_token(const access_token& t, time_point now) const;
  std::shared_ptr<const detail::snapshot> make_snapshot(access_token t, time_point now);
  void on_failure(detail::cache_entry& e, detail::fetch_kind kind,
                  const std::exception_ptr& failure, time_point now);
  std::exception_ptr throttled_error(const detail::cache_entry& e, time_point now) const;

  std::shared_ptr<token_credential> credential_;
  token_cache_options options_;
  asio::strand<asio::any_io_executor> strand_;
  single_flight<detail::flight_key, detail::fetch_result, detail::flight_key_hash> flights_;
  std::atomic<std::uint64_t> fetches_{0};

  std::mutex entries_mutex_;
  std::unordered_map<detail::cache_key, std::shared_ptr<detail::cache_entry>,
                     detail::cache_key_hash>
      entries_;
};

}  // namespace keyless::identity
