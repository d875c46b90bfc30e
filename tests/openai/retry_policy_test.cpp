#include <boost/test/unit_test.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "keyless/core/clock.hpp"
#include "keyless/http/fields.hpp"
#include "openai/retry_policy.hpp"

namespace ko = keyless::openai;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

keyless::http::fields make_headers(std::vector<std::pair<std::string, std::string>> list) {
  keyless::http::fields h;
  for (auto& [k, v] : list) h.add(k, v);
  return h;
}

// A random source that always returns `value` and counts its calls.
struct fixed_random {
  double value = 0.0;
  int calls = 0;
  ko::random_source source() {
    return [this] {
      ++calls;
      return value;
    };
  }
};

struct fixture {
  keyless::manual_clock clock;  // 2023-11-14 22:13:20 UTC
  fixed_random random;
  ko::retry_options options;

  ko::retry_decision decide(std::optional<int> status,
                            std::vector<std::pair<std::string, std::string>> headers = {},
                            int retries = 0) {
    auto h = make_headers(std::move(headers));
    return ko::decide_retry({status, &h, false}, retries, options, clock.now(), random.source());
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(retry_policy)

BOOST_FIXTURE_TEST_CASE(retryable_statuses_follow_the_sdks, fixture) {
  for (int status : {408, 409, 429, 500, 502, 503, 504, 599})
    BOOST_TEST(decide(status).retry, status);
  for (int status : {400, 401, 403, 404, 413, 422}) BOOST_TEST(!decide(status).retry, status);
  auto no_response = decide(std::nullopt);
  BOOST_TEST(no_response.retry);
  BOOST_TEST(no_response.reason == "no response arrived");
}

BOOST_FIXTURE_TEST_CASE(x_should_retry_overrides_the_status, fixture) {
  BOOST_TEST(decide(400, {{"x-should-retry", "true"}}).retry);
  BOOST_TEST(!decide(503, {{"X-Should-Retry", "false"}}).retry);
  BOOST_TEST(decide(503, {{"x-should-retry", "maybe"}}).retry);
  BOOST_TEST(!decide(400, {{"x-should-retry", "maybe"}}).retry);
  BOOST_TEST(decide(503, {{"x-should-retry", "false"}}).reason.find("x-should-retry") !=
             std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(retries_stop_at_the_maximum_and_once_a_body_started, fixture) {
  BOOST_TEST(decide(503, {}, 0).retry);
  BOOST_TEST(decide(503, {}, 1).retry);
  auto exhausted = decide(503, {}, 2);
  BOOST_TEST(!exhausted.retry);
  BOOST_TEST(exhausted.reason == "gave up after 2 retries");
  BOOST_TEST(!decide(503, {{"x-should-retry", "true"}}, 2).retry);
  options.max_retries = 0;
  BOOST_TEST(!decide(429).retry);

  options.max_retries = 2;
  auto h = make_headers({{"x-should-retry", "true"}});
  auto started =
      ko::decide_retry({std::nullopt, &h, true}, 0, options, clock.now(), random.source());
  BOOST_TEST(!started.retry);
}

BOOST_FIXTURE_TEST_CASE(server_delays_are_honoured_within_the_cap, fixture) {
  struct delay_case {
    std::vector<std::pair<std::string, std::string>> headers;
    long long expected_ms;
  };
  const std::vector<delay_case> cases = {
      {{{"retry-after-ms", "1500"}}, 1500},
      {{{"retry-after-ms", "250.6"}}, 251},
      {{{"x-ms-retry-after-ms", "700"}}, 700},
      {{{"retry-after", "6"}}, 6000},
      {{{"retry-after", "2.5"}}, 2500},
      {{{"retry-after", " 3 "}}, 3000},
      {{{"retry-after", "Tue, 14 Nov 2023 22:13:30 GMT"}}, 10000},
      {{{"retry-after", "Tuesday, 14-Nov-23 22:13:50 GMT"}}, 30000},
      {{{"retry-after", "Tue Nov 14 22:13:25 2023"}}, 5000},
      {{{"retry-after", "60"}}, 60000},  // exactly the cap is still waited for
      {{{"retry-after", "9"}, {"retry-after-ms", "1200"}}, 1200},  // ms wins
      {{{"retry-after-ms", "junk"}, {"retry-after", "4"}}, 4000},  // first that parses
  };
  for (const auto& c : cases) {
    auto d = decide(429, c.headers);
    BOOST_TEST(d.retry);
    BOOST_TEST(d.delay.count() == c.expected_ms);
    BOOST_TEST(d.server_delay->count() == c.expected_ms);
  }
  BOOST_TEST(random.calls == 0);  // no backoff was computed
}

BOOST_FIXTURE_TEST_CASE(unusable_server_delays_fall_back_to_backoff, fixture) {
  for (const char* value : {"0", "-5", "soon", "Tue, 14 Nov 2023 22:13:00 GMT", "1e3", "", "nan",
                            "Tue, 31 Feb 2023 22:13:00 GMT"}) {
    auto d = decide(503, {{"retry-after", value}});
    BOOST_TEST(d.retry, value);
    BOOST_TEST(d.delay.count() == 500, value);
  }
  BOOST_TEST(random.calls == 8);
}

BOOST_FIXTURE_TEST_CASE(a_day_long_retry_after_fails_at_once_with_a_clear_reason, fixture) {
  auto d = decide(429, {{"retry-after", "86400"}});
  BOOST_TEST(!d.retry);
  BOOST_TEST(d.server_delay->count() == 86'400'000);
  BOOST_TEST(d.reason.find("86400 s") != std::string::npos, d.reason);
  BOOST_TEST(d.reason.find("60 s") != std::string::npos, d.reason);
  BOOST_TEST(!decide(429, {{"retry-after-ms", "60001"}}).retry);
  options.max_server_delay = std::chrono::hours(25);
  auto patient = decide(429, {{"retry-after", "86400"}});
  BOOST_TEST(patient.retry);
  BOOST_TEST(patient.delay.count() == 86'400'000);
}

BOOST_FIXTURE_TEST_CASE(backoff_doubles_to_eight_seconds_with_jitter, fixture) {
  struct backoff_case {
    int retries;
    double jitter;
    long long expected_ms;
  };
  const std::vector<backoff_case> cases = {
      {0, 0.0, 500},  {0, 0.5, 438},  {0, 0.999, 375}, {1, 0.0, 1000},  {2, 0.5, 1750},
      {3, 0.0, 4000}, {4, 0.0, 8000}, {5, 0.0, 8000},  {40, 0.0, 8000}, {4, 1.0, 6000},
  };
  for (const auto& c : cases) {
    BOOST_TEST(ko::backoff_delay(c.retries, options, c.jitter).count() == c.expected_ms,
               c.retries << " retries, jitter " << c.jitter);
  }
  options.max_retries = 10;
  random.value = 0.5;
  BOOST_TEST(decide(500, {}, 2).delay.count() == 1750);
  BOOST_TEST(random.calls == 1);
}

BOOST_AUTO_TEST_CASE(http_dates_parse_in_all_three_formats) {
  const auto expected = keyless::clock::time_point{seconds(784'111'777)};  // 1994-11-06 08:49:37
  for (const char* text : {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                           "Sun Nov  6 08:49:37 1994", "sun, 06 nov 1994 08:49:37 gmt"}) {
    auto t = ko::parse_http_date(text);
    BOOST_REQUIRE_MESSAGE(t.has_value(), text);
    BOOST_TEST((*t == expected), text);
  }
  for (const char* text :
       {"", "Sun, 06 Nov 1994", "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 PST",
        "Sun, 29 Feb 2023 08:49:37 GMT", "06 06 06 Nov 1994 08:49:37", "tomorrow"}) {
    BOOST_TEST(!ko::parse_http_date(text).has_value(), text);
  }
  BOOST_TEST(ko::parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
