#pragma once
// Deterministic async test helpers: drain an io_context without sleeping, and
// a gate that parks coroutines until the test releases them.

#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

namespace keyless::test {

/// Runs every ready handler, including those they make ready, then returns.
inline void run_until_idle(asio::io_context& io) {
  while (io.poll() > 0) {
  }
  io.restart();
}

/// Parks waiters until open() is called. Safe to use from several threads; each
/// waiter is resumed by a post to its own executor.
class gate {
 public:
  explicit gate(bool open = true) : open_(open) {}

  template <typename CompletionToken = asio::use_awaitable_t<>>
  auto async_wait(CompletionToken&& token = {}) {
    return asio::async_initiate<CompletionToken, void()>(
        [this](auto handler) {
          auto w = std::make_unique<waiter<decltype(handler)>>(std::move(handler));
          std::unique_lock lock(mutex_);
          if (open_) {
            lock.unlock();
            w->release();
            return;
          }
          waiters_.push_back(std::move(w));
        },
        token);
  }

  /// Releases every parked waiter and lets later ones through.
  void open() {
    std::vector<std::unique_ptr<waiter_base>> released;
    {
      std::lock_guard lock(mutex_);
      open_ = true;
      released.swap(waiters_);
    }
    for (auto& w : released) w->release();
  }

  /// Makes later waiters park again.
  void close() {
    std::lock_guard lock(mutex_);
    open_ = false;
  }

  std::size_t waiting() const {
    std::lock_guard lock(mutex_);
    return waiters_.size();
  }

 private:
  struct waiter_base {
    virtual ~waiter_base() = default;
    virtual void release() = 0;
  };

  template <typename Handler>
  struct waiter final : waiter_base {
    explicit waiter(Handler h) : work(asio::get_associated_executor(h)), handler(std::move(h)) {}
    void release() override {
      asio::post(work.get_executor(), std::move(handler));
      work.reset();
    }
    asio::executor_work_guard<asio::associated_executor_t<Handler>> work;
    Handler handler;
  };

  mutable std::mutex mutex_;
  bool open_;
  std::vector<std::unique_ptr<waiter_base>> waiters_;
};

}  // namespace keyless::test
