#include "connection_pool.hpp"

#include <algorithm>
#include <utility>

#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>

#include <fmt/core.h>

#include "keyless/core/error.hpp"
#include "keyless/detail/asio_compat.hpp"

namespace keyless::http::detail {

/// A caller parked in acquire(): it sleeps on `timer` (expiring at its deadline, touched on
/// the strand only) and is woken by a cancel posted to the strand once `granted` is set.
struct connection_pool::waiter {
  explicit waiter(const strand_type& strand) : timer(strand) {}
  asio::steady_timer timer;
  std::optional<pool_grant> granted;  // under mutex_
};

connection_pool::connection_pool(asio::any_io_executor executor, pool_options options,
                                 std::shared_ptr<const keyless::clock> clock)
    : strand_(make_serial(executor)), options_(options), clock_(std::move(clock)) {}

std::size_t connection_pool::cap() const noexcept {
  return std::max<std::size_t>(1, options_.max_connections_per_origin);
}

void connection_pool::sweep(keyless::clock::time_point now) {
  for (auto it = origins_.begin(); it != origins_.end();) {
    origin& o = it->second;
    auto expired = [&](const idle_entry& e) {
      return e.expires <= now;
    };
    for (auto& e : o.idle) {
      if (expired(e)) {
        e.conn->close();
        --o.open;
      }
    }
    o.idle.erase(std::remove_if(o.idle.begin(), o.idle.end(), expired), o.idle.end());
    hand_free_slot(o);
    if (o.open == 0 && o.waiters.empty()) {
      it = origins_.erase(it);
    } else {
      ++it;
    }
  }
}

void connection_pool::grant(const std::shared_ptr<waiter>& w, pool_grant g) {
  w->granted = std::move(g);
  asio::post(strand_, [w] { w->timer.cancel(); });
}

void connection_pool::hand_free_slot(origin& o) {
  while (!o.waiters.empty() && o.open < cap()) {
    std::shared_ptr<waiter> w = std::move(o.waiters.front());
    o.waiters.pop_front();
    ++o.open;
    grant(w, pool_grant{});
  }
}

std::optional<pool_grant> connection_pool::take_now(origin& o, bool fresh) {
  if (!o.waiters.empty()) return std::nullopt;  // first come, first served
  if (!fresh) {
    while (!o.idle.empty()) {
      idle_entry e = std::move(o.idle.back());
      o.idle.pop_back();
      if (e.conn->looks_alive()) return pool_grant{std::move(e.conn)};
      e.conn->close();
      --o.open;
    }
  } else if (!o.idle.empty() && o.open >= cap()) {
    // Make room for the fresh connection with the least recently used idle one.
    o.idle.front().conn->close();
    o.idle.erase(o.idle.begin());
    --o.open;
  }
  if (o.open < cap()) {
    ++o.open;
    return pool_grant{};
  }
  return std::nullopt;
}

std::optional<pool_grant> connection_pool::try_acquire(const exchange* x, bool fresh) {
  std::lock_guard lock(mutex_);
  sweep(clock_->now());
  return take_now(origins_[x->where.pool_key], fresh);
}

asio::awaitable<pool_grant> connection_pool::acquire(std::shared_ptr<connection_pool> self,
                                                     const exchange* x, bool fresh) {
  co_return co_await run_on(self->strand_, wait_for_slot(self, x, fresh));
}

asio::awaitable<pool_grant> connection_pool::wait_for_slot(std::shared_ptr<connection_pool> self,
                                                           const exchange* x, bool fresh) {
  const std::string& key = x->where.pool_key;
  auto w = std::make_shared<waiter>(self->strand_);
  {
    std::lock_guard lock(self->mutex_);
    self->sweep(self->clock_->now());
    origin& o = self->origins_[key];
    if (auto now = self->take_now(o, fresh)) co_return std::move(*now);
    w->timer.expires_at(x->deadline);
    o.waiters.push_back(w);
  }
  auto [ec] = co_await w->timer.async_wait(net::as_tuple(asio::use_awaitable));
  std::lock_guard lock(self->mutex_);
  if (w->granted) {
    pool_grant grant = std::move(*w->granted);
    if (fresh && grant.conn) {
      grant.conn->close();  // the slot stays ours: a new connection takes its place
      grant.conn.reset();
    }
    co_return grant;
  }
  origin& mine = self->origins_[key];
  mine.waiters.erase(std::find(mine.waiters.begin(), mine.waiters.end(), w));
  if (ec) throw asio::system_error(asio::error::operation_aborted);
  throw keyless::error(
      errc::timeout,
      fmt::format("{}: request timeout ({} ms) expired while waiting for one of the {} "
                  "connections to {}",
                  x->what(), x->request_timeout.count(), self->cap(), x->where.origin()));
}

void connection_pool::release(const std::string& key, std::shared_ptr<connection> conn,
                              std::optional<keyless::clock::time_point> keep_until) {
  std::lock_guard lock(mutex_);
  origin& o = origins_[key];
  if (conn && keep_until && !closed_) {
    if (!o.waiters.empty()) {
      std::shared_ptr<waiter> w = std::move(o.waiters.front());
      o.waiters.pop_front();
      grant(w, pool_grant{std::move(conn)});
    } else {
      o.idle.push_back({std::move(conn), *keep_until});
    }
  } else {
    if (conn) conn->close();
    --o.open;
    hand_free_slot(o);
  }
  sweep(clock_->now());
}

void connection_pool::shutdown() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  for (auto& [key, o] : origins_) {
    for (auto& e : o.idle) e.conn->close();
    o.open -= o.idle.size();
    o.idle.clear();
    hand_free_slot(o);
  }
}

}  // namespace keyless::http::detail
