#include <boost/test/unit_test.hpp>

#include <string>

#include "core/base64.hpp"
#include "keyless/identity/token_claims.hpp"

namespace {

std::string make_jwt(const std::string& payload_json) {
  using keyless::detail::base64url_encode;
  return base64url_encode(R"({"alg":"RS256","typ":"JWT"})") + "." + base64url_encode(payload_json) +
         ".c2lnbmF0dXJl";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(token_claims)

BOOST_AUTO_TEST_CASE(base64_round_trips_every_length_in_both_alphabets) {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    bytes.push_back(static_cast<char>(i * 37 + 250));
    auto standard = keyless::detail::base64_encode(bytes);
    auto url = keyless::detail::base64url_encode(bytes);
    BOOST_TEST(standard.size() % 4 == 0u);
    BOOST_TEST(url.find_first_of("+/=") == std::string::npos);
    BOOST_TEST(*keyless::detail::base64_decode(standard) == bytes);
    BOOST_TEST(*keyless::detail::base64_decode(url) == bytes);
  }
}

BOOST_AUTO_TEST_CASE(base64_matches_the_rfc_4648_vectors) {
  BOOST_TEST(keyless::detail::base64_encode("foobar") == "Zm9vYmFy");
  BOOST_TEST(keyless::detail::base64_encode("fo") == "Zm8=");
  BOOST_TEST(keyless::detail::base64url_encode("fo") == "Zm8");
}

BOOST_AUTO_TEST_CASE(base64_rejects_invalid_text) {
  BOOST_TEST(!keyless::detail::base64_decode("Zm9v!"));
  BOOST_TEST(!keyless::detail::base64_decode("Z"));
  BOOST_TEST(!keyless::detail::base64_decode("Zm 9v"));
}

BOOST_AUTO_TEST_CASE(reads_the_identity_claims_of_a_jwt) {
  auto claims = keyless::identity::read_token_claims(make_jwt(
      R"({"aud":"https://cognitiveservices.azure.com","iss":"https://sts.windows.net/t/","iat":1700000000,)"
      R"("exp":1700003600,"appid":"app-1","oid":"oid-1","tid":"tenant-1","upn":"ada@example.com"})"));
  BOOST_REQUIRE(claims);
  BOOST_TEST(claims->tenant_id == "tenant-1");
  BOOST_TEST(claims->object_id == "oid-1");
  BOOST_TEST(claims->audience == "https://cognitiveservices.azure.com");
  BOOST_TEST(claims->app_id == "app-1");
  BOOST_TEST(claims->user == "ada@example.com");
  BOOST_TEST(claims->expires_on->time_since_epoch() == std::chrono::seconds(1700003600));
}

BOOST_AUTO_TEST_CASE(opaque_or_malformed_tokens_are_not_described) {
  using keyless::identity::read_token_claims;
  BOOST_TEST(!read_token_claims("opaque-token"));
  BOOST_TEST(!read_token_claims("a.b"));
  BOOST_TEST(!read_token_claims("a.!!!.c"));
  BOOST_TEST(!read_token_claims(make_jwt("[1,2]")));
  BOOST_TEST(!read_token_claims(make_jwt("{\"tid\":")));
  auto odd = read_token_claims(make_jwt(R"({"tid":5,"exp":"soon"})"));
  BOOST_REQUIRE(odd);
  BOOST_TEST(odd->tenant_id.empty());
  BOOST_TEST(!odd->expires_on);
}

BOOST_AUTO_TEST_SUITE_END()
