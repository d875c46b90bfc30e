#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

#include "cache_fixture.hpp"
#include "keyless/core/log.hpp"
#include "keyless/detail/asio_compat.hpp"

namespace {

using namespace std::chrono_literals;
using keyless::errc;
using keyless::identity::access_token;
using keyless::identity::token_request;
using keyless::test::cache_fixture;
using keyless::test::fake_credential;
using keyless::test::openai_scope;
using keyless::test::outcome;
using keyless::test::record;

auto fail_with(std::string message) {
  return [message](const token_request&, int) -> access_token {
    keyless::diagnostics d;
    d.service_code = "AADSTS7000215";
    throw keyless::error(errc::authentication_failed, message, d);
  };
}

const std::string bad_secret = "AADSTS7000215: Invalid client secret provided.";

// Captures keyless's log lines for the duration of a test.
struct log_capture {
  std::vector<std::string> lines;
  log_capture() {
    keyless::set_log_sink([this](keyless::log_level, std::string_view m) { lines.emplace_back(m); },
                          keyless::log_level::verbose);
  }
  ~log_capture() { keyless::set_log_sink({}); }
  bool mentions(const std::string& s) const {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const auto& l) { return l.find(s) != l.npos; });
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(token_cache)

BOOST_FIXTURE_TEST_CASE(ten_thousand_concurrent_callers_on_an_empty_cache_share_one_fetch,
                        cache_fixture) {
  source->hold();
  std::vector<outcome> out(10'000);
  for (auto& o : out) asio::co_spawn(io, provider(), record(o));
  run();
  BOOST_TEST(source->calls() == 1);
  BOOST_TEST(std::none_of(out.begin(), out.end(), [](const outcome& o) { return o.done; }));

  source->release();
  run();
  BOOST_TEST(source->calls() == 1);
  const auto expected = fake_credential::token_text(1);
  BOOST_TEST(std::all_of(out.begin(), out.end(), [&](const outcome& o) {
    return o.done && !o.error && o.text() == expected;
  }));
  BOOST_TEST(provider.try_get().has_value());
}

BOOST_FIXTURE_TEST_CASE(
    callers_in_the_refresh_window_get_the_cached_token_while_one_background_fetch_runs,
    cache_fixture) {
  const auto start = clock->now();
  BOOST_TEST(get().text() == fake_credential::token_text(1));
  clock->set(start + 55min - 1s);  // one second before the refresh point (no jitter)
  BOOST_TEST(get().text() == fake_credential::token_text(1));
  BOOST_TEST(source->calls() == 1);

  clock->set(start + 55min);
  source->hold();
  std::vector<outcome> out(100);
  for (auto& o : out) asio::co_spawn(io, provider(), record(o));
  run();
  // Nobody waited for the refresh, which is parked upstream.
  BOOST_TEST(std::all_of(out.begin(), out.end(), [](const outcome& o) {
    return o.done && !o.error && o.text() == fake_credential::token_text(1);
  }));
  BOOST_TEST(source->calls() == 2);
  BOOST_TEST(source->parked() == 1u);
  BOOST_TEST(provider.try_get()->token() == fake_credential::token_text(1));

  source->release();
  run();
  BOOST_TEST(provider.try_get()->token() == fake_credential::token_text(2));
  BOOST_TEST(get().text() == fake_credential::token_text(2));
  BOOST_TEST(source->calls() == 2);
}

BOOST_FIXTURE_TEST_CASE(a_failed_background_refresh_is_hidden_and_retried_at_most_every_30_seconds,
                        cache_fixture) {
  log_capture logs;
  const auto start = clock->now();
  BOOST_TEST(get().text() == fake_credential::token_text(1));
  clock->set(start + 55min);
  source->respond_with(fail_with(bad_secret));

  auto first = get();
  BOOST_TEST(!first.error);
  BOOST_TEST(first.text() == fake_credential::token_text(1));
  BOOST_TEST(source->calls() == 2);
  BOOST_TEST(logs.mentions("AADSTS7000215"));
  BOOST_TEST(!logs.mentions("secret-token"));

  for (int second = 1; second < 30; ++second) {
    clock->advance(1s);
    auto o = get();
    BOOST_TEST_REQUIRE(!o.error);
    BOOST_TEST(o.text() == fake_credential::token_text(1));
  }
  BOOST_TEST(source->calls() == 2);
  clock->advance(1s);
  BOOST_TEST(!get().error);
  BOOST_TEST(source->calls() == 3);
  clock->advance(29s);
  BOOST_TEST(!get().error);
  BOOST_TEST(source->calls() == 3);
  clock->advance(1s);
  BOOST_TEST(!get().error);
  BOOST_TEST(source->calls() == 4);

  // Once the token is no longer usable the failure does reach the caller.
  clock->set(start + 1h - 30s);
  auto expired = get();
  BOOST_TEST(expired.code() == errc::authentication_failed);
  BOOST_TEST(expired.message().find("AADSTS7000215") != std::string::npos);
  BOOST_TEST(source->calls() == 5);
}

BOOST_FIXTURE_TEST_CASE(
    a_failed_fetch_reaches_every_waiter_then_calls_fail_fast_until_the_backoff_passes,
    cache_fixture) {
  source->respond_with(fail_with(bad_secret));
  source->hold();
  std::vector<outcome> out(1000);
  for (auto& o : out) asio::co_spawn(io, provider(), record(o));
  run();
  source->release();
  run();
  BOOST_TEST(source->calls() == 1);  // attempted once for everybody
  BOOST_TEST(std::all_of(out.begin(), out.end(), [](const outcome& o) {
    return o.done && o.code() == errc::authentication_failed &&
           o.message().find("Invalid client secret") != std::string::npos;
  }));

  auto fast = get();
  BOOST_TEST(fast.code() == errc::throttled);
  BOOST_TEST(fast.message().find(bad_secret) != std::string::npos);
  BOOST_TEST(fast.message().find("FakeCredential") != std::string::npos);
  const auto details = keyless::inspect(fast.error).details;
  BOOST_TEST(details.service_code == "AADSTS7000215");
  BOOST_TEST(details.retry_after.has_value());
  BOOST_TEST(source->calls() == 1);

  clock->advance(999ms);
  BOOST_TEST(get().code() == errc::throttled);
  BOOST_TEST(source->calls() == 1);
  clock->advance(1ms);
  BOOST_TEST(get().code() == errc::authentication_failed);
  BOOST_TEST(source->calls() == 2);

  // Consecutive failures back off further: 2 s now.
  clock->advance(1s);
  BOOST_TEST(get().code() == errc::throttled);
  clock->advance(1s);
  BOOST_TEST(get().code() == errc::authentication_failed);
  BOOST_TEST(source->calls() == 3);

  source->respond_with({});
  clock->advance(4s);
  auto ok = get();
  BOOST_TEST(!ok.error);
  BOOST_TEST(ok.text() == fake_credential::token_text(4));
}

BOOST_FIXTURE_TEST_CASE(a_cancelled_waiter_does_not_cancel_the_fetch, cache_fixture) {
  source->hold();
  asio::cancellation_signal signal;
  outcome cancelled, patient;
  provider(asio::bind_cancellation_slot(signal.slot(), record(cancelled)));
  asio::co_spawn(io, provider(), record(patient));
  run();
  BOOST_TEST(source->calls() == 1);
  signal.emit(asio::cancellation_type::terminal);
  run();
  BOOST_TEST(cancelled.done);
  BOOST_TEST(cancelled.code() == asio::error::operation_aborted);
  BOOST_TEST(!patient.done);

  source->release();
  run();
  BOOST_TEST(patient.done);
  BOOST_TEST(patient.text() == fake_credential::token_text(1));
  BOOST_TEST(source->calls() == 1);
  BOOST_TEST(provider.try_get().has_value());
}

BOOST_FIXTURE_TEST_CASE(a_waiter_that_loses_a_race_with_a_timer_leaves_the_fetch_running,
                        cache_fixture) {
  using namespace keyless::net::awaitable_operators;
  source->hold();
  int winner = -1;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(io, std::chrono::steady_clock::duration::zero());
        auto r = co_await (provider() || timer.async_wait(asio::use_awaitable));
        winner = static_cast<int>(r.index());
      },
      asio::detached);
  // The timer is already due, so polling until it fires needs no sleep.
  for (int i = 0; i < 1000 && winner < 0; ++i) run();
  BOOST_TEST(winner == 1);
  BOOST_TEST(source->calls() == 1);
  BOOST_TEST(source->parked() == 1u);
  source->release();
  run();
  BOOST_TEST(provider.try_get()->token() == fake_credential::token_text(1));
}

BOOST_FIXTURE_TEST_CASE(a_hundred_concurrent_401s_cause_one_refresh, cache_fixture) {
  const auto first = get();
  BOOST_TEST(first.text() == fake_credential::token_text(1));
  source->hold();
  int dropped = 0;
  std::vector<outcome> out(100);
  for (auto& o : out) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto rejected = co_await provider();
          co_await asio::post(io, asio::use_awaitable);  // let every request "fail" first
          if (provider.invalidate(rejected)) ++dropped;
          o.token = co_await provider();
          o.done = true;
        },
        asio::detached);
  }
  run();
  BOOST_TEST(dropped == 1);
  BOOST_TEST(source->calls() == 2);
  source->release();
  run();
  BOOST_TEST(std::all_of(out.begin(), out.end(), [](const outcome& o) {
    return o.done && o.text() == fake_credential::token_text(2);
  }));
  // A late 401 for the old token no longer touches the new one.
  BOOST_TEST(!provider.invalidate(first.token));
  BOOST_TEST(provider.try_get()->token() == fake_credential::token_text(2));
  BOOST_TEST(source->calls() == 2);
}

BOOST_FIXTURE_TEST_CASE(an_invalidated_token_is_not_served_and_the_next_call_fetches,
                        cache_fixture) {
  const auto first = get();
  BOOST_TEST(provider.invalidate(first.token));
  BOOST_TEST(!provider.try_get().has_value());
  BOOST_TEST(!provider.invalidate(first.token));
  BOOST_TEST(!provider.invalidate(access_token{}));
  run();
  BOOST_TEST(source->calls() == 1);  // try_get and invalidate never fetch
  BOOST_TEST(get().text() == fake_credential::token_text(2));
}

BOOST_FIXTURE_TEST_CASE(claims_bypass_the_cache_and_the_result_replaces_the_cached_token,
                        cache_fixture) {
  const std::string claims = R"({"access_token":{"nbf":{"essential":true,"value":"1700000000"}}})";
  BOOST_TEST(get().text() == fake_credential::token_text(1));
  outcome challenged;
  provider.get_with_claims(claims, record(challenged));
  run();
  BOOST_TEST(challenged.text() == fake_credential::token_text(2));
  BOOST_TEST(source->calls() == 2);
  const auto requests = source->requests();
  BOOST_TEST(!requests.at(0).claims.has_value());
  BOOST_TEST(requests.at(1).claims.value_or("") == claims);
  BOOST_TEST(provider.try_get()->token() == fake_credential::token_text(2));
  BOOST_TEST(get().text() == fake_credential::token_text(2));
  BOOST_TEST(source->calls() == 2);
}

BOOST_FIXTURE_TEST_CASE(identical_claims_challenges_share_one_fetch, cache_fixture) {
  source->hold();
  std::vector<outcome> same(5), other(2);
  for (auto& o : same) provider.get_with_claims(R"({"a":1})", record(o));
  for (auto& o : other) provider.get_with_claims(R"({"b":2})", record(o));
  run();
  BOOST_TEST(source->calls() == 2);
  source->release();
  run();
  BOOST_TEST(std::all_of(same.begin(), same.end(), [&](const outcome& o) {
    return o.done && !o.error && o.text() == same.front().text();
  }));
  BOOST_TEST(std::all_of(other.begin(), other.end(), [&](const outcome& o) {
    return o.done && !o.error && o.text() == other.front().text();
  }));
  BOOST_TEST(same.front().text() != other.front().text());
}

BOOST_DATA_TEST_CASE_F(cache_fixture, jitter_keeps_the_refresh_point_inside_its_window,
                       boost::unit_test::data::make({0.0, 0.25, 0.5, 0.999, 1.0, 7.0, -3.0}), r) {
  jitter = r;
  const auto start = clock->now();
  BOOST_TEST(!get().error);
  const auto base = start + 55min;
  const auto window_start = base - 30s;  // max_refresh_jitter
  const double share = std::clamp(r, 0.0, 1.0);
  const auto expected =
      base - std::chrono::duration_cast<std::chrono::system_clock::duration>(30s * share);
  BOOST_TEST_REQUIRE((expected >= window_start && expected <= base));

  clock->set(expected - 1ms);
  BOOST_TEST(!get().error);
  BOOST_TEST(source->calls() == 1);
  clock->set(expected + 1ms);
  BOOST_TEST(!get().error);
  BOOST_TEST(source->calls() == 2);
}

BOOST_FIXTURE_TEST_CASE(refresh_on_from_the_credential_sets_the_refresh_point, cache_fixture) {
  source->respond_with([this](const token_request&, int call) {
    const auto now = clock->now();
    return access_token(fake_credential::token_text(call), now + 2h, now + 1h);
  });
  const auto start = clock->now();
  BOOST_TEST(!get().error);
  clock->set(start + 1h - 1s);
  BOOST_TEST(!get().error);
  BOOST_TEST(source->calls() == 1);
  clock->set(start + 1h);
  BOOST_TEST(get().text() == fake_credential::token_text(1));
  run();
  BOOST_TEST(source->calls() == 2);
}

BOOST_FIXTURE_TEST_CASE(a_short_lived_token_is_refreshed_at_most_once_per_retry_interval,
                        cache_fixture) {
  // 5 min 10 s of life: the refresh point would lie before the token arrived.
  source->respond_with([this](const token_request&, int call) {
    return access_token(fake_credential::token_text(call), clock->now() + 5min + 10s);
  });
  jitter = 1.0;
  BOOST_TEST(!get().error);
  clock->advance(29s);
  BOOST_TEST(!get().error);
  BOOST_TEST(source->calls() == 1);
  clock->advance(1s);
  BOOST_TEST(get().text() == fake_credential::token_text(1));
  BOOST_TEST(source->calls() == 2);
  BOOST_TEST(get().text() == fake_credential::token_text(2));
  BOOST_TEST(source->calls() == 2);
}

BOOST_DATA_TEST_CASE_F(cache_fixture, the_expiry_skew_treats_a_token_as_expired_30_seconds_early,
                       boost::unit_test::data::make({29, 30, 31}), seconds_left) {
  const auto start = clock->now();
  BOOST_TEST(!get().error);
  clock->set(start + 1h - std::chrono::seconds(seconds_left));
  const bool usable = seconds_left > 30;
  BOOST_TEST(provider.try_get().has_value() == usable);
  auto o = get();
  BOOST_TEST(!o.error);
  BOOST_TEST(o.text() == fake_credential::token_text(usable ? 1 : 2));
}

BOOST_FIXTURE_TEST_CASE(get_with_min_valid_for_refreshes_a_token_that_would_expire_too_soon,
                        cache_fixture) {
  BOOST_TEST(!get().error);
  clock->advance(40min);  // 19.5 usable minutes left
  outcome enough, longer, awaited;
  provider.get(10min, record(enough));
  run();
  BOOST_TEST(enough.text() == fake_credential::token_text(1));
  BOOST_TEST(source->calls() == 1);
  provider.get(25min, record(longer));
  run();
  BOOST_TEST(longer.text() == fake_credential::token_text(2));
  BOOST_TEST(source->calls() == 2);
  asio::co_spawn(io, provider.get(50min), record(awaited));
  run();
  BOOST_TEST(awaited.text() == fake_credential::token_text(2));
  BOOST_TEST(source->calls() == 2);
}

BOOST_FIXTURE_TEST_CASE(get_with_min_valid_for_longer_than_any_token_lives_fails_clearly,
                        cache_fixture) {
  outcome o;
  provider.get(2h, record(o));
  run();
  BOOST_TEST(o.code() == errc::invalid_argument);
  BOOST_TEST(o.message().find("7200 s") != std::string::npos);
  BOOST_TEST(o.message().find("secret-token") == std::string::npos);
  BOOST_TEST(source->calls() == 1);

  outcome forever;
  provider.get(std::chrono::system_clock::duration::max(), record(forever));
  run();
  BOOST_TEST(forever.done);
  BOOST_TEST(forever.code() == errc::invalid_argument);
  BOOST_TEST(provider.try_get().has_value());  // the fetched token is still cached for others
}

BOOST_FIXTURE_TEST_CASE(scope_order_and_duplicates_share_an_entry_but_tenant_and_cae_do_not,
                        cache_fixture) {
  keyless::identity::bearer_token_provider ba(cache, "b", "a");
  keyless::identity::bearer_token_provider aba(cache, "a", "b", "a");
  BOOST_TEST((ba.request().scopes == std::vector<std::string>{"a", "b"}));
  outcome o1, o2, o3, o4;
  ba(record(o1));
  run();
  aba(record(o2));
  run();
  BOOST_TEST(source->calls() == 1);
  BOOST_TEST(o1.text() == o2.text());

  keyless::identity::bearer_token_provider tenant(cache,
                                                  token_request{{"a", "b"}, "tenant-2", {}, false});
  tenant(record(o3));
  run();
  BOOST_TEST(source->calls() == 2);
  BOOST_TEST(source->requests().at(1).tenant.value_or("") == "tenant-2");

  keyless::identity::bearer_token_provider cae(cache, token_request{{"a", "b"}, {}, {}, true});
  cae(record(o4));
  run();
  BOOST_TEST(source->calls() == 3);
  BOOST_TEST(source->requests().at(2).enable_cae);
  BOOST_TEST(o4.text() != o1.text());
}

BOOST_FIXTURE_TEST_CASE(try_get_on_an_empty_cache_returns_nothing_and_fetches_nothing,
                        cache_fixture) {
  BOOST_TEST(!provider.try_get().has_value());
  BOOST_TEST(!cache->try_get(token_request{{openai_scope}, {}, {}, false}).has_value());
  run();
  BOOST_TEST(source->calls() == 0);
}

BOOST_FIXTURE_TEST_CASE(callbacks_futures_deferred_and_as_tuple_all_work, cache_fixture) {
  outcome callback;
  provider(record(callback));
  run();
  BOOST_TEST(callback.text() == fake_credential::token_text(1));

  auto future = provider(asio::use_future);
  run();
  BOOST_TEST(std::string(future.get().token()) == fake_credential::token_text(1));

  outcome deferred;
  auto op = provider(keyless::net::deferred);
  std::move(op)(record(deferred));
  run();
  BOOST_TEST(deferred.text() == fake_credential::token_text(1));

  bool tuple_ok = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto [e, t] = co_await provider(keyless::net::as_tuple(asio::use_awaitable));
        tuple_ok = !e && t.token() == fake_credential::token_text(1);
      },
      asio::detached);
  run();
  BOOST_TEST(tuple_ok);
  BOOST_TEST(source->calls() == 1);
}

BOOST_FIXTURE_TEST_CASE(a_waiter_resumes_on_its_own_executor, cache_fixture) {
  asio::io_context other;
  bool done = false, on_own_executor = false;
  asio::co_spawn(
      other,
      [&]() -> asio::awaitable<void> {
        auto t = co_await provider();
        on_own_executor = other.get_executor().running_in_this_thread();
        done = !t.empty();
      },
      asio::detached);
  keyless::test::run_until_idle(other);
  run();  // the cache's context runs the fetch
  BOOST_TEST(!done);
  keyless::test::run_until_idle(other);
  BOOST_TEST(done);
  BOOST_TEST(on_own_executor);
}

BOOST_FIXTURE_TEST_CASE(the_cache_is_itself_a_credential, cache_fixture) {
  token_request req{{openai_scope}, {}, {}, false};
  outcome a, b;
  cache->async_get_token(req, record(a));
  run();
  cache->async_get_token(req, record(b));
  run();
  BOOST_TEST(a.text() == fake_credential::token_text(1));
  BOOST_TEST(b.text() == fake_credential::token_text(1));
  BOOST_TEST(source->calls() == 1);
  BOOST_TEST(cache->name() == "FakeCredential");
  BOOST_TEST(cache->invalidate(req, a.token));
  BOOST_TEST(!cache->try_get(req).has_value());
}

BOOST_FIXTURE_TEST_CASE(providers_built_on_one_cache_share_tokens_and_copies_share_state,
                        cache_fixture) {
  keyless::identity::bearer_token_provider second(cache, openai_scope);
  auto copy = provider;
  BOOST_TEST(!get().error);
  BOOST_TEST(second.try_get().has_value());
  BOOST_TEST(copy.try_get().has_value());
  BOOST_TEST(source->calls() == 1);

  // A provider over the bare credential has a private cache of its own.
  keyless::identity::bearer_token_provider alone(source, openai_scope);
  BOOST_TEST(!alone.try_get().has_value());
  BOOST_TEST(alone.cache() != cache);
}

BOOST_FIXTURE_TEST_CASE(a_credential_returning_an_unusable_token_is_reported_as_malformed,
                        cache_fixture) {
  source->respond_with(
      [this](const token_request&, int) { return access_token("", clock->now() + 1h); });
  auto empty = get();
  BOOST_TEST(empty.code() == errc::malformed_response);
  BOOST_TEST(empty.message().find("empty") != std::string::npos);

  clock->advance(1h);  // past the backoff
  source->respond_with([this](const token_request&, int) {
    return access_token("secret-short", clock->now() + 10s);
  });
  auto short_lived = get();
  BOOST_TEST(short_lived.code() == errc::malformed_response);
  BOOST_TEST(short_lived.message().find("expiry skew") != std::string::npos);
  BOOST_TEST(short_lived.message().find("secret-short") == std::string::npos);
  BOOST_TEST(!provider.try_get().has_value());
}

BOOST_FIXTURE_TEST_CASE(unusable_arguments_are_rejected_with_clear_errors, cache_fixture) {
  auto code_of = [](auto&& f) {
    try {
      f();
    } catch (const keyless::error& e) {
      return e.code();
    }
    return std::error_code{};
  };
  using keyless::identity::bearer_token_provider;
  using keyless::identity::token_cache_options;
  BOOST_TEST(code_of([] { bearer_token_provider(nullptr, "s"); }) == errc::invalid_argument);
  BOOST_TEST(code_of([&] { bearer_token_provider(source, token_request{}); }) ==
             errc::invalid_argument);
  BOOST_TEST(code_of([&] { bearer_token_provider(source, ""); }) == errc::invalid_argument);
  BOOST_TEST(code_of([&] {
               bearer_token_provider(source, token_request{{"s"}, {}, std::string("{}"), false});
             }) == errc::invalid_argument);
  BOOST_TEST(code_of([] { keyless::identity::token_cache(nullptr); }) == errc::invalid_argument);
  token_cache_options negative;
  negative.expiry_skew = -1s;
  BOOST_TEST(code_of([&] { keyless::identity::token_cache(source, negative); }) ==
             errc::invalid_argument);

  outcome o;
  cache->async_get_token(token_request{}, record(o));
  run();
  BOOST_TEST(o.code() == errc::invalid_argument);
  BOOST_TEST(o.message().find("no scopes") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
