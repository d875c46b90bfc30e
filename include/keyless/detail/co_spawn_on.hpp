#pragma once
// co_spawn for the public token-fronted operations: the caller's cancellation
// reaches the coroutine on the coroutine's own executor.

#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

#include <asio/associated_cancellation_slot.hpp>
#include <asio/associator.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/co_spawn.hpp>
#include <asio/dispatch.hpp>

namespace keyless::detail {

// Why not asio::co_spawn alone: Asio 1.22's initiate_co_spawn builds the
// coroutine's cancellation_state straight on the handler's slot, so an emit
// runs the coroutine's cancellation chain on the emitting thread. That chain
// writes the state the coroutine reads at every co_await and calls the handler
// its pending operation installed, while the coroutine, on its executor's
// thread, may be installing or clearing that very handler. A caller cancelling
// from another thread (its own io_context, `||` on another executor) races.
//
// So when the caller's slot is connected, the coroutine gets a slot of its own
// instead, and the caller's slot only asks the coroutine's executor to emit on
// it. The signal is shared by the caller's slot, the relayed handler (so it
// lives as long as the coroutine can use it) and any emit still queued, which
// makes a cancellation arriving after completion harmless: it reaches a
// coroutine state nobody reads any more. An unconnected slot costs nothing: the
// handler goes to co_spawn unchanged.

/// Installed in the caller's slot: emits on `signal` from `executor`.
template <typename Executor>
class cancel_relay {
 public:
  cancel_relay(std::shared_ptr<asio::cancellation_signal> signal, Executor executor)
      : signal_(std::move(signal)), executor_(std::move(executor)) {}

  void operator()(asio::cancellation_type_t type) const {
    // dispatch: a caller already on the executor cancels inline, as before.
    asio::dispatch(executor_, [signal = signal_, type] { signal->emit(type); });
  }

 private:
  std::shared_ptr<asio::cancellation_signal> signal_;
  Executor executor_;
};

/// The caller's handler, with the relayed signal's slot as its cancellation
/// slot; every other association (executor, allocator) is the handler's own.
template <typename Handler>
class relayed_handler {
 public:
  using cancellation_slot_type = asio::cancellation_slot;

  relayed_handler(Handler handler, std::shared_ptr<asio::cancellation_signal> signal)
      : handler_(std::move(handler)), signal_(std::move(signal)) {}

  cancellation_slot_type get_cancellation_slot() const noexcept { return signal_->slot(); }

  const Handler& get() const noexcept { return handler_; }

  template <typename... Args>
  void operator()(Args&&... args) {
    std::move(handler_)(std::forward<Args>(args)...);
  }

 private:
  Handler handler_;
  std::shared_ptr<asio::cancellation_signal> signal_;
};

/// What co_spawn completes with for an awaitable<T>.
template <typename T>
struct spawn_signature {
  using type = void(std::exception_ptr, T);
};
template <>
struct spawn_signature<void> {
  using type = void(std::exception_ptr);
};

template <typename Executor>
struct initiate_co_spawn_on {
  Executor executor;

  template <typename Handler, typename T>
  void operator()(Handler&& handler, asio::awaitable<T, Executor> op) const {
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (!slot.is_connected()) {
      asio::co_spawn(executor, std::move(op), std::forward<Handler>(handler));
      return;
    }
    auto signal = std::make_shared<asio::cancellation_signal>();
    slot.template emplace<cancel_relay<Executor>>(signal, executor);
    asio::co_spawn(
        executor, std::move(op),
        relayed_handler<std::decay_t<Handler>>(std::forward<Handler>(handler), std::move(signal)));
  }
};

/// asio::co_spawn(executor, op, token), except that a cancellation emitted on
/// the token's slot is delivered to `op` on `executor`. For operations whose
/// coroutine runs on an executor of their own (a credential's, a strand) and
/// whose callers may cancel from another thread.
template <typename Executor, typename T, typename AwaitableExecutor, typename CompletionToken>
auto co_spawn_on(const Executor& executor, asio::awaitable<T, AwaitableExecutor> op,
                 CompletionToken&& token) {
  return asio::async_initiate<CompletionToken, typename spawn_signature<T>::type>(
      initiate_co_spawn_on<AwaitableExecutor>{AwaitableExecutor(executor)}, token, std::move(op));
}

}  // namespace keyless::detail

namespace asio {

/// Associations of a relayed handler other than its cancellation slot are the
/// wrapped handler's.
template <template <typename, typename> class Associator, typename Handler,
          typename DefaultCandidate>
struct associator<Associator, keyless::detail::relayed_handler<Handler>, DefaultCandidate> {
  using type = typename Associator<Handler, DefaultCandidate>::type;

  static type get(const keyless::detail::relayed_handler<Handler>& h,
                  const DefaultCandidate& c = DefaultCandidate()) noexcept {
    return Associator<Handler, DefaultCandidate>::get(h.get(), c);
  }
};

}  // namespace asio
