#include <boost/test/unit_test.hpp>

#include <chrono>
#include <sstream>
#include <string>
#include <string_view>

#include "keyless/core/error.hpp"
#include "keyless/http/request.hpp"
#include "keyless/identity/access_token.hpp"

namespace {
using keyless::identity::access_token;
using namespace std::chrono_literals;
const auto expiry = std::chrono::system_clock::time_point{std::chrono::seconds(1'700'003'600)};
}  // namespace

BOOST_AUTO_TEST_SUITE(access_token_type)

BOOST_AUTO_TEST_CASE(copies_share_the_token_bytes_instead_of_copying_them) {
  access_token a("secret-abc", expiry);
  access_token b = a;
  BOOST_TEST(a.token().data() == b.token().data());
  BOOST_TEST((a == b));
  BOOST_TEST((b.expires_on() == expiry));
}

BOOST_AUTO_TEST_CASE(the_authorization_field_is_a_view_of_the_token_bytes) {
  access_token a("secret-abc", expiry);
  const auto field = keyless::identity::authorization_field(a);
  BOOST_TEST(field.name == "Authorization");
  BOOST_TEST((field.value == "Bearer secret-abc"));
  BOOST_TEST(field.value.data() + 7 == a.token().data());  // shared, not copied
  BOOST_TEST(a.token() == "secret-abc");
  BOOST_TEST(!a.empty());

  // The field keeps the bytes alive after the token is gone.
  auto held = keyless::identity::authorization_field(access_token("other-xyz", expiry));
  BOOST_TEST(held.owner != nullptr);
  BOOST_TEST((held.value == "Bearer other-xyz"));

  access_token none;
  BOOST_TEST(none.empty());
  BOOST_TEST(access_token("", expiry).empty());
  BOOST_TEST((keyless::identity::authorization_field(none).value == "Bearer "));
}

BOOST_AUTO_TEST_CASE(a_sendable_token_is_checked_once_when_made) {
  BOOST_TEST(keyless::identity::authorization_field(access_token("eyJ.abc-_", expiry)).checked());
  // A token no request can carry is left for the request to refuse, naming the field.
  const access_token bad("secret\r\nX-Evil: 1", expiry);
  const auto field = keyless::identity::authorization_field(bad);
  BOOST_TEST(!field.checked());
  keyless::http::request req;
  req.target = keyless::http::url::parse("https://r.openai.azure.com/");
  req.credential = field;
  try {
    (void)keyless::http::serialize_head(req);
    BOOST_FAIL("a token with CR LF was written");
  } catch (const keyless::error& e) {
    BOOST_TEST(std::string_view(e.what()).find("Authorization") != std::string_view::npos);
    BOOST_TEST(std::string_view(e.what()).find("secret") == std::string_view::npos);
  }
}

BOOST_AUTO_TEST_CASE(streaming_shows_a_redacted_form_never_the_bytes) {
  access_token a("secret-abc", expiry);
  std::ostringstream os;
  os << a;
  BOOST_TEST(os.str().find("secret") == std::string::npos);
  BOOST_TEST(os.str().find("redacted") != std::string::npos);
  BOOST_TEST(os.str().find("1700003600") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(refresh_on_defaults_to_expires_on_and_is_kept_when_given) {
  access_token plain("t", expiry);
  BOOST_TEST((plain.refresh_on() == expiry));
  access_token hinted("t", expiry, expiry - 30min);
  BOOST_TEST((hinted.refresh_on() == expiry - 30min));
}

BOOST_AUTO_TEST_CASE(a_default_token_is_empty_and_tokens_compare_by_content) {
  BOOST_TEST(access_token{}.empty());
  BOOST_TEST(access_token{}.token().empty());
  BOOST_TEST(!access_token("t", expiry).empty());
  BOOST_TEST((access_token("same", expiry) == access_token("same", expiry + 1h)));
  BOOST_TEST(!(access_token("one", expiry) == access_token("two", expiry)));
}

BOOST_AUTO_TEST_SUITE_END()
