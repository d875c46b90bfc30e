#pragma once
// Helpers for driving coroutines deterministically in tests.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

namespace keyless::testing {

/// Runs every handler that is ready (without blocking for timers or sockets) until none is left,
/// then restarts the context so it can be run again. Returns the number of handlers run.
std::size_t run_until_idle(asio::io_context& io);

/// The guard run_sync uses unless told otherwise: long enough for sanitizer builds, short
/// enough that a hung test fails instead of blocking the suite.
inline constexpr std::chrono::seconds default_run_limit{30};

namespace detail {
/// Runs `io` until `done`, throwing std::runtime_error once `limit` passes.
void run_until(asio::io_context& io, const bool& done, std::chrono::steady_clock::duration limit);

// Shared with the completion handler: after a timeout the task may still complete later, when
// run_spawned's frame is long gone.
template <typename T>
struct spawn_state {
  bool done = false;
  std::exception_ptr failure;
  std::optional<T> result;
};
template <>
struct spawn_state<void> {
  bool done = false;
  std::exception_ptr failure;
};

template <typename T, typename Spawnable>
T run_spawned(asio::io_context& io, Spawnable&& spawnable,
              std::chrono::steady_clock::duration limit) {
  auto state = std::make_shared<spawn_state<T>>();
  if constexpr (std::is_void_v<T>) {
    asio::co_spawn(io, std::forward<Spawnable>(spawnable), [state](std::exception_ptr e) {
      state->failure = e;
      state->done = true;
    });
  } else {
    asio::co_spawn(io, std::forward<Spawnable>(spawnable), [state](std::exception_ptr e, T value) {
      state->failure = e;
      if (!e) state->result.emplace(std::move(value));
      state->done = true;
    });
  }
  run_until(io, state->done, limit);
  if (state->failure) std::rethrow_exception(state->failure);
  if constexpr (!std::is_void_v<T>) return std::move(*state->result);
}
}  // namespace detail

/// co_spawns `task` on `io`, runs `io` (on this thread) until the task completes, and returns its
/// result or rethrows its exception. Other work on `io` (servers) keeps running meanwhile and
/// stays queued afterwards. If the task has not finished after `limit` of wall-clock time, throws
/// std::runtime_error("run_sync: task did not finish within N s") instead of hanging; the task is
/// then left parked in `io`. T must be default-constructible (co_spawn's rule for value results).
template <typename T>
T run_sync(asio::io_context& io, asio::awaitable<T> task,
           std::chrono::steady_clock::duration limit = default_run_limit) {
  return detail::run_spawned<T>(io, std::move(task), limit);
}

/// As above for a function object returning an awaitable, typically a capturing lambda:
/// `run_sync(io, [&]() -> asio::awaitable<int> { ... co_return 1; })`. The function object is
/// kept alive until the coroutine finishes, so capturing by reference is safe here.
template <typename Function>
requires std::is_invocable_v<Function&>
auto run_sync(asio::io_context& io, Function function,
              std::chrono::steady_clock::duration limit = default_run_limit) ->
    typename std::invoke_result_t<Function&>::value_type {
  using value_type = typename std::invoke_result_t<Function&>::value_type;
  return detail::run_spawned<value_type>(io, std::move(function), limit);
}

/// A completion the test releases: coroutines `co_await g.wait()` and stay parked until
/// `g.open()`. Waiters park on a steady_timer set to time_point::max(); open() cancels it.
/// Once open, wait() completes at once until reset(). Use from the executor's thread(s) only
/// (one io_context thread, or a strand); not synchronised.
class gate {
 public:
  explicit gate(asio::any_io_executor executor);

  /// Completes when the gate is open. A waiter that is itself cancelled (terminal cancellation
  /// through its slot) throws asio::system_error(operation_aborted) while the gate stays closed.
  asio::awaitable<void> wait();
  /// Releases every current and future waiter.
  void open();
  /// Closes the gate again for future waiters.
  void reset();
  bool is_open() const noexcept { return open_; }
  /// Coroutines currently parked in wait().
  std::size_t waiters() const noexcept { return waiters_; }

 private:
  asio::steady_timer timer_;
  std::uint64_t generation_ = 0;  // bumped by each open()
  bool open_ = false;
  std::size_t waiters_ = 0;
};

/// Opens, binds and listens `acceptor` on 127.0.0.1 (or ::1 only, with `ipv6`) at `port` (0:
/// an ephemeral one), as every loopback fake listens. Throws asio::system_error.
void listen_on_loopback(asio::ip::tcp::acceptor& acceptor, bool ipv6, std::uint16_t port);

/// Number of file descriptors open in this process (entries of /proc/self/fd), for leak checks:
/// take it before and after a scenario with the scenario's objects destroyed.
std::size_t count_open_fds();

}  // namespace keyless::testing
