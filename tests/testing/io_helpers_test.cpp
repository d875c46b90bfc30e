#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include "io_helpers.hpp"

using keyless::testing::count_open_fds;
using keyless::testing::gate;
using keyless::testing::run_sync;
using keyless::testing::run_until_idle;

namespace {

asio::awaitable<int> answer(int value) {
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  co_return value;
}

asio::awaitable<void> fail_with(std::string message) {
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  throw std::runtime_error(message);
}

asio::awaitable<void> pass_gate(gate& g, std::vector<int>& passed, int id) {
  co_await g.wait();
  passed.push_back(id);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(io_helpers)

BOOST_AUTO_TEST_CASE(run_sync_returns_the_tasks_value) {
  asio::io_context io;
  BOOST_TEST(run_sync(io, answer(42)) == 42);
  // The context can be used again afterwards.
  BOOST_TEST(run_sync(io, answer(7)) == 7);
}

BOOST_AUTO_TEST_CASE(run_sync_rethrows_the_tasks_exception) {
  asio::io_context io;
  BOOST_CHECK_EXCEPTION(
      run_sync(io, fail_with("boom")), std::runtime_error,
      [](const std::runtime_error& e) { return std::string(e.what()) == "boom"; });
}

BOOST_AUTO_TEST_CASE(run_sync_fails_loudly_instead_of_hanging) {
  asio::io_context io;
  gate never(io.get_executor());
  auto start = std::chrono::steady_clock::now();
  BOOST_CHECK_EXCEPTION(run_sync(io, never.wait(), std::chrono::milliseconds(50)),
                        std::runtime_error, [](const std::runtime_error& e) {
                          return std::string(e.what()).find("did not finish") != std::string::npos;
                        });
  // Generous upper bound: the guard fired rather than the test hanging.
  BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::seconds(10)));
  BOOST_TEST(never.waiters() == 1u);
}

BOOST_AUTO_TEST_CASE(run_until_idle_runs_ready_work_and_leaves_the_context_reusable) {
  asio::io_context io;
  int runs = 0;
  for (int i = 0; i < 3; ++i) asio::post(io, [&] { ++runs; });
  BOOST_TEST(run_until_idle(io) == 3u);
  BOOST_TEST(runs == 3);
  asio::post(io, [&] { ++runs; });
  BOOST_TEST(run_until_idle(io) == 1u);
  BOOST_TEST(runs == 4);
}

BOOST_AUTO_TEST_CASE(a_gate_parks_waiters_until_opened) {
  asio::io_context io;
  gate g(io.get_executor());
  std::vector<int> passed;
  for (int i = 0; i < 3; ++i) asio::co_spawn(io, pass_gate(g, passed, i), asio::detached);
  run_until_idle(io);
  BOOST_TEST(passed.empty());
  BOOST_TEST(g.waiters() == 3u);
  g.open();
  run_until_idle(io);
  BOOST_TEST(passed.size() == 3u);
  BOOST_TEST(g.waiters() == 0u);
  // Once open, waiting completes at once.
  asio::co_spawn(io, pass_gate(g, passed, 3), asio::detached);
  run_until_idle(io);
  BOOST_TEST(passed.size() == 4u);
}

BOOST_AUTO_TEST_CASE(an_open_followed_by_reset_still_releases_parked_waiters) {
  asio::io_context io;
  gate g(io.get_executor());
  std::vector<int> passed;
  asio::co_spawn(io, pass_gate(g, passed, 1), asio::detached);
  run_until_idle(io);
  g.open();
  g.reset();
  asio::co_spawn(io, pass_gate(g, passed, 2), asio::detached);
  run_until_idle(io);
  BOOST_TEST(passed == std::vector<int>{1});
  BOOST_TEST(g.waiters() == 1u);
  g.open();
  run_until_idle(io);
  BOOST_TEST((passed == std::vector<int>{1, 2}));
}

BOOST_AUTO_TEST_CASE(a_cancelled_waiter_throws_and_leaves_the_others_parked) {
  asio::io_context io;
  gate g(io.get_executor());
  std::vector<int> passed;
  asio::cancellation_signal signal;
  std::exception_ptr cancelled_error;
  asio::co_spawn(io, pass_gate(g, passed, 1),
                 asio::bind_cancellation_slot(signal.slot(),
                                              [&](std::exception_ptr e) { cancelled_error = e; }));
  asio::co_spawn(io, pass_gate(g, passed, 2), asio::detached);
  run_until_idle(io);
  signal.emit(asio::cancellation_type::terminal);
  run_until_idle(io);
  BOOST_REQUIRE(cancelled_error);
  BOOST_CHECK_THROW(std::rethrow_exception(cancelled_error), std::system_error);
  BOOST_TEST(passed.empty());
  BOOST_TEST(g.waiters() == 1u);
  g.open();
  run_until_idle(io);
  BOOST_TEST(passed == std::vector<int>{2});
}

BOOST_AUTO_TEST_CASE(count_open_fds_sees_a_socket_open_and_close) {
  asio::io_context io;
  // The first socket makes Asio create its reactor descriptors; count after that.
  asio::ip::tcp::socket first(io);
  first.open(asio::ip::tcp::v4());
  std::size_t before = count_open_fds();
  {
    asio::ip::tcp::socket socket(io);
    socket.open(asio::ip::tcp::v4());
    BOOST_TEST(count_open_fds() == before + 1);
  }
  BOOST_TEST(count_open_fds() == before);
}

BOOST_AUTO_TEST_SUITE_END()
