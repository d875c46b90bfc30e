#include <boost/test/unit_test.hpp>

#include <set>

#include <fmt/chrono.h>
#include <fmt/core.h>

#include "chat_test_support.hpp"

namespace keyless::chat_test {
namespace {

using fault = testing::openai_fault;

// Runs until the client sleeps on the manual clock, then checks that it stays asleep until
// exactly `delay` has passed: one millisecond early it has sent nothing more.
void expect_sleep(chat_fixture& f, std::chrono::milliseconds delay) {
  run_until(f.io, [&] { return f.clock->sleepers() == 1; });
  const auto requests = f.fake.requests();
  f.clock->advance(delay - 1ms);
  testing::run_until_idle(f.io);
  BOOST_TEST(f.clock->sleepers() == 1u);
  BOOST_TEST(f.fake.requests() == requests);
  f.clock->advance(1ms);
  run_until(f.io, [&] { return f.fake.requests() == requests + 1; });
}

// A fault that answers with `r` as scripted (raw bytes, a drop, ...).
fault scripted(testing::scripted_response r) {
  fault f = fault::of(fault::kind::scripted);
  f.response = std::move(r);
  return f;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(chat_retry)

BOOST_FIXTURE_TEST_CASE(a_429_with_retry_after_ms_waits_exactly_that_long_on_the_clock,
                        chat_fixture) {
  fake.enqueue(fault::rate_limited_ms("1500"));
  openai::chat_client chat(io.get_executor(), key_options());
  auto call = spawn_call(io, chat.complete(hello_request()));
  expect_sleep(*this, 1500ms);
  run_until(io, [&] { return call->done; });
  BOOST_TEST(!call->failure);
  BOOST_TEST(fake.requests() == 2u);
  BOOST_TEST(chat.stats().retries == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_429_with_retry_after_seconds_waits_that_many_seconds, chat_fixture) {
  fake.enqueue(fault::rate_limited_after("3"));
  openai::chat_client chat(io.get_executor(), key_options());
  auto call = spawn_call(io, chat.complete(hello_request()));
  expect_sleep(*this, 3000ms);
  run_until(io, [&] { return call->done; });
  BOOST_TEST(!call->failure);
}

BOOST_FIXTURE_TEST_CASE(a_retry_after_http_date_is_read_against_the_clock, chat_fixture) {
  const auto when = std::chrono::floor<std::chrono::seconds>(clock->now() + 7s);
  fake.enqueue(fault::rate_limited_after(fmt::format(
      "{:%a, %d %b %Y %H:%M:%S} GMT", fmt::gmtime(std::chrono::system_clock::to_time_t(when)))));
  openai::chat_client chat(io.get_executor(), key_options());
  auto call = spawn_call(io, chat.complete(hello_request()));
  expect_sleep(*this, std::chrono::duration_cast<std::chrono::milliseconds>(when - clock->now()));
  run_until(io, [&] { return call->done; });
  BOOST_TEST(!call->failure);
}

BOOST_FIXTURE_TEST_CASE(without_a_server_delay_the_backoff_doubles_with_jitter, chat_fixture) {
  fake.enqueue(fault::of(fault::kind::server_error), 2);
  auto o = key_options();
  o.random = [] {
    return 0.4;
  };  // jitter takes 0.25 × 0.4 = 10% off
  openai::chat_client chat(io.get_executor(), std::move(o));
  auto call = spawn_call(io, chat.complete(hello_request()));
  expect_sleep(*this, 450ms);  // 0.5 s × 0.9
  expect_sleep(*this, 900ms);  // 1 s × 0.9
  run_until(io, [&] { return call->done; });
  BOOST_TEST(!call->failure);
  BOOST_TEST(fake.requests() == 3u);
  BOOST_TEST(chat.stats().retries == 2u);
}

BOOST_FIXTURE_TEST_CASE(retries_stop_after_max_retries_with_the_last_error, chat_fixture) {
  fake.enqueue(fault::of(fault::kind::server_error), 3);
  openai::chat_client chat(io.get_executor(), key_options());
  auto call = spawn_call(io, chat.complete(hello_request()));
  expect_sleep(*this, 500ms);
  expect_sleep(*this, 1000ms);
  run_until(io, [&] { return call->done; });
  auto e = call->error();
  BOOST_TEST(e.code() == make_error_code(errc::http_status));
  BOOST_TEST(e.details().http_status.value_or(0) == 500);
  BOOST_TEST(e.details().service_code == "InternalServerError");
  BOOST_TEST(contains(e.what(), "gave up after 2 retries"), e.what());
  BOOST_TEST(fake.requests() == 3u);
  BOOST_TEST(clock->sleepers() == 0u);
}

BOOST_FIXTURE_TEST_CASE(max_retries_zero_reports_the_first_failure, chat_fixture) {
  fake.enqueue(fault::rate_limited_ms("100"));
  auto o = key_options();
  o.max_retries = 0;
  openai::chat_client chat(io.get_executor(), std::move(o));
  auto e = failure_of(io, chat.complete(hello_request()));
  BOOST_TEST(e.details().http_status.value_or(0) == 429);
  BOOST_TEST(contains(e.details().hint, "throttled"), e.details().hint);
  BOOST_TEST(fake.requests() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_retry_after_beyond_max_server_delay_fails_at_once, chat_fixture) {
  fake.enqueue(fault::rate_limited_after("86400"));
  openai::chat_client chat(io.get_executor(), key_options());
  auto e = failure_of(io, chat.complete(hello_request()));
  BOOST_TEST(e.details().http_status.value_or(0) == 429);
  BOOST_REQUIRE(e.details().retry_after.has_value());
  BOOST_TEST(e.details().retry_after->count() == 86'400'000);
  BOOST_TEST(contains(e.what(), "longer than"), e.what());
  BOOST_TEST(fake.requests() == 1u);
  BOOST_TEST(clock->sleepers() == 0u);
}

BOOST_FIXTURE_TEST_CASE(x_should_retry_false_forbids_a_retry_of_a_500, chat_fixture) {
  auto f = fault::of(fault::kind::server_error);
  f.headers.add("x-should-retry", "false");
  fake.enqueue(f);
  openai::chat_client chat(io.get_executor(), key_options());
  auto e = failure_of(io, chat.complete(hello_request()));
  BOOST_TEST(e.details().http_status.value_or(0) == 500);
  BOOST_TEST(fake.requests() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_client_error_is_not_retried, chat_fixture) {
  auto f = fault::of(fault::kind::scripted);
  f.response = testing::scripted_response::json(
      400, R"({"error":{"code":"content_filter","message":"filtered","param":"prompt"}})");
  fake.enqueue(f);
  openai::chat_client chat(io.get_executor(), key_options());
  auto e = failure_of(io, chat.complete(hello_request()));
  BOOST_TEST(e.details().http_status.value_or(0) == 400);
  BOOST_TEST(e.details().service_code == "content_filter");
  BOOST_TEST(!contains(e.what(), "not retried"), e.what());
  BOOST_TEST(fake.requests() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_connection_reset_mid_response_is_retried_and_recovers, chat_fixture) {
  fake.enqueue(fault::of(fault::kind::reset_mid_response));
  openai::chat_client chat(io.get_executor(), key_options());
  auto call = spawn_call(io, chat.complete(hello_request()));
  expect_sleep(*this, 500ms);
  run_until(io, [&] { return call->done; });
  BOOST_TEST(!call->failure);
  BOOST_TEST(call->value->choices.at(0).message.content.value_or("") ==
             "Hello! How can I help you today?");
}

BOOST_FIXTURE_TEST_CASE(a_completion_cut_short_every_time_is_retried_then_a_failed_connection,
                        chat_fixture) {
  fake.enqueue(fault::of(fault::kind::reset_mid_response), 3);
  openai::chat_client chat(io.get_executor(), key_options());
  auto call = spawn_call(io, chat.complete(hello_request()));
  expect_sleep(*this, 500ms);
  expect_sleep(*this, 1000ms);
  run_until(io, [&] { return call->done; });
  auto e = call->error();
  BOOST_TEST(e.code() == make_error_code(errc::connection_failed), e.what());
  BOOST_TEST(contains(e.what(), "connection closed before the end of the body ("), e.what());
  BOOST_TEST(contains(e.what(), "not retried: gave up after 2 retries"), e.what());
  BOOST_TEST(fake.requests() == 3u);
  BOOST_TEST(chat.stats().retries == 2u);
}

BOOST_FIXTURE_TEST_CASE(a_response_that_is_not_http_is_malformed_and_not_retried, chat_fixture) {
  fake.enqueue(scripted(testing::scripted_response::garbage("SSH-2.0-OpenSSH_9.2\r\n")));
  openai::chat_client chat(io.get_executor(), key_options());
  auto e = failure_of(io, chat.complete(hello_request()));
  BOOST_TEST(e.code() == make_error_code(errc::malformed_response), e.what());
  BOOST_TEST(contains(e.what(), "does not start with \"HTTP/\""), e.what());
  BOOST_TEST(fake.requests() == 1u);
  BOOST_TEST(chat.stats().retries == 0u);
  BOOST_TEST(clock->sleepers() == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_stream_whose_head_is_cut_short_is_retried_as_no_body_had_started,
                        chat_fixture) {
  testing::scripted_response cut =
      testing::scripted_response::garbage("HTTP/1.1 200 OK\r\nContent-Type: text/event-str");
  fake.enqueue(scripted(cut));
  openai::chat_client chat(io.get_executor(), key_options());
  auto call = spawn_call(io, chat.stream(hello_request()));
  expect_sleep(*this, 500ms);
  run_until(io, [&] { return call->done; });
  BOOST_REQUIRE(!call->failure);
  openai::chat_stream s = std::move(*call->value);
  auto drained = spawn_call(io, [](openai::chat_stream& st) -> asio::awaitable<std::size_t> {
    std::size_t n = 0;
    while (co_await st.next()) ++n;
    co_return n;
  }(s));
  run_until(io, [&] { return drained->done; });
  BOOST_REQUIRE(!drained->failure);
  BOOST_TEST(s.accumulated().choices.at(0).message.content.value_or("") ==
             "Hello! How can I help you today?");
  BOOST_TEST(fake.requests() == 2u);
  BOOST_TEST(chat.stats().retries == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_500_then_success_recovers, chat_fixture) {
  fake.enqueue(fault::of(fault::kind::server_error));
  openai::chat_client chat(io.get_executor(), token_options());
  auto call = spawn_call(io, chat.complete(hello_request()));
  expect_sleep(*this, 500ms);
  run_until(io, [&] { return call->done; });
  BOOST_TEST(!call->failure);
  BOOST_TEST(fake.requests() == 2u);
  // A fresh token is taken for the retry; the cache still holds the first one.
  BOOST_TEST(credential->calls() == 1);
  BOOST_TEST(fake.authorization_headers().size() == 2u);
}

BOOST_FIXTURE_TEST_CASE(a_refused_connection_is_retried_then_reported, chat_fixture) {
  auto o = key_options();
  {
    // A port that was just free: nothing listens there.
    testing::loopback_server closed(io.get_executor());
    o.endpoint = closed.url("/");
    o.endpoint.pop_back();
  }
  o.http.tls.ca_pem = fake.ca_certificate_pem();
  openai::chat_client chat(io.get_executor(), std::move(o));
  auto call = spawn_call(io, chat.complete(hello_request()));
  wake_after(io, *clock, chat, 1, 500ms);
  wake_after(io, *clock, chat, 2, 1000ms);
  run_until(io, [&] { return call->done; });
  auto e = call->error();
  BOOST_TEST(e.code() == make_error_code(errc::connection_failed), e.what());
  BOOST_TEST(contains(e.what(), "not retried: gave up after 2 retries"), e.what());
  BOOST_TEST(chat.stats().attempts == 3u);
}

BOOST_FIXTURE_TEST_CASE(every_attempt_of_a_call_carries_the_same_client_request_id, chat_fixture) {
  fake.enqueue(fault::rate_limited_ms("10"), 2);
  openai::chat_client chat(io.get_executor(), key_options());
  auto call = spawn_call(io, chat.complete(hello_request()));
  expect_sleep(*this, 10ms);
  expect_sleep(*this, 10ms);
  run_until(io, [&] { return call->done; });
  BOOST_TEST(!call->failure);
  testing::run_sync(io, chat.complete(hello_request()));

  auto seen = fake.recorded();
  BOOST_REQUIRE(seen.size() == 4u);
  const auto first = seen[0].header("x-ms-client-request-id");
  BOOST_TEST(!first.empty());
  BOOST_TEST(seen[1].header("x-ms-client-request-id") == first);
  BOOST_TEST(seen[2].header("x-ms-client-request-id") == first);
  BOOST_TEST(seen[3].header("x-ms-client-request-id") != first);
}

BOOST_FIXTURE_TEST_CASE(concurrent_calls_get_distinct_client_request_ids, chat_fixture) {
  openai::chat_client chat(io.get_executor(), key_options());
  std::vector<std::shared_ptr<call_result<openai::chat_completion>>> calls;
  for (int i = 0; i < 20; ++i) calls.push_back(spawn_call(io, chat.complete(hello_request())));
  run_until(io, [&] {
    for (const auto& c : calls)
      if (!c->done) return false;
    return true;
  });
  std::set<std::string> ids;
  for (const auto& r : fake.recorded()) ids.insert(r.header("x-ms-client-request-id"));
  BOOST_TEST(ids.size() == 20u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace keyless::chat_test
