#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/this_coro.hpp>

#include "io_helpers.hpp"
#include "keyless/detail/asio_compat.hpp"
#include "keyless/identity/chained_token_credential.hpp"

namespace {

using namespace std::chrono_literals;
using keyless::errc;
using keyless::identity::access_token;
using keyless::identity::chain_options;
using keyless::identity::chain_source;
using keyless::identity::chained_token_credential;
using keyless::identity::token_request;
using keyless::testing::run_until_idle;

enum class outcome { succeed, unavailable, fail };

// A credential whose answer the test scripts, optionally held back until released.
class scripted_source final : public keyless::identity::token_credential {
 public:
  scripted_source(asio::io_context& io, std::string name, outcome result, bool held = false,
                  std::string hint = {})
      : io_(io),
        name_(std::move(name)),
        result_(result),
        held_(held),
        hint_(std::move(hint)),
        gate_(io, std::chrono::steady_clock::time_point::max()) {}

  asio::any_io_executor get_executor() const override { return io_.get_executor(); }
  std::string_view name() const noexcept override { return name_; }

  asio::awaitable<access_token> get_token(token_request) override {
    ++calls;
    if (held_) {
      co_await gate_.async_wait(keyless::net::as_tuple(asio::use_awaitable));
      auto state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() != asio::cancellation_type::none) {
        ++cancellations;
        throw std::system_error(asio::error::operation_aborted);
      }
    }
    switch (result_) {
      case outcome::succeed:
        co_return access_token("token-from-" + name_, std::chrono::system_clock::now() + 1h);
      case outcome::unavailable: {
        keyless::diagnostics d;
        d.hint = hint_;
        throw keyless::error(errc::credential_unavailable, name_ + " is not set up here", d);
      }
      case outcome::fail:
        throw keyless::error(errc::authentication_failed, name_ + " was refused by Entra ID");
    }
    throw std::logic_error("unreachable");
  }

  /// Lets a held call finish with `result`.
  void release(outcome result) {
    result_ = result;
    held_ = false;
    gate_.cancel();
  }

  int calls = 0;
  int cancellations = 0;

 private:
  asio::io_context& io_;
  std::string name_;
  outcome result_;
  bool held_;
  std::string hint_;
  asio::steady_timer gate_;
};

// Succeeds once the test opens its gate (polled on a 1 ms timer, so opening it is a
// plain atomic store from any thread); counts calls and cancellations. Safe on a
// multi-threaded io_context.
class gated_source final : public keyless::identity::token_credential {
 public:
  explicit gated_source(asio::any_io_executor ex) : ex_(std::move(ex)) {}
  asio::any_io_executor get_executor() const override { return ex_; }
  std::string_view name() const noexcept override { return "Gated"; }
  asio::awaitable<access_token> get_token(token_request) override {
    calls.fetch_add(1);
    asio::steady_timer poll(co_await asio::this_coro::executor);
    while (!open.load()) {
      poll.expires_after(1ms);
      auto [ec] = co_await poll.async_wait(keyless::net::as_tuple(asio::use_awaitable));
      if (ec) {
        cancellations.fetch_add(1);
        throw std::system_error(ec);
      }
    }
    co_return access_token("token-from-gated", std::chrono::system_clock::now() + 1h);
  }
  std::atomic<int> calls{0};
  std::atomic<int> cancellations{0};
  std::atomic<bool> open{false};

 private:
  asio::any_io_executor ex_;
};

struct tally {
  std::atomic<int> started{0};
  std::atomic<int> tokens{0};
  std::atomic<int> aborted{0};
  std::atomic<int> other{0};
};

// One caller: asks `chain` from the coroutine's own executor and counts the outcome.
asio::awaitable<void> ask(chained_token_credential& chain, tally& counts) {
  token_request req;
  req.scopes.push_back("https://cognitiveservices.azure.com/.default");
  counts.started.fetch_add(1);
  try {
    auto token = co_await chain.get_token(std::move(req));
    counts.tokens.fetch_add(token.token() == "token-from-gated" ? 1 : 0);
  } catch (...) {
    const bool aborted =
        keyless::inspect(std::current_exception()).code == asio::error::operation_aborted;
    (aborted ? counts.aborted : counts.other).fetch_add(1);
  }
}

struct chain_fixture {
  asio::io_context io;

  std::shared_ptr<scripted_source> source(std::string name, outcome result, bool held = false,
                                          std::string hint = {}) {
    return std::make_shared<scripted_source>(io, std::move(name), result, held, std::move(hint));
  }

  // Starts a get_token; the returned slot fills when it completes.
  struct pending {
    std::optional<access_token> token;
    std::exception_ptr failure;
    bool done = false;
  };
  std::shared_ptr<pending> start(
      chained_token_credential& chain, asio::cancellation_signal* cancel = nullptr,
      std::string scope = "https://cognitiveservices.azure.com/.default") {
    auto result = std::make_shared<pending>();
    auto handler = [result](std::exception_ptr e, access_token t) {
      result->done = true;
      if (e)
        result->failure = e;
      else
        result->token = std::move(t);
    };
    token_request req;
    req.scopes.push_back(std::move(scope));
    if (cancel) {
      chain.async_get_token(req, asio::bind_cancellation_slot(cancel->slot(), handler));
    } else {
      chain.async_get_token(req, handler);
    }
    return result;
  }
};

chain_options concurrent(std::chrono::milliseconds hedge = 1h) {
  chain_options o;
  o.run_mode = chain_options::mode::concurrent;
  o.hedge_delay = hedge;
  o.name = "TestChain";
  return o;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(chained_token_credential_suite, chain_fixture)

BOOST_AUTO_TEST_CASE(sequential_chain_skips_unavailable_sources_and_returns_the_first_success) {
  auto a = source("A", outcome::unavailable);
  auto b = source("B", outcome::succeed);
  auto c = source("C", outcome::succeed);
  chained_token_credential chain(io.get_executor(), {{a}, {b}, {c}});
  auto r = start(chain);
  run_until_idle(io);
  BOOST_REQUIRE(r->done);
  BOOST_REQUIRE(r->token);
  BOOST_TEST(r->token->token() == "token-from-B");
  BOOST_TEST(c->calls == 0);
  auto report = chain.last_report();
  BOOST_TEST(*report.winner == "B");
  BOOST_TEST(report.attempts.size() == 3u);
  BOOST_TEST((report.attempts[0].code == errc::credential_unavailable));
}

BOOST_AUTO_TEST_CASE(a_configured_source_that_is_refused_stops_the_chain) {
  auto a = source("A", outcome::unavailable);
  auto b = source("B", outcome::fail);
  auto c = source("C", outcome::succeed);
  chained_token_credential chain(io.get_executor(), {{a}, {b}, {c}});
  auto r = start(chain);
  run_until_idle(io);
  BOOST_REQUIRE(r->failure);
  BOOST_TEST(c->calls == 0);
  auto seen = keyless::inspect(r->failure);
  BOOST_TEST((seen.code == errc::authentication_failed));
  BOOST_TEST(seen.message.find("B is configured but could not get a token") != std::string::npos);
  BOOST_TEST(seen.message.find("B was refused by Entra ID") != std::string::npos);
  BOOST_TEST(seen.details.sources.size() == 3u);
}

BOOST_AUTO_TEST_CASE(when_every_source_is_unavailable_the_error_lists_each_and_the_likely_fix) {
  auto a = source("A", outcome::unavailable);
  auto b = source("B", outcome::unavailable, false, "Run `az login`.");
  chained_token_credential chain(io.get_executor(), {{a}, {b}});
  auto r = start(chain);
  run_until_idle(io);
  BOOST_REQUIRE(r->failure);
  auto seen = keyless::inspect(r->failure);
  BOOST_TEST((seen.code == errc::credential_unavailable));
  BOOST_TEST(seen.message.find("A: unavailable after") != std::string::npos);
  BOOST_TEST(seen.message.find("B: unavailable after") != std::string::npos);
  BOOST_TEST(seen.message.find("Most likely fix: Run `az login`.") != std::string::npos);
  BOOST_TEST(seen.details.hint == "Run `az login`.");
}

BOOST_AUTO_TEST_CASE(concurrent_chain_holds_a_lower_priority_success_until_those_ahead_fail) {
  auto a = source("A", outcome::unavailable, /*held=*/true);
  auto b = source("B", outcome::succeed);
  chained_token_credential chain(io.get_executor(), {{a}, {b}}, concurrent());
  auto r = start(chain);
  run_until_idle(io);
  BOOST_TEST(a->calls == 1);
  BOOST_TEST(b->calls == 1);  // started together
  BOOST_TEST(!r->done);       // B's token waits for A's answer
  a->release(outcome::unavailable);
  run_until_idle(io);
  BOOST_REQUIRE(r->token);
  BOOST_TEST(r->token->token() == "token-from-B");
}

BOOST_AUTO_TEST_CASE(concurrent_chain_prefers_the_higher_priority_success_and_cancels_losers) {
  auto a = source("A", outcome::succeed, /*held=*/true);
  auto b = source("B", outcome::succeed, /*held=*/true);
  chained_token_credential chain(io.get_executor(), {{a}, {b}}, concurrent());
  auto r = start(chain);
  run_until_idle(io);
  a->release(outcome::succeed);
  run_until_idle(io);
  BOOST_REQUIRE(r->token);
  BOOST_TEST(r->token->token() == "token-from-A");
  BOOST_TEST(b->cancellations == 1);
}

BOOST_AUTO_TEST_CASE(
    a_costly_source_is_never_started_when_a_source_ahead_succeeds_within_the_hedge) {
  auto imds = source("IMDS", outcome::succeed, /*held=*/true);
  auto cli = source("CLI", outcome::succeed);
  chained_token_credential chain(io.get_executor(), {{imds}, {cli, /*costly=*/true}},
                                 concurrent(1h));
  auto r = start(chain);
  run_until_idle(io);
  BOOST_TEST(cli->calls == 0);
  imds->release(outcome::succeed);
  run_until_idle(io);
  BOOST_REQUIRE(r->token);
  BOOST_TEST(r->token->token() == "token-from-IMDS");
  BOOST_TEST(cli->calls == 0);
}

BOOST_AUTO_TEST_CASE(a_costly_source_starts_at_once_when_every_source_ahead_has_failed) {
  auto env = source("Env", outcome::unavailable);
  auto imds = source("IMDS", outcome::unavailable, /*held=*/true);
  auto cli = source("CLI", outcome::succeed);
  chained_token_credential chain(io.get_executor(), {{env}, {imds}, {cli, true}}, concurrent(1h));
  auto r = start(chain);
  run_until_idle(io);
  BOOST_TEST(cli->calls == 0);  // IMDS has not answered; the hour-long hedge holds the CLI
  imds->release(outcome::unavailable);
  run_until_idle(io);  // no hour passes: the CLI starts as soon as IMDS is out
  BOOST_TEST(cli->calls == 1);
  BOOST_REQUIRE(r->token);
  BOOST_TEST(r->token->token() == "token-from-CLI");
}

BOOST_AUTO_TEST_CASE(the_hedge_delay_releases_a_costly_source_while_those_ahead_still_run) {
  auto imds = source("IMDS", outcome::unavailable, /*held=*/true);
  auto cli = source("CLI", outcome::succeed);
  chained_token_credential chain(io.get_executor(), {{imds}, {cli, true}}, concurrent(1ms));
  auto r = start(chain);
  // Run until the CLI has been started by the hedge timer (bounded wait).
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (cli->calls == 0 && std::chrono::steady_clock::now() < deadline) io.run_one_for(100ms);
  io.restart();
  run_until_idle(io);
  BOOST_TEST(cli->calls == 1);
  BOOST_TEST(!r->done);  // the CLI's token still waits for IMDS, which has priority
  imds->release(outcome::unavailable);
  run_until_idle(io);
  BOOST_REQUIRE(r->token);
  BOOST_TEST(r->token->token() == "token-from-CLI");
}

BOOST_AUTO_TEST_CASE(the_winner_is_remembered_until_forgotten) {
  auto a = source("A", outcome::unavailable);
  auto b = source("B", outcome::succeed);
  chained_token_credential chain(io.get_executor(), {{a}, {b}});
  start(chain);
  run_until_idle(io);
  auto second = start(chain);
  run_until_idle(io);
  BOOST_REQUIRE(second->token);
  BOOST_TEST(a->calls == 1);
  BOOST_TEST(b->calls == 2);
  chain.forget_winner();
  start(chain);
  run_until_idle(io);
  BOOST_TEST(a->calls == 2);
}

BOOST_AUTO_TEST_CASE(cancelling_the_caller_cancels_every_running_source) {
  auto a = source("A", outcome::succeed, true);
  auto b = source("B", outcome::succeed, true);
  chained_token_credential chain(io.get_executor(), {{a}, {b}}, concurrent());
  asio::cancellation_signal cancel;
  auto r = start(chain, &cancel);
  run_until_idle(io);
  cancel.emit(asio::cancellation_type::terminal);
  run_until_idle(io);
  BOOST_REQUIRE(r->done);
  BOOST_REQUIRE(r->failure);
  BOOST_TEST((keyless::inspect(r->failure).code == asio::error::operation_aborted));
  BOOST_TEST(a->cancellations == 1);
  BOOST_TEST(b->cancellations == 1);
}

BOOST_AUTO_TEST_CASE(a_failure_report_never_carries_the_token_a_lower_source_got) {
  // B holds a token when A's refusal decides the walk: neither the message nor the
  // per-source report may show B's token.
  auto a = source("A", outcome::fail, /*held=*/true);
  auto b = source("B", outcome::succeed);
  chained_token_credential chain(io.get_executor(), {{a}, {b}}, concurrent());
  auto r = start(chain);
  run_until_idle(io);
  BOOST_TEST(b->calls == 1);
  a->release(outcome::fail);
  run_until_idle(io);
  BOOST_REQUIRE(r->failure);
  auto seen = keyless::inspect(r->failure);
  BOOST_TEST(seen.message.find("token-from-B") == std::string::npos);
  BOOST_TEST(seen.message.find("B: succeeded") != std::string::npos);
  for (const auto& attempt : seen.details.sources) {
    BOOST_TEST(attempt.message.find("token-from-B") == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(concurrent_first_callers_share_one_walk_of_the_chain) {
  auto a = source("A", outcome::unavailable, /*held=*/true);
  auto b = source("B", outcome::succeed, /*held=*/true);
  chained_token_credential chain(io.get_executor(), {{a}, {b}}, concurrent());
  std::vector<std::shared_ptr<pending>> callers;
  for (int i = 0; i < 8; ++i) callers.push_back(start(chain));
  run_until_idle(io);
  BOOST_TEST(a->calls == 1);
  BOOST_TEST(b->calls == 1);
  b->release(outcome::succeed);
  a->release(outcome::unavailable);
  run_until_idle(io);
  for (const auto& r : callers) {
    BOOST_REQUIRE(r->token);
    BOOST_TEST(r->token->token() == "token-from-B");
  }
  BOOST_TEST(a->calls == 1);
  BOOST_TEST(b->calls == 1);
}

BOOST_AUTO_TEST_CASE(sequential_first_callers_share_one_walk_too) {
  auto a = source("A", outcome::unavailable, /*held=*/true);
  auto b = source("B", outcome::succeed);
  chained_token_credential chain(io.get_executor(), {{a}, {b}});
  auto first = start(chain);
  auto second = start(chain);
  run_until_idle(io);
  a->release(outcome::unavailable);
  run_until_idle(io);
  BOOST_REQUIRE(first->token);
  BOOST_REQUIRE(second->token);
  BOOST_TEST(a->calls == 1);
  BOOST_TEST(b->calls == 1);
}

BOOST_AUTO_TEST_CASE(callers_with_different_requests_do_not_share_a_walk) {
  auto a = source("A", outcome::succeed, /*held=*/true);
  chained_token_credential chain(io.get_executor(), {{a}}, concurrent());
  auto openai = start(chain);
  auto graph = start(chain, nullptr, "https://graph.microsoft.com/.default");
  run_until_idle(io);
  BOOST_TEST(a->calls == 2);
  a->release(outcome::succeed);
  run_until_idle(io);
  BOOST_TEST(openai->token.has_value());
  BOOST_TEST(graph->token.has_value());
}

BOOST_AUTO_TEST_CASE(a_cancelled_caller_leaves_the_shared_walk_running_for_the_others) {
  auto a = source("A", outcome::succeed, /*held=*/true);
  auto b = source("B", outcome::succeed, /*held=*/true);
  chained_token_credential chain(io.get_executor(), {{a}, {b}}, concurrent());
  asio::cancellation_signal cancel;
  auto quitter = start(chain, &cancel);
  auto stayer1 = start(chain);
  auto stayer2 = start(chain);
  run_until_idle(io);
  cancel.emit(asio::cancellation_type::terminal);
  run_until_idle(io);
  BOOST_REQUIRE(quitter->done);
  BOOST_REQUIRE(quitter->failure);
  BOOST_TEST((keyless::inspect(quitter->failure).code == asio::error::operation_aborted));
  BOOST_TEST(!stayer1->done);
  BOOST_TEST(!stayer2->done);
  BOOST_TEST(a->cancellations == 0);
  BOOST_TEST(b->cancellations == 0);
  a->release(outcome::succeed);
  run_until_idle(io);
  BOOST_REQUIRE(stayer1->token);
  BOOST_REQUIRE(stayer2->token);
  BOOST_TEST(stayer1->token->token() == "token-from-A");
  BOOST_TEST(stayer2->token->token() == "token-from-A");
  BOOST_TEST(a->calls == 1);
}

BOOST_AUTO_TEST_CASE(when_every_caller_is_cancelled_the_walk_and_its_sources_are_cancelled) {
  auto a = source("A", outcome::succeed, /*held=*/true);
  auto b = source("B", outcome::succeed, /*held=*/true);
  chained_token_credential chain(io.get_executor(), {{a}, {b}}, concurrent());
  asio::cancellation_signal cancel1;
  asio::cancellation_signal cancel2;
  auto r1 = start(chain, &cancel1);
  auto r2 = start(chain, &cancel2);
  run_until_idle(io);
  cancel1.emit(asio::cancellation_type::terminal);
  run_until_idle(io);
  BOOST_TEST(a->cancellations == 0);  // r2 still waits
  cancel2.emit(asio::cancellation_type::terminal);
  run_until_idle(io);
  BOOST_REQUIRE(r2->failure);
  BOOST_TEST((keyless::inspect(r2->failure).code == asio::error::operation_aborted));
  BOOST_TEST(a->cancellations == 1);
  BOOST_TEST(b->cancellations == 1);
  // The cancelled walk is not joined by a later caller: it gets a fresh one.
  auto later = start(chain);
  run_until_idle(io);
  BOOST_TEST(a->calls == 2);
  a->release(outcome::succeed);
  run_until_idle(io);
  BOOST_REQUIRE(later->token);
  BOOST_TEST(later->token->token() == "token-from-A");
}

BOOST_AUTO_TEST_CASE(callers_on_many_threads_share_one_walk_and_may_leave_it) {
  // Callers are coroutines on their own strands of a 4-thread pool. Those that give up
  // are cancelled from their own strand while the others wait: one walk serves
  // everyone, and it is not cancelled while anyone still waits for it.
  asio::io_context pool;
  auto gated = std::make_shared<gated_source>(pool.get_executor());
  chained_token_credential chain(pool.get_executor(), {{gated}}, concurrent());
  constexpr int per_group = 16;
  tally stayers;
  tally quitters;
  auto guard = asio::make_work_guard(pool);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&pool] { pool.run_for(60s); });
  auto reaches = [](const std::atomic<int>& n, int value) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (n.load() < value && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    return n.load() >= value;
  };

  std::vector<asio::strand<asio::io_context::executor_type>> stayer_strands;
  for (int i = 0; i < per_group; ++i) {
    stayer_strands.push_back(asio::make_strand(pool));
    asio::co_spawn(stayer_strands.back(), ask(chain, stayers), asio::detached);
  }
  // A caller joins in the same strand step in which it starts, so once a later step
  // has run on every stayer's strand, all stayers have joined before any quitter.
  BOOST_REQUIRE(reaches(stayers.started, per_group));
  std::atomic<int> barrier{0};
  for (auto& strand : stayer_strands) asio::post(strand, [&barrier] { barrier.fetch_add(1); });
  BOOST_REQUIRE(reaches(barrier, per_group));

  std::vector<std::unique_ptr<asio::cancellation_signal>> signals;
  for (int i = 0; i < per_group; ++i) {
    signals.push_back(std::make_unique<asio::cancellation_signal>());
    auto* signal = signals.back().get();
    auto strand = asio::make_strand(pool);
    asio::co_spawn(strand, ask(chain, quitters),
                   asio::bind_cancellation_slot(signal->slot(), [](std::exception_ptr) {}));
    asio::post(strand, [signal] { signal->emit(asio::cancellation_type::terminal); });
  }
  BOOST_REQUIRE(reaches(quitters.aborted, per_group));
  BOOST_TEST(stayers.tokens.load() == 0);
  gated->open.store(true);
  BOOST_REQUIRE(reaches(stayers.tokens, per_group));
  guard.reset();
  for (auto& t : threads) t.join();
  BOOST_TEST(gated->calls.load() == 1);
  BOOST_TEST(gated->cancellations.load() == 0);
  BOOST_TEST(stayers.other.load() == 0);
  BOOST_TEST(quitters.tokens.load() == 0);
  BOOST_TEST(quitters.other.load() == 0);
}

BOOST_AUTO_TEST_CASE(a_silent_source_of_unknown_presence_does_not_hold_back_a_token_behind_it) {
  auto imds = source("IMDS", outcome::succeed, /*held=*/true);  // black-holed
  auto cli = source("CLI", outcome::succeed, /*held=*/true);
  chain_source probe{imds};
  probe.presence_unknown = true;
  chained_token_credential chain(io.get_executor(), {probe, {cli}}, concurrent());
  auto r = start(chain);
  run_until_idle(io);
  BOOST_TEST(!r->done);
  cli->release(outcome::succeed);
  run_until_idle(io);
  BOOST_REQUIRE(r->token);
  BOOST_TEST(r->token->token() == "token-from-CLI");
  BOOST_TEST(imds->cancellations == 1);
  auto report = chain.last_report();
  BOOST_TEST(*report.winner == "CLI");
  BOOST_TEST((report.attempts[0].code == errc::credential_unavailable));
  BOOST_TEST(report.attempts[0].message.find("taken as absent once CLI had a token") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_source_of_unknown_presence_that_answers_first_keeps_its_priority) {
  auto imds = source("IMDS", outcome::succeed, /*held=*/true);
  auto cli = source("CLI", outcome::succeed, /*held=*/true);
  chain_source probe{imds};
  probe.presence_unknown = true;
  chained_token_credential chain(io.get_executor(), {probe, {cli}}, concurrent());
  auto r = start(chain);
  run_until_idle(io);
  imds->release(outcome::succeed);
  run_until_idle(io);
  BOOST_REQUIRE(r->token);
  BOOST_TEST(r->token->token() == "token-from-IMDS");
  BOOST_TEST(cli->cancellations == 1);
}

BOOST_AUTO_TEST_CASE(a_refusal_behind_a_silent_source_of_unknown_presence_waits_for_it) {
  // Only a token is taken over a silent source: a refusal behind it could be the
  // wrong identity's, so the chain still waits for the source ahead.
  auto imds = source("IMDS", outcome::succeed, /*held=*/true);
  auto cli = source("CLI", outcome::fail);
  chain_source probe{imds};
  probe.presence_unknown = true;
  chained_token_credential chain(io.get_executor(), {probe, {cli}}, concurrent());
  auto r = start(chain);
  run_until_idle(io);
  BOOST_TEST(cli->calls == 1);
  BOOST_TEST(!r->done);
  imds->release(outcome::succeed);
  run_until_idle(io);
  BOOST_REQUIRE(r->token);
  BOOST_TEST(r->token->token() == "token-from-IMDS");
}

BOOST_AUTO_TEST_SUITE_END()
