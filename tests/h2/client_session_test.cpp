// The sans-I/O HTTP/2 client session against a scripted server: the
// handshake, requests and responses, HPACK indexing of the credential, flow
// control, settings, resets, GOAWAY, protocol errors, and input splits.

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "frame_bytes.hpp"
#include "http/h2/client_session.hpp"
#include "http/h2/frame.hpp"
#include "keyless/core/error.hpp"
#include "keyless/http/fields.hpp"
#include "session_test_support.hpp"
#include "split_input.hpp"

namespace h2 = keyless::http::h2;
using h2_test::client_frame;
using h2_test::connection;
using h2_test::test_server;

namespace {

constexpr std::uint32_t stream_0 = 0;

h2::request_head get_head(const keyless::http::fields* fields = nullptr) {
  h2::request_head head;
  head.method = "GET";
  head.authority = "example.openai.azure.com";
  head.path = "/openai/models";
  head.fields = fields;
  return head;
}

h2::request_head post_head(const keyless::http::fields* fields = nullptr) {
  h2::request_head head = get_head(fields);
  head.method = "POST";
  head.path = "/openai/deployments/gpt/chat/completions?api-version=2024-06-01";
  return head;
}

std::uint32_t open(connection& c, const h2::request_head& head, std::string body = {}) {
  std::optional<std::uint32_t> id = c.session.open_stream(head, std::move(body), c.out);
  BOOST_REQUIRE(id.has_value());
  return *id;
}

std::vector<client_frame> of_type(const std::vector<client_frame>& frames, h2::frame_type t) {
  std::vector<client_frame> out;
  for (const auto& f : frames) {
    if (f.header.type == t) out.push_back(f);
  }
  return out;
}

std::string rst(std::uint32_t stream, h2::error_code code) {
  std::string out;
  h2::write_rst_stream(out, stream, code);
  return out;
}

std::string goaway(std::uint32_t last, h2::error_code code) {
  std::string out;
  h2::write_goaway(out, last, code);
  return out;
}

std::string window_update(std::uint32_t stream, std::uint32_t increment) {
  std::string out;
  h2::write_window_update(out, stream, increment);
  return out;
}

// The RST_STREAMs and GOAWAYs among `frames`: their streams and codes.
std::string reset_or_goaway(const std::vector<client_frame>& frames) {
  return h2_test::resets_and_goaways(frames, false);
}

// The body bytes `frames` carry for `stream`, in order.
std::string data_sent(const std::vector<client_frame>& frames, std::uint32_t stream) {
  std::string body;
  for (const auto& f : of_type(frames, h2::frame_type::data)) {
    if (f.header.stream_id == stream) body += f.payload;
  }
  return body;
}

bool ends_stream(const std::vector<client_frame>& frames, std::uint32_t stream) {
  for (const auto& f : frames) {
    bool may_end =
        f.header.type == h2::frame_type::data || f.header.type == h2::frame_type::headers;
    if (may_end && f.header.stream_id == stream && f.header.has(h2::flag::end_stream)) return true;
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(client_session)

BOOST_AUTO_TEST_CASE(start_writes_preface_settings_and_connection_window) {
  h2::client_session session;
  std::string out;
  session.start(out);
  using h2_test::u16;
  using h2_test::u32;
  const std::string settings = u16(0x2) + u32(0) + u16(0x4) + u32(1 << 20) + u16(0x6) +
                               u32(64 * 1024) + u16(0x1) + u32(4096);
  const std::string expected = std::string(h2::client_preface) +
                               h2_test::wire_frame(0x4, 0, 0, settings) +
                               h2_test::wire_frame(0x8, 0, 0, u32((16 << 20) - 65'535));
  BOOST_TEST(out == expected);
  BOOST_TEST(!session.settings_acknowledged());
  BOOST_TEST((session.can_open() == h2::open_status::ready));
}

BOOST_AUTO_TEST_CASE(get_round_trip) {
  connection c;
  c.handshake();
  BOOST_TEST(c.session.settings_acknowledged());
  keyless::http::fields fields;
  fields.add("Accept", "application/json");
  fields.add("Connection", "keep-alive");  // HTTP/1.1 only: left out
  fields.add("Host", "ignored.example");   // :authority replaces it
  fields.add("TE", "trailers");
  fields.add("X-Custom", "one");
  const std::uint32_t id = open(c, get_head(&fields));
  BOOST_TEST(id == 1u);
  auto frames = c.sent();
  BOOST_REQUIRE(frames.size() == 1u);
  BOOST_TEST(frames[0].header.has(h2::flag::end_stream));
  BOOST_TEST(frames[0].field_lines() ==
             ":method: GET\n:scheme: https\n:authority: example.openai.azure.com\n"
             ":path: /openai/models\naccept: application/json\nte: trailers\nx-custom: one\n");

  c.deliver(c.server.headers(1, {{":status", "200"}, {"content-type", "application/json"}}, false) +
            test_server::data(1, "{\"ok\":", false) + test_server::data(1, "true}", true));
  BOOST_TEST(c.events.text() ==
             "head 1 200 content-type=application/json\ndata 1 {\"ok\":\ndata 1 true}\nend 1\n");
  c.consume_all();
  BOOST_TEST(c.session.active_streams() == 0u);
  BOOST_TEST(!c.session.closed());
}

BOOST_AUTO_TEST_CASE(post_round_trip_with_body) {
  connection c;
  c.handshake();
  keyless::http::fields fields;
  fields.add("Content-Type", "application/json");
  const std::uint32_t id = open(c, post_head(&fields), "{\"messages\":[]}");
  auto frames = c.sent();
  BOOST_REQUIRE(frames.size() == 2u);
  BOOST_TEST(!frames[0].header.has(h2::flag::end_stream));
  BOOST_TEST(frames[0].field_lines() ==
             ":method: POST\n:scheme: https\n:authority: example.openai.azure.com\n"
             ":path: /openai/deployments/gpt/chat/completions?api-version=2024-06-01\n"
             "content-type: application/json\ncontent-length: 15\n");
  BOOST_TEST((frames[1].header.type == h2::frame_type::data));
  BOOST_TEST(frames[1].payload == "{\"messages\":[]}");
  BOOST_TEST(frames[1].header.has(h2::flag::end_stream));

  c.deliver(c.server.headers(id, {{":status", "201"}, {"content-length", "2"}}, false) +
            test_server::data(id, "ok", true));
  BOOST_TEST(c.events.text() == "head 1 201 content-length=2\ndata 1 ok\nend 1\n");
}

BOOST_AUTO_TEST_CASE(authorization_is_indexed_and_api_key_never) {
  connection c;
  c.handshake();
  const std::string token = "Bearer " + std::string(2000, 'x') + "abcdefghij";
  const h2::field_view credential[] = {{"authorization", token}, {"api-key", "0123456789abcdef"}};
  h2::request_head head = post_head();
  head.more_fields = credential;
  open(c, head, "{}");
  auto first = of_type(c.sent(), h2::frame_type::headers);
  open(c, head, "{}");
  auto second = of_type(c.sent(), h2::frame_type::headers);
  BOOST_REQUIRE(first.size() == 1u);
  BOOST_REQUIRE(second.size() == 1u);
  // The token went out once; the second block refers to it by index.
  BOOST_TEST(first[0].payload.size() > 1000u);
  BOOST_TEST(second[0].payload.size() < 60u, "second block: " << second[0].payload.size());
  BOOST_TEST(first[0].payload.size() - second[0].payload.size() > 1000u);
  for (const auto& frames : {first, second}) {
    BOOST_TEST(frames[0].fields.at(4).name == "authorization");
    BOOST_TEST(frames[0].fields.at(4).value == token);
    BOOST_TEST(frames[0].fields.at(5).name == "api-key");
    BOOST_TEST(frames[0].fields.at(5).never_indexed);
  }
  // api-key never entered the server's table; the token did.
  const auto& table = c.server.decoder.table();
  bool has_token = false;
  for (std::size_t i = 0; i < table.count(); ++i) {
    BOOST_TEST(table[i].name != "api-key");
    has_token = has_token || table[i].value == token;
  }
  BOOST_TEST(has_token);
}

BOOST_AUTO_TEST_CASE(zero_header_table_size_keeps_authorization_literal) {
  connection c;
  c.server.decoder.set_max_table_size(0);
  c.handshake({h2::make_setting(h2::setting_id::header_table_size, 0)});
  const std::string token = "Bearer " + std::string(500, 'y');
  const h2::field_view credential[] = {{"authorization", token}};
  h2::request_head head = get_head();
  head.more_fields = credential;
  open(c, head);
  auto first = c.sent();
  open(c, head);
  auto second = c.sent();
  BOOST_TEST(second.at(0).fields.at(4).value == token);
  BOOST_TEST(second.at(0).payload.size() + 1 >= first.at(0).payload.size());  // no index
  BOOST_TEST(c.server.decoder.table().count() == 0u);
}

BOOST_AUTO_TEST_CASE(body_larger_than_window_waits_for_window_update) {
  connection c;
  c.handshake();
  std::string body(100'000, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 23);
  const std::string original = body;
  std::optional<std::uint32_t> opened = c.session.open_stream(post_head(), body, c.out);
  BOOST_REQUIRE(opened.has_value());
  const std::uint32_t id = *opened;
  body.assign(body.size(), 'x');  // the session kept its own copy of what it could not send
  auto frames = c.sent();
  std::string arrived = data_sent(frames, id);
  BOOST_TEST(arrived.size() == 65'535u);  // the initial stream and connection windows
  for (const auto& f : of_type(frames, h2::frame_type::data)) {
    BOOST_TEST(f.payload.size() <= h2::default_max_frame_size);
  }
  BOOST_TEST(!ends_stream(frames, id));

  c.deliver(window_update(id, 50'000));  // the connection window is still empty
  BOOST_TEST(c.sent().empty());
  c.deliver(window_update(stream_0, 20'000));
  frames = c.sent();
  BOOST_TEST(data_sent(frames, id).size() == 20'000u);
  arrived += data_sent(frames, id);
  BOOST_TEST(!ends_stream(frames, id));
  c.deliver(window_update(stream_0, 50'000));
  frames = c.sent();
  BOOST_TEST(data_sent(frames, id).size() == 100'000u - 85'535u);
  arrived += data_sent(frames, id);
  BOOST_TEST(ends_stream(frames, id));
  BOOST_TEST((arrived == original));
}

BOOST_AUTO_TEST_CASE(window_update_sent_when_application_consumes) {
  h2::session_options options;
  options.stream_window = 65'535;
  options.connection_window = 65'535;
  connection c(options);
  c.handshake();
  const std::uint32_t id = open(c, get_head());
  c.sent();
  const std::string chunk(16'000, 'd');
  c.deliver(c.server.headers(id, {{":status", "200"}}, false) +
            test_server::data(id, chunk, false) + test_server::data(id, chunk, false) +
            test_server::data(id, chunk, false));
  BOOST_TEST(c.sent().empty());  // nothing consumed yet
  c.session.consume(id, 16'000, c.out);
  BOOST_TEST(c.sent().empty());  // below half the window
  c.session.consume(id, 32'000, c.out);
  auto updates = of_type(c.sent(), h2::frame_type::window_update);
  BOOST_REQUIRE(updates.size() == 2u);
  BOOST_TEST(updates[0].header.stream_id == id);
  BOOST_TEST(h2::read_window_increment(updates[0].payload) == 48'000u);
  BOOST_TEST(updates[1].header.stream_id == stream_0);
  BOOST_TEST(h2::read_window_increment(updates[1].payload) == 48'000u);
  BOOST_CHECK_THROW(c.session.consume(id, 1, c.out), keyless::error);
}

BOOST_AUTO_TEST_CASE(server_settings_are_applied_and_acknowledged) {
  connection c;
  c.sent();
  c.deliver(
      test_server::settings({h2::make_setting(h2::setting_id::max_frame_size, 20'000),
                             h2::make_setting(h2::setting_id::max_concurrent_streams, 7),
                             h2::make_setting(h2::setting_id::initial_window_size, 200'000)}));
  auto frames = c.sent();
  BOOST_REQUIRE(frames.size() == 1u);
  BOOST_TEST((frames[0].header.type == h2::frame_type::settings));
  BOOST_TEST(frames[0].header.has(h2::flag::ack));
  BOOST_TEST(c.session.server_settings().max_frame_size == 20'000u);
  BOOST_TEST(c.session.server_settings().max_concurrent_streams == 7u);
  c.deliver(window_update(stream_0, 1'000'000));
  const std::uint32_t id = open(c, post_head(), std::string(50'000, 'p'));
  frames = of_type(c.sent(), h2::frame_type::data);
  BOOST_REQUIRE(frames.size() == 3u);  // 20,000 + 20,000 + 10,000
  BOOST_TEST(frames[0].payload.size() == 20'000u);
  BOOST_TEST(ends_stream(frames, id));
  std::string unasked_ack;
  h2::write_settings_ack(unasked_ack);
  c.deliver(unasked_ack);  // acknowledges ours
  BOOST_TEST(c.session.settings_acknowledged());
  c.deliver(unasked_ack);  // acknowledges nothing
  BOOST_TEST(reset_or_goaway(c.sent()) == "GOAWAY PROTOCOL_ERROR;");
}

BOOST_AUTO_TEST_CASE(initial_window_size_change_moves_open_streams) {
  connection c;
  c.handshake();
  c.deliver(window_update(stream_0, 1'000'000));
  const std::uint32_t id = open(c, post_head(), std::string(100'000, 'w'));
  BOOST_TEST(data_sent(c.sent(), id).size() == 65'535u);
  // Shrinking leaves the window negative: nothing moves, not even after a small update.
  c.deliver(test_server::settings({h2::make_setting(h2::setting_id::initial_window_size, 35'535)}));
  c.deliver(window_update(id, 20'000));
  auto frames = c.sent();
  BOOST_TEST(of_type(frames, h2::frame_type::settings).size() == 1u);  // the ACK
  BOOST_TEST(data_sent(frames, id).size() == 0u);
  // Growing by 64,465 brings the window to 54,465: the rest of the body.
  c.deliver(
      test_server::settings({h2::make_setting(h2::setting_id::initial_window_size, 100'000)}));
  frames = c.sent();
  BOOST_TEST(data_sent(frames, id).size() == 34'465u);
  BOOST_TEST(ends_stream(frames, id));
}

BOOST_AUTO_TEST_CASE(ping_is_acknowledged) {
  connection c;
  c.handshake();
  std::string ping;
  h2::write_ping(ping, 0x0102030405060708);
  c.deliver(ping);
  auto frames = c.sent();
  BOOST_REQUIRE(frames.size() == 1u);
  BOOST_TEST((frames[0].header.type == h2::frame_type::ping));
  BOOST_TEST(frames[0].header.has(h2::flag::ack));
  BOOST_TEST(h2::read_ping(frames[0].payload) == 0x0102030405060708u);
}

BOOST_AUTO_TEST_CASE(our_ping_goes_out_and_its_answer_reports_nothing) {
  connection c;
  c.handshake();
  c.session.ping(c.out);
  auto frames = c.sent();
  BOOST_REQUIRE(frames.size() == 1u);
  BOOST_TEST((frames[0].header.type == h2::frame_type::ping));
  BOOST_TEST(!frames[0].header.has(h2::flag::ack));
  std::string ack;
  h2::write_ping(ack, h2::read_ping(frames[0].payload), true);
  c.deliver(ack);
  BOOST_TEST(c.sent().empty());
  BOOST_TEST(c.events.text().empty());
  BOOST_TEST(!c.session.closed());
}

BOOST_AUTO_TEST_CASE(interim_response_is_skipped) {
  connection c;
  c.handshake();
  const std::uint32_t id = open(c, post_head(), "body");
  std::string replies = c.server.headers(id, {{":status", "100"}}, false);
  replies += c.server.headers(id, {{":status", "200"}}, true);
  c.deliver(replies);
  BOOST_TEST(c.events.text() == "head 1 200\nend 1\n");
}

BOOST_AUTO_TEST_CASE(trailers_end_the_stream) {
  connection c;
  c.handshake();
  const std::uint32_t id = open(c, get_head());
  std::string replies = c.server.headers(id, {{":status", "200"}}, false);
  replies += test_server::data(id, "x", false);
  replies += c.server.headers(id, {{"grpc-status", "0"}}, true);
  c.deliver(replies);
  BOOST_TEST(c.events.text() == "head 1 200\ndata 1 x\nend 1 grpc-status=0\n");
}

BOOST_AUTO_TEST_CASE(reset_by_server_fails_the_stream) {
  connection c;
  c.handshake();
  const std::uint32_t id = open(c, get_head());
  c.deliver(rst(id, h2::error_code::internal_error));
  BOOST_TEST(c.events.text() == "failed 1 kind=0 INTERNAL_ERROR\n");
  BOOST_TEST(c.events.messages.at(0) == "HTTP/2: the server reset stream 1 with INTERNAL_ERROR");
  // Later frames for it are a stream error of type STREAM_CLOSED.
  c.sent();
  c.deliver(test_server::data(id, "late", false));
  BOOST_TEST(reset_or_goaway(c.sent()) == "RST_STREAM 1 STREAM_CLOSED;");
  BOOST_TEST(c.session.failure() == nullptr);
}

BOOST_AUTO_TEST_CASE(refused_stream_is_retryable) {
  connection c;
  c.handshake();
  const std::uint32_t id = open(c, post_head(), "x");
  c.deliver(rst(id, h2::error_code::refused_stream));
  BOOST_TEST(c.events.text() == "failed 1 kind=0 REFUSED_STREAM retryable\n");
}

BOOST_AUTO_TEST_CASE(goaway_fails_unprocessed_streams_as_retryable) {
  connection c;
  c.handshake();
  open(c, get_head());
  open(c, get_head());
  open(c, get_head());
  c.deliver(goaway(3, h2::error_code::no_error));
  BOOST_TEST(c.events.text() == "goaway 3 NO_ERROR\nfailed 5 kind=2 NO_ERROR retryable\n");
  BOOST_TEST((c.session.can_open() == h2::open_status::unusable));
  BOOST_TEST(!c.session.open_stream(get_head(), {}, c.out).has_value());
  BOOST_TEST(!c.session.closed());
  std::string replies = c.server.headers(1, {{":status", "204"}}, true);
  replies += c.server.headers(3, {{":status", "204"}}, true);
  c.deliver(replies);
  BOOST_TEST(c.session.closed());
}

BOOST_AUTO_TEST_CASE(max_concurrent_streams_is_respected) {
  connection c;
  c.handshake({h2::make_setting(h2::setting_id::max_concurrent_streams, 2)});
  open(c, get_head());
  open(c, get_head());
  BOOST_TEST((c.session.can_open() == h2::open_status::at_stream_limit));
  BOOST_TEST(!c.session.open_stream(get_head(), {}, c.out).has_value());
  BOOST_TEST(of_type(c.sent(), h2::frame_type::headers).size() == 2u);
  c.deliver(c.server.headers(1, {{":status", "200"}}, true));
  BOOST_TEST((c.session.can_open() == h2::open_status::ready));
  BOOST_TEST(open(c, get_head()) == 5u);
}

BOOST_AUTO_TEST_CASE(cancel_resets_once_and_keeps_hpack_in_step) {
  connection c;
  c.handshake();
  const std::uint32_t id = open(c, get_head());
  c.sent();
  c.session.cancel(id, c.out);
  c.session.cancel(id, c.out);
  BOOST_TEST(reset_or_goaway(c.sent()) == "RST_STREAM 1 CANCEL;");
  // The server answered before it saw the reset; its block adds to the table.
  c.deliver(c.server.headers(id, {{":status", "200"}, {"x-model", "gpt-4o"}}, false) +
            test_server::data(id, std::string(16'000, 'z'), true));
  BOOST_TEST(c.events.lines.empty());
  BOOST_TEST(c.sent().empty());
  const std::uint32_t next = open(c, get_head());
  c.deliver(c.server.headers(next, {{":status", "200"}, {"x-model", "gpt-4o"}}, true));
  BOOST_TEST(c.events.text() == "head 3 200 x-model=gpt-4o\nend 3\n");
  BOOST_TEST(c.session.failure() == nullptr);
}

BOOST_AUTO_TEST_CASE(data_on_idle_stream_ends_the_connection) {
  connection c;
  c.handshake();
  open(c, get_head());
  c.sent();
  c.deliver(test_server::data(7, "x", false));
  BOOST_TEST(reset_or_goaway(c.sent()) == "GOAWAY PROTOCOL_ERROR;");
  BOOST_TEST(c.events.text() == "failed 1 kind=3 PROTOCOL_ERROR\n");
  BOOST_REQUIRE(c.session.failure() != nullptr);
  BOOST_TEST(c.session.failure()->message() ==
             "HTTP/2: DATA frame on stream 7, which we never opened");
  BOOST_TEST(c.session.closed());
  c.deliver(test_server::data(1, "x", false));  // ignored from now on
  BOOST_TEST(c.sent().empty());
}

BOOST_AUTO_TEST_CASE(data_on_closed_stream_is_stream_closed) {
  connection c;
  c.handshake();
  const std::uint32_t id = open(c, get_head());
  c.deliver(c.server.headers(id, {{":status", "204"}}, true));
  c.sent();
  c.deliver(test_server::data(id, "x", false));
  BOOST_TEST(reset_or_goaway(c.sent()) == "GOAWAY STREAM_CLOSED;");
}

BOOST_AUTO_TEST_CASE(push_promise_ends_the_connection) {
  connection c;
  c.handshake();
  const std::uint32_t id = open(c, get_head());
  c.sent();
  c.deliver(h2_test::wire_frame(0x5, 0x4, id, h2_test::u32(2) + "\x82"));
  BOOST_TEST(reset_or_goaway(c.sent()) == "GOAWAY PROTOCOL_ERROR;");
  BOOST_TEST(c.events.text() == "failed 1 kind=3 PROTOCOL_ERROR\n");
}

BOOST_AUTO_TEST_CASE(bad_status_resets_only_its_stream) {
  connection c;
  c.handshake();
  const std::uint32_t bad = open(c, get_head());
  const std::uint32_t good = open(c, get_head());
  c.sent();
  std::string replies = c.server.headers(bad, {{":status", "2x0"}}, false);
  replies += c.server.headers(good, {{":status", "200"}}, true);
  c.deliver(replies);
  BOOST_TEST(reset_or_goaway(c.sent()) == "RST_STREAM 1 PROTOCOL_ERROR;");
  BOOST_TEST(c.events.text() == "failed 1 kind=1 PROTOCOL_ERROR\nhead 3 200\nend 3\n");
  BOOST_TEST(c.events.messages.at(0).find(":status") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(content_length_mismatch_is_a_stream_error) {
  connection c;
  c.handshake();
  const std::uint32_t longer = open(c, get_head());
  const std::uint32_t shorter = open(c, get_head());
  c.sent();
  // Each block is built in its own statement: HPACK blocks must be encoded in wire order.
  std::string replies =
      c.server.headers(longer, {{":status", "200"}, {"content-length", "3"}}, false);
  replies += test_server::data(longer, "four", true);
  replies += c.server.headers(shorter, {{":status", "200"}, {"content-length", "3"}}, false);
  replies += test_server::data(shorter, "tw", true);
  c.deliver(replies);
  BOOST_TEST(reset_or_goaway(c.sent()) ==
             "RST_STREAM 1 PROTOCOL_ERROR;RST_STREAM 3 PROTOCOL_ERROR;");
  BOOST_TEST(c.events.text() ==
             "head 1 200 content-length=3\nfailed 1 kind=1 PROTOCOL_ERROR\n"
             "head 3 200 content-length=3\ndata 3 tw\nfailed 3 kind=1 PROTOCOL_ERROR\n");
}

BOOST_AUTO_TEST_CASE(invalid_request_throws_and_sends_nothing) {
  connection c;
  c.handshake();
  keyless::http::fields injected;
  injected.add("x-note", "a\r\nb");
  BOOST_CHECK_THROW(c.session.open_stream(get_head(&injected), {}, c.out), keyless::error);
  keyless::http::fields length;
  length.add("content-length", "9");
  BOOST_CHECK_THROW(c.session.open_stream(post_head(&length), "short", c.out), keyless::error);
  BOOST_TEST(c.out.empty());
  BOOST_TEST(open(c, get_head()) == 1u);  // the ids and the HPACK table were not touched
  BOOST_TEST(c.sent().at(0).fields.size() == 4u);
}

BOOST_AUTO_TEST_CASE(shared_fields_are_checked_unless_checked_when_made) {
  connection c;
  c.handshake();
  const h2::field_view injected[] = {{"authorization", "Bearer a\r\nb"}};
  h2::request_head head = get_head();
  head.more_fields = injected;
  BOOST_CHECK_THROW(c.session.open_stream(head, {}, c.out), keyless::error);
  BOOST_TEST(c.out.empty());
  // A credential checked once (http::checked_field) is not scanned again, still lower-cased.
  const h2::field_view checked[] = {{"Authorization", "Bearer abc"}};
  head.more_fields = checked;
  head.more_fields_checked = true;
  open(c, head);
  auto frames = of_type(c.sent(), h2::frame_type::headers);
  BOOST_REQUIRE(frames.size() == 1u);
  BOOST_TEST(frames[0].fields.at(4).name == "authorization");
  BOOST_TEST(frames[0].fields.at(4).value == "Bearer abc");
}

BOOST_AUTO_TEST_CASE(every_split_of_the_input_gives_the_same_events) {
  // Two streams, interleaved: heads, bodies, trailers, a PING, a SETTINGS change.
  test_server server;
  std::string script = test_server::settings();
  script += server.headers(1, {{":status", "200"}}, false);
  script += server.headers(3, {{":status", "404"}, {"x-a", "b"}}, false);
  script += test_server::data(1, "hello", false) + test_server::data(3, "nope", true);
  std::string ping;
  h2::write_ping(ping, 42);
  script += ping + test_server::settings({h2::make_setting(h2::setting_id::max_frame_size, 32768)});
  script += server.headers(1, {{"trailer-x", "y"}}, true);

  auto run = [&](const std::vector<std::string_view>& pieces) {
    connection c;
    open(c, get_head());
    open(c, get_head());
    c.out.clear();
    for (std::string_view piece : pieces) c.deliver(piece);
    return c.events.text() + "|" + c.out;
  };
  const std::string whole = run({script});
  BOOST_TEST(
      whole.starts_with("head 1 200\nhead 3 404 x-a=b\ndata 1 hello\ndata 3 nope\nend 3\n"
                        "end 1 trailer-x=y\n|"));
  std::size_t mismatches = 0;
  for (std::size_t cut = 0; cut <= script.size(); ++cut) {
    if (run(keyless::testing::split_at(script, {cut})) != whole) ++mismatches;
  }
  BOOST_TEST(mismatches == 0u);
  BOOST_TEST(run(keyless::testing::split_at(
                 script, keyless::testing::every_offset(script.size()))) == whole);
}

BOOST_AUTO_TEST_CASE(mangled_input_never_escapes_as_an_exception) {
  test_server server;
  std::string script = test_server::settings();
  script += server.headers(1, {{":status", "200"}, {"content-length", "5"}}, false);
  script += test_server::data(1, "hello", true) + window_update(stream_0, 1000);
  script += server.headers(3, {{":status", "100"}}, false);
  script +=
      server.headers(3, {{":status", "200"}, {"x-a", "b"}}, false) + rst(3, h2::error_code::cancel);
  std::mt19937 rng(7541);  // fixed seed: a failure reproduces
  std::uniform_int_distribution<std::size_t> at(0, script.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 2000; ++round) {
    std::string mangled = script;
    for (int i = 0; i < 3; ++i) mangled[at(rng)] = static_cast<char>(byte(rng));
    connection c;
    open(c, post_head(), std::string(70'000, 'm'));
    open(c, get_head());
    BOOST_REQUIRE_NO_THROW(c.deliver(mangled));
    BOOST_REQUIRE(c.session.failure() != nullptr || !c.session.closed());
  }
}

BOOST_AUTO_TEST_CASE(a_thousand_sequential_streams) {
  connection c;
  c.handshake();
  const std::string token = "Bearer " + std::string(1500, 't');
  const h2::field_view credential[] = {{"authorization", token}};
  h2::request_head head = post_head();
  head.more_fields = credential;
  for (int i = 0; i < 1000; ++i) {
    const std::uint32_t id = open(c, head, "{\"n\":1}");
    auto frames = c.sent();
    BOOST_REQUIRE(frames.size() == 2u);
    BOOST_REQUIRE(frames[0].fields.at(4).value == token);
    if (i > 0) BOOST_REQUIRE(frames[0].payload.size() < 40u);
    c.deliver(c.server.headers(id, {{":status", "200"}}, false) +
              test_server::data(id, std::string(1000, 'r'), true));
    c.consume_all();
  }
  BOOST_TEST(c.events.lines.size() == 3000u);
  BOOST_TEST(c.session.active_streams() == 0u);
  BOOST_TEST(c.session.failure() == nullptr);
}

BOOST_AUTO_TEST_CASE(a_hundred_concurrent_streams) {
  connection c;
  c.handshake({h2::make_setting(h2::setting_id::max_concurrent_streams, 100)});
  std::vector<std::uint32_t> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(open(c, post_head(), std::string(2'000, 'c')));
  BOOST_TEST((c.session.can_open() == h2::open_status::at_stream_limit));
  // 100 x 2,000 bytes is over the 65,535-byte connection window.
  auto frames = c.sent();
  std::size_t sent = 0;
  for (std::uint32_t id : ids) sent += data_sent(frames, id).size();
  BOOST_TEST(sent == 65'535u);
  c.deliver(window_update(stream_0, 200'000));
  frames = c.sent();
  for (std::uint32_t id : ids) sent += data_sent(frames, id).size();
  BOOST_TEST(sent == 200'000u);
  std::string responses;
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    responses +=
        c.server.headers(*it, {{":status", "200"}}, false) + test_server::data(*it, "done", true);
  }
  c.deliver(responses);
  c.consume_all();
  BOOST_TEST(c.events.lines.size() == 300u);
  BOOST_TEST(c.session.active_streams() == 0u);
}

BOOST_AUTO_TEST_CASE(connection_lost_fails_every_stream) {
  connection c;
  c.handshake();
  open(c, get_head());
  open(c, get_head());
  c.session.connection_lost("end of file", c.events);
  BOOST_TEST(c.events.text() == "failed 3 kind=4 NO_ERROR\nfailed 1 kind=4 NO_ERROR\n");
  BOOST_TEST(c.session.closed());
}

BOOST_AUTO_TEST_SUITE_END()
