#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "identity/token_response.hpp"
#include "keyless/core/clock.hpp"
#include "keyless/core/error.hpp"
#include "token_epochs.hpp"

namespace d = keyless::identity::detail;
using keyless_test::expires_epoch;
using keyless_test::refresh_epoch;
using std::chrono::seconds;
using time_point = std::chrono::system_clock::time_point;

namespace {

constexpr long long now_epoch = 1'700'000'000;
constexpr const char* secret_token = "eyJhbGciOi.SECRET-TOKEN-BYTES.c2ln";

time_point at(long long epoch) {
  return time_point{seconds{epoch}};
}

std::string read_data(const std::string& name) {
  std::ifstream in(std::string(KEYLESS_TEST_DATA_DIR) + "/identity/" + name, std::ios::binary);
  BOOST_TEST_REQUIRE(in.good(), "missing test data " << name);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct fixture {
  keyless::manual_clock clock{at(now_epoch)};

  keyless::identity::access_token parse(std::string body, d::token_response_options options = {}) {
    return d::parse_token_response(body, clock, options);
  }

  // The body with `fields` appended after a valid access_token.
  static std::string with(const std::string& fields) {
    std::string body = std::string(R"({"access_token":")") + secret_token + "\"";
    if (!fields.empty()) body += "," + fields;
    return body + "}";
  }

  // The malformed_response message for `body`, or "" if parsing succeeded
  // or failed differently.
  std::string failure(std::string body, d::token_response_options options = {}) {
    try {
      d::parse_token_response(body, clock, options);
    } catch (const keyless::error& e) {
      if (e.code() == keyless::errc::malformed_response) return e.message();
      return "unexpected code: " + e.code().message();
    }
    return {};
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(token_response, fixture)

BOOST_AUTO_TEST_CASE(expires_in_as_number_or_exact_decimal_string_counts_from_now) {
  struct row {
    std::string fields;
    long long expected;
  };
  const row rows[] = {
      {R"("expires_in":3600)", now_epoch + 3600},
      {R"("expires_in":"3600")", now_epoch + 3600},
      {R"("expires_in":0)", now_epoch},
      {R"("expires_in":2147483647)", now_epoch + 2147483647},
      {R"("expires_in":"2147483647")", now_epoch + 2147483647},
  };
  for (const auto& r : rows) {
    auto token = parse(with(r.fields));
    BOOST_TEST(expires_epoch(token) == r.expected, r.fields);
    BOOST_TEST(token.token() == secret_token);
    BOOST_TEST(refresh_epoch(token) == r.expected);  // no hint: refresh at expiry
  }
}

BOOST_AUTO_TEST_CASE(unusable_expires_in_values_fail_naming_the_field) {
  // The C++ SDK's edge vectors, plus out-of-range values.
  for (const char* value :
       {R"("+3600")", R"(" 3600")", R"("3600.0")", R"("")", "null", "1.5", "3600.0", "-1",
        "2147483648", R"("2147483648")", "true", "[3600]", "{}", "1e3"}) {
    const auto message = failure(with(std::string(R"("expires_in":)") + value));
    BOOST_TEST(message.find("'expires_in'") != std::string::npos, value << " -> " << message);
    BOOST_TEST(message.find("SECRET-TOKEN") == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(unusable_expires_in_falls_through_to_expires_on) {
  auto token = parse(with(R"("expires_in":"+3600","expires_on":1700007200)"));
  BOOST_TEST(expires_epoch(token) == 1700007200);
  auto token2 = parse(with(R"("expires_in":1.5,"expires_on":"1700007200")"));
  BOOST_TEST(expires_epoch(token2) == 1700007200);
}

BOOST_AUTO_TEST_CASE(valid_expires_in_wins_over_expires_on) {
  auto token = parse(with(R"("expires_on":1800000000,"expires_in":600)"));
  BOOST_TEST(expires_epoch(token) == now_epoch + 600);
}

BOOST_AUTO_TEST_CASE(expires_on_accepts_every_documented_format) {
  struct row {
    std::string value;
    long long expected;
  };
  const row rows[] = {
      {"1700003600", 1700003600},
      {R"("1700003600")", 1700003600},
      {R"("2024-05-06T07:08:09Z")", 1714979289},
      {R"("2024-05-06T09:08:09.000+02:00")", 1714979289},
      {R"("Mon, 06 May 2024 07:08:09 GMT")", 1714979289},
      {R"("06/20/2019 02:57:58 +00:00")", 1560999478},
      {R"("1/16/2020 5:24:12 AM +00:00")", 1579152252},
  };
  for (const auto& r : rows) {
    auto token = parse(with(R"("expires_on":)" + r.value));
    BOOST_TEST(expires_epoch(token) == r.expected, r.value);
  }
}

BOOST_AUTO_TEST_CASE(far_future_expiries_up_to_year_9999_saturate) {
  for (const char* value : {"253402300799", R"("3333-11-22T04:05:06.000Z")", R"("43040261106")",
                            R"("Sun, 22 Nov 3333 04:05:06 GMT")"}) {
    auto token = parse(with(std::string(R"("expires_on":)") + value));
    BOOST_TEST((token.expires_on() == time_point::max()), value);
  }
  const auto message = failure(with(R"("expires_on":253402300800)"));
  BOOST_TEST(message.find("'expires_on'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unusable_expires_on_values_fail_naming_the_field) {
  for (const char* value : {R"("")", R"("soon")", "-5", "1.5", "null", "{}", R"("2024-05-06")"}) {
    const auto message = failure(with(std::string(R"("expires_on":)") + value));
    BOOST_TEST(message.find("'expires_on'") != std::string::npos, value << " -> " << message);
  }
  BOOST_TEST(failure(with("")).find("neither 'expires_in' nor 'expires_on'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(refresh_in_sets_refresh_on_but_never_past_the_expiry) {
  auto token = parse(with(R"("expires_in":86399,"refresh_in":43199)"));
  BOOST_TEST(refresh_epoch(token) == now_epoch + 43199);
  BOOST_TEST(expires_epoch(token) == now_epoch + 86399);
  auto capped = parse(with(R"("expires_in":600,"refresh_in":"7200")"));
  BOOST_TEST(refresh_epoch(capped) == now_epoch + 600);
  for (const char* bad : {"-1", "1.5", R"("+60")", "null"}) {
    auto ignored = parse(with(std::string(R"("expires_in":600,"refresh_in":)") + bad));
    BOOST_TEST(refresh_epoch(ignored) == now_epoch + 600, bad);
  }
}

BOOST_AUTO_TEST_CASE(half_life_rule_applies_to_tokens_of_two_hours_or_more) {
  d::token_response_options mi{.context = "managed identity", .half_life_refresh = true};
  struct row {
    long long lifetime;
    long long refresh_after;  // seconds after now
  };
  // The C++ SDK's vectors; keyless keeps the real expiry.
  const row rows[] = {{9999, 4999}, {7202, 3601}, {7200, 3600}, {7199, 7199}, {3600, 3600}};
  for (const auto& r : rows) {
    auto token = parse(with(R"("expires_in":)" + std::to_string(r.lifetime)), mi);
    BOOST_TEST(expires_epoch(token) == now_epoch + r.lifetime);
    BOOST_TEST(refresh_epoch(token) == now_epoch + r.refresh_after, r.lifetime);
  }
  // Also from an absolute expires_on (IMDS, App Service).
  auto from_epoch = parse(with(R"("expires_on":")" + std::to_string(now_epoch + 86400) + "\""), mi);
  BOOST_TEST(refresh_epoch(from_epoch) == now_epoch + 43200);
  BOOST_TEST(expires_epoch(from_epoch) == now_epoch + 86400);
  // Without the option a long token refreshes at expiry; refresh_in overrides.
  BOOST_TEST(refresh_epoch(parse(with(R"("expires_in":9999)"))) == now_epoch + 9999);
  BOOST_TEST(refresh_epoch(parse(with(R"("expires_in":9999,"refresh_in":100)"), mi)) ==
             now_epoch + 100);
}

BOOST_AUTO_TEST_CASE(access_token_must_be_a_non_empty_string) {
  BOOST_TEST(failure(R"({"expires_in":3600})") == "token response: 'access_token' is missing");
  BOOST_TEST(failure(R"({"access_token":null,"expires_in":3600})") ==
             "token response: 'access_token' is missing");
  BOOST_TEST(failure(R"({"access_token":"","expires_in":3600})") ==
             "token response: 'access_token' is empty");
  BOOST_TEST(failure(R"({"access_token":12345,"expires_in":3600})") ==
             "token response: 'access_token' should be a string but is a number");
}

BOOST_AUTO_TEST_CASE(empty_truncated_and_non_json_bodies_are_malformed) {
  for (const std::string& body :
       {std::string(""), std::string("   "), std::string("<html>502 Bad Gateway</html>"),
        std::string("[]"), with(R"("expires_in":3600)").substr(0, 40),
        with(R"("expires_in":3600)") + " trailing", std::string(R"({"access_token":"abc",)")}) {
    const auto message = failure(body);
    BOOST_TEST(!message.empty(), "accepted: " << body);
    BOOST_TEST(message.find("SECRET-TOKEN") == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(context_names_the_source_in_messages) {
  d::token_response_options options{.context = "ManagedIdentityCredential: IMDS response"};
  BOOST_TEST(failure(R"({"expires_in":1})", options) ==
             "ManagedIdentityCredential: IMDS response: 'access_token' is missing");
}

BOOST_AUTO_TEST_CASE(recorded_bodies_from_each_service_parse) {
  struct row {
    const char* file;
    long long expires;
    bool half_life;
    long long refresh;
  };
  const row rows[] = {
      {"entra_token.json", now_epoch + 3599, false, now_epoch + 3599},
      {"imds_token.json", now_epoch + 86399, true, now_epoch + 43199},
      {"app_service_2019_token.json", 1700003600, true, 1700003600},
      {"app_service_2017_linux_token.json", 1560999478, true, 1560999478},
      {"app_service_2017_windows_token.json", 1579152252, false, 1579152252},
  };
  for (const auto& r : rows) {
    d::token_response_options options{.half_life_refresh = r.half_life};
    auto token = parse(read_data(r.file), options);
    BOOST_TEST(expires_epoch(token) == r.expires, r.file);
    BOOST_TEST(refresh_epoch(token) == r.refresh, r.file);
    BOOST_TEST(token.token().substr(0, 3) == "eyJ");
  }
}

BOOST_AUTO_TEST_CASE(a_string_view_body_is_copied_into_a_padded_buffer) {
  const std::string body = with(R"("expires_in":60)");
  auto token = d::parse_token_response(std::string_view(body), clock);
  BOOST_TEST(expires_epoch(token) == now_epoch + 60);
}

BOOST_AUTO_TEST_CASE(entra_error_bodies_yield_the_aadsts_code_and_first_line) {
  auto e = d::parse_service_error(read_data("entra_error_invalid_client.json"));
  BOOST_TEST_REQUIRE(e.has_value());
  BOOST_TEST(e->error == "invalid_client");
  BOOST_TEST(e->service_code == "AADSTS7000215");
  BOOST_TEST(e->description ==
             "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the "
             "request is the client secret value, not the client secret ID.");
  BOOST_TEST(e->trace_id == "0a1b2c3d-0000-4000-8000-000000000001");
  BOOST_TEST(e->correlation_id == "0a1b2c3d-0000-4000-8000-000000000002");
}

BOOST_AUTO_TEST_CASE(the_aadsts_code_is_found_in_the_description_without_error_codes) {
  auto e = d::parse_service_error(
      R"({"error":"invalid_grant","error_description":"AADSTS70043: The refresh token has expired."})");
  BOOST_TEST_REQUIRE(e.has_value());
  BOOST_TEST(e->service_code == "AADSTS70043");
}

BOOST_AUTO_TEST_CASE(wrapped_and_unwrapped_error_bodies_parse) {
  auto sf = d::parse_service_error(read_data("service_fabric_error.json"));
  BOOST_TEST_REQUIRE(sf.has_value());
  BOOST_TEST(sf->error == "SecretHeaderNotFound");
  BOOST_TEST(sf->service_code == "SecretHeaderNotFound");
  BOOST_TEST(sf->description == "Secret is not found in the request headers.");

  auto app = d::parse_service_error(read_data("app_service_error.json"));
  BOOST_TEST_REQUIRE(app.has_value());
  BOOST_TEST(app->error.empty());
  BOOST_TEST(app->service_code.empty());
  BOOST_TEST(app->description == "An unexpected error occured while fetching the AAD Token.");

  auto openai = d::parse_service_error(read_data("openai_unauthorized_no_wrapper.json"));
  BOOST_TEST_REQUIRE(openai.has_value());
  BOOST_TEST(openai->description.find("audience is incorrect") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bodies_that_are_not_errors_give_nothing) {
  for (const char* body : {"", "not json", "[1]", R"({"foo":1})", R"({"error":5})",
                           R"({"access_token":"x","expires_in":1})"}) {
    BOOST_TEST(!d::parse_service_error(body).has_value(), body);
  }
}

BOOST_AUTO_TEST_CASE(error_descriptions_are_cut_and_cleaned) {
  const std::string long_text(2000, 'x');
  auto e = d::parse_service_error(R"({"error":"e","error_description":"\u0007bell )" + long_text +
                                  R"("})");
  BOOST_TEST_REQUIRE(e.has_value());
  BOOST_TEST(e->description.size() <= 403u);
  BOOST_TEST(e->description.find('\x07') == std::string::npos);
  BOOST_TEST(e->description.substr(0, 5) == "bell ");
}

BOOST_AUTO_TEST_SUITE_END()
