// Regression tests for defects the hardening checks found in lib/identity: the libFuzzer
// targets (fuzz/) and the secret-leak scan (tests/secrets).

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <string_view>

#include "core/base64.hpp"
#include "identity/token_response.hpp"
#include "keyless/identity/token_claims.hpp"

namespace {

// An unsigned JWT whose payload is `json`.
std::string jwt_with_payload(std::string_view json) {
  std::string payload = keyless::detail::base64url_encode(json);
  return "eyJhbGciOiJub25lIn0." + payload + ".";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fuzz_regressions)

// fuzz_jwt_claims: an `exp` after 2262 overflowed the seconds → nanoseconds conversion
// (undefined behaviour; in practice a date in the past).
BOOST_AUTO_TEST_CASE(exp_claims_after_2262_saturate_instead_of_overflowing) {
  using std::chrono::system_clock;
  for (std::string_view payload :
       {R"({"exp":253402300799,"iat":9300000000})", R"({"exp":9300000000.5,"iat":10000000000})"}) {
    auto claims = keyless::identity::read_token_claims(jwt_with_payload(payload));
    BOOST_REQUIRE(claims.has_value());
    BOOST_REQUIRE(claims->expires_on.has_value());
    BOOST_TEST((*claims->expires_on == system_clock::time_point::max()), payload);
    BOOST_TEST((*claims->issued_at == system_clock::time_point::max()), payload);
  }
  auto ordinary = keyless::identity::read_token_claims(jwt_with_payload(R"({"exp":1700000000})"));
  BOOST_REQUIRE(ordinary.has_value());
  BOOST_TEST((*ordinary->expires_on == system_clock::time_point{std::chrono::seconds(1700000000)}));
}

BOOST_AUTO_TEST_CASE(exp_claims_that_are_not_dates_are_left_out) {
  for (std::string_view payload : {R"({"exp":-1})", R"({"exp":253402300800})", R"({"exp":1e300})",
                                   R"({"exp":"1700000000"})"}) {
    auto claims = keyless::identity::read_token_claims(jwt_with_payload(payload));
    BOOST_REQUIRE(claims.has_value());
    BOOST_TEST(!claims->expires_on.has_value(), payload);
  }
}

// tests/secrets: an error description quoting a token or secret was repeated verbatim in
// the credential's exception message.
BOOST_AUTO_TEST_CASE(service_error_descriptions_never_repeat_tokens_or_secrets) {
  const std::string token = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLWxvbmctZW5vdWdo";
  const std::string secret = "Sx8Q~abcdefghijklmnopqrstuvwxyz0123456";
  const std::string body =
      R"({"error":"invalid_request","error_description":"AADSTS90014: token )" + token +
      " and secret " + secret +
      R"( refused for app 0f3d1b2c-0000-4000-8000-0000000f3d1b at )"
      R"(https://cognitiveservices.azure.com/.default"})";
  auto e = keyless::identity::detail::parse_service_error(body);
  BOOST_REQUIRE(e.has_value());
  BOOST_TEST(e->description.find(token.substr(0, 16)) == std::string::npos);
  BOOST_TEST(e->description.find(secret.substr(0, 16)) == std::string::npos);
  BOOST_TEST(
      e->description ==
      "AADSTS90014: token <redacted> and secret <redacted> refused for app "
      "0f3d1b2c-0000-4000-8000-0000000f3d1b at https://cognitiveservices.azure.com/.default");
  BOOST_TEST(e->service_code == "AADSTS90014");
}

BOOST_AUTO_TEST_SUITE_END()
