// A caller on one thread cancels chat calls of a client whose executor another thread drives:
// a streamed read waiting for a chunk that never comes, and completions cancelled at whatever
// point they have reached. The chat suite runs in scripts/test's ThreadSanitizer stage, which
// reports a cancellation handled on the caller's thread while the call runs on the client's.

#include <cstddef>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/error.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include "chat_test_support.hpp"
#include "io_thread.hpp"
#include "keyless/detail/asio_compat.hpp"

using namespace keyless;
using namespace keyless::chat_test;
using keyless::testing::hop;
using keyless::testing::io_thread;
using keyless::testing::openai_fault;
using keyless::testing::run_on;

namespace {

constexpr int rounds = 60;

// The fixture's io_context, driven by a thread of its own for the fixture's lifetime. Stopped,
// not drained, at the end: stalled streams keep the fake busy until it is destroyed.
struct threaded_fixture {
  chat_fixture f;
  std::thread runner{[this] {
    auto work = asio::make_work_guard(f.io);
    f.io.run();
  }};

  ~threaded_fixture() {
    f.io.stop();
    runner.join();
  }
};

// At least one turn: co_spawn starts this inline, before the call it cancels has begun.
asio::awaitable<void> cancel_after(std::shared_ptr<asio::cancellation_signal> signal, int hops) {
  co_await hop(1 + hops);
  signal->emit(asio::cancellation_type::terminal);
}

// Once the fake has seen more than `seen` requests (the call is waiting for its answer, or
// already has it), then `hops` more turns.
asio::awaitable<void> cancel_once_sent(std::shared_ptr<asio::cancellation_signal> signal,
                                       const testing::fake_openai& fake, std::size_t seen,
                                       int hops) {
  while (fake.requests() <= seen) co_await hop(1);
  co_await cancel_after(std::move(signal), hops);
}

auto with_slot(const std::shared_ptr<asio::cancellation_signal>& signal) {
  return asio::bind_cancellation_slot(signal->slot(), net::as_tuple(asio::use_awaitable));
}

// On the caller's thread: each round opens a stream that stalls after its first two events,
// reads those, then cancels the read of the third.
asio::awaitable<std::vector<std::error_code>> read_and_cancel(const openai::chat_client& chat,
                                                              testing::fake_openai& fake) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<std::error_code> codes;
  for (int round = 0; round < rounds; ++round) {
    fake.enqueue(openai_fault::of(openai_fault::kind::stall_mid_stream));
    auto stream = co_await chat.async_stream(hello_request(), asio::use_awaitable);
    for (int i = 0; i < 2; ++i) co_await stream.async_next(asio::use_awaitable);
    auto signal = std::make_shared<asio::cancellation_signal>();
    asio::co_spawn(ex, cancel_after(signal, round % 16), asio::detached);
    auto [e, chunk] = co_await stream.async_next(with_slot(signal));
    codes.push_back(inspect(e).code);
  }
  co_return codes;
}

struct outcomes {
  int answered = 0;
  int aborted = 0;
  std::vector<std::error_code> others;
};

// On the caller's thread: even rounds cancel a completion after a few turns of the caller's
// executor (asking for the token, connecting), odd rounds once the request reached the fake
// (waiting for the answer, or already answered).
asio::awaitable<outcomes> complete_and_cancel(const openai::chat_client& chat,
                                              const testing::fake_openai& fake) {
  auto ex = co_await asio::this_coro::executor;
  outcomes out;
  for (int round = 0; round < rounds; ++round) {
    auto signal = std::make_shared<asio::cancellation_signal>();
    if (round % 2 == 0) {
      asio::co_spawn(ex, cancel_after(signal, round % 24), asio::detached);
    } else {
      asio::co_spawn(ex, cancel_once_sent(signal, fake, fake.requests(), round % 8),
                     asio::detached);
    }
    auto [e, answer] = co_await chat.async_complete(hello_request(), with_slot(signal));
    if (!e) {
      ++out.answered;
    } else if (inspect(e).code == asio::error::operation_aborted) {
      ++out.aborted;
    } else {
      out.others.push_back(inspect(e).code);
    }
  }
  co_return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(chat_cross_thread_cancel)

BOOST_AUTO_TEST_CASE(a_stream_read_cancelled_from_the_caller_s_thread_ends_aborted) {
  threaded_fixture t;
  io_thread caller_thread;
  openai::chat_client chat(t.f.io.get_executor(), t.f.token_options());
  const auto codes = run_on(caller_thread, read_and_cancel(chat, t.f.fake));
  BOOST_TEST(codes.size() == static_cast<std::size_t>(rounds));
  for (const auto& code : codes) BOOST_TEST((code == asio::error::operation_aborted));
  BOOST_TEST(t.f.fake.requests() == static_cast<std::size_t>(rounds));
  BOOST_TEST(t.f.credential->calls() == 1);
}

BOOST_AUTO_TEST_CASE(completions_cancelled_from_the_caller_s_thread_end_answered_or_aborted) {
  threaded_fixture t;
  io_thread caller_thread;
  openai::chat_client chat(t.f.io.get_executor(), t.f.token_options());
  const outcomes out = run_on(caller_thread, complete_and_cancel(chat, t.f.fake));
  BOOST_TEST(out.answered + out.aborted == rounds);
  BOOST_TEST(out.others.empty());
  BOOST_TEST_MESSAGE(out.answered << " answered, " << out.aborted << " aborted");
  // The client is still whole: a call nobody cancels is answered.
  auto answer = run_on(caller_thread, chat.async_complete(hello_request(), asio::use_awaitable));
  BOOST_TEST(answer.choices.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
