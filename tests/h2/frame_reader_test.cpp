// The incremental HTTP/2 frame reader: every frame type, every split of the
// input, every rule it checks, padding, header blocks, truncation.

#include <boost/test/unit_test.hpp>

#include "frame_bytes.hpp"
#include "http/h2/frame.hpp"
#include "http/h2/frame_reader.hpp"
#include "keyless/core/error.hpp"
#include "split_input.hpp"

#include <algorithm>
#include <cstddef>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/core.h>

namespace h2 = keyless::http::h2;
using h2_test::bytes;
using h2_test::empty_settings;
using h2_test::header;
using h2_test::u16;
using h2_test::u32;
using h2_test::wire_frame;
using keyless::testing::every_offset;
using keyless::testing::random_cuts;
using keyless::testing::split_at;

namespace {

// Frame type and flag numbers as RFC 9113 gives them, for hand-made frames.
constexpr unsigned data = 0x0, headers = 0x1, priority = 0x2, rst_stream = 0x3, settings = 0x4,
                   push_promise = 0x5, ping = 0x6, goaway = 0x7, window_update = 0x8,
                   continuation = 0x9;
constexpr unsigned end_stream = 0x1, ack = 0x1, end_headers = 0x4, padded = 0x8,
                   priority_flag = 0x20;

// One event, copied out of the reader (its views die at the next feed).
struct event {
  h2::read_event kind = h2::read_event::need_more;
  h2::frame_header header;
  std::string payload;
  std::uint32_t promised = 0;
  h2::error_code stream_error = h2::error_code::no_error;
  std::string message;
};

std::string hex(std::string_view s) {
  std::string out;
  for (char c : s) out += fmt::format("{:02x}", static_cast<unsigned char>(c));
  return out;
}

std::string describe(const event& e) {
  if (e.kind == h2::read_event::stream_error) {
    return fmt::format("stream_error {} stream={} {}: {}", h2::to_string(e.header.type),
                       e.header.stream_id, h2::to_string(e.stream_error), e.message);
  }
  return fmt::format("{} flags={:#04x} stream={} length={} promised={} payload={}",
                     h2::to_string(e.header.type), e.header.flags, e.header.stream_id,
                     e.header.length, e.promised, hex(e.payload));
}

// Everything a read produced: the events, then the connection error if one
// was thrown.
struct outcome {
  std::vector<event> events;
  std::string error;  // the message; empty without an error
  h2::error_code h2_code = h2::error_code::no_error;
  keyless::errc code{};
  bool between_frames = false;
  bool misbehaved = false;  // an event without progress, or need_more leaving input

  std::string text() const {
    std::string out;
    for (const auto& e : events) out += describe(e) + "\n";
    if (!error.empty()) out += fmt::format("error {}: {}\n", h2::to_string(h2_code), error);
    return out;
  }
};

h2::reader_options assembling(bool assemble) {
  h2::reader_options options;
  options.assemble_header_blocks = assemble;
  return options;
}

// Feeds `pieces` in order, as reads from a socket would deliver them.
outcome run(const std::vector<std::string_view>& pieces, h2::reader_options options = {}) {
  outcome o;
  h2::frame_reader reader(options);
  try {
    for (std::string_view rest : pieces) {
      for (;;) {
        h2::read_result r = reader.feed(rest);
        bool done = r.event == h2::read_event::need_more;
        if (r.consumed > rest.size() || (done ? r.consumed != rest.size() : r.consumed == 0)) {
          o.misbehaved = true;
          return o;
        }
        rest.remove_prefix(r.consumed);
        if (done) break;
        o.events.push_back({r.event, r.header, std::string(r.payload), r.promised_stream_id,
                            r.stream_error, std::string(r.message)});
      }
    }
    o.between_frames = reader.between_frames();
  } catch (const h2::connection_error& e) {
    o.error = e.message();
    o.h2_code = e.h2_code();
    o.code = static_cast<keyless::errc>(e.code().value());
  }
  return o;
}

outcome run_whole(std::string_view text, h2::reader_options options = {}) {
  return run({text}, options);
}

// Checks that every way of cutting `text` gives what reading it whole gives:
// every two-way split, one byte at a time, and random cuts.
void check_every_split(std::string_view text, h2::reader_options options) {
  const std::string expected = run_whole(text, options).text();
  std::size_t mismatches = 0;
  std::size_t first_bad = 0;
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    outcome o = run(split_at(text, {cut}), options);
    if ((o.misbehaved || o.text() != expected) && mismatches++ == 0) first_bad = cut;
  }
  BOOST_TEST(mismatches == 0u, "first differing split at offset " << first_bad);

  outcome bytewise = run(split_at(text, every_offset(text.size())), options);
  BOOST_TEST(!bytewise.misbehaved);
  BOOST_TEST(bytewise.text() == expected);

  std::mt19937 rng(9113);  // fixed seed: a failure reproduces
  for (int round = 0; round < 100; ++round) {
    outcome o = run(split_at(text, random_cuts(rng, text.size())), options);
    if (o.misbehaved || o.text() != expected) {
      BOOST_TEST(o.text() == expected);
      break;
    }
  }
}

// A server's side of a connection with one of everything, padding,
// a split header block, unknown types and two stream errors.
std::string server_stream() {
  std::string s;
  const std::vector<h2::setting> list{
      h2::make_setting(h2::setting_id::header_table_size, 8192),
      h2::make_setting(h2::setting_id::max_concurrent_streams, 100),
      h2::make_setting(h2::setting_id::initial_window_size, 1 << 20),
      h2::make_setting(h2::setting_id::max_frame_size, 16384),
      {0x99, 1},
  };
  h2::write_settings(s, list);
  h2::write_settings_ack(s);
  // HEADERS with padding and priority fields, then two CONTINUATION frames.
  s += wire_frame(headers, padded | priority_flag, 1,
                  bytes({3}) + u32(0x80000000) + bytes({15}) + "frag1" + bytes({0, 0, 0}));
  s += wire_frame(continuation, 0, 1, "frag2");
  s += wire_frame(continuation, end_headers, 1, "frag3");
  s += wire_frame(data, padded, 1, bytes({4}) + "body" + bytes({0, 0, 0, 0}));
  h2::write_window_update(s, 0, 1000);
  h2::write_window_update(s, 1, 5);
  h2::write_ping(s, 42);
  h2::write_ping(s, 42, true);
  s += wire_frame(priority, 0, 3, u32(1) + bytes({200}));
  s += wire_frame(0x0b, 0xff, 0, "ext");  // unknown types
  s += wire_frame(0xfa, 0, 5);
  h2::write_rst_stream(s, 3, h2::error_code::cancel);
  s +=
      wire_frame(push_promise, padded | end_headers, 1, bytes({2}) + u32(2) + "pp" + bytes({0, 0}));
  s += wire_frame(window_update, 0, 5, u32(0));  // a stream error
  s += wire_frame(priority, 0, 7, u32(1));       // a stream error
  h2::write_data(s, 1, "", true);
  h2::write_goaway(s, 1, h2::error_code::no_error, "bye");
  return s;
}

// Offsets in `text` where the reader is between frames (not inside a frame,
// not inside a header block).
std::vector<std::size_t> frame_boundaries(std::string_view text) {
  std::vector<std::size_t> out{0};
  bool in_block = false;
  for (std::size_t at = 0; at + 9 <= text.size();) {
    h2::frame_header h = h2::read_frame_header(text.substr(at));
    at += 9 + h.length;
    bool block_frame = h.type == h2::frame_type::headers ||
                       h.type == h2::frame_type::push_promise ||
                       h.type == h2::frame_type::continuation;
    if (block_frame) in_block = !h.has(h2::flag::end_headers);
    if (!in_block) out.push_back(at);
  }
  return out;
}

// The error a complete input produces, checked to be the same in every split.
outcome error_of(std::string_view text, h2::reader_options options = {}) {
  outcome o = run_whole(text, options);
  BOOST_TEST(!o.error.empty(), "no error for " << hex(text.substr(0, 40)));
  check_every_split(text, options);
  return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(frame)

// --- every frame type ---

BOOST_AUTO_TEST_CASE(every_frame_type_reads_back_what_the_writers_wrote) {
  std::string s;
  const std::vector<h2::setting> list{h2::make_setting(h2::setting_id::max_frame_size, 20000),
                                      {0x1234, 7}};
  h2::write_settings(s, list);
  h2::write_settings_ack(s);
  h2::write_headers(s, 1, "block", false, 16384);
  h2::write_data(s, 1, "hello", true);
  h2::write_window_update(s, 0, 65536);
  h2::write_rst_stream(s, 1, h2::error_code::stream_closed);
  h2::write_ping(s, 0x0102030405060708, true);
  h2::write_goaway(s, 1, h2::error_code::enhance_your_calm, "calm");
  h2::write_frame(s, {0, h2::frame_type::priority, 0, 3}, u32(1) + bytes({16}));
  h2::write_frame(s, {0, h2::frame_type::push_promise, h2::flag::end_headers, 1}, u32(4) + "pp");

  outcome o = run_whole(s);
  BOOST_TEST_REQUIRE(o.error.empty(), o.error);
  BOOST_TEST_REQUIRE(o.events.size() == 10u, o.text());
  BOOST_TEST(o.between_frames);
  for (const auto& e : o.events) BOOST_TEST((e.kind == h2::read_event::frame));

  std::vector<h2::setting> seen;
  h2::for_each_setting(o.events[0].payload, [&](h2::setting x) { seen.push_back(x); });
  BOOST_TEST((seen == list));
  BOOST_TEST((o.events[1].header == h2::frame_header{0, h2::frame_type::settings, 0x1, 0}));
  BOOST_TEST((o.events[2].header == h2::frame_header{5, h2::frame_type::headers, 0x4, 1}));
  BOOST_TEST(o.events[2].payload == "block");
  BOOST_TEST((o.events[3].header == h2::frame_header{5, h2::frame_type::data, 0x1, 1}));
  BOOST_TEST(o.events[3].payload == "hello");
  BOOST_TEST(h2::read_window_increment(o.events[4].payload) == 65536u);
  BOOST_TEST(o.events[4].header.stream_id == 0u);
  BOOST_TEST((h2::read_rst_stream(o.events[5].payload) == h2::error_code::stream_closed));
  BOOST_TEST(h2::read_ping(o.events[6].payload) == 0x0102030405060708u);
  BOOST_TEST(o.events[6].header.has(h2::flag::ack));
  auto g = h2::read_goaway(o.events[7].payload);
  BOOST_TEST(g.last_stream_id == 1u);
  BOOST_TEST((g.code == h2::error_code::enhance_your_calm));
  BOOST_TEST(g.debug_data == "calm");
  BOOST_TEST((o.events[8].header == h2::frame_header{5, h2::frame_type::priority, 0, 3}));
  BOOST_TEST(o.events[9].promised == 4u);
  BOOST_TEST(o.events[9].payload == "pp");
}

BOOST_AUTO_TEST_CASE(a_stream_of_many_frames_reads_the_same_in_every_split) {
  const std::string s = server_stream();
  for (bool assemble : {true, false}) {
    BOOST_TEST_CONTEXT("assemble " << assemble) {
      outcome o = run_whole(s, assembling(assemble));
      BOOST_TEST(o.error.empty(), o.error);
      BOOST_TEST(o.between_frames);
      BOOST_TEST(o.events.size() == (assemble ? 15u : 17u), o.text());
      check_every_split(s, assembling(assemble));
    }
  }
}

BOOST_AUTO_TEST_CASE(the_many_frames_read_as_expected) {
  outcome o = run_whole(server_stream());
  const std::string expected =
      "SETTINGS flags=0x00 stream=0 length=30 promised=0 "
      "payload=000100002000000300000064000400100000000500004000009900000001\n"
      "SETTINGS flags=0x01 stream=0 length=0 promised=0 payload=\n"
      "HEADERS flags=0x2c stream=1 length=14 promised=0 payload=" +
      hex("frag1frag2frag3") +
      "\n"
      "DATA flags=0x08 stream=1 length=9 promised=0 payload=" +
      hex("body") +
      "\n"
      "WINDOW_UPDATE flags=0x00 stream=0 length=4 promised=0 payload=000003e8\n"
      "WINDOW_UPDATE flags=0x00 stream=1 length=4 promised=0 payload=00000005\n"
      "PING flags=0x00 stream=0 length=8 promised=0 payload=000000000000002a\n"
      "PING flags=0x01 stream=0 length=8 promised=0 payload=000000000000002a\n"
      "PRIORITY flags=0x00 stream=3 length=5 promised=0 payload=00000001c8\n"
      "RST_STREAM flags=0x00 stream=3 length=4 promised=0 payload=00000008\n"
      "PUSH_PROMISE flags=0x0c stream=1 length=9 promised=2 payload=" +
      hex("pp") +
      "\n"
      "stream_error WINDOW_UPDATE stream=5 PROTOCOL_ERROR: HTTP/2: WINDOW_UPDATE of 0 on stream 5\n"
      "stream_error PRIORITY stream=7 FRAME_SIZE_ERROR: HTTP/2: PRIORITY frame with a 4-byte "
      "payload (must be 5)\n"
      "DATA flags=0x01 stream=1 length=0 promised=0 payload=\n"
      "GOAWAY flags=0x00 stream=0 length=11 promised=0 payload=0000000100000000" +
      hex("bye") + "\n";
  BOOST_TEST(o.text() == expected);
}

BOOST_AUTO_TEST_CASE(a_truncated_stream_never_yields_a_frame_that_was_not_sent) {
  const std::string s = server_stream();
  for (bool assemble : {true, false}) {
    BOOST_TEST_CONTEXT("assemble " << assemble) {
      const outcome full = run_whole(s, assembling(assemble));
      const auto boundaries = frame_boundaries(s);
      std::size_t bad_prefix = 0, bad_boundary = 0;
      for (std::size_t n = 0; n <= s.size(); ++n) {
        outcome o = run_whole(std::string_view(s).substr(0, n), assembling(assemble));
        bool prefix = o.error.empty() && !o.misbehaved && o.events.size() <= full.events.size();
        for (std::size_t i = 0; prefix && i < o.events.size(); ++i) {
          prefix = describe(o.events[i]) == describe(full.events[i]);
        }
        if (!prefix && bad_prefix++ == 0) BOOST_TEST_MESSAGE("first bad prefix " << n);
        bool at_boundary = std::find(boundaries.begin(), boundaries.end(), n) != boundaries.end();
        if (o.between_frames != at_boundary) ++bad_boundary;
      }
      BOOST_TEST(bad_prefix == 0u);
      BOOST_TEST(bad_boundary == 0u);
    }
  }
}

// --- header blocks ---

BOOST_AUTO_TEST_CASE(header_block_fragments_are_assembled_into_one_event) {
  std::string s = empty_settings() + wire_frame(headers, end_stream, 3, "ab") +
                  wire_frame(continuation, 0, 3, "") + wire_frame(continuation, 0, 3, "cd") +
                  wire_frame(continuation, end_headers, 3, "e");
  outcome o = run_whole(s);
  BOOST_TEST_REQUIRE(o.events.size() == 2u, o.text());
  const event& e = o.events[1];
  BOOST_TEST((e.header.type == h2::frame_type::headers));
  BOOST_TEST(e.header.stream_id == 3u);
  BOOST_TEST(e.header.has(h2::flag::end_stream));
  BOOST_TEST(e.header.has(h2::flag::end_headers));
  BOOST_TEST(e.header.length == 2u);  // the HEADERS frame's own
  BOOST_TEST(e.payload == "abcde");
  BOOST_TEST(o.between_frames);
}

BOOST_AUTO_TEST_CASE(without_assembly_each_fragment_arrives_as_its_frame_does) {
  std::string s = empty_settings() + wire_frame(headers, end_stream, 3, "ab") +
                  wire_frame(continuation, 0, 3, "cd") +
                  wire_frame(continuation, end_headers, 3, "e");
  outcome o = run_whole(s, assembling(false));
  BOOST_TEST_REQUIRE(o.events.size() == 4u, o.text());
  BOOST_TEST((o.events[1].header == h2::frame_header{2, h2::frame_type::headers, end_stream, 3}));
  BOOST_TEST(o.events[1].payload == "ab");
  BOOST_TEST((o.events[2].header == h2::frame_header{2, h2::frame_type::continuation, 0, 3}));
  BOOST_TEST(o.events[2].payload == "cd");
  BOOST_TEST(o.events[3].header.has(h2::flag::end_headers));
  BOOST_TEST(o.events[3].payload == "e");
}

BOOST_AUTO_TEST_CASE(push_promise_blocks_are_assembled_with_their_promised_stream) {
  std::string s = empty_settings() + wire_frame(push_promise, 0, 1, u32(0x80000006) + "ab") +
                  wire_frame(continuation, end_headers, 1, "cd");
  outcome o = run_whole(s);
  BOOST_TEST_REQUIRE(o.events.size() == 2u, o.text());
  BOOST_TEST((o.events[1].header.type == h2::frame_type::push_promise));
  BOOST_TEST(o.events[1].promised == 6u);
  BOOST_TEST(o.events[1].payload == "abcd");
}

BOOST_AUTO_TEST_CASE(a_header_block_over_the_limit_ends_the_connection_naming_the_limit) {
  h2::reader_options options;
  options.max_header_block = 10;
  const std::string limit_message =
      "HTTP/2: header block on stream 1 is over the limit of 10 bytes";
  for (const std::string& s :
       {empty_settings() + wire_frame(headers, end_headers, 1, "01234567890"),
        empty_settings() + wire_frame(headers, 0, 1, "012345") +
            wire_frame(continuation, end_headers, 1, "67890")}) {
    outcome o = error_of(s, options);
    BOOST_TEST(o.error == limit_message);
    BOOST_TEST((o.h2_code == h2::error_code::enhance_your_calm));
    BOOST_TEST((o.code == keyless::errc::limit_exceeded));
  }
  // Exactly the limit passes; padding does not count.
  outcome ok = run_whole(empty_settings() +
                             wire_frame(headers, padded, 1, bytes({2}) + "01234" + bytes({0, 0})) +
                             wire_frame(continuation, end_headers, 1, "56789"),
                         options);
  BOOST_TEST(ok.error.empty(), ok.error);
  BOOST_TEST_REQUIRE(ok.events.size() == 2u);
  BOOST_TEST(ok.events[1].payload == "0123456789");
}

// --- padding ---

BOOST_AUTO_TEST_CASE(padding_and_priority_fields_are_stripped) {
  std::string s =
      empty_settings() + wire_frame(data, padded, 1, bytes({0}) + "abc") +
      wire_frame(data, padded, 1, bytes({3}) + "abc" + bytes({0, 0, 0})) +
      wire_frame(data, padded | end_stream, 1, bytes({3, 0, 0, 0})) +
      wire_frame(headers, priority_flag | end_headers, 3, u32(1) + bytes({7}) + "hb") +
      wire_frame(headers, padded | priority_flag | end_headers, 5,
                 bytes({1}) + u32(3) + bytes({7}) + "hb" + bytes({0})) +
      wire_frame(push_promise, padded | end_headers, 1, bytes({2}) + u32(8) + "pp" + bytes({0, 0}));
  for (bool assemble : {true, false}) {
    outcome o = run_whole(s, assembling(assemble));
    BOOST_TEST_REQUIRE(o.events.size() == 7u, o.text());
    BOOST_TEST(o.events[1].payload == "abc");
    BOOST_TEST(o.events[2].payload == "abc");
    BOOST_TEST(o.events[2].header.length == 7u);  // flow control counts the padding
    BOOST_TEST(o.events[3].payload == "");
    BOOST_TEST(o.events[3].header.length == 4u);
    BOOST_TEST(o.events[4].payload == "hb");
    BOOST_TEST(o.events[5].payload == "hb");
    BOOST_TEST(o.events[6].payload == "pp");
    BOOST_TEST(o.events[6].promised == 8u);
  }
}

BOOST_AUTO_TEST_CASE(the_padded_flag_means_nothing_on_other_types) {
  // 0x8 on PING or SETTINGS is an unused flag, to be ignored.
  std::string s = empty_settings() + wire_frame(ping, padded, 0, "12345678");
  outcome o = run_whole(s);
  BOOST_TEST_REQUIRE(o.events.size() == 2u, o.text());
  BOOST_TEST(o.events[1].payload == "12345678");
}

// --- unknown types, sizes, zero copy ---

BOOST_AUTO_TEST_CASE(unknown_frame_types_are_skipped) {
  std::string s =
      empty_settings() + wire_frame(0x0a, 0, 0) + wire_frame(0x0b, 0xff, 3, "anything") +
      wire_frame(0xff, 0, 0x7fffffff, std::string(16384, 'x')) + wire_frame(ping, 0, 0, "PINGPING");
  outcome o = run_whole(s);
  BOOST_TEST_REQUIRE(o.events.size() == 2u, o.text());
  BOOST_TEST((o.events[1].header.type == h2::frame_type::ping));
  BOOST_TEST(o.between_frames);
  check_every_split(
      empty_settings() + wire_frame(0x0b, 0xff, 3, "anything") + wire_frame(ping, 0, 0, "PINGPING"),
      {});
}

BOOST_AUTO_TEST_CASE(frames_over_our_max_frame_size_fail_on_their_header) {
  // Only the header is there: the reader does not wait for 16385 bytes.
  outcome o = error_of(empty_settings() + header(16385, data, 0, 1));
  BOOST_TEST((o.h2_code == h2::error_code::frame_size_error));
  BOOST_TEST(o.error ==
             "HTTP/2: DATA frame of 16385 bytes is over our maximum frame size of 16384");
  outcome unknown = error_of(empty_settings() + header(0xffffff, 0x0b, 0, 0));
  BOOST_TEST(unknown.error ==
             "HTTP/2: unknown (type 0x0b) frame of 16777215 bytes is over our maximum frame size "
             "of 16384");

  h2::reader_options larger;
  larger.max_frame_size = 20000;
  outcome ok =
      run_whole(empty_settings() + wire_frame(data, 0, 1, std::string(20000, 'd')), larger);
  BOOST_TEST(ok.error.empty(), ok.error);
  BOOST_TEST_REQUIRE(ok.events.size() == 2u);
  BOOST_TEST(ok.events[1].payload.size() == 20000u);
  outcome over = run_whole(empty_settings() + header(20001, data, 0, 1), larger);
  BOOST_TEST((over.h2_code == h2::error_code::frame_size_error));
}

BOOST_AUTO_TEST_CASE(reader_options_out_of_range_are_rejected) {
  for (std::uint32_t size : {16383u, 16777216u}) {
    h2::reader_options options;
    options.max_frame_size = size;
    BOOST_CHECK_EXCEPTION(h2::frame_reader{options}, keyless::error, [](const keyless::error& e) {
      return e.code() == keyless::errc::invalid_argument;
    });
  }
}

BOOST_AUTO_TEST_CASE(a_whole_frame_in_the_input_is_not_copied) {
  std::string s = empty_settings() + wire_frame(data, 0, 1, "in place");
  h2::frame_reader reader;
  std::string_view rest = s;
  auto first = reader.feed(rest);
  rest.remove_prefix(first.consumed);
  auto second = reader.feed(rest);
  BOOST_TEST((second.event == h2::read_event::frame));
  BOOST_TEST(second.payload == "in place");
  BOOST_TEST((second.payload.data() == s.data() + s.size() - 8));
  BOOST_TEST(second.consumed == rest.size());
}

// --- connection errors: each rule, its code and its message ---

BOOST_AUTO_TEST_CASE(each_rule_broken_gives_its_code_and_names_the_problem) {
  struct bad_case {
    std::string input;
    h2::error_code code;
    std::string message;
  };
  const auto size_error = h2::error_code::frame_size_error;
  const auto protocol = h2::error_code::protocol_error;
  const std::string p = empty_settings();
  const std::string only_continuation =
      " inside the header block of stream 1 (only CONTINUATION frames of that stream may come "
      "until END_HEADERS)";
  const std::string open_block = p + wire_frame(headers, 0, 1, "ab");
  const std::vector<bad_case> cases{
      // Fixed-size frames with the wrong size.
      {p + wire_frame(ping, 0, 0, "1234567"), size_error,
       "HTTP/2: PING frame with a 7-byte payload (must be 8)"},
      {p + wire_frame(ping, ack, 0, "123456789"), size_error,
       "HTTP/2: PING frame with a 9-byte payload (must be 8)"},
      {p + wire_frame(window_update, 0, 1, "123"), size_error,
       "HTTP/2: WINDOW_UPDATE frame with a 3-byte payload (must be 4)"},
      {p + wire_frame(rst_stream, 0, 1, "12345"), size_error,
       "HTTP/2: RST_STREAM frame with a 5-byte payload (must be 4)"},
      {p + wire_frame(settings, 0, 0, "1234567"), size_error,
       "HTTP/2: SETTINGS frame with a 7-byte payload (must be a multiple of 6)"},
      {p + wire_frame(settings, ack, 0, u16(1) + u32(1)), size_error,
       "HTTP/2: SETTINGS ACK frame with a 6-byte payload (must be empty)"},
      {p + wire_frame(goaway, 0, 0, "1234567"), size_error,
       "HTTP/2: GOAWAY frame with a 7-byte payload (must be at least 8)"},
      // Too short for what the flags announce.
      {p + wire_frame(data, padded, 1), size_error,
       "HTTP/2: DATA frame with a 0-byte payload, too short for its 1-byte pad length"},
      {p + wire_frame(headers, priority_flag | end_headers, 1, "1234"), size_error,
       "HTTP/2: HEADERS frame with a 4-byte payload, too short for its 5-byte priority fields"},
      {p + wire_frame(headers, padded | priority_flag | end_headers, 1, "12345"), size_error,
       "HTTP/2: HEADERS frame with a 5-byte payload, too short for its 6-byte pad length and "
       "priority fields"},
      {p + wire_frame(push_promise, end_headers, 1, "123"), size_error,
       "HTTP/2: PUSH_PROMISE frame with a 3-byte payload, too short for its 4-byte promised "
       "stream id"},
      // Stream 0 only, or never stream 0.
      {p + wire_frame(settings, 0, 1), protocol,
       "HTTP/2: SETTINGS frame on stream 1 (must be on stream 0)"},
      {p + wire_frame(ping, 0, 3, "12345678"), protocol,
       "HTTP/2: PING frame on stream 3 (must be on stream 0)"},
      {p + wire_frame(goaway, 0, 1, u32(0) + u32(0)), protocol,
       "HTTP/2: GOAWAY frame on stream 1 (must be on stream 0)"},
      {p + wire_frame(data, 0, 0, "x"), protocol, "HTTP/2: DATA frame on stream 0"},
      {p + wire_frame(headers, end_headers, 0, "x"), protocol, "HTTP/2: HEADERS frame on stream 0"},
      {p + wire_frame(priority, 0, 0, "12345"), protocol, "HTTP/2: PRIORITY frame on stream 0"},
      {p + wire_frame(rst_stream, 0, 0, u32(0)), protocol, "HTTP/2: RST_STREAM frame on stream 0"},
      {p + wire_frame(push_promise, end_headers, 0, u32(2)), protocol,
       "HTTP/2: PUSH_PROMISE frame on stream 0"},
      // Padding longer than what follows the pad length.
      {p + wire_frame(data, padded, 1, bytes({5}) + "1234"), protocol,
       "HTTP/2: DATA frame on stream 1 with a pad length of 5 in a 5-byte payload"},
      {p + wire_frame(data, padded, 1, bytes({255})), protocol,
       "HTTP/2: DATA frame on stream 1 with a pad length of 255 in a 1-byte payload"},
      {p + wire_frame(headers, padded | priority_flag | end_headers, 1, bytes({2}) + "123456"),
       protocol, "HTTP/2: HEADERS frame on stream 1 with a pad length of 2 in a 7-byte payload"},
      {p + wire_frame(push_promise, padded | end_headers, 1, bytes({1}) + u32(2)), protocol,
       "HTTP/2: PUSH_PROMISE frame on stream 1 with a pad length of 1 in a 5-byte payload"},
      // The CONTINUATION sequence.
      {p + wire_frame(continuation, end_headers, 1, "x"), protocol,
       "HTTP/2: CONTINUATION frame on stream 1 without an open header block"},
      {open_block + wire_frame(data, 0, 1, "x"), protocol,
       "HTTP/2: DATA frame on stream 1" + only_continuation},
      {open_block + wire_frame(continuation, end_headers, 3, "x"), protocol,
       "HTTP/2: CONTINUATION frame on stream 3" + only_continuation},
      {open_block + wire_frame(headers, end_headers, 1, "x"), protocol,
       "HTTP/2: HEADERS frame on stream 1" + only_continuation},
      {open_block + wire_frame(0x0b, 0, 0), protocol,
       "HTTP/2: unknown (type 0x0b) frame on stream 0" + only_continuation},
      {open_block + wire_frame(continuation, 0, 1) + wire_frame(ping, 0, 0, "12345678"), protocol,
       "HTTP/2: PING frame on stream 0" + only_continuation},
      {p + wire_frame(push_promise, 0, 1, u32(2)) + wire_frame(window_update, 0, 0, u32(1)),
       protocol, "HTTP/2: WINDOW_UPDATE frame on stream 0" + only_continuation},
      // SETTINGS values.
      {p + wire_frame(settings, 0, 0, u16(2) + u32(2)), protocol,
       "HTTP/2: SETTINGS_ENABLE_PUSH = 2 (must be 0 or 1)"},
      {p + wire_frame(settings, 0, 0, u16(2) + u32(1)), protocol,
       "HTTP/2: server sent SETTINGS_ENABLE_PUSH = 1 (only clients may)"},
      {p + wire_frame(settings, 0, 0, u16(4) + u32(0x80000000)), h2::error_code::flow_control_error,
       "HTTP/2: SETTINGS_INITIAL_WINDOW_SIZE = 2147483648 (over 2^31-1)"},
      {p + wire_frame(settings, 0, 0, u16(0x99) + u32(1) + u16(5) + u32(16383)), protocol,
       "HTTP/2: SETTINGS_MAX_FRAME_SIZE = 16383 (must be in [16384, 16777215])"},
      {p + wire_frame(settings, 0, 0, u16(5) + u32(16777216)), protocol,
       "HTTP/2: SETTINGS_MAX_FRAME_SIZE = 16777216 (must be in [16384, 16777215])"},
      // WINDOW_UPDATE of 0 on the connection (the reserved bit does not count).
      {p + wire_frame(window_update, 0, 0, u32(0)), protocol,
       "HTTP/2: WINDOW_UPDATE of 0 on stream 0"},
      {p + wire_frame(window_update, 0, 0, u32(0x80000000)), protocol,
       "HTTP/2: WINDOW_UPDATE of 0 on stream 0"},
      // The server preface.
      {wire_frame(ping, 0, 0, "12345678"), protocol,
       "HTTP/2: the server's first frame is PING, not SETTINGS"},
      {wire_frame(settings, ack, 0), protocol,
       "HTTP/2: the server's first frame is SETTINGS ACK, not SETTINGS"},
      {wire_frame(0x0b, 0, 0), protocol,
       "HTTP/2: the server's first frame is unknown (type 0x0b), not SETTINGS"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("expected " << c.message) {
      outcome o = error_of(c.input);
      BOOST_TEST(o.error == c.message);
      BOOST_TEST((o.h2_code == c.code));
      BOOST_TEST((o.code == keyless::errc::malformed_response));
    }
  }
}

BOOST_AUTO_TEST_CASE(frames_before_the_error_are_still_reported) {
  outcome o =
      error_of(empty_settings() + wire_frame(data, 0, 1, "ok") + wire_frame(ping, 0, 0, "short"));
  BOOST_TEST(o.events.size() == 2u, o.text());
}

BOOST_AUTO_TEST_CASE(the_server_preface_check_can_be_turned_off) {
  h2::reader_options options;
  options.expect_server_preface = false;
  outcome o = run_whole(wire_frame(ping, 0, 0, "12345678"), options);
  BOOST_TEST(o.error.empty(), o.error);
  BOOST_TEST(o.events.size() == 1u);
}

BOOST_AUTO_TEST_CASE(after_a_connection_error_the_reader_stays_failed) {
  h2::frame_reader reader;
  std::string bad = wire_frame(ping, 0, 0, "12345678");
  std::string first, second;
  try {
    reader.feed(bad);
  } catch (const h2::connection_error& e) {
    first = e.message();
  }
  try {
    reader.feed(empty_settings());
  } catch (const h2::connection_error& e) {
    second = e.message();
    BOOST_TEST((e.h2_code() == h2::error_code::protocol_error));
  }
  BOOST_TEST(!first.empty());
  BOOST_TEST(second == first);
}

// --- stream errors: the stream ends, the connection goes on ---

BOOST_AUTO_TEST_CASE(stream_errors_are_events_and_reading_goes_on) {
  std::string s = empty_settings() + wire_frame(window_update, 0, 3, u32(0)) +
                  wire_frame(priority, 0, 5, "1234") +
                  wire_frame(priority, 0, 7, std::string(300, 'p')) +
                  wire_frame(data, 0, 1, "after");
  outcome o = run_whole(s);
  BOOST_TEST_REQUIRE(o.events.size() == 5u, o.text());
  const event& zero = o.events[1];
  BOOST_TEST((zero.kind == h2::read_event::stream_error));
  BOOST_TEST(zero.header.stream_id == 3u);
  BOOST_TEST((zero.stream_error == h2::error_code::protocol_error));
  BOOST_TEST(zero.message == "HTTP/2: WINDOW_UPDATE of 0 on stream 3");
  const event& short_priority = o.events[2];
  BOOST_TEST((short_priority.kind == h2::read_event::stream_error));
  BOOST_TEST(short_priority.header.stream_id == 5u);
  BOOST_TEST((short_priority.stream_error == h2::error_code::frame_size_error));
  BOOST_TEST(short_priority.message == "HTTP/2: PRIORITY frame with a 4-byte payload (must be 5)");
  BOOST_TEST(o.events[3].message == "HTTP/2: PRIORITY frame with a 300-byte payload (must be 5)");
  BOOST_TEST(o.events[4].payload == "after");
  check_every_split(s, {});
}

BOOST_AUTO_TEST_SUITE_END()
