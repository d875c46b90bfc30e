#pragma once
// Idle connections per origin, the per-origin connection cap and the FIFO of callers waiting
// for a slot. All state lives on the pool's strand.

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
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

/// Thread-safety: acquire() runs on strand() (use run_on); release() and shutdown() may be
/// called from anywhere.
class connection_pool : public std::enable_shared_from_this<connection_pool> {
 public:
  connection_pool(asio::any_io_executor executor, pool_options options,
                  std::shared_ptr<const keyless::clock> clock);

  const strand_type& strand() const noexcept { return strand_; }

  /// Waits (FIFO) for a slot of `key`'s origin until `x->deadline`. With `fresh`, never hands
  /// out an idle connection (a retry must not meet another stale one). Throws
  /// keyless::error(timeout) at the deadline, asio::system_error(operation_aborted) when
  /// cancelled. Must run on strand().
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
    std::deque<waiter*> waiters;
  };

  void release_on_strand(const std::string& key, std::shared_ptr<connection> conn,
                         std::optional<keyless::clock::time_point> keep_until);
  void sweep(keyless::clock::time_point now);
  void hand_free_slot(origin& o);
  std::size_t cap() const noexcept;

  strand_type strand_;
  pool_options options_;
  std::shared_ptr<const keyless::clock> clock_;
  std::unordered_map<std::string, origin> origins_;
  bool closed_ = false;
};

}  // namespace keyless::http::detail
