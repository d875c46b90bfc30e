// HTTPS keep-alive round trips through keyless::http::client to the in-process loopback
// server, client and server sharing one io_context thread. Reports requests/s and the p50 /
// p99 latency of single requests at concurrency 1, 64 and 256.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include "io_helpers.hpp"
#include "keyless/http/client.hpp"
#include "loopback_server.hpp"
#include "test_pki.hpp"

namespace {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Requests per timed iteration: enough that 256 workers each do several.
constexpr int batch = 4096;

struct run_state {
  int started = 0;
  int finished = 0;
  int failed = 0;
  std::vector<double> latencies_us;
};

asio::awaitable<void> worker(const keyless::http::client& http, const keyless::http::request& req,
                             run_state& state) {
  while (state.started < batch) {
    ++state.started;
    auto begin = steady::now();
    try {
      keyless::http::response res = co_await http.send(req);
      if (res.status != 200 || res.body.size() != 64) ++state.failed;
    } catch (const std::exception&) {
      ++state.failed;
    }
    state.latencies_us.push_back(
        std::chrono::duration<double, std::micro>(steady::now() - begin).count());
    ++state.finished;
  }
}

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(index),
                   values.end());
  return values[index];
}

void https_keep_alive(benchmark::State& bench) {
  const int concurrency = static_cast<int>(bench.range(0));
  asio::io_context io;
  keyless::testing::server_options server_options;
  server_options.tls = true;
  keyless::testing::loopback_server server(io.get_executor(), server_options);
  std::string body(64, 'x');
  server.set_handler([body](keyless::testing::recorded_request,
                            keyless::testing::responder& r) -> asio::awaitable<void> {
    co_await r.respond(200, body);
  });

  keyless::http::client_options options;
  options.tls.use_system_trust_store = false;
  options.tls.ca_pem = keyless::testing::test_pki::shared().ca_certificate_pem();
  options.proxy = keyless::http::proxy_settings{};
  options.pool.max_connections_per_origin = static_cast<std::size_t>(std::min(concurrency, 64));
  keyless::http::client http(io.get_executor(), options);
  keyless::http::request req;
  req.target = keyless::http::url::parse(server.url("/bench"));

  std::vector<double> all_latencies;
  int failures = 0;
  for (auto _ : bench) {
    run_state state;
    state.latencies_us.reserve(batch);
    for (int i = 0; i < concurrency; ++i) {
      asio::co_spawn(io, worker(http, req, state), asio::detached);
    }
    while (state.finished < batch) io.run_one();
    failures += state.failed;
    all_latencies.insert(all_latencies.end(), state.latencies_us.begin(), state.latencies_us.end());
  }
  bench.SetItemsProcessed(bench.iterations() * batch);
  bench.counters["p50_us"] = percentile(all_latencies, 0.50);
  bench.counters["p99_us"] = percentile(all_latencies, 0.99);
  bench.counters["connections"] = static_cast<double>(server.connections_accepted());
  if (failures > 0) bench.SkipWithError("some requests failed");
  server.stop();
  keyless::testing::run_until_idle(io);
}

BENCHMARK(https_keep_alive)
    ->ArgName("concurrency")
    ->Arg(1)
    ->Arg(64)
    ->Arg(256)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
