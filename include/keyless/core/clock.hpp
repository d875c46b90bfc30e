#pragma once

#include <atomic>
#include <chrono>
#include <memory>

namespace keyless {

/// Wall-clock source for every time decision keyless makes (expiry, refresh
/// windows, throttles, backoff bookkeeping). Tests inject a manual_clock.
/// Implementations must be safe to call from any thread.
class clock {
 public:
  using duration = std::chrono::system_clock::duration;
  using time_point = std::chrono::system_clock::time_point;

  virtual ~clock() = default;
  virtual time_point now() const noexcept = 0;

  /// The process's real clock (std::chrono::system_clock); never null.
  static std::shared_ptr<const clock> system();
};

/// A clock that moves only when told to. Thread-safe.
class manual_clock final : public clock {
 public:
  explicit manual_clock(time_point start = time_point{std::chrono::seconds(1'700'000'000)})
      : now_(start.time_since_epoch().count()) {}

  time_point now() const noexcept override { return time_point{duration{now_.load()}}; }
  void set(time_point t) noexcept { now_.store(t.time_since_epoch().count()); }
  void advance(duration d) noexcept { now_.fetch_add(d.count()); }

 private:
  std::atomic<duration::rep> now_;
};

}  // namespace keyless
