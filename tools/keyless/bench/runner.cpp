#include "runner.hpp"

#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include "keyless/core/error.hpp"
#include "keyless/identity/bearer_token_provider.hpp"
#include "keyless/identity/default_azure_credential.hpp"
#include "keyless/openai/chat_client.hpp"
#include "openai/scope_for_endpoint.hpp"
#include "timing_credential.hpp"

namespace keyless::cli::bench {
namespace {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Generous for a real deployment's slowest replies, short enough that a stalled endpoint
// cannot hold the run (or a Ctrl-C) hostage for the client's ten-minute default.
constexpr auto request_timeout = std::chrono::seconds(120);
constexpr auto probe_timeout = std::chrono::seconds(30);
constexpr auto connect_timeout = std::chrono::seconds(10);
// The token cache's expiry skew and the validity chat_client::stream asks a token to have
// left (their defaults): a token closer to its end than this makes callers wait.
constexpr auto cache_expiry_skew = std::chrono::seconds(30);
constexpr auto stream_token_validity = std::chrono::minutes(5);
// At most this many alternating rounds per mode: enough for slow drifts on a shared machine
// (another build starting) to hit both modes alike, few enough that each round still reaches
// its steady state.
constexpr unsigned max_rounds_per_mode = 5;
constexpr auto progress_interval = 250ms;

// Set by SIGINT. A lock-free atomic is async-signal-safe to store to.
std::atomic<bool> interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_interrupt(int) {
  interrupted.store(true, std::memory_order_relaxed);
}

// Installs the SIGINT handler for the run. SA_RESETHAND: a second Ctrl-C gets the default
// action and ends the process even if a request is stuck.
class interrupt_guard {
 public:
  interrupt_guard() {
    interrupted.store(false);
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;
    installed_ = sigaction(SIGINT, &action, &previous_) == 0;
  }
  ~interrupt_guard() {
    if (installed_) sigaction(SIGINT, &previous_, nullptr);
  }
  interrupt_guard(const interrupt_guard&) = delete;
  interrupt_guard& operator=(const interrupt_guard&) = delete;

 private:
  struct sigaction previous_ {};
  bool installed_ = false;
};

// Shared by the workers of one round, on every thread.
struct round_control {
  std::atomic<std::int64_t> remaining{0};
  steady::time_point deadline = steady::time_point::max();
  std::atomic<std::uint64_t> done{0};
  std::atomic<std::uint64_t> errors{0};
  std::mutex mutex;
  std::condition_variable finished;
  std::size_t workers_left = 0;

  // Claims the next request, or says the round is over.
  bool take() noexcept {
    if (interrupted.load(std::memory_order_relaxed)) return false;
    if (deadline != steady::time_point::max() && steady::now() >= deadline) return false;
    return remaining.fetch_sub(1, std::memory_order_relaxed) > 0;
  }
  void worker_done() {
    std::lock_guard lock(mutex);
    if (--workers_left == 0) finished.notify_all();
  }
};

// One thread with its own io_context and its own chat clients (hence its own connection
// pools). Why not one io_context run by T threads: every completion would then go through
// the one scheduler's mutex and every pool acquire/release through one pool strand, shared by
// all threads, so adding threads adds contention; separate io_contexts share nothing on the
// request path but the token provider, whose cache hit is a lock-free per-thread read. The
// cost is a static split of the requests in flight across threads, fine for a load that is
// the same request over and over.
struct lane {
  asio::io_context io{1};  // run by one thread: the hint enables Asio's single-thread paths
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::optional<openai::chat_client> api_key_client;
  std::optional<openai::chat_client> keyless_client;
  std::size_t workers = 0;
  request_tally tally;
  std::thread thread;

  const openai::chat_client& client(round_auth auth) const {
    return auth == round_auth::api_key ? *api_key_client : *keyless_client;
  }
};

struct round_plan {
  round_auth auth;
  std::optional<std::uint64_t> requests;
  std::optional<std::chrono::nanoseconds> duration;
};

// One call, complete or streamed; a stream's first chunk time goes into `tally`.
asio::awaitable<void> one_call(const openai::chat_client* client,
                               const openai::chat_request* request, bool stream,
                               request_tally* tally, steady::time_point started) {
  if (!stream) {
    co_await client->complete(*request);
    co_return;
  }
  openai::chat_stream s = co_await client->stream(*request);
  bool first = true;
  while (auto chunk = co_await s.next()) {
    if (first) {
      tally->first_chunk.record(steady::now() - started);
      first = false;
    }
    ++tally->chunks;
  }
}

// Keeps one request in flight until the round is over. The pointers outlive the round: the
// main thread waits for every worker before touching them again.
asio::awaitable<void> run_worker(const openai::chat_client* client,
                                 const openai::chat_request* request, bool stream,
                                 request_tally* tally, round_control* control) {
  while (control->take()) {
    const auto started = steady::now();
    std::exception_ptr failure;
    try {
      co_await one_call(client, request, stream, tally, started);
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      tally->record_failure(failure);
      control->errors.fetch_add(1, std::memory_order_relaxed);
    } else {
      tally->latency.record(steady::now() - started);
      ++tally->succeeded;
    }
    control->done.fetch_add(1, std::memory_order_relaxed);
  }
}

// The probe runs on a lane's thread and owns its client there, so the client's sockets are
// made and closed on the thread that runs their io_context.
asio::awaitable<probe_result> run_probe(openai::chat_client_options client_options,
                                        openai::chat_request request, bool stream) {
  auto ex = co_await asio::this_coro::executor;
  openai::chat_client client(ex, std::move(client_options));
  request_tally unused;
  const auto started = steady::now();
  co_await one_call(&client, &request, stream, &unused, started);
  probe_result r;
  r.latency = steady::now() - started;
  r.http_requests = client.stats().attempts;
  co_return r;
}

std::chrono::nanoseconds to_ns(const timeval& t) {
  return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec);
}

struct usage_sample {
  std::chrono::nanoseconds user{0};
  std::chrono::nanoseconds system{0};
  long max_rss_kib = 0;
};

usage_sample sample_usage() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);  // cannot fail for RUSAGE_SELF with a valid pointer
  return {to_ns(u.ru_utime), to_ns(u.ru_stime), u.ru_maxrss};
}

std::vector<round_plan> plan_rounds(const bench_options& o) {
  std::vector<round_auth> auths;
  if (o.uses(round_auth::api_key)) auths.push_back(round_auth::api_key);
  if (o.uses(round_auth::keyless)) auths.push_back(round_auth::keyless);
  std::uint64_t rounds = 1;
  if (auths.size() > 1) {
    // Each round should keep every worker busy for a while, hence at least `concurrency`
    // requests (or a second) per round.
    const std::uint64_t room =
        o.requests ? *o.requests / o.concurrency
                   : static_cast<std::uint64_t>(
                         std::chrono::duration_cast<std::chrono::seconds>(*o.duration).count());
    rounds = std::clamp<std::uint64_t>(room, 1, max_rounds_per_mode);
  }
  std::vector<round_plan> plan;
  for (std::uint64_t r = 0; r < rounds; ++r) {
    for (auto auth : auths) {
      round_plan p{auth, std::nullopt, std::nullopt};
      if (o.requests) {
        p.requests = *o.requests / rounds + (r < *o.requests % rounds ? 1 : 0);
      } else {
        p.duration = *o.duration / static_cast<std::int64_t>(rounds);
      }
      plan.push_back(p);
    }
  }
  return plan;
}

openai::chat_client_options client_options(const bench_options& o, std::size_t connections) {
  openai::chat_client_options c;
  c.endpoint = o.endpoint;
  c.deployment = o.deployment;
  c.api_version = o.api_version;
  c.http.connect_timeout = connect_timeout;
  // Each worker has at most one request in flight: one connection each, never a queue in
  // the pool (its default of 16 would cap the concurrency asked for).
  c.http.pool.max_connections_per_origin = std::max<std::size_t>(connections, 1);
  c.http.version = o.http_version;
  c.request_timeout = request_timeout;
  // A load generator reports what the service answered: a retried 429 would hide as latency.
  c.max_retries = 0;
  return c;
}

class runner {
 public:
  explicit runner(const bench_options& o) : o_(o) {
    request_.messages.push_back({"user", o.prompt});
    request_.max_tokens = o.max_tokens;
    for (std::size_t i = 0; i < o.threads; ++i) lanes_.push_back(std::make_unique<lane>());
    for (std::size_t i = 0; i < o.concurrency; ++i) ++lanes_[i % o.threads]->workers;

    if (o.uses(round_auth::keyless)) {
      auto chain = keyless::default_azure_credential(lanes_[0]->io.get_executor());
      timing_ = std::make_shared<timing_credential>(
          chain, cache_expiry_skew + (o.stream ? std::chrono::seconds(stream_token_validity) : 0s));
      // Every request on every thread shares this one provider (and its cache).
      provider_.emplace(timing_, openai::scope_for_endpoint(o.endpoint).scope);
    }
    try {
      for (auto& l : lanes_) {
        if (o.uses(round_auth::api_key)) {
          auto c = client_options(o, l->workers);
          c.auth = api_key{o.api_key};
          l->api_key_client.emplace(l->io.get_executor(), std::move(c));
        }
        if (o.uses(round_auth::keyless)) {
          auto c = client_options(o, l->workers);
          c.auth = *provider_;
          l->keyless_client.emplace(l->io.get_executor(), std::move(c));
        }
      }
    } catch (const keyless::error& e) {
      if (e.code() == make_error_code(errc::invalid_argument)) throw usage_error(e.message());
      throw;
    }
    const auto& any =
        *(lanes_[0]->api_key_client ? lanes_[0]->api_key_client : lanes_[0]->keyless_client);
    report_.url = any.url();
    report_.api_version = any.api_version();
    report_.threads = o.threads;

    for (auto& l : lanes_) {
      lane* p = l.get();
      p->thread = std::thread([p] { p->io.run(); });
    }
  }

  ~runner() {
    // stop(), not just releasing the work guards: a background token refresh or a pooled
    // connection's housekeeping must not keep the process from exiting.
    for (auto& l : lanes_) l->io.stop();
    for (auto& l : lanes_) {
      if (l->thread.joinable()) l->thread.join();
    }
    for (auto& l : lanes_) {
      l->api_key_client.reset();
      l->keyless_client.reset();
    }
    provider_.reset();
  }

  runner(const runner&) = delete;
  runner& operator=(const runner&) = delete;

  run_report run(progress_line& progress) {
    if (o_.uses(round_auth::api_key)) probe(round_auth::api_key);
    if (o_.uses(round_auth::keyless)) probe(round_auth::keyless);

    const auto plan = plan_rounds(o_);
    std::map<round_auth, unsigned> total_rounds;
    for (const auto& p : plan) ++total_rounds[p.auth];
    std::map<round_auth, unsigned> started;
    std::uint64_t done_before = 0;
    for (const auto& p : plan) {
      if (interrupted.load()) break;
      const unsigned number = ++started[p.auth];
      const std::string label =
          total_rounds.size() > 1
              ? fmt::format("{} round {}/{}", display_name(p.auth), number, total_rounds[p.auth])
              : std::string(display_name(p.auth));
      done_before += run_round(p, label, done_before, progress);
    }
    progress.erase();
    report_.interrupted = interrupted.load();
    return std::move(report_);
  }

 private:
  void probe(round_auth auth) {
    auto c = client_options(o_, 1);
    c.request_timeout = probe_timeout;
    if (auth == round_auth::api_key) {
      c.auth = api_key{o_.api_key};
    } else {
      c.auth = *provider_;
    }
    const auto tokens_before = timing_ ? timing_->totals() : token_figures{};
    auto result = asio::co_spawn(lanes_[0]->io, run_probe(std::move(c), request_, o_.stream),
                                 asio::use_future);
    probe_result r;
    try {
      r = result.get();
    } catch (const keyless::error& e) {
      std::string text = fmt::format("the {} probe request to {} failed: {}", display_name(auth),
                                     report_.url, e.message());
      const auto& hint = e.details().hint;
      if (!hint.empty() && e.message().find(hint) == std::string::npos) {
        text += fmt::format("\nhint: {}", hint);
      }
      for (const auto& s : e.details().sources) {
        text += fmt::format("\n  {}: {}", s.source, s.message);
      }
      throw std::runtime_error(text);
    }
    if (timing_ && auth == round_auth::keyless) r.tokens = timing_->totals() - tokens_before;
    report_.probes[auth] = r;
  }

  // Runs one round; returns the requests it finished.
  std::uint64_t run_round(const round_plan& p, const std::string& label, std::uint64_t done_before,
                          progress_line& progress) {
    round_control control;
    control.remaining.store(p.requests ? static_cast<std::int64_t>(*p.requests)
                                       : std::numeric_limits<std::int64_t>::max());
    // The lanes are idle between rounds: nothing on their threads touches the tallies.
    for (auto& l : lanes_) l->tally = request_tally{};
    const auto stats_before = client_stats(p.auth);
    const auto tokens_before = timing_ ? timing_->totals() : token_figures{};
    const auto usage_before = sample_usage();
    const auto t0 = steady::now();
    if (p.duration) control.deadline = t0 + *p.duration;
    control.workers_left = o_.concurrency;
    for (auto& l : lanes_) {
      for (std::size_t w = 0; w < l->workers; ++w) {
        asio::co_spawn(l->io,
                       run_worker(&l->client(p.auth), &request_, o_.stream, &l->tally, &control),
                       [&control](std::exception_ptr) { control.worker_done(); });
      }
    }
    {
      std::unique_lock lock(control.mutex);
      while (control.workers_left > 0) {
        control.finished.wait_for(lock, progress_interval);
        lock.unlock();
        progress.update(label, done_before + control.done.load(std::memory_order_relaxed),
                        control.errors.load(std::memory_order_relaxed));
        lock.lock();
      }
    }
    const auto t1 = steady::now();
    const auto usage_after = sample_usage();
    const auto stats_after = client_stats(p.auth);

    mode_figures& m = report_.modes[p.auth];
    ++m.rounds;
    for (auto& l : lanes_) m.tally.merge(l->tally);
    m.wall += t1 - t0;
    m.cpu_user += usage_after.user - usage_before.user;
    m.cpu_system += usage_after.system - usage_before.system;
    m.peak_rss_kib = usage_after.max_rss_kib;
    m.http_requests += stats_after.attempts - stats_before.attempts;
    m.retries += stats_after.retries - stats_before.retries;
    m.auth_retries += stats_after.auth_retries - stats_before.auth_retries;
    if (timing_ && p.auth == round_auth::keyless) {
      auto d = timing_->totals() - tokens_before;
      d.waits = stats_after.token_waits - stats_before.token_waits;
      if (!m.tokens) m.tokens.emplace();
      m.tokens->fetches += d.fetches;
      m.tokens->failures += d.failures;
      m.tokens->fetch_time += d.fetch_time;
      m.tokens->blocking_time += d.blocking_time;
      m.tokens->waits += d.waits;
    }
    return control.done.load();
  }

  openai::chat_client_stats client_stats(round_auth auth) const {
    openai::chat_client_stats sum;
    for (const auto& l : lanes_) {
      const auto s = l->client(auth).stats();
      sum.calls += s.calls;
      sum.attempts += s.attempts;
      sum.retries += s.retries;
      sum.auth_retries += s.auth_retries;
      sum.token_waits += s.token_waits;
    }
    return sum;
  }

  const bench_options& o_;
  openai::chat_request request_;
  // Before the credential and the provider, which run on lane 0's executor: they are
  // destroyed first, while that io_context still exists.
  std::vector<std::unique_ptr<lane>> lanes_;
  std::shared_ptr<timing_credential> timing_;
  std::optional<identity::bearer_token_provider> provider_;
  run_report report_;
};

}  // namespace

run_report run_benchmark(const bench_options& options, progress_line& progress) {
  interrupt_guard guard;
  runner r(options);
  return r.run(progress);
}

}  // namespace keyless::cli::bench
