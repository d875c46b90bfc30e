// The HTTP/2 frame vocabulary: writers (checked against bytes spelled out
// from the RFC 9113 layouts), the frame header, payload readers and settings.

#include <boost/test/unit_test.hpp>

#include "frame_bytes.hpp"
#include "http/h2/frame.hpp"
#include "http/h2/settings.hpp"
#include "keyless/core/error.hpp"

#include <functional>
#include <string>
#include <vector>

namespace h2 = keyless::http::h2;
using h2_test::bytes;
using h2_test::header;
using h2_test::u16;
using h2_test::u32;

namespace {

// Runs `write` on a buffer that already holds text and checks it throws
// invalid_argument and leaves the buffer alone.
void check_rejected(const std::function<void(std::string&)>& write) {
  std::string out = "kept";
  try {
    write(out);
    BOOST_ERROR("no exception");
  } catch (const keyless::error& e) {
    BOOST_TEST((e.code() == keyless::errc::invalid_argument), e.what());
    BOOST_TEST(e.message().rfind("HTTP/2: ", 0) == 0u, e.message());
  }
  BOOST_TEST(out == "kept");
}

// The h2 code and message of the connection_error `fn` throws.
std::pair<h2::error_code, std::string> connection_error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const h2::connection_error& e) {
    BOOST_TEST((e.code() == keyless::errc::malformed_response));
    return {e.h2_code(), e.message()};
  }
  BOOST_ERROR("no connection_error");
  return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(frame)

// --- constants and names ---

BOOST_AUTO_TEST_CASE(client_preface_is_the_rfc_string) {
  BOOST_TEST(h2::client_preface.size() == 24u);
  BOOST_TEST(h2::client_preface ==
             bytes({0x50, 0x52, 0x49, 0x20, 0x2a, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x32,
                    0x2e, 0x30, 0x0d, 0x0a, 0x0d, 0x0a, 0x53, 0x4d, 0x0d, 0x0a, 0x0d, 0x0a}));
}

BOOST_AUTO_TEST_CASE(types_and_error_codes_have_their_rfc_numbers_and_names) {
  BOOST_TEST(static_cast<int>(h2::frame_type::continuation) == 9);
  BOOST_TEST(static_cast<int>(h2::error_code::http_1_1_required) == 0xd);
  BOOST_TEST(h2::to_string(h2::frame_type::window_update) == "WINDOW_UPDATE");
  BOOST_TEST(h2::to_string(static_cast<h2::frame_type>(0x0a)) == "unknown");
  BOOST_TEST(!h2::is_known(static_cast<h2::frame_type>(0x0a)));
  BOOST_TEST(h2::to_string(h2::error_code::enhance_your_calm) == "ENHANCE_YOUR_CALM");
  BOOST_TEST(h2::to_string(h2::error_code::http_1_1_required) == "HTTP_1_1_REQUIRED");
  BOOST_TEST(h2::to_string(static_cast<h2::error_code>(0xe)) == "unknown error code");
}

// --- the frame header ---

BOOST_AUTO_TEST_CASE(frame_header_reads_every_field_and_drops_the_reserved_bit) {
  auto h = h2::read_frame_header(bytes({0xab, 0xcd, 0xef, 0x01, 0x25, 0xff, 0xff, 0xff, 0xff}));
  BOOST_TEST(h.length == 0xabcdefu);
  BOOST_TEST((h.type == h2::frame_type::headers));
  BOOST_TEST(h.flags == 0x25);
  BOOST_TEST(h.has(h2::flag::end_headers));
  BOOST_TEST(!h.has(h2::flag::padded));
  BOOST_TEST(h.stream_id == 0x7fffffffu);
}

BOOST_AUTO_TEST_CASE(write_frame_writes_header_and_payload_as_given) {
  std::string out;
  h2::write_frame(out, {999, h2::frame_type::priority, 0x0, 3}, bytes({0x80, 0, 0, 1, 15}));
  BOOST_TEST(out == header(5, 0x2, 0x0, 3) + bytes({0x80, 0, 0, 1, 15}));
  out.clear();
  h2::write_frame(out, {0, static_cast<h2::frame_type>(0xfa), 0xff, 0}, "");
  BOOST_TEST(out == header(0, 0xfa, 0xff, 0));
}

// --- writers, byte for byte ---

BOOST_AUTO_TEST_CASE(settings_writer) {
  std::string out = "x";  // writers append
  const std::vector<h2::setting> list{
      h2::make_setting(h2::setting_id::enable_push, 0),
      h2::make_setting(h2::setting_id::initial_window_size, 0x7fffffff),
      {0xabcd, 0x01020304},
  };
  h2::write_settings(out, list);
  BOOST_TEST(out == "x" + header(18, 0x4, 0x0, 0) + u16(2) + u32(0) + u16(4) + u32(0x7fffffff) +
                        u16(0xabcd) + u32(0x01020304));
  out.clear();
  h2::write_settings(out, {});
  BOOST_TEST(out == header(0, 0x4, 0x0, 0));
}

BOOST_AUTO_TEST_CASE(settings_ack_writer) {
  std::string out;
  h2::write_settings_ack(out);
  BOOST_TEST(out == header(0, 0x4, 0x1, 0));
}

BOOST_AUTO_TEST_CASE(headers_writer_single_frame) {
  std::string out;
  h2::write_headers(out, 1, "\x82\x86", true, h2::default_max_frame_size);
  BOOST_TEST(out == header(2, 0x1, 0x5, 1) + "\x82\x86");
  out.clear();
  h2::write_headers(out, 0x7fffffff, "", false, h2::default_max_frame_size);
  BOOST_TEST(out == header(0, 0x1, 0x4, 0x7fffffff));
}

BOOST_AUTO_TEST_CASE(headers_writer_block_of_exactly_max_frame_size_is_one_frame) {
  std::string block(16384, 'a');
  std::string out;
  h2::write_headers(out, 3, block, false, 16384);
  BOOST_TEST(out == header(16384, 0x1, 0x4, 3) + block);
}

BOOST_AUTO_TEST_CASE(headers_writer_splits_into_continuation_frames) {
  std::string block = std::string(16384, 'a') + std::string(16384, 'b') + "cc";
  std::string out;
  h2::write_headers(out, 5, block, true, 16384);
  // END_STREAM on HEADERS only; END_HEADERS on the last CONTINUATION only.
  BOOST_TEST(out == header(16384, 0x1, 0x1, 5) + std::string(16384, 'a') +
                        header(16384, 0x9, 0x0, 5) + std::string(16384, 'b') +
                        header(2, 0x9, 0x4, 5) + "cc");
}

BOOST_AUTO_TEST_CASE(headers_writer_honours_a_larger_peer_frame_size) {
  std::string block(20000, 'h');
  std::string out;
  h2::write_headers(out, 1, block, false, 20000);
  BOOST_TEST(out == header(20000, 0x1, 0x4, 1) + block);
}

BOOST_AUTO_TEST_CASE(data_writer) {
  std::string out;
  h2::write_data(out, 1, "hello", false);
  h2::write_data(out, 3, "", true);
  BOOST_TEST(out == header(5, 0x0, 0x0, 1) + "hello" + header(0, 0x0, 0x1, 3));
}

BOOST_AUTO_TEST_CASE(window_update_writer) {
  std::string out;
  h2::write_window_update(out, 0, 0x7fffffff);
  h2::write_window_update(out, 7, 1);
  BOOST_TEST(out == header(4, 0x8, 0x0, 0) + u32(0x7fffffff) + header(4, 0x8, 0x0, 7) + u32(1));
}

BOOST_AUTO_TEST_CASE(rst_stream_writer) {
  std::string out;
  h2::write_rst_stream(out, 9, h2::error_code::cancel);
  BOOST_TEST(out == header(4, 0x3, 0x0, 9) + u32(0x8));
}

BOOST_AUTO_TEST_CASE(ping_writer) {
  std::string out;
  h2::write_ping(out, 0x0102030405060708);
  h2::write_ping(out, 0xfffefdfcfbfaf9f8, true);
  BOOST_TEST(out == header(8, 0x6, 0x0, 0) + bytes({1, 2, 3, 4, 5, 6, 7, 8}) +
                        header(8, 0x6, 0x1, 0) +
                        bytes({0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8}));
}

BOOST_AUTO_TEST_CASE(goaway_writer) {
  std::string out;
  h2::write_goaway(out, 3, h2::error_code::protocol_error, "bad");
  h2::write_goaway(out, 0, h2::error_code::no_error);
  BOOST_TEST(out == header(11, 0x7, 0x0, 0) + u32(3) + u32(1) + "bad" + header(8, 0x7, 0x0, 0) +
                        u32(0) + u32(0));
}

BOOST_AUTO_TEST_CASE(goaway_writer_cuts_debug_data_to_a_default_size_frame) {
  std::string out;
  h2::write_goaway(out, 1, h2::error_code::internal_error, std::string(20000, 'd'));
  BOOST_TEST(out == header(16384, 0x7, 0x0, 0) + u32(1) + u32(2) + std::string(16376, 'd'));
}

BOOST_AUTO_TEST_CASE(writers_reject_what_cannot_go_on_the_wire) {
  constexpr std::uint32_t too_big_id = 0x80000000;
  check_rejected([](std::string& o) { h2::write_data(o, 0, "x", false); });
  check_rejected([](std::string& o) { h2::write_data(o, too_big_id, "x", false); });
  check_rejected([](std::string& o) { h2::write_data(o, 1, std::string(16777216, 'x'), false); });
  check_rejected([](std::string& o) { h2::write_headers(o, 0, "x", false, 16384); });
  check_rejected([](std::string& o) { h2::write_headers(o, 1, "x", false, 16383); });
  check_rejected([](std::string& o) { h2::write_headers(o, 1, "x", false, 16777216); });
  check_rejected([](std::string& o) { h2::write_rst_stream(o, 0, h2::error_code::cancel); });
  check_rejected([](std::string& o) { h2::write_window_update(o, 1, 0); });
  check_rejected([](std::string& o) { h2::write_window_update(o, 1, 0x80000000); });
  check_rejected([](std::string& o) { h2::write_window_update(o, too_big_id, 1); });
  check_rejected([](std::string& o) { h2::write_goaway(o, too_big_id, h2::error_code::no_error); });
  check_rejected([](std::string& o) {
    h2::write_frame(o, {0, h2::frame_type::data, 0, too_big_id}, "");
  });
  check_rejected(
      [](std::string& o) { h2::write_settings(o, std::vector<h2::setting>(16777215 / 6 + 1)); });
}

// --- payload readers ---

BOOST_AUTO_TEST_CASE(payload_readers_decode_the_writers_output) {
  std::string out;
  h2::write_window_update(out, 1, 0x12345678);
  BOOST_TEST(h2::read_window_increment(out.substr(9)) == 0x12345678u);
  BOOST_TEST(h2::read_window_increment(bytes({0xff, 0xff, 0xff, 0xff})) == 0x7fffffffu);

  out.clear();
  h2::write_rst_stream(out, 1, h2::error_code::refused_stream);
  BOOST_TEST((h2::read_rst_stream(out.substr(9)) == h2::error_code::refused_stream));

  out.clear();
  h2::write_ping(out, 0x8899aabbccddeeff);
  BOOST_TEST(h2::read_ping(out.substr(9)) == 0x8899aabbccddeeffu);

  out.clear();
  h2::write_goaway(out, 41, h2::error_code::enhance_your_calm, "slow down");
  const std::string payload = out.substr(9);  // debug_data points into it
  auto g = h2::read_goaway(payload);
  BOOST_TEST(g.last_stream_id == 41u);
  BOOST_TEST((g.code == h2::error_code::enhance_your_calm));
  BOOST_TEST(g.debug_data == "slow down");
  BOOST_TEST(h2::read_goaway(u32(0x80000005) + u32(0x1234)).last_stream_id == 5u);
  BOOST_TEST(static_cast<std::uint32_t>(h2::read_goaway(u32(0) + u32(0x1234)).code) == 0x1234u);
}

BOOST_AUTO_TEST_CASE(payload_readers_reject_short_payloads) {
  auto rejected = [](const std::function<void()>& fn) {
    try {
      fn();
    } catch (const keyless::error& e) {
      return e.code() == keyless::errc::invalid_argument;
    }
    return false;
  };
  BOOST_TEST(rejected([] { h2::read_window_increment("abc"); }));
  BOOST_TEST(rejected([] { h2::read_rst_stream(""); }));
  BOOST_TEST(rejected([] { h2::read_ping("1234567"); }));
  BOOST_TEST(rejected([] { h2::read_goaway("1234567"); }));
}

BOOST_AUTO_TEST_CASE(for_each_setting_visits_entries_in_order) {
  std::vector<h2::setting> seen;
  h2::for_each_setting(u16(1) + u32(100) + u16(0xffff) + u32(7) + "xyz",
                       [&](h2::setting s) { seen.push_back(s); });
  BOOST_TEST((seen == std::vector<h2::setting>{{1, 100}, {0xffff, 7}}));
}

// --- the server's settings ---

BOOST_AUTO_TEST_CASE(settings_start_at_the_rfc_initial_values) {
  h2::peer_settings s;
  BOOST_TEST(s.header_table_size == 4096u);
  BOOST_TEST(s.max_concurrent_streams == 0xffffffffu);
  BOOST_TEST(s.initial_window_size == 65535u);
  BOOST_TEST(s.max_frame_size == 16384u);
  BOOST_TEST(s.max_header_list_size == 0xffffffffu);
}

BOOST_AUTO_TEST_CASE(apply_settings_takes_known_values_in_order_and_ignores_unknown_ids) {
  h2::peer_settings s;
  std::string payload = u16(1) + u32(0) + u16(2) + u32(0) + u16(3) + u32(100) + u16(4) + u32(1000) +
                        u16(4) + u32(0x7fffffff) + u16(5) + u32(16777215) + u16(6) + u32(8192) +
                        u16(0x99) + u32(0xffffffff) + u16(0) + u32(5);
  h2::apply_settings(payload, s);
  BOOST_TEST(s.header_table_size == 0u);
  BOOST_TEST(s.max_concurrent_streams == 100u);
  BOOST_TEST(s.initial_window_size == 0x7fffffffu);  // the last value wins
  BOOST_TEST(s.max_frame_size == 16777215u);
  BOOST_TEST(s.max_header_list_size == 8192u);
  h2::apply_settings(u16(5) + u32(16384), s);
  BOOST_TEST(s.max_frame_size == 16384u);
}

BOOST_AUTO_TEST_CASE(settings_values_a_server_may_not_send_are_connection_errors) {
  struct bad_case {
    std::uint16_t id;
    std::uint32_t value;
    h2::error_code code;
    std::string message;
  };
  const std::vector<bad_case> cases{
      {2, 1, h2::error_code::protocol_error,
       "HTTP/2: server sent SETTINGS_ENABLE_PUSH = 1 (only clients may)"},
      {2, 2, h2::error_code::protocol_error, "HTTP/2: SETTINGS_ENABLE_PUSH = 2 (must be 0 or 1)"},
      {4, 0x80000000, h2::error_code::flow_control_error,
       "HTTP/2: SETTINGS_INITIAL_WINDOW_SIZE = 2147483648 (over 2^31-1)"},
      {5, 16383, h2::error_code::protocol_error,
       "HTTP/2: SETTINGS_MAX_FRAME_SIZE = 16383 (must be in [16384, 16777215])"},
      {5, 16777216, h2::error_code::protocol_error,
       "HTTP/2: SETTINGS_MAX_FRAME_SIZE = 16777216 (must be in [16384, 16777215])"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("setting " << c.id << " = " << c.value) {
      auto [code, message] = connection_error_of([&] {
        h2::check_server_setting({c.id, c.value});
      });
      BOOST_TEST((code == c.code));
      BOOST_TEST(message == c.message);
      h2::peer_settings s;
      auto [apply_code, apply_message] =
          connection_error_of([&] { h2::apply_settings(u16(c.id) + u32(c.value), s); });
      BOOST_TEST((apply_code == c.code));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
