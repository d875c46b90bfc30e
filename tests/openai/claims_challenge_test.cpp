#include <boost/test/unit_test.hpp>

#include <string>

#include "core/base64.hpp"
#include "keyless/http/fields.hpp"
#include "openai/claims_challenge.hpp"

namespace ko = keyless::openai;

namespace {

const std::string claims_json =
    R"({"access_token":{"nbf":{"essential":true,"value":"1700000000"}}})";

std::string b64(const std::string& s) {
  return keyless::detail::base64_encode(s);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(claims_challenge)

BOOST_AUTO_TEST_CASE(azures_challenge_yields_the_decoded_claims) {
  const std::string header =
      R"(Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims=")" +
      b64(claims_json) + "\"";
  BOOST_TEST(ko::insufficient_claims(header).value_or("") == claims_json);
}

BOOST_AUTO_TEST_CASE(base64url_unpadded_claims_and_any_parameter_order_are_accepted) {
  // 64 bytes: their base64 ends in "==" padding, which the url form drops.
  const std::string header = "bearer CLAIMS=\"" + keyless::detail::base64url_encode(claims_json) +
                             "\" , Error=insufficient_claims";
  BOOST_TEST(ko::insufficient_claims(header).value_or("") == claims_json);
}

BOOST_AUTO_TEST_CASE(the_bearer_challenge_is_found_among_others) {
  const std::string header =
      R"(Basic realm="gateway", Bearer error="insufficient_claims", claims=")" + b64(claims_json) +
      R"(", Negotiate)";
  BOOST_TEST(ko::insufficient_claims(header).value_or("") == claims_json);
}

BOOST_AUTO_TEST_CASE(claims_of_another_scheme_or_error_are_ignored) {
  const std::string c = b64(claims_json);
  BOOST_TEST(!ko::insufficient_claims("Basic error=\"insufficient_claims\", claims=\"" + c + "\""));
  BOOST_TEST(!ko::insufficient_claims("Bearer error=\"invalid_token\", claims=\"" + c + "\""));
  // The word inside another parameter's value is not the error parameter.
  BOOST_TEST(
      !ko::insufficient_claims(R"(Bearer realm="insufficient_claims", claims=")" + c + "\""));
  BOOST_TEST(!ko::insufficient_claims(R"(Bearer error="insufficient_claims")"));
  BOOST_TEST(!ko::insufficient_claims(""));
}

BOOST_AUTO_TEST_CASE(undecodable_or_non_json_claims_are_not_a_challenge) {
  BOOST_TEST(
      !ko::insufficient_claims(R"(Bearer error="insufficient_claims", claims="!!not base64!!")"));
  BOOST_TEST(!ko::insufficient_claims(R"(Bearer error="insufficient_claims", claims="")"));
  BOOST_TEST(!ko::insufficient_claims("Bearer error=\"insufficient_claims\", claims=\"" +
                                      b64("not json") + "\""));
}

BOOST_AUTO_TEST_CASE(malformed_headers_end_without_a_result_instead_of_looping) {
  for (const char* h : {"Bearer =", "Bearer error=\"insufficient_claims", "\"\"\"",
                        "=,=,=", "Bearer error=\"insufficient_claims\", claims=\"eyJ\"",
                        "Bearer error=insufficient_claims, claims=eyJ", ",,,  ,"}) {
    BOOST_TEST(!ko::insufficient_claims(h), h);
  }
}

BOOST_AUTO_TEST_CASE(the_first_www_authenticate_header_with_a_challenge_wins) {
  keyless::http::fields headers;
  headers.add("WWW-Authenticate", R"(Basic realm="x")");
  headers.add("www-authenticate",
              "Bearer error=\"insufficient_claims\", claims=\"" + b64(claims_json) + "\"");
  BOOST_TEST(ko::insufficient_claims(headers).value_or("") == claims_json);
  BOOST_TEST(!ko::insufficient_claims(keyless::http::fields{}));
}

BOOST_AUTO_TEST_SUITE_END()
