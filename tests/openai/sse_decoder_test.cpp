#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "keyless/core/error.hpp"
#include "openai/sse_decoder.hpp"
#include "openai_test_data.hpp"

namespace ko = keyless::openai;

namespace {

struct seen {
  std::string type, data, id;
  bool operator==(const seen&) const = default;
};

std::ostream& operator<<(std::ostream& os, const seen& s) {
  return os << "{" << s.type << "|" << s.data << "|" << s.id << "}";
}

void drain(ko::sse_decoder& d, std::vector<seen>& out) {
  ko::sse_event e;
  while (d.next(e)) out.push_back({e.type, e.data, e.id});
}

// Decodes `stream` fed in the pieces that `cuts` (ascending offsets) make.
std::vector<seen> decode(std::string_view stream, const std::vector<std::size_t>& cuts) {
  ko::sse_decoder d;
  std::vector<seen> out;
  std::size_t from = 0;
  for (auto cut : cuts) {
    d.feed(stream.substr(from, cut - from));
    drain(d, out);
    from = cut;
  }
  d.feed(stream.substr(from));
  drain(d, out);
  return out;
}

// The events the field-rules stream below must produce.
const std::vector<seen> tricky_expected = {
    {"message", "first", ""},
    {"update", "no space\n two spaces", "7"},
    {"message", "", "7"},
    {"message", "\n", "7"},
    {"message", "after unknown", "8"},
    {"message", "{\"x\":\"y: z\"}", "8"},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(sse_decoder)

BOOST_AUTO_TEST_CASE(the_whatwg_field_rules_hold) {
  // Every rule at once: BOM, all three line ends, comments, fields with and
  // without a space or a colon, multi-line and empty data, an event with no
  // data, ids (one with a NUL), retry and unknown fields. The literal holds a
  // NUL, so the string is built with its real length.
  static const char raw[] =
      "\xEF\xBB\xBF"
      ": keep-alive comment\r\n"
      "data: first\n"
      "\n"
      "event: update\r"
      "id: 7\r"
      "data:no space\r"
      "data:  two spaces\r"
      "\r"
      "data\n"
      "\n"
      "data:\n"
      "data:\n"
      "\r\n"
      "event: ignored-no-data\n"
      "id: 8\n"
      "retry: 2500\n"
      "\n"
      "foo: bar\n"
      "data: after unknown\n"
      "id: bad\0id\n"
      "\n"
      "data: {\"x\":\"y: z\"}\r\n"
      "retry: soon\r\n"
      "\r\n"
      "data: unterminated";
  const std::string stream(raw, sizeof raw - 1);
  ko::sse_decoder d;
  d.feed(stream);
  std::vector<seen> out;
  drain(d, out);
  BOOST_TEST(out == tricky_expected, boost::test_tools::per_element());
  BOOST_TEST(d.retry().has_value());
  BOOST_TEST(d.retry()->count() == 2500);  // "soon" was ignored
  BOOST_TEST(d.has_partial_event());       // "data: unterminated" never ended
}

BOOST_AUTO_TEST_CASE(every_split_into_two_pieces_gives_the_same_events) {
  static const char raw[] =
      "\xEF\xBB\xBF: c\r\ndata: first\n\nevent: update\rid: 7\rdata:no space\rdata:  two\r\r"
      "data\n\ndata:\ndata:\n\r\nid: 8\nretry: 2500\n\nid: bad\0id\ndata: x\r\n\r\n";
  const std::string stream(raw, sizeof raw - 1);
  const auto whole = decode(stream, {});
  BOOST_REQUIRE(whole.size() == 5u);
  BOOST_TEST(whole[4] == (seen{"message", "x", "8"}));
  for (std::size_t cut = 0; cut <= stream.size(); ++cut)
    BOOST_TEST(decode(stream, {cut}) == whole, "split at " << cut);
}

BOOST_AUTO_TEST_CASE(every_split_into_three_pieces_gives_the_same_events) {
  const std::string stream =
      "\xEF\xBB\xBF"
      "data: a\r\ndata: b\r\rdata:c\r\n\r\nid:1\n\n";
  const auto whole = decode(stream, {});
  BOOST_REQUIRE(whole.size() == 2u);
  BOOST_TEST(whole[0] == (seen{"message", "a\nb", ""}));
  BOOST_TEST(whole[1] == (seen{"message", "c", ""}));
  for (std::size_t a = 0; a <= stream.size(); ++a)
    for (std::size_t b = a; b <= stream.size(); ++b)
      BOOST_TEST(decode(stream, {a, b}) == whole, "split at " << a << "," << b);
}

BOOST_AUTO_TEST_CASE(byte_at_a_time_feeding_of_a_recorded_stream_matches_one_feed) {
  for (const char* name : {"stream_basic.sse", "stream_tool_calls.sse", "stream_error.sse"}) {
    const auto body = openai_test::read_data(name);
    const auto whole = decode(body, {});
    std::vector<std::size_t> every_byte;
    for (std::size_t i = 1; i < body.size(); ++i) every_byte.push_back(i);
    BOOST_TEST(decode(body, every_byte) == whole, name);
    BOOST_TEST(!whole.empty());
  }
  BOOST_TEST(decode(openai_test::read_data("stream_basic.sse"), {}).size() == 8u);
  BOOST_TEST(decode(openai_test::read_data("stream_tool_calls.sse"), {}).size() == 8u);
}

BOOST_AUTO_TEST_CASE(a_bom_is_dropped_only_at_the_very_start) {
  auto start = decode(
      "\xEF\xBB\xBF"
      "data: a\n\n",
      {});
  BOOST_REQUIRE(start.size() == 1u);
  BOOST_TEST(start[0].data == "a");
  // Later, the BOM is part of a field name, which then is unknown.
  auto later = decode(
      "data: a\n\n\xEF\xBB\xBF"
      "data: b\n\ndata: c\n\n",
      {});
  BOOST_REQUIRE(later.size() == 2u);
  BOOST_TEST(later[1].data == "c");
  // A stream that merely starts like a BOM is left alone.
  auto almost = decode(
      "\xEF\xBB"
      "data: a\n\ndata: b\n\n",
      {});
  BOOST_REQUIRE(almost.size() == 1u);
  BOOST_TEST(almost[0].data == "b");
}

BOOST_AUTO_TEST_CASE(the_done_marker_is_recognised_like_the_sdks_do) {
  BOOST_TEST(ko::is_done_marker("[DONE]"));
  BOOST_TEST(ko::is_done_marker("[DONE] trailing"));
  BOOST_TEST(!ko::is_done_marker(" [DONE]"));
  BOOST_TEST(!ko::is_done_marker("[done]"));
  BOOST_TEST(!ko::is_done_marker("{\"x\":\"[DONE]\"}"));
}

BOOST_AUTO_TEST_CASE(a_line_longer_than_the_limit_fails_however_it_is_split) {
  const std::string stream = "data: ok\n\ndata: " + std::string(100, 'x') + "\n\n";
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    ko::sse_decoder d(64);
    std::vector<seen> out;
    bool failed = false;
    try {
      d.feed(stream.substr(0, cut));
      drain(d, out);
      d.feed(stream.substr(cut));
      drain(d, out);
    } catch (const keyless::error& e) {
      failed = true;
      BOOST_TEST((e.code() == keyless::errc::limit_exceeded));
    }
    BOOST_TEST(failed, "split at " << cut);
    BOOST_TEST(out.size() == 1u, "split at " << cut);  // the event before it survives
    // Once failed, the decoder stays failed.
    BOOST_CHECK_THROW(d.feed("data: more\n\n"), keyless::error);
  }
}

BOOST_AUTO_TEST_CASE(data_accumulating_past_the_limit_fails) {
  ko::sse_decoder d(64);
  std::string stream;
  for (int i = 0; i < 10; ++i) stream += "data: 0123456789\n";
  d.feed(stream);
  ko::sse_event e;
  BOOST_CHECK_THROW(d.next(e), keyless::error);
  BOOST_CHECK_THROW(d.next(e), keyless::error);
  // Exactly at the limit is fine.
  ko::sse_decoder exact(10);
  exact.feed("data:01234\ndata:6789\n\n");
  BOOST_REQUIRE(exact.next(e));
  BOOST_TEST(e.data == "01234\n6789");
}

BOOST_AUTO_TEST_CASE(a_complete_stream_leaves_nothing_partial) {
  ko::sse_decoder d;
  d.feed("data: a\n\n");
  BOOST_TEST(d.has_partial_event());  // not drained yet
  ko::sse_event e;
  BOOST_TEST(d.next(e));
  BOOST_TEST(!d.next(e));
  BOOST_TEST(!d.has_partial_event());
  d.feed("data: b\n");
  BOOST_TEST(!d.next(e));
  BOOST_TEST(d.has_partial_event());  // a data line without its blank line
  BOOST_TEST(!d.next().has_value());
  d.feed("\n");
  auto last = d.next();
  BOOST_REQUIRE(last.has_value());
  BOOST_TEST(last->data == "b");
}

BOOST_AUTO_TEST_SUITE_END()
