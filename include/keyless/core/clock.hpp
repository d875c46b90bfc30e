#pragma once

#include <chrono>
#include <list>
#include <memory>
#include <mutex>

#include <asio/awaitable.hpp>

namespace keyless {

/// Wall-clock source for every time decision keyless makes (expiry, refresh
/// windows, throttles, retry backoff). Tests inject a manual_clock so time-based
/// behaviour is exercised without sleeping. Safe to call from any thread.
class clock {
 public:
  using duration = std::chrono::system_clock::duration;
  using time_point = std::chrono::system_clock::time_point;

  virtual ~clock() = default;
  virtual time_point now() const noexcept = 0;

  /// Suspends the calling coroutine for `d` of this clock's time (retry backoff).
  /// Cancellation: terminal; throws system_error(operation_aborted).
  virtual asio::awaitable<void> sleep_for(duration d) const = 0;

  /// The process's real clock (std::chrono::system_clock, sleeping on a steady timer).
  static std::shared_ptr<const clock> system();
};

/// A clock that moves only when told to; sleepers wake when advance() passes their
/// deadline. Thread-safe.
class manual_clock final : public clock {
 public:
  explicit manual_clock(time_point start = time_point{std::chrono::seconds(1'700'000'000)});
  ~manual_clock() override;

  time_point now() const noexcept override;
  asio::awaitable<void> sleep_for(duration d) const override;

  void set(time_point t);
  void advance(duration d);
  /// Coroutines currently inside sleep_for.
  std::size_t sleepers() const;

 private:
  struct sleeper;
  void wake_due();

  mutable std::mutex mutex_;
  time_point now_;
  mutable std::list<std::shared_ptr<sleeper>> sleepers_;
};

}  // namespace keyless
