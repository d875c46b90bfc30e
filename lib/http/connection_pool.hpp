#pragma once
// Idle connections per origin, the per-origin connection cap and the FIFO of callers waiting
// for a slot. State is guarded by a mutex, so that taking an idle connection or giving one
// back costs no hop to another executor; only a caller that has to wait parks on the strand.

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include "connection.hpp"
#include "keyless/core/clock.hpp"
#include "keyless/http/client_options.hpp"
#include "run_on.hpp"

namespace keyless::http::detail {

/// The right to use one connection slot of an origin.
struct pool_grant {
  std::shared_ptr<connection> conn;  ///< an idle, kept-alive connection; null: open a new one
};

/// Thread-safety: every member may be called from any thread.
class connection_pool : public std::enable_shared_from_this<connection_pool> {
 public:
  connection_pool(asio::any_io_executor executor, pool_options options,
                  std::shared_ptr<const keyless::clock> clock);

  const strand_type& strand() const noexcept { return strand_; }

  /// A slot of `key`'s origin without waiting, when one is free and nobody queues for it;
  /// otherwise nothing. With `fresh`, never hands out an idle connection (a retry must not
  /// meet another stale one).
  std::optional<pool_grant> try_acquire(const exchange* x, bool fresh);

  /// For a caller try_acquire() turned away: takes a slot freed since, else waits (FIFO) for
  /// one until `x->deadline`. Throws
  /// keyless::error(timeout) at the deadline, asio::system_error(operation_aborted) when
  /// cancelled.
  static asio::awaitable<pool_grant> acquire(std::shared_ptr<connection_pool> self,
                                             const exchange* x, bool fresh);

  /// Gives a slot back: `conn` is kept for reuse until `keep_until` when set (and the pool is
  /// open), closed otherwise; null `conn` frees a slot whose connection never came to be.
  void release(const std::string& key, std::shared_ptr<connection> conn,
               std::optional<keyless::clock::time_point> keep_until);

  /// Closes every idle connection; later releases close theirs. Callers in flight finish.
  void shutdown();

  const keyless::clock& clock() const noexcept { return *clock_; }
  const pool_options& options() const noexcept { return options_; }

 private:
  struct waiter;
  struct idle_entry {
    std::shared_ptr<connection> conn;
    keyless::clock::time_point expires;
  };
  struct origin {
    std::size_t open = 0;          // slots taken: idle + in use + being opened
    std::vector<idle_entry> idle;  // most recently used last
    std::deque<std::shared_ptr<waiter>> waiters;
  };

  // The waiting part of acquire(); runs on strand_.
  static asio::awaitable<pool_grant> wait_for_slot(std::shared_ptr<connection_pool> self,
                                                   const exchange* x, bool fresh);
  // The members below expect mutex_ held.
  std::optional<pool_grant> take_now(origin& o, bool fresh);
  void sweep(keyless::clock::time_point now);
  void hand_free_slot(origin& o);
  void grant(const std::shared_ptr<waiter>& w, pool_grant g);
  std::size_t cap() const noexcept;

  strand_type strand_;
  pool_options options_;
  std::shared_ptr<const keyless::clock> clock_;
  std::mutex mutex_;
  std::unordered_map<std::string, origin> origins_;
  bool closed_ = false;
};

}  // namespace keyless::http::detail
