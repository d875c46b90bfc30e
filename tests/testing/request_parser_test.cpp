#include <string>
#include <string_view>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "request_parser.hpp"

using keyless::testing::header_map;
using keyless::testing::parser_limits;
using keyless::testing::recorded_request;
using keyless::testing::request_parser;

namespace {

// Feeds `text` in pieces of `step` bytes (0 = all at once) and collects every finished request.
std::vector<recorded_request> parse_all(std::string_view text, std::size_t step = 0,
                                        request_parser* parser_out = nullptr) {
  request_parser local;
  request_parser& parser = parser_out ? *parser_out : local;
  std::vector<recorded_request> out;
  while (!text.empty()) {
    std::string_view piece = step == 0 ? text : text.substr(0, step);
    std::size_t used = parser.feed(piece);
    text.remove_prefix(used);
    if (parser.failed()) break;
    if (parser.done()) out.push_back(parser.take());
    BOOST_REQUIRE(used > 0 || parser.done() || text.empty());
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(request_parser_tests)

BOOST_AUTO_TEST_CASE(a_get_request_is_parsed_with_its_headers) {
  auto requests = parse_all(
      "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fx "
      "HTTP/1.1\r\n"
      "Host: 127.0.0.1:1234\r\nMetadata: true\r\nX-Two: a\r\nx-two: b\r\n\r\n");
  BOOST_REQUIRE_EQUAL(requests.size(), 1u);
  const auto& r = requests[0];
  BOOST_TEST(r.method == "GET");
  BOOST_TEST(r.version == "HTTP/1.1");
  BOOST_TEST(r.path() == "/metadata/identity/oauth2/token");
  BOOST_TEST(r.query_param("api-version").value_or("") == "2018-02-01");
  BOOST_TEST(r.query_param("resource").value_or("") == "https://x");
  BOOST_TEST(!r.query_param("missing").has_value());
  BOOST_TEST(r.header("METADATA") == "true");
  BOOST_TEST(r.headers.find_all("x-two").size() == 2u);
  BOOST_TEST(r.body.empty());
  BOOST_TEST(r.keep_alive());
}

BOOST_AUTO_TEST_CASE(a_request_split_into_single_bytes_parses_the_same) {
  std::string text =
      "POST /token HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\n"
      "Content-Length: 45\r\n\r\ngrant_type=client_credentials&scope=a+b%2Fc.d";
  auto whole = parse_all(text);
  auto bytewise = parse_all(text, 1);
  BOOST_REQUIRE_EQUAL(whole.size(), 1u);
  BOOST_REQUIRE_EQUAL(bytewise.size(), 1u);
  BOOST_TEST(bytewise[0].body == whole[0].body);
  BOOST_TEST(bytewise[0].body.size() == 45u);
  BOOST_TEST(bytewise[0].form_param("grant_type").value_or("") == "client_credentials");
  BOOST_TEST(bytewise[0].form_param("scope").value_or("") == "a b/c.d");
}

BOOST_AUTO_TEST_CASE(chunked_bodies_are_dechunked_whatever_the_split) {
  std::string text =
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n";
  for (std::size_t step : {0u, 1u, 2u, 3u, 7u}) {
    auto requests = parse_all(text, step);
    BOOST_REQUIRE_EQUAL(requests.size(), 1u);
    BOOST_TEST(requests[0].chunked);
    BOOST_TEST(requests[0].body == "hello 0123456789");
  }
}

BOOST_AUTO_TEST_CASE(pipelined_requests_are_returned_one_at_a_time) {
  std::string text =
      "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
      "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
      "GET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  auto requests = parse_all(text);
  BOOST_REQUIRE_EQUAL(requests.size(), 3u);
  BOOST_TEST(requests[0].target == "/1");
  BOOST_TEST(requests[1].body == "abc");
  BOOST_TEST(requests[2].target == "/3");
  BOOST_TEST(!requests[2].keep_alive());
}

BOOST_AUTO_TEST_CASE(keep_alive_follows_the_version_and_connection_tokens) {
  auto r10 = parse_all("GET / HTTP/1.0\r\n\r\n");
  auto r10ka = parse_all("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  auto r11close = parse_all("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n");
  BOOST_REQUIRE(r10.size() == 1u && r10ka.size() == 1u && r11close.size() == 1u);
  BOOST_TEST(!r10[0].keep_alive());
  BOOST_TEST(r10ka[0].keep_alive());
  BOOST_TEST(!r11close[0].keep_alive());
}

BOOST_AUTO_TEST_CASE(absolute_and_authority_form_targets_have_sensible_paths) {
  auto absolute = parse_all("GET http://127.0.0.1:80/a/b?c=d HTTP/1.1\r\n\r\n");
  auto bare = parse_all("GET http://127.0.0.1:80 HTTP/1.1\r\n\r\n");
  auto connect = parse_all("CONNECT 127.0.0.1:443 HTTP/1.1\r\n\r\n");
  BOOST_REQUIRE(absolute.size() == 1u && bare.size() == 1u && connect.size() == 1u);
  BOOST_TEST(absolute[0].path() == "/a/b");
  BOOST_TEST(absolute[0].query_param("c").value_or("") == "d");
  BOOST_TEST(bare[0].path() == "/");
  BOOST_TEST(connect[0].path().empty());
  BOOST_TEST(connect[0].target == "127.0.0.1:443");
}

BOOST_AUTO_TEST_CASE(malformed_requests_fail_with_a_reason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"GET /\r\n\r\n", "malformed request line"},
      {"GET / HTTP/2.0\r\n\r\n", "unsupported HTTP version"},
      {"G(T / HTTP/1.1\r\n\r\n", "malformed method"},
      {"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", "malformed header line"},
      {"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", "obsolete header line folding"},
      {"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", "malformed Content-Length"},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
       "malformed Content-Length"},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
       "both Transfer-Encoding and Content-Length"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported transfer coding"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc",
       "chunk data not followed by CRLF"},
  };
  for (const auto& [text, reason] : cases) {
    request_parser parser;
    parse_all(text, 0, &parser);
    BOOST_TEST_INFO("input: " << text);
    BOOST_TEST(parser.failed());
    BOOST_TEST(parser.error() == reason);
    BOOST_TEST(!parser.limit_exceeded());
  }
}

BOOST_AUTO_TEST_CASE(limits_are_enforced_and_reported_as_such) {
  parser_limits limits;
  limits.max_head_bytes = 64;
  limits.max_body_bytes = 10;
  {
    request_parser parser(limits);
    parser.feed("GET / HTTP/1.1\r\nX-Long: " + std::string(100, 'a'));
    BOOST_TEST(parser.failed());
    BOOST_TEST(parser.limit_exceeded());
  }
  {
    request_parser parser(limits);
    parser.feed("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n");
    BOOST_TEST(parser.failed());
    BOOST_TEST(parser.limit_exceeded());
  }
  {
    request_parser parser(limits);
    parser.feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\n");
    BOOST_TEST(parser.failed());
    BOOST_TEST(parser.limit_exceeded());
  }
  {
    request_parser parser(limits);
    parser.feed("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789");
    BOOST_TEST(parser.done());
  }
}

BOOST_AUTO_TEST_CASE(the_parser_is_idle_only_between_requests) {
  request_parser parser;
  BOOST_TEST(parser.idle());
  parser.feed("GET / HT");
  BOOST_TEST(!parser.idle());
  parser.feed("TP/1.1\r\n\r\n");
  BOOST_TEST(parser.done());
  parser.take();
  BOOST_TEST(parser.idle());
  BOOST_CHECK_THROW(parser.take(), std::logic_error);
}

BOOST_AUTO_TEST_CASE(header_map_is_case_insensitive_and_keeps_order) {
  header_map headers{{"A", "1"}, {"b", "2"}, {"a", "3"}};
  BOOST_TEST(headers.find("a").value_or("") == "1");
  BOOST_TEST(headers.find_all("A").size() == 2u);
  headers.set("A", "9");
  BOOST_TEST(headers.find_all("a").size() == 1u);
  BOOST_TEST(headers.find("a").value_or("") == "9");
  headers.erase("B");
  BOOST_TEST(headers.size() == 1u);
  BOOST_TEST(!headers.contains("b"));
}

BOOST_AUTO_TEST_CASE(percent_decoding_keeps_malformed_escapes) {
  using keyless::testing::percent_decode;
  BOOST_TEST(percent_decode("a%20b%2fc") == "a b/c");
  BOOST_TEST(percent_decode("a+b", true) == "a b");
  BOOST_TEST(percent_decode("a+b", false) == "a+b");
  BOOST_TEST(percent_decode("100%") == "100%");
  BOOST_TEST(percent_decode("%zz%4") == "%zz%4");
}

BOOST_AUTO_TEST_SUITE_END()
