#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>

#include "cache_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using keyless::identity::access_token;
using keyless::identity::bearer_token_provider;
using keyless::identity::token_cache;
using keyless::identity::token_cache_options;
using keyless::identity::token_request;
using keyless::test::fake_credential;

// Four threads on one io_context; joined on destruction.
struct thread_pool {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  std::vector<std::thread> threads;

  thread_pool() {
    for (int i = 0; i < 4; ++i) threads.emplace_back([this] { io.run(); });
  }
  ~thread_pool() {
    work.reset();
    for (auto& t : threads) t.join();
  }
};

// Waits for `done` with a generous upper bound; never used to measure time.
template <typename Predicate>
bool wait_until(Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cache_stress)

BOOST_AUTO_TEST_CASE(two_thousand_callers_on_four_threads_share_one_fetch) {
  thread_pool pool;
  auto clock = std::make_shared<keyless::manual_clock>();
  auto source = std::make_shared<fake_credential>(pool.io.get_executor(), clock);
  token_cache_options options;
  options.clock = clock;
  bearer_token_provider provider(std::make_shared<token_cache>(source, options),
                                 keyless::test::openai_scope);
  source->hold();
  constexpr int callers = 2000;
  std::atomic<int> started{0}, finished{0}, wrong{0};
  for (int i = 0; i < callers; ++i) {
    asio::co_spawn(
        pool.io,
        [&]() -> asio::awaitable<void> {
          ++started;
          try {
            auto t = co_await provider();
            if (t.token() != fake_credential::token_text(1)) ++wrong;
          } catch (...) {
            ++wrong;
          }
          ++finished;
        },
        asio::detached);
  }
  BOOST_TEST_REQUIRE(wait_until([&] { return started == callers && source->parked() == 1u; }));
  source->release();
  BOOST_TEST_REQUIRE(wait_until([&] { return finished == callers; }));
  BOOST_TEST(wrong == 0);
  BOOST_TEST(source->calls() == 1);
}

BOOST_AUTO_TEST_CASE(four_threads_mixing_hits_refreshes_and_401s_stay_consistent) {
  thread_pool pool;
  auto clock = std::make_shared<keyless::manual_clock>();
  // Six-minute tokens: the refresh window opens about a minute in, so the
  // clock advances below drive many background refreshes.
  auto source = std::make_shared<fake_credential>(pool.io.get_executor(), clock, 6min);
  token_cache_options options;
  options.clock = clock;
  options.random = [] {
    return 0.5;
  };
  auto cache = std::make_shared<token_cache>(source, options);
  bearer_token_provider provider(cache, keyless::test::openai_scope);
  const token_request request{{keyless::test::openai_scope}, {}, {}, false};

  constexpr int workers = 16;
  constexpr int iterations = 300;
  std::atomic<int> finished{0}, stale{0}, errors{0}, invalidations{0}, advances{0};
  std::mutex first_error_mutex;
  std::string first_error;
  for (int w = 0; w < workers; ++w) {
    asio::co_spawn(
        pool.io,
        [&, w]() -> asio::awaitable<void> {
          for (int i = 0; i < iterations; ++i) {
            const auto before = clock->now();
            try {
              access_token t;
              switch ((i + w) % 5) {
                case 0:
                  t = co_await provider();
                  break;
                case 1:
                  if (auto cached = provider.try_get()) {
                    t = *cached;
                  } else {
                    t = co_await provider();
                  }
                  break;
                case 2:
                  t = co_await provider.get(1min);
                  break;
                case 3:
                  t = co_await provider(asio::use_awaitable);
                  break;
                default: {
                  auto op = cache->async_get_token(request, asio::use_awaitable);
                  t = co_await std::move(op);
                  break;
                }
              }
              // The clock only moves forward, so a token that was usable when
              // returned is usable past `before`.
              if (t.empty() || t.expires_on() - 30s <= before) ++stale;
              if (i % 37 == 0 && provider.invalidate(t)) ++invalidations;
            } catch (const std::exception& e) {
              if (++errors == 1) {
                const std::lock_guard lock(first_error_mutex);
                first_error = e.what();
              }
            }
            // 15 steps × 16 workers = 240 s in all: less than the token's 330 usable
            // seconds minus the 60 s that get(1min) asks for, so even a caller starved for
            // the whole run (a loaded machine) never receives a shared fetch that no longer
            // lasts long enough when it wakes.
            if (i % 20 == 0) {
              clock->advance(1s);
              ++advances;
            }
          }
          ++finished;
        },
        asio::detached);
  }
  BOOST_TEST_REQUIRE(wait_until([&] { return finished == workers; }));
  BOOST_TEST(stale == 0);
  BOOST_TEST(errors == 0, "first error: " << first_error);
  BOOST_TEST(source->calls() >= 1);
  // Without sharing, each of the 4800 calls after a drop or expiry would fetch.
  // With it: one fetch per drop, plus at most one per 30 s of (advanced) time.
  BOOST_TEST(source->calls() <= 2 + invalidations + advances / 30 + 1);
}

BOOST_AUTO_TEST_SUITE_END()
