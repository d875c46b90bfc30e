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

/// A caller parked in acquire(): it sleeps on `timer` (expiring at its deadline) and is woken
/// by cancel() once `grant` is set.
struct connection_pool::waiter {
  explicit waiter(const strand_type& strand) : timer(strand) {}
  asio::steady_timer timer;
  std::optional<pool_grant> grant;
};

connection_pool::connection_pool(asio::any_io_executor executor, pool_options options,
                                 std::shared_ptr<const keyless::clock> clock)
    : strand_(asio::make_strand(executor)), options_(options), clock_(std::move(clock)) {}

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

void connection_pool::hand_free_slot(origin& o) {
  while (!o.waiters.empty() && o.open < cap()) {
    waiter* w = o.waiters.front();
    o.waiters.pop_front();
    ++o.open;
    w->grant = pool_grant{};
    w->timer.cancel();
  }
}

asio::awaitable<pool_grant> connection_pool::acquire(std::shared_ptr<connection_pool> self,
                                                     const exchange* x, bool fresh) {
  self->sweep(self->clock_->now());
  const std::string& key = x->where.pool_key;
  origin& o = self->origins_[key];
  if (o.waiters.empty()) {
    if (!fresh) {
      while (!o.idle.empty()) {
        idle_entry e = std::move(o.idle.back());
        o.idle.pop_back();
        if (e.conn->looks_alive()) co_return pool_grant{std::move(e.conn)};
        e.conn->close();
        --o.open;
      }
    } else if (!o.idle.empty() && o.open >= self->cap()) {
      // Make room for the fresh connection with the least recently used idle one.
      o.idle.front().conn->close();
      o.idle.erase(o.idle.begin());
      --o.open;
    }
    if (o.open < self->cap()) {
      ++o.open;
      co_return pool_grant{};
    }
  }

  waiter w(self->strand_);
  w.timer.expires_at(x->deadline);
  o.waiters.push_back(&w);
  auto [ec] = co_await w.timer.async_wait(net::as_tuple(asio::use_awaitable));
  if (w.grant) {
    pool_grant grant = std::move(*w.grant);
    if (fresh && grant.conn) {
      grant.conn->close();  // the slot stays ours: a new connection takes its place
      grant.conn.reset();
    }
    co_return grant;
  }
  origin& mine = self->origins_[key];
  mine.waiters.erase(std::find(mine.waiters.begin(), mine.waiters.end(), &w));
  if (ec) throw asio::system_error(asio::error::operation_aborted);
  throw keyless::error(
      errc::timeout,
      fmt::format("{}: request timeout ({} ms) expired while waiting for one of the {} "
                  "connections to {}",
                  x->what, x->request_timeout.count(), self->cap(), x->where.origin));
}

void connection_pool::release(const std::string& key, std::shared_ptr<connection> conn,
                              std::optional<keyless::clock::time_point> keep_until) {
  asio::post(strand_, [self = shared_from_this(), key, conn = std::move(conn), keep_until] {
    self->release_on_strand(key, std::move(conn), keep_until);
  });
}

void connection_pool::release_on_strand(const std::string& key, std::shared_ptr<connection> conn,
                                        std::optional<keyless::clock::time_point> keep_until) {
  origin& o = origins_[key];
  if (conn && keep_until && !closed_) {
    if (!o.waiters.empty()) {
      waiter* w = o.waiters.front();
      o.waiters.pop_front();
      w->grant = pool_grant{std::move(conn)};
      w->timer.cancel();
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
  asio::post(strand_, [self = shared_from_this()] {
    self->closed_ = true;
    for (auto& [key, o] : self->origins_) {
      for (auto& e : o.idle) e.conn->close();
      o.open -= o.idle.size();
      o.idle.clear();
      self->hand_free_slot(o);
    }
  });
}

}  // namespace keyless::http::detail
