#include <boost/test/unit_test.hpp>

#include "keyless/core/error.hpp"
#include "keyless/http/url.hpp"
#include "text_contains.hpp"

#include <string>
#include <string_view>

namespace http = keyless::http;
using keyless::testing::contains;

namespace {

// The message of the invalid_argument error that parsing `text` throws.
std::string parse_error(std::string_view text) {
  try {
    (void)http::url::parse(text);
  } catch (const keyless::error& e) {
    BOOST_TEST(e.code() == keyless::errc::invalid_argument);
    return e.what();
  }
  BOOST_FAIL("url::parse accepted a bad URL");
  return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(url)

BOOST_AUTO_TEST_CASE(https_url_splits_into_scheme_host_port_and_target) {
  auto u =
      http::url::parse("https://my-resource.openai.azure.com/openai/deployments/x?api-version=1");
  BOOST_TEST(u.scheme == "https");
  BOOST_TEST(u.host == "my-resource.openai.azure.com");
  BOOST_TEST(u.port == 443);
  BOOST_TEST(u.target == "/openai/deployments/x?api-version=1");
  BOOST_TEST(u.path() == "/openai/deployments/x");
  BOOST_TEST(u.query() == "api-version=1");
  BOOST_TEST(u.is_https());
}

BOOST_AUTO_TEST_CASE(http_defaults_to_port_80_and_root_target) {
  auto u = http::url::parse("http://169.254.169.254");
  BOOST_TEST(u.scheme == "http");
  BOOST_TEST(u.host == "169.254.169.254");
  BOOST_TEST(u.port == 80);
  BOOST_TEST(u.target == "/");
  BOOST_TEST(u.query().empty());
  BOOST_TEST(!u.is_https());
}

BOOST_AUTO_TEST_CASE(scheme_and_host_are_lower_cased_but_the_path_is_not) {
  auto u = http::url::parse("HTTPS://Login.MicrosoftOnline.COM/Tenant/Path");
  BOOST_TEST(u.scheme == "https");
  BOOST_TEST(u.host == "login.microsoftonline.com");
  BOOST_TEST(u.target == "/Tenant/Path");
}

BOOST_AUTO_TEST_CASE(explicit_port_is_kept_and_shown_in_host_header) {
  auto u = http::url::parse("http://127.0.0.1:40342/metadata/identity/oauth2/token");
  BOOST_TEST(u.port == 40342);
  BOOST_TEST(u.host_header() == "127.0.0.1:40342");
  BOOST_TEST(u.origin() == "http://127.0.0.1:40342");
  BOOST_TEST(u.to_string() == "http://127.0.0.1:40342/metadata/identity/oauth2/token");
}

BOOST_AUTO_TEST_CASE(default_port_is_omitted_from_host_header_but_not_from_origin) {
  auto u = http::url::parse("https://example.com:443/a");
  BOOST_TEST(u.host_header() == "example.com");
  BOOST_TEST(u.origin() == "https://example.com:443");
  BOOST_TEST(u.to_string() == "https://example.com/a");
}

BOOST_AUTO_TEST_CASE(empty_port_after_colon_means_the_default_port) {
  BOOST_TEST(http::url::parse("http://example.com:/x").port == 80);
}

BOOST_AUTO_TEST_CASE(ipv6_literal_is_unbracketed_in_host_and_bracketed_in_output) {
  auto u = http::url::parse("http://[::1]:8080/p?q=1");
  BOOST_TEST(u.host == "::1");
  BOOST_TEST(u.port == 8080);
  BOOST_TEST(u.host_header() == "[::1]:8080");
  BOOST_TEST(u.origin() == "http://[::1]:8080");
  BOOST_TEST(u.to_string() == "http://[::1]:8080/p?q=1");

  auto v = http::url::parse("https://[2001:DB8::A]/");
  BOOST_TEST(v.host == "2001:db8::a");
  BOOST_TEST(v.host_header() == "[2001:db8::a]");
}

BOOST_AUTO_TEST_CASE(fragment_is_dropped) {
  auto u = http::url::parse("https://example.com/a?b=c#frag");
  BOOST_TEST(u.target == "/a?b=c");
  BOOST_TEST(http::url::parse("https://example.com#frag").target == "/");
}

BOOST_AUTO_TEST_CASE(query_without_path_gets_a_root_path) {
  auto u = http::url::parse("http://example.com?x=1");
  BOOST_TEST(u.target == "/?x=1");
  BOOST_TEST(u.path() == "/");
  BOOST_TEST(u.query() == "x=1");
}

BOOST_AUTO_TEST_CASE(surrounding_whitespace_such_as_a_trailing_newline_is_ignored) {
  BOOST_TEST(http::url::parse("  http://proxy.local:3128\n").host == "proxy.local");
}

BOOST_AUTO_TEST_CASE(unsafe_and_non_ascii_path_characters_are_percent_encoded) {
  auto u = http::url::parse("http://h/a b/\xC3\xA9?q=\"x\"");
  BOOST_TEST(u.target == "/a%20b/%C3%A9?q=%22x%22");
  // Existing escapes are kept as they are, not encoded twice.
  BOOST_TEST(http::url::parse("http://h/a%2Fb").target == "/a%2Fb");
}

BOOST_AUTO_TEST_CASE(url_round_trips_through_to_string) {
  for (std::string_view text : {"https://a.b/c?d=e", "http://[fe80::1]:81/", "http://x:8080/y"}) {
    auto u = http::url::parse(text);
    auto again = http::url::parse(u.to_string());
    BOOST_TEST(again.scheme == u.scheme);
    BOOST_TEST(again.host == u.host);
    BOOST_TEST(again.port == u.port);
    BOOST_TEST(again.target == u.target);
  }
}

BOOST_AUTO_TEST_CASE(other_schemes_are_refused_by_name) {
  auto message = parse_error("ftp://example.com/file");
  BOOST_TEST(contains(message, "unsupported scheme \"ftp\""));
}

BOOST_AUTO_TEST_CASE(missing_scheme_is_refused) {
  BOOST_TEST(contains(parse_error("example.com/path"), "must start with http:// or https://"));
  BOOST_TEST(contains(parse_error("localhost:8080"), "must start with http:// or https://"));
  BOOST_TEST(contains(parse_error("//example.com"), "must start with http:// or https://"));
  BOOST_TEST(contains(parse_error("http:/example.com"), "expected \"//\" after \"http:\""));
  BOOST_TEST(contains(parse_error(""), "empty"));
}

BOOST_AUTO_TEST_CASE(user_info_is_refused_without_echoing_the_password) {
  auto message = parse_error("https://alice:s3cret@example.com/");
  BOOST_TEST(contains(message, "user info"));
  BOOST_TEST(!contains(message, "s3cret"));
  BOOST_TEST(!contains(message, "alice"));
}

BOOST_AUTO_TEST_CASE(errors_echo_the_url_but_never_its_query) {
  auto message = parse_error("https://example.com:99999/path?sig=SECRETSIG");
  BOOST_TEST(contains(message, "out of range"));
  BOOST_TEST(contains(message, "https://example.com:99999/path"));
  BOOST_TEST(!contains(message, "SECRETSIG"));
  BOOST_TEST(!contains(parse_error("https://bad host/?code=SECRETCODE"), "SECRETCODE"));
  BOOST_TEST(!contains(parse_error("https://example.com/?a=%zzSECRET"), "SECRET"));
}

BOOST_AUTO_TEST_CASE(ports_outside_1_to_65535_or_not_numeric_are_refused) {
  BOOST_TEST(contains(parse_error("http://h:0/"), "out of range"));
  BOOST_TEST(contains(parse_error("http://h:65536/"), "out of range"));
  BOOST_TEST(contains(parse_error("http://h:99999999999999999999999/"), "out of range"));
  BOOST_TEST(contains(parse_error("http://h:8a/"), "not a number"));
  BOOST_TEST(contains(parse_error("http://h:-1/"), "not a number"));
  BOOST_TEST(http::url::parse("http://h:65535/").port == 65535);
  BOOST_TEST(http::url::parse("http://h:1/").port == 1);
}

BOOST_AUTO_TEST_CASE(bad_hosts_are_refused) {
  BOOST_TEST(contains(parse_error("http:///path"), "no host"));
  BOOST_TEST(contains(parse_error("http://:80/"), "no host"));
  BOOST_TEST(contains(parse_error("http://ex ample.com/"), "invalid character"));
  BOOST_TEST(contains(parse_error("http://ex%41mple.com/"), "invalid character"));
  BOOST_TEST(contains(parse_error("http://b\xC3\xBC"
                                  "cher.de/"),
                      "not ASCII"));
  BOOST_TEST(contains(parse_error("http://" + std::string(254, 'a') + "/"), "longer than 253"));
}

BOOST_AUTO_TEST_CASE(bad_ipv6_literals_are_refused) {
  BOOST_TEST(contains(parse_error("http://::1/"), "enclosed in brackets"));
  BOOST_TEST(contains(parse_error("http://[::1/"), "no closing ']'"));
  BOOST_TEST(contains(parse_error("http://[]/"), "empty"));
  BOOST_TEST(contains(parse_error("http://[::g]/"), "invalid"));
  BOOST_TEST(contains(parse_error("http://[1:2:3:4:5:6:7:8:9]/"), "invalid"));
  BOOST_TEST(contains(parse_error("http://[fe80::1%25eth0]/"), "zone"));
  BOOST_TEST(contains(parse_error("http://[::1]x/"), "after the IPv6 address"));
}

BOOST_AUTO_TEST_CASE(control_characters_and_broken_escapes_are_refused) {
  BOOST_TEST(contains(parse_error("http://h/a\r\nX-Injected: 1"), "control character"));
  BOOST_TEST(contains(parse_error("http://h/a%2"), "two hex digits"));
  BOOST_TEST(contains(parse_error("http://h/?q=100%"), "query"));
  BOOST_TEST(contains(parse_error(std::string_view("http://h/\0", 10)), "control character"));
}

BOOST_AUTO_TEST_CASE(percent_encode_keeps_only_unreserved_characters) {
  BOOST_TEST(http::percent_encode("AZaz09-._~") == "AZaz09-._~");
  BOOST_TEST(http::percent_encode("https://azure.com/.default") ==
             "https%3A%2F%2Fazure.com%2F.default");
  BOOST_TEST(http::percent_encode("a b+c&d=e") == "a%20b%2Bc%26d%3De");
  BOOST_TEST(http::percent_encode("\xC3\xA9") == "%C3%A9");
  BOOST_TEST(http::percent_encode(std::string_view("\0\xff", 2)) == "%00%FF");
}

BOOST_AUTO_TEST_CASE(form_encode_writes_space_as_percent_20) {
  BOOST_TEST(http::form_encode("https://a/.default offline_access") ==
             "https%3A%2F%2Fa%2F.default%20offline_access");
}

BOOST_AUTO_TEST_CASE(percent_decode_reverses_percent_encode) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  BOOST_TEST(http::percent_decode(http::percent_encode(all)) == all);
  BOOST_TEST(http::percent_decode("a%2fb%2F") == "a/b/");
}

BOOST_AUTO_TEST_CASE(percent_decode_reads_plus_as_space_only_when_asked) {
  BOOST_TEST(http::percent_decode("a+b%20c") == "a+b c");
  BOOST_TEST(http::percent_decode("a+b%20c", true) == "a b c");
}

BOOST_AUTO_TEST_CASE(percent_decode_refuses_bad_escapes_without_echoing_the_text) {
  for (std::string_view bad : {"SECRET%", "SECRET%4", "SECRET%4g", "SECRET%%41"}) {
    try {
      (void)http::percent_decode(bad);
      BOOST_FAIL("accepted a bad escape");
    } catch (const keyless::error& e) {
      BOOST_TEST(e.code() == keyless::errc::invalid_argument);
      BOOST_TEST(contains(e.what(), "offset 6"));
      BOOST_TEST(!contains(e.what(), "SECRET"));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
