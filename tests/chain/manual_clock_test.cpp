#include <boost/test/unit_test.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include "io_helpers.hpp"
#include "keyless/core/clock.hpp"

using namespace std::chrono_literals;
using keyless::testing::run_until_idle;

BOOST_AUTO_TEST_SUITE(manual_clock)

BOOST_AUTO_TEST_CASE(sleepers_wake_only_when_manual_time_reaches_their_deadline) {
  asio::io_context io;
  keyless::manual_clock clock;
  int woke = 0;
  auto sleep = [&](std::chrono::seconds d) {
    asio::co_spawn(io, clock.sleep_for(d), [&](std::exception_ptr e) { woke += e ? 100 : 1; });
  };
  sleep(10s);
  sleep(70s);
  run_until_idle(io);
  BOOST_TEST(clock.sleepers() == 2u);
  clock.advance(9s);
  run_until_idle(io);
  BOOST_TEST(woke == 0);
  clock.advance(1s);
  run_until_idle(io);
  BOOST_TEST(woke == 1);
  clock.advance(60s);
  run_until_idle(io);
  BOOST_TEST(woke == 2);
  BOOST_TEST(clock.sleepers() == 0u);
}

BOOST_AUTO_TEST_CASE(a_cancelled_sleeper_ends_with_operation_aborted) {
  asio::io_context io;
  keyless::manual_clock clock;
  asio::cancellation_signal cancel;
  std::exception_ptr failure;
  bool done = false;
  asio::co_spawn(io, clock.sleep_for(1h),
                 asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e) {
                   failure = e;
                   done = true;
                 }));
  run_until_idle(io);
  cancel.emit(asio::cancellation_type::terminal);
  run_until_idle(io);
  BOOST_TEST(done);
  BOOST_TEST(static_cast<bool>(failure));
  BOOST_TEST(clock.sleepers() == 0u);
  clock.advance(2h);  // waking nobody must be harmless
  run_until_idle(io);
}

BOOST_AUTO_TEST_CASE(the_system_clock_sleeps_for_real_time) {
  asio::io_context io;
  auto clock = keyless::clock::system();
  bool done = false;
  const auto start = std::chrono::steady_clock::now();
  asio::co_spawn(io, clock->sleep_for(5ms), [&](std::exception_ptr) { done = true; });
  io.run();
  BOOST_TEST(done);
  BOOST_TEST((std::chrono::steady_clock::now() - start >= 5ms));
}

BOOST_AUTO_TEST_SUITE_END()
