#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <variant>
#include <vector>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "async_test_support.hpp"
#include "keyless/core/single_flight.hpp"
#include "keyless/detail/asio_compat.hpp"

namespace {

using keyless::test::gate;
using keyless::test::run_until_idle;
using flight_group = keyless::single_flight<std::string, int>;

struct outcome {
  bool done = false;
  std::exception_ptr error;
  int value = -1;
};

auto record(outcome& o) {
  return [&o](std::exception_ptr e, int v) {
    o.done = true;
    o.error = std::move(e);
    o.value = v;
  };
}

// A producer that counts its runs and waits on a gate before answering.
struct producer_source {
  std::atomic<int> runs{0};
  gate release{false};
  int answer = 42;
  bool fail = false;

  auto maker() {
    return [this] {
      return produce();
    };
  }

  asio::awaitable<int> produce() {
    ++runs;
    co_await release.async_wait();
    if (fail) throw std::runtime_error("upstream said no");
    co_return answer;
  }
};

std::error_code code_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::system_error& ex) {
    return ex.code();
  } catch (...) {
  }
  return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(single_flight)

BOOST_AUTO_TEST_CASE(concurrent_callers_for_one_key_share_one_producer) {
  asio::io_context io;
  flight_group group(io.get_executor());
  producer_source source;
  std::vector<outcome> out(500);
  for (auto& o : out) group.async_run("k", source.maker(), record(o));
  run_until_idle(io);
  BOOST_TEST(source.runs == 1);
  BOOST_TEST(group.in_flight() == 1u);
  BOOST_TEST(group.waiting() == out.size());
  for (auto& o : out) BOOST_TEST(!o.done);

  source.release.open();
  run_until_idle(io);
  BOOST_TEST(source.runs == 1);
  BOOST_TEST(group.in_flight() == 0u);
  BOOST_TEST(group.waiting() == 0u);
  for (auto& o : out) {
    BOOST_TEST(o.done);
    BOOST_TEST(!o.error);
    BOOST_TEST(o.value == 42);
  }
}

BOOST_AUTO_TEST_CASE(different_keys_run_their_own_producers) {
  asio::io_context io;
  flight_group group(io.get_executor());
  producer_source a, b;
  b.answer = 7;
  outcome oa, ob;
  group.async_run("a", a.maker(), record(oa));
  group.async_run("b", b.maker(), record(ob));
  run_until_idle(io);
  BOOST_TEST(group.in_flight() == 2u);
  b.release.open();
  run_until_idle(io);
  BOOST_TEST(ob.done);
  BOOST_TEST(ob.value == 7);
  BOOST_TEST(!oa.done);  // a is still parked: the keys are independent
  a.release.open();
  run_until_idle(io);
  BOOST_TEST(oa.value == 42);
}

BOOST_AUTO_TEST_CASE(a_failure_reaches_every_waiter_and_the_next_call_starts_afresh) {
  asio::io_context io;
  flight_group group(io.get_executor());
  producer_source source;
  source.fail = true;
  std::vector<outcome> out(3);
  for (auto& o : out) group.async_run("k", source.maker(), record(o));
  run_until_idle(io);
  source.release.open();
  run_until_idle(io);
  for (auto& o : out) {
    BOOST_TEST_REQUIRE(o.done);
    BOOST_TEST_REQUIRE(static_cast<bool>(o.error));
    try {
      std::rethrow_exception(o.error);
    } catch (const std::runtime_error& e) {
      BOOST_TEST(std::string(e.what()) == "upstream said no");
    }
  }
  BOOST_TEST(source.runs == 1);

  source.fail = false;
  outcome next;
  group.async_run("k", source.maker(), record(next));
  run_until_idle(io);
  BOOST_TEST(source.runs == 2);
  BOOST_TEST(next.value == 42);
}

BOOST_AUTO_TEST_CASE(a_cancelled_waiter_leaves_and_the_flight_goes_on) {
  asio::io_context io;
  flight_group group(io.get_executor());
  producer_source source;
  asio::cancellation_signal signal;
  outcome cancelled, other;
  group.async_run("k", source.maker(),
                  asio::bind_cancellation_slot(signal.slot(), record(cancelled)));
  group.async_run("k", source.maker(), record(other));
  run_until_idle(io);
  signal.emit(asio::cancellation_type::terminal);
  run_until_idle(io);
  BOOST_TEST(cancelled.done);
  BOOST_TEST(code_of(cancelled.error) == asio::error::operation_aborted);
  BOOST_TEST(!other.done);
  BOOST_TEST(group.in_flight() == 1u);

  source.release.open();
  run_until_idle(io);
  BOOST_TEST(other.done);
  BOOST_TEST(other.value == 42);
  BOOST_TEST(source.runs == 1);
}

BOOST_AUTO_TEST_CASE(the_only_waiter_leaving_does_not_stop_the_producer) {
  asio::io_context io;
  flight_group group(io.get_executor());
  producer_source source;
  asio::cancellation_signal signal;
  outcome cancelled;
  group.async_run("k", source.maker(),
                  asio::bind_cancellation_slot(signal.slot(), record(cancelled)));
  // Cancel before the strand has even seen the waiter.
  signal.emit(asio::cancellation_type::terminal);
  run_until_idle(io);
  BOOST_TEST(cancelled.done);
  BOOST_TEST(code_of(cancelled.error) == asio::error::operation_aborted);

  outcome late;
  group.async_run("k", source.maker(), record(late));
  run_until_idle(io);
  source.release.open();
  run_until_idle(io);
  BOOST_TEST(late.value == 42);
  BOOST_TEST(source.runs <= 1);
}

BOOST_AUTO_TEST_CASE(a_waiter_racing_a_timer_loses_only_its_own_wait) {
  using namespace keyless::net::awaitable_operators;
  asio::io_context io;
  flight_group group(io.get_executor());
  producer_source source;
  int winner = -1;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(io, std::chrono::steady_clock::duration::zero());
        auto run = group.async_run("k", source.maker(), asio::use_awaitable);
        auto r = co_await (std::move(run) || timer.async_wait(asio::use_awaitable));
        winner = static_cast<int>(r.index());
      },
      asio::detached);
  outcome other;
  group.async_run("k", source.maker(), record(other));
  // The timer is already due: polling until it fires needs no sleep.
  for (int i = 0; i < 1000 && winner < 0; ++i) run_until_idle(io);
  BOOST_TEST(winner == 1);
  BOOST_TEST(source.runs == 1);
  BOOST_TEST(group.in_flight() == 1u);
  source.release.open();
  run_until_idle(io);
  BOOST_TEST(other.value == 42);
}

BOOST_AUTO_TEST_CASE(waiters_resume_on_their_own_executor) {
  asio::io_context flight_io, waiter_io;
  flight_group group(flight_io.get_executor());
  producer_source source;
  bool on_own_executor = false;
  bool done = false;
  asio::co_spawn(
      waiter_io,
      [&]() -> asio::awaitable<void> {
        auto run = group.async_run("k", source.maker(), asio::use_awaitable);
        co_await std::move(run);
        on_own_executor = waiter_io.get_executor().running_in_this_thread();
        done = true;
      },
      asio::detached);
  run_until_idle(waiter_io);
  source.release.open();
  run_until_idle(flight_io);
  BOOST_TEST(!done);  // the result was posted to waiter_io, not run on the flight's strand
  run_until_idle(waiter_io);
  BOOST_TEST(done);
  BOOST_TEST(on_own_executor);
}

BOOST_AUTO_TEST_CASE(a_throwing_producer_factory_fails_the_waiter) {
  asio::io_context io;
  flight_group group(io.get_executor());
  outcome o;
  group.async_run(
      "k", []() -> asio::awaitable<int> { throw std::runtime_error("cannot start"); }, record(o));
  run_until_idle(io);
  BOOST_TEST(o.done);
  BOOST_TEST(static_cast<bool>(o.error));
  BOOST_TEST(group.in_flight() == 0u);
}

BOOST_AUTO_TEST_CASE(destroying_the_context_with_a_parked_flight_releases_everything) {
  std::weak_ptr<int> witness;
  {
    asio::io_context io;
    flight_group group(io.get_executor());
    auto token = std::make_shared<int>(1);
    witness = token;
    // The producer waits on an operation owned by the context, as real I/O does.
    auto park = []() -> asio::awaitable<int> {
      asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::hours(1));
      co_await timer.async_wait(asio::use_awaitable);
      co_return 1;
    };
    for (int i = 0; i < 3; ++i) {
      group.async_run("k", park, [token](std::exception_ptr, int) {});
    }
    token.reset();
    run_until_idle(io);
    BOOST_TEST(group.waiting() == 3u);
    BOOST_TEST(!witness.expired());  // held by the parked waiters
  }
  BOOST_TEST(witness.expired());  // freed with the context, not leaked
}

BOOST_AUTO_TEST_CASE(multi_threaded_callers_still_share_one_producer_per_round) {
  using namespace keyless::net::awaitable_operators;
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&] { io.run(); });

  flight_group group(io.get_executor());
  constexpr int rounds = 20;
  constexpr int callers = 200;
  std::atomic<int> failures{0};
  std::atomic<int> runs_total{0};
  for (int round = 0; round < rounds; ++round) {
    producer_source source;
    source.answer = round;
    std::atomic<int> finished{0};
    for (int i = 0; i < callers; ++i) {
      if (i % 4 == 0) {
        // Races the flight against an already-due timer on its own strand, so
        // cancellation and completion really do meet from different threads.
        asio::co_spawn(
            asio::make_strand(io),
            [&, round]() -> asio::awaitable<void> {
              asio::steady_timer timer(co_await asio::this_coro::executor,
                                       std::chrono::steady_clock::duration::zero());
              try {
                auto run = group.async_run("k", source.maker(), asio::use_awaitable);
                auto r = co_await (std::move(run) || timer.async_wait(asio::use_awaitable));
                if (r.index() == 0 && std::get<0>(r) != round) ++failures;
              } catch (...) {
                ++failures;
              }
              ++finished;
            },
            asio::detached);
      } else {
        asio::post(io, [&, round] {
          group.async_run("k", source.maker(), [&, round](std::exception_ptr e, int v) {
            if (e || v != round) ++failures;
            ++finished;
          });
        });
      }
    }
    // Bounded wait until the strand has registered every caller that did not
    // leave first, so nobody can start a second producer this round.
    for (int spin = 0; spin < 5000000 && group.waiting() + finished < callers; ++spin) {
      std::this_thread::yield();
    }
    source.release.open();
    for (int spin = 0; spin < 5000000 && finished < callers; ++spin) std::this_thread::yield();
    BOOST_TEST(finished == callers);
    runs_total += source.runs;
  }
  BOOST_TEST(failures == 0);
  BOOST_TEST(runs_total == rounds);
  work.reset();
  for (auto& t : threads) t.join();
}

BOOST_AUTO_TEST_SUITE_END()
