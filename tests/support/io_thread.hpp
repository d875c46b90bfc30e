#pragma once
// An io_context on a thread of its own, for tests where a caller on one thread uses an object
// whose executor another thread drives (cross-thread cancellation, say).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <thread>
#include <utility>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

namespace keyless::testing {

/// Runs until destroyed; joined on destruction.
struct io_thread {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  std::thread thread{[this] {
    io.run();
  }};

  ~io_thread() {
    work.reset();
    thread.join();
  }
};

/// Turns the calling coroutine's executor over `hops` times: lets other work on it run, a
/// step at a time, e.g. to vary when a test cancels.
inline asio::awaitable<void> hop(int hops) {
  auto ex = co_await asio::this_coro::executor;
  for (int i = 0; i < hops; ++i) co_await asio::post(ex, asio::use_awaitable);
}

/// Runs `op` on `t` and waits for its result on the calling thread, where Boost.Test may check
/// it. The bound is generous (sanitizer builds); it only stops a hang, by aborting: unwinding
/// would destroy objects that the other threads are still using.
template <typename T>
T run_on(io_thread& t, asio::awaitable<T> op) {
  auto result = asio::co_spawn(t.io, std::move(op), asio::use_future);
  if (result.wait_for(std::chrono::seconds(120)) != std::future_status::ready) {
    std::fprintf(stderr, "the caller did not finish within 120 s (a lost cancellation?)\n");
    std::abort();
  }
  return result.get();
}

}  // namespace keyless::testing
