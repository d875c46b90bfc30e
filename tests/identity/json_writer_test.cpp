#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include <simdjson.h>

#include "keyless/core/error.hpp"
#include "keyless/json/writer.hpp"

namespace json = keyless::json;

namespace {

// Reads a JSON string literal back with simdjson: the writer's output must
// round-trip through an independent parser.
std::string parse_back(const std::string& literal) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(literal);
  std::string_view text;
  const auto error = parser.parse(padded).get_string().get(text);
  BOOST_TEST_REQUIRE(!error, "not valid JSON: " << literal);
  return std::string(text);
}

bool throws_invalid_argument(auto&& f) {
  try {
    f();
  } catch (const keyless::error& e) {
    return e.code() == keyless::errc::invalid_argument;
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(json_writer)

BOOST_AUTO_TEST_CASE(writes_nested_objects_and_arrays_compactly) {
  json::writer w;
  w.begin_object()
      .member("model", "gpt-4o")
      .key("messages")
      .begin_array()
      .begin_object()
      .member("role", "user")
      .member("content", "hi")
      .end_object()
      .end_array()
      .member("stream", true)
      .key("stop")
      .value(nullptr)
      .member("n", 2)
      .key("empty")
      .begin_array()
      .end_array()
      .key("none")
      .begin_object()
      .end_object()
      .end_object();
  BOOST_TEST(w.complete());
  BOOST_TEST(w.release() ==
             R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,)"
             R"("stop":null,"n":2,"empty":[],"none":{}})");
}

BOOST_AUTO_TEST_CASE(escapes_quotes_backslashes_and_every_control_character) {
  std::string all_controls;
  for (int c = 0; c < 0x20; ++c) all_controls.push_back(static_cast<char>(c));
  const std::string input = "a\"b\\c/" + all_controls + "\x7f";
  const std::string literal = json::quoted(input);
  BOOST_TEST(literal.substr(0, 9) == R"("a\"b\\c/)");
  BOOST_TEST(literal.find("\\u0000") != std::string::npos);
  BOOST_TEST(literal.find("\\u001f") != std::string::npos);
  BOOST_TEST(literal.find("\\n") != std::string::npos);
  BOOST_TEST(literal.find("\\t") != std::string::npos);
  for (char c : literal) BOOST_TEST(static_cast<unsigned char>(c) >= 0x20);
  BOOST_TEST(parse_back(literal) == input);
}

BOOST_AUTO_TEST_CASE(valid_multibyte_utf8_passes_through_unchanged) {
  // 2-, 3- and 4-byte sequences at the edges of their ranges.
  const std::string input =
      "\xC2\x80 \xDF\xBF \xE0\xA0\x80 \xED\x9F\xBF \xEE\x80\x80 \xEF\xBF\xBF "
      "\xF0\x90\x80\x80 \xF4\x8F\xBF\xBF caf\xC3\xA9 \xF0\x9F\x98\x80";
  const std::string literal = json::quoted(input);
  BOOST_TEST(literal == "\"" + input + "\"");
  BOOST_TEST(parse_back(literal) == input);
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_replaced_by_one_fffd_per_maximal_subpart) {
  const std::string fffd = "\xEF\xBF\xBD";
  struct vector {
    std::string input;
    std::string expected;
  };
  const vector vectors[] = {
      {"\x80", fffd},  // lone continuation byte
      {"a\xC0\xAF"
       "b",
       "a" + fffd + fffd + "b"},                        // overlong '/': C0 never valid
      {"\xE0\x80\xAF", fffd + fffd + fffd},             // overlong 3-byte
      {"\xED\xA0\x80", fffd + fffd + fffd},             // UTF-16 surrogate D800
      {"\xF4\x90\x80\x80", fffd + fffd + fffd + fffd},  // above U+10FFFF
      {"\xF5", fffd},                                   // never a lead byte
      {"\xE2\x82", fffd},                               // truncated at end of input
      {"\xE2\x82"
       "x",
       fffd + "x"},            // truncated, then ASCII
      {"\xF0\x9F\x98", fffd},  // truncated 4-byte sequence
      {"\xFF\xFE", fffd + fffd},
  };
  for (const auto& v : vectors) {
    const std::string literal = json::quoted(v.input);
    BOOST_TEST(literal == "\"" + v.expected + "\"");
    BOOST_TEST(parse_back(literal) == v.expected);
  }
}

BOOST_AUTO_TEST_CASE(reject_policy_refuses_invalid_utf8_and_leaves_the_writer_usable) {
  json::writer w(json::invalid_utf8::reject);
  w.begin_array();
  BOOST_TEST(throws_invalid_argument([&] { w.value("ok\xC3"); }));
  w.value("fine").end_array();
  BOOST_TEST(w.release() == R"(["fine"])");
  BOOST_TEST(throws_invalid_argument(
      [] { (void)json::quoted("\xED\xA0\x80", json::invalid_utf8::reject); }));
}

BOOST_AUTO_TEST_CASE(object_keys_must_be_valid_utf8_whatever_the_policy) {
  json::writer w;
  w.begin_object();
  BOOST_TEST(throws_invalid_argument([&] { w.key("bad\xFF"); }));
  w.member("good", 1).end_object();
  BOOST_TEST(w.release() == R"({"good":1})");
}

BOOST_AUTO_TEST_CASE(numbers_are_exact_for_integers_and_shortest_for_doubles) {
  json::writer w;
  w.begin_array()
      .value(std::numeric_limits<std::int64_t>::min())
      .value(std::numeric_limits<std::uint64_t>::max())
      .value(0.1)
      .value(1e300)
      .value(-0.0)
      .value(3.0)
      .value(static_cast<short>(-7))
      .end_array();
  BOOST_TEST(w.release() == "[-9223372036854775808,18446744073709551615,0.1,1e+300,-0,3,-7]");
}

BOOST_AUTO_TEST_CASE(nan_and_infinity_are_refused) {
  json::writer w;
  w.begin_array();
  BOOST_TEST(throws_invalid_argument([&] { w.value(std::nan("")); }));
  BOOST_TEST(throws_invalid_argument([&] { w.value(std::numeric_limits<double>::infinity()); }));
  w.end_array();
  BOOST_TEST(w.release() == "[]");
}

BOOST_AUTO_TEST_CASE(raw_inserts_validated_json_values) {
  json::writer w;
  w.begin_object()
      .key("extra")
      .raw(R"( {"logit_bias": {"50256": -100}, "seed": 7} )")
      .key("list")
      .raw("[1,2]")
      .key("n")
      .raw("42")
      .end_object();
  BOOST_TEST(w.release() ==
             R"({"extra":{"logit_bias": {"50256": -100}, "seed": 7},"list":[1,2],"n":42})");
}

BOOST_AUTO_TEST_CASE(raw_refuses_anything_but_one_well_formed_value) {
  for (const char* bad : {"", "  ", "{", "[1,]", "1 2", "{\"a\":1}}", "nul", "\"unterminated",
                          "{\"a\":1},{\"b\":2}"}) {
    json::writer w;
    w.begin_array();
    BOOST_TEST(throws_invalid_argument([&] { w.raw(bad); }), "accepted: " << bad);
    w.end_array();
    BOOST_TEST(w.release() == "[]");
  }
}

BOOST_AUTO_TEST_CASE(structural_misuse_throws_invalid_argument) {
  BOOST_TEST(throws_invalid_argument([] { json::writer().begin_object().value(1); }));
  BOOST_TEST(throws_invalid_argument([] { json::writer().begin_array().key("k"); }));
  BOOST_TEST(throws_invalid_argument([] { json::writer().begin_object().end_array(); }));
  BOOST_TEST(throws_invalid_argument([] { json::writer().begin_array().end_object(); }));
  BOOST_TEST(throws_invalid_argument([] { json::writer().end_array(); }));
  BOOST_TEST(throws_invalid_argument([] { json::writer().begin_object().key("k").end_object(); }));
  BOOST_TEST(throws_invalid_argument([] { json::writer().value(1).value(2); }));
  BOOST_TEST(throws_invalid_argument([] { json::writer().begin_array().release(); }));
  BOOST_TEST(throws_invalid_argument([] { json::writer().release(); }));
}

BOOST_AUTO_TEST_CASE(a_scalar_is_a_complete_document) {
  json::writer w;
  BOOST_TEST(!w.complete());
  w.value("just a string");
  BOOST_TEST(w.complete());
  BOOST_TEST(w.release() == R"("just a string")");
  BOOST_TEST(!w.complete());
}

BOOST_AUTO_TEST_SUITE_END()
