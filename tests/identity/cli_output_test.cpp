#include <boost/test/unit_test.hpp>

#include <ctime>

#include "cli_test_support.hpp"
#include "identity/cli_common.hpp"
#include "identity/cli_output.hpp"
#include "keyless/core/error.hpp"
#include "token_epochs.hpp"

namespace d = keyless::identity::detail;
using keyless_test::expires_epoch;
using keyless_test::scoped_env;
using keyless_test::scoped_tz;
using std::chrono::seconds;

namespace {

// A realistic-looking token: three base64url segments, far longer than the
// redaction threshold.
const std::string jwt =
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1dCI6Ik1yNS1BVWliZkJpaTdOZDFqQmViYXhib1hXMCJ9."
    "eyJhdWQiOiJodHRwczovL2NvZ25pdGl2ZXNlcnZpY2VzLmF6dXJlLmNvbSIsImlzcyI6Imh0dHBzOi8vc3RzIn0."
    "U0lHTkFUVVJFLVNJR05BVFVSRS1TSUdOQVRVUkUtU0lHTkFUVVJFLVNJR05BVFVSRQ";

template <typename F>
std::string malformed(F&& f) {
  try {
    f();
  } catch (const keyless::error& e) {
    if (e.code() == keyless::errc::malformed_response) return e.message();
    return "other error: " + e.message();
  }
  return {};
}

template <typename F>
bool invalid_argument(F&& f) {
  try {
    f();
  } catch (const keyless::error& e) {
    return e.code() == keyless::errc::invalid_argument;
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_output)

BOOST_AUTO_TEST_CASE(az_epoch_expires_on_is_preferred_over_local_expires_on) {
  scoped_tz tz("CET-1CEST,M3.5.0,M10.5.0/3");
  std::string out = R"({"accessToken":")" + jwt +
                    R"(","expiresOn":"2000-01-01 00:00:00.000000","expires_on":1714979289,)"
                    R"("subscription":"s","tenant":"t","tokenType":"Bearer"})";
  auto token = d::parse_az_output(out);
  BOOST_TEST(token.token() == jwt);
  BOOST_TEST(expires_epoch(token) == 1714979289);
  std::string as_string = R"({"accessToken":"abc","expires_on":"1714979289"})";
  BOOST_TEST(expires_epoch(d::parse_az_output(as_string)) == 1714979289);
}

BOOST_AUTO_TEST_CASE(az_local_expires_on_is_read_in_this_process_time_zone) {
  // az 2.45 prints only the naive local time; with and without a fraction.
  {
    scoped_tz tz("CET-1CEST,M3.5.0,M10.5.0/3");
    std::string with_fraction =
        R"({"accessToken":"abc","expiresOn":"2024-05-06 09:08:09.000000","tokenType":"Bearer"})";
    BOOST_TEST(expires_epoch(d::parse_az_output(with_fraction)) == 1714979289);
    std::string without = R"({"accessToken":"abc","expiresOn":"2024-01-01 01:00:00"})";
    BOOST_TEST(expires_epoch(d::parse_az_output(without)) == 1704067200);
  }
  {
    scoped_tz tz("PST8PDT,M3.2.0,M11.1.0");
    std::string out = R"({"accessToken":"abc","expiresOn":"2024-05-06 00:08:09.123456"})";
    BOOST_TEST(expires_epoch(d::parse_az_output(out)) == 1714979289);
  }
}

BOOST_AUTO_TEST_CASE(az_output_problems_name_the_field_and_never_the_token) {
  struct row {
    std::string out;
    std::string expected;
  };
  const row rows[] = {
      {R"({"expiresOn":"2024-05-06 09:08:09.000000"})", "az output: 'accessToken' is missing"},
      {R"({"accessToken":"","expires_on":1})", "az output: 'accessToken' is empty"},
      {R"({"accessToken":5,"expires_on":1})",
       "az output: 'accessToken' should be a string but is a number"},
      {R"({"accessToken":")" + jwt + R"("})",
       "az output: neither 'expires_on' nor 'expiresOn' is present"},
      {R"({"accessToken":")" + jwt + R"(","expiresOn":"06/05/2024 09:08"})",
       "az output: 'expiresOn' is not a local time like \"2023-10-31 21:59:10.000000\""},
      {R"({"accessToken":")" + jwt + R"(","expires_on":"+1714979289"})",
       "az output: 'expires_on' is not an epoch time in seconds"},
      {"", "az output: the body is empty"},
      {"WARNING: something\n", "az output: the body is not a JSON object"},
      {"{\"accessToken\": ", "az output: the body is not valid JSON"},
  };
  for (auto r : rows) {
    const auto message = malformed([&] { d::parse_az_output(r.out); });
    BOOST_TEST(message == r.expected);
    BOOST_TEST(message.find(jwt.substr(0, 40)) == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(azd_expires_on_is_utc_whatever_the_local_zone) {
  scoped_tz tz("PST8PDT,M3.2.0,M11.1.0");
  std::string out = R"({"token":")" + jwt + R"(","expiresOn":"2024-01-01T00:00:00Z"})";
  auto token = d::parse_azd_output(out);
  BOOST_TEST(token.token() == jwt);
  BOOST_TEST(expires_epoch(token) == 1704067200);
  std::string missing = R"({"token":"abc"})";
  BOOST_TEST(malformed([&] { d::parse_azd_output(missing); }) ==
             "azd output: 'expiresOn' is missing");
  std::string naive = R"({"token":"abc","expiresOn":"2024-01-01 00:00:00"})";
  BOOST_TEST(malformed([&] {
               d::parse_azd_output(naive);
             }).find("'expiresOn' is not an RFC 3339") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(excerpts_never_keep_a_token_but_keep_guids_and_words) {
  const std::string guid = "0a1b2c3d-0000-4000-8000-000000000001";
  const auto a = d::redacted_excerpt("Traceback: got " + jwt + " for tenant " + guid);
  BOOST_TEST(a == "Traceback: got <redacted> for tenant " + guid);
  const auto b = d::redacted_excerpt(R"({"accessToken": "short-secret", "expiresOn": "x"})");
  BOOST_TEST(b == R"({"accessToken": "****", "expiresOn": "x"})");
  const auto c = d::redacted_excerpt(R"("access_token":"tiny")");
  BOOST_TEST(c == R"("access_token":"****")");
  const auto e = d::redacted_excerpt(std::string("tab\there\x01 and bell\x07"));
  BOOST_TEST(e == "tabhere and bell");
  const auto long_text =
      d::redacted_excerpt(std::string(100, ' ') + std::string(500, 'a') + " b", 50);
  BOOST_TEST(long_text == "<redacted> b");
  std::string many_words;
  for (int i = 0; i < 100; ++i) many_words += "word ";
  const auto capped = d::redacted_excerpt(many_words, 30);
  BOOST_TEST(capped.size() == 33u);
  BOOST_TEST(capped.substr(30) == "...");
}

BOOST_AUTO_TEST_CASE(the_first_error_line_of_az_stderr_is_found_and_redacted) {
  const std::string aadsts =
      "ERROR: AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the "
      "request is the client secret value.\r\nTrace ID: 0a1b2c3d-0000-4000-8000-000000000001\r\n"
      "Correlation ID: 0a1b2c3d-0000-4000-8000-000000000002\r\nTimestamp: 2024-05-06 07:08:09Z\n"
      "Interactive authentication is needed. Please run:\naz login\n";
  BOOST_TEST(d::first_error_line(aadsts) ==
             "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the "
             "request is the client secret value.");
  BOOST_TEST(d::first_error_line("WARNING: a warning\nsomething failed\n") == "something failed");
  BOOST_TEST(d::first_error_line("\n\nWARNING: only a warning\n") == "WARNING: only a warning");
  BOOST_TEST(d::first_error_line("ERROR: leaked " + jwt) == "leaked <redacted>");
  BOOST_TEST(d::first_error_line("").empty());
}

BOOST_AUTO_TEST_CASE(azd_json_lines_are_reduced_to_their_messages) {
  const std::string err =
      R"({"type":"consoleMessage","timestamp":"2024-05-06T07:08:09Z","data":{"message":"\nERROR: fetching token: AADSTS700082: The refresh token has expired.\n"}})"
      "\nplain text line\n";
  const auto text = d::azd_stderr_text(err);
  BOOST_TEST(
      text ==
      "\nERROR: fetching token: AADSTS700082: The refresh token has expired.\n\nplain text line");
  BOOST_TEST(d::first_error_line(text) ==
             "fetching token: AADSTS700082: The refresh token has expired.");
}

BOOST_AUTO_TEST_CASE(scopes_tenants_and_subscriptions_are_checked_against_argument_injection) {
  const auto& cli = d::azure_cli_profile;
  BOOST_TEST(!invalid_argument(
      [&] { d::validate_scope(cli, "https://cognitiveservices.azure.com/.default"); }));
  BOOST_TEST(!invalid_argument([&] { d::validate_scope(cli, "api://my_app-1.x/.default"); }));
  for (const char* bad : {"", "--debug", "-x", "a b", "https://x/.default;rm -rf /", "$(id)",
                          "https://x/.default\n", "scope'", "a\"b", "ünï"}) {
    BOOST_TEST(invalid_argument([&] { d::validate_scope(cli, bad); }), "accepted scope " << bad);
  }
  BOOST_TEST(!invalid_argument([&] { d::validate_tenant(cli, "contoso.onmicrosoft.com"); }));
  BOOST_TEST(
      !invalid_argument([&] { d::validate_tenant(cli, "72f988bf-86f1-41af-91ab-2d7cd011db47"); }));
  for (const char* bad : {"", "-t", "a_b", "a b", "a/b", "x;y"}) {
    BOOST_TEST(invalid_argument([&] { d::validate_tenant(cli, bad); }), "accepted tenant " << bad);
  }
  BOOST_TEST(!invalid_argument([&] { d::validate_subscription(cli, "My Subscription_1.0-x"); }));
  for (const char* bad : {"", "   ", "--all", "a;b", "a'b"}) {
    BOOST_TEST(invalid_argument([&] { d::validate_subscription(cli, bad); }),
               "accepted subscription " << bad);
  }
  try {
    d::validate_subscription(cli, "Pay/As/You/Go");
  } catch (const keyless::error& e) {
    BOOST_TEST(e.message().find("use its id instead") != std::string::npos);
    BOOST_TEST(e.message().find("AzureCliCredential") == 0u);
  }
}

BOOST_AUTO_TEST_CASE(only_a_trailing_dot_default_is_removed_from_a_scope) {
  BOOST_TEST(d::scope_to_resource("https://cognitiveservices.azure.com/.default") ==
             "https://cognitiveservices.azure.com");
  BOOST_TEST(d::scope_to_resource("https://x.com/user_impersonation") ==
             "https://x.com/user_impersonation");
  BOOST_TEST(d::scope_to_resource("https://x.com/.default/extra") ==
             "https://x.com/.default/extra");
}

BOOST_AUTO_TEST_SUITE_END()
