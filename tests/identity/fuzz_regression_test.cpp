// Regression tests for defects the libFuzzer targets found in lib/identity (fuzz/).

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <string_view>

#include "core/base64.hpp"
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

BOOST_AUTO_TEST_SUITE_END()
