// Refresh storm: many callers arrive at once when the cached token has expired
// (they must wait) or is inside its refresh window (they must not). The
// upstream credential takes 5 ms per token, like a fast identity endpoint.
// Prints one JSON object per scenario and round, then a summary per scenario;
// exits non-zero if a storm caused more than one upstream fetch.
//
//   build/benchmarks/bench_token_refresh_storm [waiters=10000] [rounds=5] [threads=2]

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "keyless/core/clock.hpp"
#include "keyless/core/error.hpp"
#include "keyless/identity/bearer_token_provider.hpp"
#include "keyless/identity/token_cache.hpp"
#include "keyless/identity/token_credential.hpp"

namespace {

using namespace std::chrono_literals;
using keyless::identity::access_token;
using keyless::identity::bearer_token_provider;
using keyless::identity::token_request;

// Issues one-hour tokens (on the cache's manual clock) after 5 ms of real time.
class slow_credential final : public keyless::identity::token_credential {
 public:
  slow_credential(asio::any_io_executor ex, std::shared_ptr<const keyless::clock> clock)
      : ex_(std::move(ex)), clock_(std::move(clock)) {}
  asio::any_io_executor get_executor() const override { return ex_; }
  std::string_view name() const noexcept override { return "SlowCredential"; }

  asio::awaitable<access_token> get_token(token_request) override {
    const int n = ++calls;
    asio::steady_timer latency(ex_, 5ms);
    co_await latency.async_wait(asio::use_awaitable);
    if (fail) throw keyless::error(keyless::errc::authentication_failed, "upstream refused");
    co_return access_token("storm-token-" + std::to_string(n), clock_->now() + 1h);
  }

  std::atomic<int> calls{0};
  std::atomic<bool> fail{false};

 private:
  asio::any_io_executor ex_;
  std::shared_ptr<const keyless::clock> clock_;
};

struct storm_result {
  int fetches = 0;
  int errors = 0;
  int throttled = 0;  // failed fast during the backoff instead of waiting
  std::vector<double> latency_us;
};

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(static_cast<double>(v.size()) * p))];
}

// Starts `waiters` coroutines at once; each times its own co_await provider().
storm_result storm(asio::io_context& io, const bearer_token_provider& provider,
                   slow_credential& source, int waiters) {
  storm_result r;
  r.latency_us.assign(static_cast<std::size_t>(waiters), 0.0);
  std::atomic<int> finished{0}, errors{0}, throttled{0};
  const int calls_before = source.calls;
  for (int i = 0; i < waiters; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          const auto t0 = std::chrono::steady_clock::now();
          try {
            auto t = co_await provider();
            if (t.empty()) ++errors;
          } catch (const keyless::error& e) {
            ++errors;
            if (e.code() == keyless::errc::throttled) ++throttled;
          } catch (...) {
            ++errors;
          }
          const auto t1 = std::chrono::steady_clock::now();
          r.latency_us[static_cast<std::size_t>(i)] =
              std::chrono::duration<double, std::micro>(t1 - t0).count();
          ++finished;
        },
        asio::detached);
  }
  while (finished < waiters) std::this_thread::sleep_for(100us);
  // A background refresh may still be running after the last waiter: its 5 ms
  // upstream delay is far below this pause, so it is counted too.
  std::this_thread::sleep_for(50ms);
  r.fetches = source.calls - calls_before;
  r.errors = errors;
  r.throttled = throttled;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const int waiters = argc > 1 ? std::atoi(argv[1]) : 10'000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;

  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back([&] { io.run(); });

  // Cache decisions use a manual clock so "expired" and "in the window" are
  // exact; latencies and the upstream delay are real time.
  auto clock = std::make_shared<keyless::manual_clock>();
  auto source = std::make_shared<slow_credential>(io.get_executor(), clock);
  keyless::identity::token_cache_options options;
  options.clock = clock;
  options.random = [] {
    return 0.0;
  };
  bearer_token_provider provider(std::make_shared<keyless::identity::token_cache>(source, options),
                                 "https://cognitiveservices.azure.com/.default");

  bool ok = true;
  const char* names[] = {"expired", "refresh_window", "failing_upstream"};
  for (int scenario = 0; scenario < 3; ++scenario) {
    std::vector<double> all;
    int worst_fetches = 0, total_errors = 0;
    for (int round = 0; round < rounds; ++round) {
      source->fail = false;
      storm(io, provider, *source, 1);  // make sure a token is cached
      if (scenario == 1) {
        clock->advance(55min);  // refresh point: 5 min before expiry, no jitter
      } else {
        clock->advance(2h);  // expired
        source->fail = scenario == 2;
      }
      auto r = storm(io, provider, *source, waiters);
      std::printf(
          "{\"scenario\":\"%s\",\"round\":%d,\"waiters\":%d,\"upstream_fetches\":%d,\"errors\":%d,"
          "\"failed_fast\":%d,\"p50_us\":%.2f,\"p99_us\":%.2f,\"max_us\":%.2f}\n",
          names[scenario], round, waiters, r.fetches, r.errors, r.throttled,
          percentile(r.latency_us, 0.5), percentile(r.latency_us, 0.99),
          percentile(r.latency_us, 1.0));
      worst_fetches = std::max(worst_fetches, r.fetches);
      total_errors += r.errors;
      all.insert(all.end(), r.latency_us.begin(), r.latency_us.end());
      if (r.fetches != 1) ok = false;
      if ((scenario == 2) != (r.errors == waiters)) ok = false;
      if (scenario != 2 && r.errors != 0) ok = false;
      clock->advance(2h);  // past expiry and any failure backoff: a fresh start
      source->fail = false;
    }
    std::printf(
        "{\"summary\":\"%s\",\"rounds\":%d,\"waiters\":%d,\"max_upstream_fetches\":%d,\"errors\":%"
        "d,"
        "\"p50_us\":%.2f,\"p99_us\":%.2f}\n",
        names[scenario], rounds, waiters, worst_fetches, total_errors, percentile(all, 0.5),
        percentile(all, 0.99));
  }

  work.reset();
  for (auto& t : pool) t.join();
  return ok ? 0 : 1;
}
