#include <boost/test/unit_test.hpp>

#include "keyless/http/fields.hpp"

#include <string>
#include <utility>
#include <vector>

namespace http = keyless::http;

namespace {

std::vector<std::pair<std::string, std::string>> items(const http::fields& f) {
  return {f.begin(), f.end()};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fields)

BOOST_AUTO_TEST_CASE(iequals_folds_ascii_letters_only) {
  BOOST_TEST(http::iequals("Content-Length", "content-length"));
  BOOST_TEST(http::iequals("X-MS-REQUEST-ID", "x-ms-request-id"));
  BOOST_TEST(http::iequals("", ""));
  BOOST_TEST(!http::iequals("abc", "abcd"));
  BOOST_TEST(!http::iequals("a-b", "a_b"));
  // '@' and '`' differ from each other only in bit 0x20, like 'A' and 'a'.
  BOOST_TEST(!http::iequals("@", "`"));
  BOOST_TEST(!http::iequals("[", "{"));
  BOOST_TEST(!http::iequals("\xC9", "\xE9"));
}

BOOST_AUTO_TEST_CASE(find_is_case_insensitive_and_returns_the_first_value) {
  http::fields f;
  f.add("Set-Cookie", "a=1");
  f.add("set-cookie", "b=2");
  f.add("Content-Type", "application/json");
  BOOST_TEST(f.size() == 3u);
  BOOST_TEST(*f.find("SET-COOKIE") == "a=1");
  BOOST_TEST(*f.find("content-type") == "application/json");
  BOOST_TEST(f.contains("Content-Type"));
  BOOST_TEST(!f.find("content-length").has_value());
  BOOST_TEST(!f.contains("Content"));
}

BOOST_AUTO_TEST_CASE(add_keeps_arrival_order_and_repeats) {
  http::fields f;
  f.add("A", "1");
  f.add("B", "2");
  f.add("a", "3");
  auto expected =
      std::vector<std::pair<std::string, std::string>>{{"A", "1"}, {"B", "2"}, {"a", "3"}};
  BOOST_TEST((items(f) == expected));
}

BOOST_AUTO_TEST_CASE(set_replaces_every_occurrence_by_one_at_the_first_position) {
  http::fields f;
  f.add("Accept", "text/plain");
  f.add("X-Trace", "1");
  f.add("accept", "text/html");
  f.set("ACCEPT", "application/json");
  auto expected = std::vector<std::pair<std::string, std::string>>{{"ACCEPT", "application/json"},
                                                                   {"X-Trace", "1"}};
  BOOST_TEST((items(f) == expected));
}

BOOST_AUTO_TEST_CASE(set_appends_when_the_name_is_new) {
  http::fields f;
  f.add("A", "1");
  f.set("B", "2");
  BOOST_TEST(f.size() == 2u);
  BOOST_TEST(*f.find("b") == "2");
}

BOOST_AUTO_TEST_CASE(erase_removes_every_occurrence) {
  http::fields f;
  f.add("A", "1");
  f.add("B", "2");
  f.add("a", "3");
  f.erase("A");
  BOOST_TEST(f.size() == 1u);
  BOOST_TEST(!f.contains("a"));
  f.erase("missing");
  BOOST_TEST(f.size() == 1u);
  f.clear();
  BOOST_TEST(f.empty());
}

BOOST_AUTO_TEST_SUITE_END()
