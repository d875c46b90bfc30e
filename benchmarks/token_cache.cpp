// Cache-hit cost of the token cache: try_get() and co_await provider(), their
// p50/p99 per call, allocations per hit, and throughput on 1 and 2 threads.
// A baseline that copies one shared access_token shows what a shared reference
// count bumped on every hit costs when threads are added.
//
//   build/benchmarks/bench_token_cache --benchmark_min_time=0.5

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <string_view>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>

#include "keyless/identity/bearer_token_provider.hpp"
#include "keyless/identity/token_cache.hpp"
#include "keyless/identity/token_credential.hpp"

// ---------------------------------------------------------------------------
// Every allocation in this program is counted, so "allocations per hit" is
// measured, not assumed.

namespace {
std::atomic<std::uint64_t> allocations{0};

void* counted_alloc(std::size_t n, std::size_t align) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (n == 0) n = 1;
  void* p = align <= alignof(std::max_align_t)
                ? std::malloc(n)
                : std::aligned_alloc(align, (n + align - 1) / align * align);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) {
  return counted_alloc(n, alignof(std::max_align_t));
}
void* operator new(std::size_t n, std::align_val_t a) {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

namespace {

using namespace std::chrono_literals;
using keyless::identity::access_token;
using keyless::identity::bearer_token_provider;
using keyless::identity::token_request;

// Answers at once with a token valid for an hour of real time.
class instant_credential final : public keyless::identity::token_credential {
 public:
  explicit instant_credential(asio::any_io_executor ex) : ex_(std::move(ex)) {}
  asio::any_io_executor get_executor() const override { return ex_; }
  std::string_view name() const noexcept override { return "InstantCredential"; }
  asio::awaitable<access_token> get_token(token_request) override {
    co_return access_token(std::string(1200, 'x'), std::chrono::system_clock::now() + 1h);
  }

 private:
  asio::any_io_executor ex_;
};

// One provider shared by every benchmark and thread, primed with a token.
struct shared_cache {
  asio::io_context io;
  bearer_token_provider provider{std::make_shared<instant_credential>(io.get_executor()),
                                 "https://cognitiveservices.azure.com/.default"};
  access_token shared_token;

  shared_cache() {
    asio::co_spawn(io, provider(), [this](std::exception_ptr e, access_token t) {
      if (e) std::abort();
      shared_token = std::move(t);
    });
    io.run();
  }
};

shared_cache& cache() {
  static shared_cache instance;
  return instance;
}

void report_allocations(benchmark::State& state, std::uint64_t before) {
  const auto used = allocations.load(std::memory_order_relaxed) - before;
  state.counters["allocs_per_hit"] =
      benchmark::Counter(static_cast<double>(used) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
}

// Per-call p50/p99 from batches of calls timed together (a clock read costs as
// much as a hit), with the cost of the timing itself subtracted.
constexpr int batch = 32;

double timing_overhead_ns() {
  std::vector<double> v;
  for (int i = 0; i < 1001; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto t1 = std::chrono::steady_clock::now();
    v.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  std::nth_element(v.begin(), v.begin() + 500, v.end());
  return v[500];
}

void report_percentiles(benchmark::State& state, std::vector<double>& per_call_ns) {
  if (per_call_ns.empty()) return;
  std::sort(per_call_ns.begin(), per_call_ns.end());
  state.counters["p50_ns"] = per_call_ns[per_call_ns.size() / 2];
  state.counters["p99_ns"] = per_call_ns[per_call_ns.size() * 99 / 100];
}

// ---------------------------------------------------------------------------

void try_get_hit(benchmark::State& state) {
  auto& c = cache();
  benchmark::DoNotOptimize(c.provider.try_get());  // this thread's first copy
  const auto before = allocations.load(std::memory_order_relaxed);
  for (auto _ : state) {
    auto t = c.provider.try_get();
    benchmark::DoNotOptimize(t);
  }
  report_allocations(state, before);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(try_get_hit)->Threads(1)->Threads(2)->UseRealTime();

void try_get_hit_percentiles(benchmark::State& state) {
  auto& c = cache();
  benchmark::DoNotOptimize(c.provider.try_get());
  const double overhead = timing_overhead_ns();
  std::vector<double> samples;
  samples.reserve(1 << 20);
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < batch; ++i) {
      auto t = c.provider.try_get();
      benchmark::DoNotOptimize(t);
    }
    const auto t1 = std::chrono::steady_clock::now();
    if (samples.size() < samples.capacity()) {
      samples.push_back((std::chrono::duration<double, std::nano>(t1 - t0).count() - overhead) /
                        batch);
    }
  }
  report_percentiles(state, samples);
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(try_get_hit_percentiles);

void co_await_provider_hit(benchmark::State& state) {
  auto& c = cache();
  asio::io_context io;  // this benchmark thread's own context
  std::uint64_t before = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        benchmark::DoNotOptimize(co_await c.provider());  // warms Asio's frame recycler
        before = allocations.load(std::memory_order_relaxed);
        for (auto _ : state) {
          auto t = co_await c.provider();
          benchmark::DoNotOptimize(t);
        }
      },
      asio::detached);
  io.run();
  report_allocations(state, before);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(co_await_provider_hit)->Threads(1)->Threads(2)->UseRealTime();

void co_await_provider_hit_percentiles(benchmark::State& state) {
  auto& c = cache();
  asio::io_context io;
  const double overhead = timing_overhead_ns();
  std::vector<double> samples;
  samples.reserve(1 << 20);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        benchmark::DoNotOptimize(co_await c.provider());
        for (auto _ : state) {
          const auto t0 = std::chrono::steady_clock::now();
          for (int i = 0; i < batch; ++i) {
            auto t = co_await c.provider();
            benchmark::DoNotOptimize(t);
          }
          const auto t1 = std::chrono::steady_clock::now();
          if (samples.size() < samples.capacity()) {
            samples.push_back(
                (std::chrono::duration<double, std::nano>(t1 - t0).count() - overhead) / batch);
          }
        }
      },
      asio::detached);
  io.run();
  report_percentiles(state, samples);
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(co_await_provider_hit_percentiles);

// Baseline: what a hit would cost if it copied one shared access_token (one
// reference count written by every thread), as a shared_ptr snapshot would.
void baseline_shared_refcount_copy(benchmark::State& state) {
  auto& c = cache();
  for (auto _ : state) {
    access_token t = c.shared_token;
    benchmark::DoNotOptimize(t);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(baseline_shared_refcount_copy)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
