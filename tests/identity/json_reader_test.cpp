#include <boost/test/unit_test.hpp>

#include <string>

#include "json/reader.hpp"
#include "keyless/core/error.hpp"

namespace json = keyless::json;
namespace ondemand = simdjson::ondemand;

namespace {

// The message of the malformed_response error `f` throws, or "" if it
// throws nothing or something else.
template <typename F>
std::string malformed_message(F&& f) {
  try {
    f();
  } catch (const keyless::error& e) {
    if (e.code() == keyless::errc::malformed_response) return e.message();
  }
  return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(json_reader)

BOOST_AUTO_TEST_CASE(padded_reserves_in_place_once_and_then_never_copies) {
  std::string body = R"({"a":"b"})";
  body.shrink_to_fit();
  auto view = json::padded(body);
  BOOST_TEST(view.padding() >= simdjson::SIMDJSON_PADDING);
  BOOST_TEST(view.data() == body.data());
  const char* before = body.data();
  auto again = json::padded(body);
  BOOST_TEST(again.data() == before);  // already padded: no reallocation
}

BOOST_AUTO_TEST_CASE(padded_buffer_keeps_padding_while_appending) {
  json::padded_buffer buffer;
  for (int i = 0; i < 1000; ++i) {
    buffer.append("[1,2,3],");
    BOOST_TEST_REQUIRE(buffer.padded().padding() >= simdjson::SIMDJSON_PADDING);
  }
  BOOST_TEST(buffer.size() == 8000u);
}

BOOST_AUTO_TEST_CASE(reads_optional_and_required_fields_in_any_order) {
  std::string body = R"({"n": 42, "s": "text\u00e9", "nil": null})";
  ondemand::parser parser;
  auto doc = json::parse(parser, json::padded(body), "test body");
  auto obj = json::root_object(doc, "test body");
  BOOST_TEST(*json::optional_string(obj, "s", "test body") == "text\xC3\xA9");
  BOOST_TEST(*json::optional_int(obj, "n", "test body") == 42);
  BOOST_TEST(!json::optional_string(obj, "nil", "test body"));
  BOOST_TEST(!json::optional_string(obj, "absent", "test body"));
  BOOST_TEST(json::required_string(obj, "s", "test body") == "text\xC3\xA9");
}

BOOST_AUTO_TEST_CASE(wrong_types_name_the_field_and_never_the_value) {
  std::string body = R"({"access_token": 12345678, "count": "secret-value", "frac": 1.5})";
  ondemand::parser parser;
  auto doc = json::parse(parser, json::padded(body), "token response");
  auto obj = json::root_object(doc, "token response");
  const auto m1 =
      malformed_message([&] { json::optional_string(obj, "access_token", "token response"); });
  BOOST_TEST(m1.find("token response: 'access_token' should be a string but is a number") !=
             std::string::npos);
  BOOST_TEST(m1.find("12345678") == std::string::npos);
  const auto m2 = malformed_message([&] { json::optional_int(obj, "count", "token response"); });
  BOOST_TEST(m2.find("'count' should be an integer but is a string") != std::string::npos);
  BOOST_TEST(m2.find("secret-value") == std::string::npos);
  BOOST_TEST(
      !malformed_message([&] { json::optional_int(obj, "frac", "token response"); }).empty());
  const auto m3 =
      malformed_message([&] { json::required_string(obj, "missing", "token response"); });
  BOOST_TEST(m3.find("'missing' is missing") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(empty_non_json_and_non_object_bodies_are_malformed) {
  ondemand::parser parser;
  for (std::string body : {"", "   \r\n", "<html>oops</html>"}) {
    BOOST_TEST(!malformed_message([&] {
                  auto doc = json::parse(parser, json::padded(body), "ctx");
                  json::root_object(doc, "ctx");
                }).empty(),
               "accepted: " << body);
  }
  std::string array = "[1,2]";
  auto doc = json::parse(parser, json::padded(array), "ctx");
  BOOST_TEST(malformed_message([&] { json::root_object(doc, "ctx"); }) ==
             "ctx: the body is not a JSON object");
}

BOOST_AUTO_TEST_CASE(trailing_data_after_the_object_is_detected) {
  ondemand::parser parser;
  std::string clean = R"({"a":1}  )";
  auto doc = json::parse(parser, json::padded(clean), "ctx");
  for (auto field : json::root_object(doc, "ctx")) (void)field;
  json::expect_end(doc, "ctx");

  std::string dirty = R"({"a":1} {"b":2})";
  auto doc2 = json::parse(parser, json::padded(dirty), "ctx");
  for (auto field : json::root_object(doc2, "ctx")) (void)field;
  BOOST_TEST(malformed_message([&] { json::expect_end(doc2, "ctx"); }) ==
             "ctx: the body has data after the JSON value");
}

BOOST_AUTO_TEST_SUITE_END()
