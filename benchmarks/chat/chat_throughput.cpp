// Chat client throughput, latency, client CPU and memory against the fake Azure OpenAI, with an
// API key and keyless (a bearer_token_provider over a fake credential) in the same run.
//
// The fake runs on its own thread and io_context; the client runs on this (the main) thread on
// another io_context, so the client's CPU time is this thread's getrusage(RUSAGE_THREAD) and
// contains no server work. The server thread's CPU is read from its CPU-time clock for context.
// Memory is counted per thread by a malloc interposer in this program: the net heap bytes the
// client thread holds while requests are in flight, minus what it held before.
//
// Rounds alternate API key and keyless (and which goes first), so drift in the machine's load
// hits both alike. Prints one table per part and exits non-zero if any request failed or the
// keyless runs fetched more than one token.
//
//   build/benchmarks/chat/bench_chat_throughput [requests_per_round=2000] [rounds=8] [parts=all]
//                                               [concurrencies=1,64,256] [auth=both] [http=1.1]
//
// parts: "all", or any of "completions", "memory", "streaming", "floor" joined by commas.
// auth: "both", "api_key" or "keyless" (one side alone is for profiling it, e.g. under perf).
// http: "1.1" (a connection per request in flight, up to 64) or "2" (one HTTP/2 connection
// carrying every request: HPACK sends the token once, then a one-byte index).

#include <pthread.h>
#include <sys/resource.h>
#include <time.h>

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
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

#include "fake_entra.hpp"
#include "fake_openai.hpp"
#include "io_helpers.hpp"
#include "keyless/identity/bearer_token_provider.hpp"
#include "keyless/identity/token_cache.hpp"
#include "keyless/identity/token_credential.hpp"
#include "keyless/openai/chat_client.hpp"
#include "round_trip_floor.hpp"
#include "thread_cpu.hpp"

// ---- per-thread heap accounting -------------------------------------------------------------
// glibc supports replacing malloc; these forward to its own implementation and keep a
// per-thread net byte count (usable sizes). Not under sanitizers, which own malloc.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KEYLESS_BENCH_HEAP_COUNTING 0
#else
#define KEYLESS_BENCH_HEAP_COUNTING 1
#endif

namespace {
__attribute__((tls_model("initial-exec"))) thread_local std::int64_t thread_heap_bytes = 0;
// Counting costs a malloc_usable_size per call, which the CPU figures must not include: it is
// on only while memory is measured (a net delta needs no history from before).
std::atomic<bool> heap_counting{false};
}  // namespace

#if KEYLESS_BENCH_HEAP_COUNTING
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);

static void* counted(void* p) {
  if (p && heap_counting.load(std::memory_order_relaxed))
    thread_heap_bytes += static_cast<std::int64_t>(malloc_usable_size(p));
  return p;
}
void* malloc(std::size_t n) {
  return counted(__libc_malloc(n));
}
void* calloc(std::size_t n, std::size_t size) {
  return counted(__libc_calloc(n, size));
}
void* realloc(void* p, std::size_t n) {
  const bool on = heap_counting.load(std::memory_order_relaxed);
  const auto old = p && on ? static_cast<std::int64_t>(malloc_usable_size(p)) : 0;
  void* q = __libc_realloc(p, n);
  if (q || n == 0) thread_heap_bytes -= old;
  return counted(q);
}
void free(void* p) {
  if (p && heap_counting.load(std::memory_order_relaxed))
    thread_heap_bytes -= static_cast<std::int64_t>(malloc_usable_size(p));
  __libc_free(p);
}
void* memalign(std::size_t alignment, std::size_t n) {
  return counted(__libc_memalign(alignment, n));
}
void* aligned_alloc(std::size_t alignment, std::size_t n) {
  return counted(__libc_memalign(alignment, n));
}
int posix_memalign(void** out, std::size_t alignment, std::size_t n) {
  void* p = __libc_memalign(alignment, n);
  if (!p) return 12;  // ENOMEM
  *out = counted(p);
  return 0;
}
}
#endif

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
namespace kl = keyless;
using kl::bench::pin_to_cpu;
using kl::bench::thread_cpu_us;

constexpr std::string_view scope = "https://cognitiveservices.azure.com/.default";
constexpr std::string_view resource_key = "bench-resource-key-0123456789abcdef";

// Issues JWT-shaped one-hour tokens the fake accepts; counts fetches.
class fake_credential final : public kl::identity::token_credential {
 public:
  explicit fake_credential(asio::any_io_executor ex) : ex_(std::move(ex)) {}
  asio::any_io_executor get_executor() const override { return ex_; }
  std::string_view name() const noexcept override { return "BenchCredential"; }
  asio::awaitable<kl::identity::access_token> get_token(kl::identity::token_request) override {
    ++fetches;
    kl::testing::fake_token_claims c;
    c.tenant_id = "11111111-2222-3333-4444-555555555555";
    c.object_id = "7c1e0d2a-5b4f-4e3a-9d8c-1a2b3c4d5e6f";
    c.audience = "https://cognitiveservices.azure.com";
    c.app_id = "aaaaaaaa-0000-0000-0000-000000000001";
    c.issued_at = std::chrono::system_clock::now();
    c.expires_on = c.issued_at + 1h;
    co_return kl::identity::access_token(kl::testing::make_fake_access_token(c), c.expires_on);
  }
  std::atomic<int> fetches{0};

 private:
  asio::any_io_executor ex_;
};

double clock_cpu_us(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

struct totals {
  std::size_t requests = 0;
  std::size_t failures = 0;
  double seconds = 0;
  double client_cpu_us = 0;
  double server_cpu_us = 0;
  std::vector<double> latencies_us;
  std::vector<double> round_rates;       // requests/s of each round, in order
  std::vector<double> round_client_cpu;  // client CPU µs per request of each round, in order
};

struct round_state {
  std::size_t target = 0;
  std::size_t started = 0;
  std::size_t finished = 0;
  std::size_t failures = 0;
  std::vector<double>* latencies = nullptr;
};

kl::openai::chat_request bench_request() {
  kl::openai::chat_request r;
  r.messages.push_back({"system", "You are a helpful assistant."});
  r.messages.push_back({"user", "Say hello."});
  r.max_tokens = 32;
  return r;
}

asio::awaitable<void> worker(const kl::openai::chat_client& chat, round_state& s) {
  while (s.started < s.target) {
    ++s.started;
    const auto begin = steady::now();
    try {
      auto reply = co_await chat.complete(bench_request());
      if (reply.choices.size() != 1) ++s.failures;
    } catch (const std::exception& e) {
      if (s.failures++ == 0) std::fprintf(stderr, "request failed: %s\n", e.what());
    }
    s.latencies->push_back(
        std::chrono::duration<double, std::micro>(steady::now() - begin).count());
    ++s.finished;
  }
}

// Runs `io` until every request of `s` is answered. An io_context stops once it runs out of
// work, and a client with no request in flight leaves none (an idle HTTP/2 connection is not
// read), so it is restarted first. Running out of work again before the last answer would be
// a request lost: that ends the program instead of spinning.
void run_until_answered(asio::io_context& io, const round_state& s, const char* what) {
  io.restart();
  while (s.finished < s.target) {
    if (io.run_one() == 0) {
      std::fprintf(stderr, "%s: the client ran out of work with %zu of %zu requests unanswered\n",
                   what, s.target - s.finished, s.target);
      std::exit(1);
    }
  }
}

void run_round(asio::io_context& io, const kl::openai::chat_client& chat, int concurrency,
               std::size_t requests, clockid_t server_clock, totals& t) {
  round_state s;
  s.target = requests;
  s.latencies = &t.latencies_us;
  const double cpu0 = thread_cpu_us();
  const double server0 = clock_cpu_us(server_clock);
  const auto t0 = steady::now();
  for (int i = 0; i < concurrency; ++i) asio::co_spawn(io, worker(chat, s), asio::detached);
  run_until_answered(io, s, "completions round");
  const double seconds = std::chrono::duration<double>(steady::now() - t0).count();
  t.seconds += seconds;
  t.round_rates.push_back(static_cast<double>(requests) / seconds);
  const double client_cpu = thread_cpu_us() - cpu0;
  t.client_cpu_us += client_cpu;
  t.round_client_cpu.push_back(client_cpu / static_cast<double>(requests));
  t.server_cpu_us += clock_cpu_us(server_clock) - server0;
  t.requests += requests;
  t.failures += s.failures;
}

// Which HTTP the clients speak (the fake serves both).
kl::http::http_version http_version = kl::http::http_version::http1_1;

kl::openai::chat_client_options client_options(const kl::testing::fake_openai& fake,
                                               std::size_t connections) {
  kl::openai::chat_client_options o;
  o.http.version = http_version;
  o.endpoint = fake.endpoint();
  o.deployment = "gpt-4o-mini";
  o.http.tls.use_system_trust_store = false;
  o.http.tls.ca_pem = fake.ca_certificate_pem();
  o.http.proxy = kl::http::proxy_settings{};
  o.http.pool.max_connections_per_origin = connections;
  o.environment = kl::identity::environment_map{};
  o.max_retries = 0;  // a failure must show, not hide behind a retry
  return o;
}

kl::identity::bearer_token_provider make_provider(std::shared_ptr<fake_credential> credential) {
  return kl::identity::bearer_token_provider(
      std::make_shared<kl::identity::token_cache>(std::move(credential)), scope);
}

// Drives `n` completions at once and waits until the fake holds `expect_at_server` of them
// (it answers after its latency), then returns the client thread's heap growth per request.
double heap_per_in_flight(asio::io_context& io, const kl::openai::chat_client& chat,
                          const kl::testing::fake_openai& fake, std::size_t n,
                          std::size_t expect_at_server) {
  // One request first: TLS session, parser buffers and per-thread state exist before the
  // baseline, as in a warm service.
  kl::testing::run_sync(io, chat.complete(bench_request()), 30s);
  kl::testing::run_until_idle(io);
  const std::size_t before_requests = fake.requests();
  heap_counting.store(true);
  const std::int64_t before = thread_heap_bytes;
  round_state s;
  std::vector<double> latencies;
  s.target = n;
  s.latencies = &latencies;
  latencies.reserve(n);
  // One request per worker, all at once.
  for (std::size_t i = 0; i < n; ++i) {
    round_state* one = new round_state{1, 0, 0, 0, &latencies};
    asio::co_spawn(
        io,
        [](const kl::openai::chat_client& c, round_state* st,
           round_state* all) -> asio::awaitable<void> {
          co_await worker(c, *st);
          all->finished += 1;
          all->failures += st->failures;
          delete st;
        }(chat, one, &s),
        asio::detached);
  }
  const auto deadline = steady::now() + 20s;
  io.restart();
  while (fake.requests() - before_requests < expect_at_server && steady::now() < deadline) {
    io.run_one_for(1ms);
  }
  kl::testing::run_until_idle(io);
  const std::int64_t during = thread_heap_bytes;
  heap_counting.store(false);
  run_until_answered(io, s, "memory run");
  if (s.failures > 0) std::fprintf(stderr, "memory run: %zu requests failed\n", s.failures);
  return static_cast<double>(during - before) / static_cast<double>(n);
}

struct stream_totals {
  std::vector<double> ttfc_us;
  std::size_t chunks = 0;
  double seconds = 0;
  double client_cpu_us = 0;
  std::size_t failures = 0;
};

// `streams` sequential streams, each read to its end: chunks counted, and the time from the
// call to the first chunk carrying content recorded.
asio::awaitable<void> stream_run(const kl::openai::chat_client& chat, int streams,
                                 stream_totals& t) {
  for (int i = 0; i < streams; ++i) {
    const auto begin = steady::now();
    try {
      auto s = co_await chat.stream(bench_request());
      bool first = true;
      while (auto chunk = co_await s.next()) {
        ++t.chunks;
        if (first && !chunk->choices.empty() && chunk->choices[0].delta.content &&
            !chunk->choices[0].delta.content->empty()) {
          first = false;
          t.ttfc_us.push_back(
              std::chrono::duration<double, std::micro>(steady::now() - begin).count());
        }
      }
    } catch (const std::exception& e) {
      if (t.failures++ == 0) std::fprintf(stderr, "stream failed: %s\n", e.what());
    }
  }
}

void stream_round(asio::io_context& io, const kl::openai::chat_client& chat, int streams,
                  stream_totals& t) {
  const double cpu0 = thread_cpu_us();
  const auto t0 = steady::now();
  kl::testing::run_sync(io, stream_run(chat, streams, t), 300s);
  t.seconds += std::chrono::duration<double>(steady::now() - t0).count();
  t.client_cpu_us += thread_cpu_us() - cpu0;
}

std::string fmt_percent(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%", value);
  return text;
}

// "98.6% [96.8%..101.2%]": the median of `ratios` and their range; empty when there are none.
std::string median_and_range(const std::vector<double>& ratios) {
  if (ratios.empty()) return {};
  const auto [lowest, highest] = std::minmax_element(ratios.begin(), ratios.end());
  return fmt_percent(percentile(ratios, 0.5)) + " [" + fmt_percent(*lowest) + ".." +
         fmt_percent(*highest) + "]";
}

std::vector<int> int_list(const char* text) {
  std::vector<int> out;
  for (const char* p = text; *p;) {
    char* end = nullptr;
    const long v = std::strtol(p, &end, 10);
    if (end == p || v <= 0 || v > 100000) {
      std::fprintf(stderr, "concurrencies: expected numbers joined by commas, got \"%s\"\n", text);
      std::exit(2);
    }
    out.push_back(static_cast<int>(v));
    p = *end == ',' ? end + 1 : end;
  }
  return out;
}

std::size_t arg(int argc, char** argv, int i, std::size_t fallback) {
  if (argc <= i) return fallback;
  const long v = std::strtol(argv[i], nullptr, 10);
  if (v <= 0) {
    std::fprintf(stderr, "usage: %s [requests_per_round] [rounds]\n", argv[0]);
    std::exit(2);
  }
  return static_cast<std::size_t>(v);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t per_round = arg(argc, argv, 1, 2000);
  const std::size_t rounds = arg(argc, argv, 2, 8);
  const std::string parts = argc > 3 ? argv[3] : "all";
  const std::vector<int> concurrencies =
      argc > 4 ? int_list(argv[4]) : std::vector<int>{1, 64, 256};
  const std::string auth = argc > 5 ? argv[5] : "both";
  if (auth != "both" && auth != "api_key" && auth != "keyless") {
    std::fprintf(stderr, "auth: expected both, api_key or keyless, got \"%s\"\n", auth.c_str());
    return 2;
  }
  const std::string http = argc > 6 ? argv[6] : "1.1";
  if (http != "1.1" && http != "2") {
    std::fprintf(stderr, "http: expected 1.1 or 2, got \"%s\"\n", http.c_str());
    return 2;
  }
  if (http == "2") http_version = kl::http::http_version::http2;
  const bool run_key = auth != "keyless";
  const bool run_token = auth != "api_key";
  auto part = [&parts](std::string_view name) {
    return parts == "all" || parts.find(name) != std::string::npos;
  };
  bool ok = true;

  asio::io_context server_io(1);
  auto server_work = asio::make_work_guard(server_io);
  kl::testing::fake_openai_options fo;
  fo.api_key = std::string(resource_key);
  fo.record_credentials = false;
  kl::testing::fake_openai fake(server_io.get_executor(), fo);
  fo.latency = 1s;
  kl::testing::fake_openai slow_fake(server_io.get_executor(), fo);
  std::thread server([&] {
    pin_to_cpu(1);
    server_io.run();
  });
  pin_to_cpu(0);
  clockid_t server_clock{};
  pthread_getcpuclockid(server.native_handle(), &server_clock);

  asio::io_context io(1);
  auto credential = std::make_shared<fake_credential>(io.get_executor());

  // ---- the kernel's floor at concurrency 1 ----------------------------------------------------
  if (part("floor")) {
    const auto floor = kl::bench::measure_round_trip_floor(20000, 1);
    std::printf(
        "# floor at concurrency 1: one byte over loopback TCP to a thread that sends it back "
        "(no HTTP, TLS or JSON)\n");
    std::printf("%14s %16s %16s\n", "round_trips/s", "sender_cpu_us", "echo_cpu_us");
    std::printf("%14.0f %16.2f %16.2f\n\n", floor.round_trips_per_s, floor.sender_cpu_us,
                floor.echo_cpu_us);
  }

  // ---- completions: throughput, latency, CPU ------------------------------------------------
  if (part("completions")) {
    std::printf(
        "# chat completions over HTTP/%s, %zu requests x %zu rounds per row; client and server on "
        "separate threads\n",
        http.c_str(), per_round, rounds);
    std::printf("%-12s %-8s %10s %10s %10s %14s %14s  %-28s %s\n", "concurrency", "auth", "req/s",
                "p50_us", "p99_us", "client_cpu_us", "server_cpu_us", "keyless/api_key: req/s",
                "client-bound");
  }
  for (int concurrency : concurrencies) {
    if (!part("completions")) break;
    const std::size_t connections = static_cast<std::size_t>(std::min(concurrency, 64));
    auto ko = client_options(fake, connections);
    ko.auth = kl::openai::api_key{std::string(resource_key)};
    kl::openai::chat_client keyed(io.get_executor(), ko);
    auto to = client_options(fake, connections);
    to.auth = make_provider(credential);
    kl::openai::chat_client keyless(io.get_executor(), to);

    totals key_t;
    totals token_t;
    std::vector<double> scratch;
    // Warm-up: connections, TLS sessions, the token, allocator pools.
    totals warm;
    const std::size_t warm_requests = std::max<std::size_t>(per_round / 4, 256);
    if (run_key) run_round(io, keyed, concurrency, warm_requests, server_clock, warm);
    if (run_token) run_round(io, keyless, concurrency, warm_requests, server_clock, warm);
    for (std::size_t r = 0; r < rounds; ++r) {
      const bool key_first = r % 2 == 0;
      if (run_key && key_first) run_round(io, keyed, concurrency, per_round, server_clock, key_t);
      if (run_token) run_round(io, keyless, concurrency, per_round, server_clock, token_t);
      if (run_key && !key_first) run_round(io, keyed, concurrency, per_round, server_clock, key_t);
    }
    const double key_rate = static_cast<double>(key_t.requests) / key_t.seconds;
    const double token_rate = static_cast<double>(token_t.requests) / token_t.seconds;
    // Ratios are medians over rounds, each pair run back to back: one round disturbed by the
    // machine (another tenant, a migration) moves a ratio of totals by several percent, and the
    // median not at all. The spread is printed too.
    // req/s: keyless / API key against the fake, which runs on the other CPU and pays for
    // receiving the token as well. client-bound: API-key / keyless client CPU per request, the
    // throughput ratio of a client that is itself the limit (the service is not on its CPUs).
    const std::size_t paired = std::min(key_t.round_rates.size(), token_t.round_rates.size());
    std::vector<double> rate_ratios;
    std::vector<double> cpu_ratios;
    for (std::size_t r = 0; r < paired; ++r) {
      rate_ratios.push_back(token_t.round_rates[r] / key_t.round_rates[r] * 100);
      cpu_ratios.push_back(key_t.round_client_cpu[r] / token_t.round_client_cpu[r] * 100);
    }
    char ratio_text[96];
    std::snprintf(ratio_text, sizeof ratio_text, "%-28s %s", median_and_range(rate_ratios).c_str(),
                  median_and_range(cpu_ratios).c_str());
    for (const auto* t : {&key_t, &token_t}) {
      const bool is_key = t == &key_t;
      if (t->requests == 0) continue;  // that side was not asked for
      const double rate = is_key ? key_rate : token_rate;
      std::printf("%-12d %-8s %10.0f %10.1f %10.1f %14.2f %14.2f  %s\n", concurrency,
                  is_key ? "api_key" : "keyless", rate, percentile(t->latencies_us, 0.50),
                  percentile(t->latencies_us, 0.99),
                  t->client_cpu_us / static_cast<double>(t->requests),
                  t->server_cpu_us / static_cast<double>(t->requests), is_key ? "" : ratio_text);
      ok = ok && warm.failures == 0 && t->failures == 0;
    }
    kl::testing::run_until_idle(io);
  }
  if (part("completions")) {
    std::printf("token fetches by the keyless clients: %d\n\n", credential->fetches.load());
    // One provider per concurrency row.
    ok = ok &&
         credential->fetches.load() == (run_token ? static_cast<int>(concurrencies.size()) : 0);
  }

  // ---- memory per in-flight request ---------------------------------------------------------
#if KEYLESS_BENCH_HEAP_COUNTING
  if (part("memory")) {
    std::printf(
        "# client heap per in-flight request (256 in flight; the fake answers after 1 s)\n");
    std::printf("%-12s %-8s %14s\n", "connections", "auth", "bytes/request");
  }
  for (std::size_t connections : {std::size_t{64}, std::size_t{256}}) {
    if (!part("memory")) break;
    for (bool keyless : {false, true}) {
      auto o = client_options(slow_fake, connections);
      if (keyless) {
        o.auth = make_provider(credential);
      } else {
        o.auth = kl::openai::api_key{std::string(resource_key)};
      }
      kl::openai::chat_client chat(io.get_executor(), o);
      const double per = heap_per_in_flight(io, chat, slow_fake, 256, connections);
      std::printf("%-12zu %-8s %14.0f\n", connections, keyless ? "keyless" : "api_key", per);
      kl::testing::run_until_idle(io);
    }
  }
  if (part("memory")) std::printf("\n");
#else
  std::printf("# heap per in-flight request: not measured under a sanitizer\n\n");
#endif

  // ---- streaming ----------------------------------------------------------------------------
  if (part("streaming")) {
    auto ko = client_options(fake, 1);
    ko.auth = kl::openai::api_key{std::string(resource_key)};
    kl::openai::chat_client keyed(io.get_executor(), ko);
    auto to = client_options(fake, 1);
    to.auth = make_provider(credential);
    kl::openai::chat_client keyless(io.get_executor(), to);

    std::printf("# streaming, concurrency 1: time to the first content chunk (7-word reply)\n");
    std::printf("%-8s %10s %10s\n", "auth", "p50_us", "p99_us");
    stream_totals key_s;
    stream_totals token_s;
    stream_totals warm;
    stream_round(io, keyed, 50, warm);
    stream_round(io, keyless, 50, warm);
    for (std::size_t r = 0; r < rounds; ++r) {
      stream_round(io, r % 2 ? keyless : keyed, 250, r % 2 ? token_s : key_s);
      stream_round(io, r % 2 ? keyed : keyless, 250, r % 2 ? key_s : token_s);
    }
    const double key_p50 = percentile(key_s.ttfc_us, 0.5);
    const double token_p50 = percentile(token_s.ttfc_us, 0.5);
    std::printf("%-8s %10.1f %10.1f\n", "api_key", key_p50, percentile(key_s.ttfc_us, 0.99));
    std::printf("%-8s %10.1f %10.1f\n", "keyless", token_p50, percentile(token_s.ttfc_us, 0.99));
    std::printf("keyless time-to-first-chunk overhead (p50): %+.1f us\n\n", token_p50 - key_p50);
    ok = ok && warm.failures == 0 && key_s.failures == 0 && token_s.failures == 0;

    // A long reply: 2,000 words, one chunk each.
    std::string reply;
    for (int i = 0; i < 2000; ++i) reply += i ? " word" : "word";
    fake.set_reply(reply);
    std::printf("# streaming, concurrency 1: a 2,000-chunk reply\n");
    std::printf("%-8s %12s %16s\n", "auth", "chunks/s", "client_cpu_us/chunk");
    for (bool use_keyless : {false, true}) {
      stream_totals t;
      stream_round(io, use_keyless ? keyless : keyed, 2, warm);
      stream_round(io, use_keyless ? keyless : keyed, static_cast<int>(rounds) * 5, t);
      std::printf("%-8s %12.0f %16.3f\n", use_keyless ? "keyless" : "api_key",
                  static_cast<double>(t.chunks) / t.seconds,
                  t.client_cpu_us / static_cast<double>(t.chunks));
      ok = ok && t.failures == 0;
    }
  }

  kl::testing::run_until_idle(io);
  fake.server().stop();
  slow_fake.server().stop();
  server_work.reset();
  server.join();
  if (!ok) std::fprintf(stderr, "FAILED: some requests failed or tokens were fetched again\n");
  return ok ? 0 : 1;
}
