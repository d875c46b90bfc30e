#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/co_spawn.hpp>
#include <asio/dispatch.hpp>
#include <asio/error.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>

namespace keyless {

/// Runs at most one producer per key at a time and hands its outcome to every
/// caller that asked for that key while it ran ("single flight").
///
/// The first `async_run` for a key calls `make_producer()` on the group's strand
/// and runs the returned `asio::awaitable<Value>` there; later calls for the same
/// key only wait. Waiters never block a thread: each one suspends and is resumed
/// by a post to its own associated executor (for a coroutine, the coroutine's
/// executor), never on the group's strand.
///
/// Cancellation: a waiter whose cancellation slot fires (any cancellation type,
/// e.g. `co_await (flight.async_run(...) || timer)` or `bind_cancellation_slot`)
/// stops waiting and completes with `asio::error::operation_aborted`. The
/// producer keeps running for the others and nothing can cancel it: its
/// outcome still reaches every remaining waiter.
///
/// Thread-safety: all members may be called concurrently from any thread; the
/// bookkeeping lives on one strand, so the group is correct on a multi-threaded
/// io_context. Lifetime: copies share one group; in-flight producers keep the
/// shared state alive, so the object may be destroyed while work is pending.
/// `Value` must be default-constructible (it is what a failed or cancelled
/// waiter receives alongside the exception) and copyable (each waiter gets a copy).
template <typename Key, typename Value, typename Hash = std::hash<Key>,
          typename KeyEqual = std::equal_to<Key>>
class single_flight {
 public:
  using key_type = Key;
  using value_type = Value;
  using executor_type = asio::strand<asio::any_io_executor>;
  /// Completion signature of async_run; the exception is null on success.
  using signature = void(std::exception_ptr, Value);

  /// A group whose bookkeeping runs on a new strand of `ex`.
  explicit single_flight(const asio::any_io_executor& ex) : single_flight(asio::make_strand(ex)) {}
  /// A group that shares `strand` with its owner, so the owner's strand-confined
  /// state may be read from `make_producer` and from producers.
  explicit single_flight(executor_type strand)
      : state_(std::make_shared<state>(std::move(strand))) {}

  /// The strand on which `make_producer` and producers run.
  executor_type get_executor() const noexcept { return state_->strand_; }

  /// Waits for the outcome of the flight for `key`, starting it if none is
  /// running. `make_producer` is a callable returning `asio::awaitable<Value>`;
  /// it is called (on the strand) only when this call starts the flight, and the
  /// result is co_spawned on the strand without any cancellation slot.
  /// Completion: `void(std::exception_ptr, Value)`, posted to the handler's
  /// associated executor (default: the strand's inner executor). Errors thrown
  /// by the producer or by `make_producer` reach every waiter of that flight.
  /// Cancellation: see the class comment; the waiter leaves, the flight goes on.
  template <typename MakeProducer,
            asio::completion_token_for<signature> CompletionToken = asio::use_awaitable_t<>>
  auto async_run(Key key, MakeProducer make_producer, CompletionToken&& token = {}) {
    return asio::async_initiate<CompletionToken, signature>(
        initiate{}, token, state_, std::move(key), std::move(make_producer));
  }

  /// Number of keys whose producer is running. A hint for tests and metrics.
  std::size_t in_flight() const noexcept {
    return state_->in_flight_.load(std::memory_order_acquire);
  }

  /// Number of callers the strand has registered as waiting and not yet
  /// completed (callers still on their way to the strand are not counted).
  /// A hint for tests and metrics.
  std::size_t waiting() const noexcept { return state_->waiting_.load(std::memory_order_acquire); }

 private:
  struct waiter_base {
    virtual ~waiter_base() = default;
    virtual void complete(std::exception_ptr e, Value v) = 0;
  };

  template <typename Handler>
  struct waiter final : waiter_base {
    using executor = asio::associated_executor_t<Handler, asio::any_io_executor>;

    waiter(Handler&& h, const asio::any_io_executor& fallback)
        : work_(asio::get_associated_executor(h, fallback)), handler_(std::move(h)) {}

    void complete(std::exception_ptr e, Value v) override {
      // Post, never dispatch: the caller is on the group's strand, and a waiter
      // must resume on its own executor without holding the strand up.
      auto ex = work_.get_executor();
      asio::post(ex, [h = std::move(handler_), e = std::move(e), v = std::move(v)]() mutable {
        std::move(h)(std::move(e), std::move(v));
      });
      work_.reset();
    }

    // Keeps the waiter's own execution context alive while it waits: the flight
    // may run on another context that would not count this waiter as work.
    asio::executor_work_guard<executor> work_;
    Handler handler_;
  };

  // One caller's membership in a flight. `waiter` is set by the initiating
  // thread before the strand first sees the slot and is afterwards touched only
  // on the strand, like `joined`; a null waiter means "already completed".
  struct waiter_slot {
    std::unique_ptr<waiter_base> waiter;
    bool joined = false;
  };

  struct flight {
    std::vector<std::shared_ptr<waiter_slot>> waiters;
  };

  struct state : std::enable_shared_from_this<state> {
    explicit state(executor_type strand) : strand_(std::move(strand)) {}

    template <typename MakeProducer>
    void join(Key key, std::shared_ptr<waiter_slot> slot, MakeProducer& make_producer) {
      if (!slot->waiter) return;  // cancelled before it reached the strand
      slot->joined = true;
      waiting_.fetch_add(1, std::memory_order_release);
      if (auto it = flights_.find(key); it != flights_.end()) {
        it->second->waiters.push_back(std::move(slot));
        return;
      }
      auto f = std::make_shared<flight>();
      f->waiters.push_back(std::move(slot));
      std::optional<asio::awaitable<Value>> producer;
      try {
        producer.emplace(make_producer());
      } catch (...) {
        complete_all(*f, std::current_exception(), Value{});
        return;
      }
      flights_.emplace(key, f);
      in_flight_.fetch_add(1, std::memory_order_release);
      // Last statement: the producer may finish inline (dispatch on the strand),
      // which erases the entry just added.
      asio::co_spawn(strand_, std::move(*producer),
                     flight_done{this->shared_from_this(), std::move(key), std::move(f)});
    }

    void finish(const Key& key, const std::shared_ptr<flight>& f, std::exception_ptr e, Value v) {
      forget(key, f);
      complete_all(*f, std::move(e), std::move(v));
    }

    // The producer's handler was destroyed without running: its execution
    // context is shutting down. Waiters are released without completion, as Asio
    // does with its own pending handlers, which also breaks ownership cycles
    // between waiting coroutine frames and this state.
    void abandon(const Key& key, const std::shared_ptr<flight>& f) noexcept {
      forget(key, f);
      for (auto& s : f->waiters) {
        if (s->waiter) {
          s->waiter.reset();
          waiting_.fetch_sub(1, std::memory_order_release);
        }
      }
    }

    void cancel(waiter_slot& slot) {
      if (!slot.waiter) return;  // the flight finished first
      auto w = std::move(slot.waiter);
      if (slot.joined) waiting_.fetch_sub(1, std::memory_order_release);
      w->complete(std::make_exception_ptr(std::system_error(asio::error::operation_aborted)),
                  Value{});
    }

    void forget(const Key& key, const std::shared_ptr<flight>& f) noexcept {
      if (auto it = flights_.find(key); it != flights_.end() && it->second == f) {
        flights_.erase(it);
        in_flight_.fetch_sub(1, std::memory_order_release);
      }
    }

    void complete_all(flight& f, std::exception_ptr e, Value v) {
      for (auto& s : f.waiters) {
        if (!s->waiter) continue;
        auto w = std::move(s->waiter);
        waiting_.fetch_sub(1, std::memory_order_release);
        w->complete(e, v);
      }
    }

    executor_type strand_;
    std::unordered_map<Key, std::shared_ptr<flight>, Hash, KeyEqual> flights_;  // strand only
    std::atomic<std::size_t> in_flight_{0};
    std::atomic<std::size_t> waiting_{0};
  };

  struct flight_done {
    std::shared_ptr<state> st;
    Key key;
    std::shared_ptr<flight> f;

    flight_done(std::shared_ptr<state> s, Key k, std::shared_ptr<flight> fl)
        : st(std::move(s)), key(std::move(k)), f(std::move(fl)) {}
    flight_done(flight_done&&) noexcept = default;
    flight_done& operator=(flight_done&&) = delete;
    ~flight_done() {
      if (f) st->abandon(key, f);
    }

    void operator()(std::exception_ptr e, Value v) {
      auto fl = std::move(f);
      st->finish(key, fl, std::move(e), std::move(v));
    }
  };

  // Runs wherever the waiter's cancellation signal is emitted; it only asks the
  // strand to drop the waiter. Holding weak references keeps it harmless if it
  // fires after the waiter completed or after the group is gone, which is also
  // why completion never clears the slot from the strand (a slot may only be
  // touched by its owner's thread of execution).
  struct cancel_waiter {
    // A constructor, not an aggregate: clang 14 cannot emplace aggregates from parentheses.
    cancel_waiter(std::weak_ptr<waiter_slot> s, std::weak_ptr<state> t)
        : slot(std::move(s)), st(std::move(t)) {}

    std::weak_ptr<waiter_slot> slot;
    std::weak_ptr<state> st;

    void operator()(asio::cancellation_type_t type) {
      if (type == asio::cancellation_type::none) return;
      auto s = st.lock();
      if (!s) return;
      asio::dispatch(s->strand_, [slot = slot, s] {
        if (auto w = slot.lock()) s->cancel(*w);
      });
    }
  };

  struct initiate {
    template <typename Handler, typename MakeProducer>
    void operator()(Handler&& handler, std::shared_ptr<state> st, Key key,
                    MakeProducer make_producer) const {
      auto cancel_slot = asio::get_associated_cancellation_slot(handler);
      auto slot = std::make_shared<waiter_slot>();
      slot->waiter = std::make_unique<waiter<std::decay_t<Handler>>>(
          std::move(handler), st->strand_.get_inner_executor());
      if (cancel_slot.is_connected()) {
        cancel_slot.template emplace<cancel_waiter>(std::weak_ptr<waiter_slot>(slot),
                                                    std::weak_ptr<state>(st));
      }
      auto strand = st->strand_;
      asio::dispatch(strand, [st = std::move(st), slot = std::move(slot), key = std::move(key),
                              make = std::move(make_producer)]() mutable {
        st->join(std::move(key), std::move(slot), make);
      });
    }
  };

  std::shared_ptr<state> state_;
};

}  // namespace keyless
