#include "keyless/core/clock.hpp"

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "keyless/detail/asio_compat.hpp"

namespace keyless {
namespace {

class system_clock_source final : public clock {
 public:
  time_point now() const noexcept override { return std::chrono::system_clock::now(); }

  asio::awaitable<void> sleep_for(duration d) const override {
    asio::steady_timer timer(co_await asio::this_coro::executor, d);
    co_await timer.async_wait(asio::use_awaitable);
  }
};

}  // namespace

std::shared_ptr<const clock> clock::system() {
  static const auto instance = std::make_shared<const system_clock_source>();
  return instance;
}

// A parked coroutine: its timer never expires by itself; manual time cancels it.
struct manual_clock::sleeper {
  asio::steady_timer timer;
  time_point deadline;
  bool woken = false;
};

manual_clock::manual_clock(time_point start) : now_(start) {}

manual_clock::~manual_clock() = default;

clock::time_point manual_clock::now() const noexcept {
  std::lock_guard lock(mutex_);
  return now_;
}

asio::awaitable<void> manual_clock::sleep_for(duration d) const {
  if (d <= duration::zero()) co_return;
  // Shared: a wake-up posted by advance() may run after this coroutine is gone.
  auto me = std::make_shared<sleeper>(
      sleeper{asio::steady_timer(co_await asio::this_coro::executor,
                                 std::chrono::steady_clock::time_point::max()),
              {},
              false});
  {
    std::lock_guard lock(mutex_);
    me->deadline = now_ + d;
    sleepers_.push_back(me);
  }
  co_await me->timer.async_wait(net::as_tuple(asio::use_awaitable));
  bool woken;
  {
    std::lock_guard lock(mutex_);
    sleepers_.remove(me);
    woken = me->woken;
  }
  if (!woken) throw std::system_error(asio::error::operation_aborted);
}

void manual_clock::set(time_point t) {
  {
    std::lock_guard lock(mutex_);
    now_ = t;
  }
  wake_due();
}

void manual_clock::advance(duration d) {
  {
    std::lock_guard lock(mutex_);
    now_ += d;
  }
  wake_due();
}

std::size_t manual_clock::sleepers() const {
  std::lock_guard lock(mutex_);
  return sleepers_.size();
}

void manual_clock::wake_due() {
  std::lock_guard lock(mutex_);
  for (const auto& s : sleepers_) {
    if (!s->woken && s->deadline <= now_) {
      s->woken = true;
      // The timer belongs to its coroutine's executor; cancel it there.
      asio::post(s->timer.get_executor(), [s] { s->timer.cancel(); });
    }
  }
}

}  // namespace keyless
