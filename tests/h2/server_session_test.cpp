// The sans-I/O HTTP/2 server session: against our client session in memory
// (round trips, large bodies, many streams, flow control, resets, GOAWAY)
// and against hand-written frames (the preface, protocol errors, malformed
// requests, input splits).

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "frame_bytes.hpp"
#include "http/h2/frame.hpp"
#include "http/h2/frame_reader.hpp"
#include "http/h2/hpack_encoder.hpp"
#include "http/h2/server_session.hpp"
#include "keyless/core/error.hpp"
#include "keyless/http/fields.hpp"
#include "session_pair.hpp"
#include "split_input.hpp"

namespace h2 = keyless::http::h2;
using h2_test::request;
using h2_test::session_pair;

namespace {

// A body whose bytes say where they are, so a reordering or a lost frame shows.
std::string patterned(std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return out;
}

// One frame the server wrote.
struct server_frame {
  h2::frame_header header;
  std::string payload;
};

// Reads everything in `out` as frames from a server, then clears it.
std::vector<server_frame> frames_in(std::string& out) {
  h2::reader_options o;
  o.expect_server_preface = false;
  o.max_frame_size = h2::largest_max_frame_size;
  o.assemble_header_blocks = false;  // CONTINUATION frames are counted
  h2::frame_reader reader(o);
  std::vector<server_frame> frames;
  std::string_view rest = out;
  for (;;) {
    h2::read_result r = reader.feed(rest);
    rest.remove_prefix(r.consumed);
    if (r.event == h2::read_event::need_more) break;
    frames.push_back({r.header, std::string(r.payload)});
  }
  out.clear();
  return frames;
}

// The RST_STREAMs and GOAWAYs among `frames`.
std::string resets_and_goaways(const std::vector<server_frame>& frames) {
  return h2_test::resets_and_goaways(frames, true);
}

using field_list = std::vector<std::pair<std::string_view, std::string_view>>;
using fields_of = std::vector<h2::field_view>;

// A client written by hand: the preface, frames built with the writers and
// an HPACK encoder of its own.
struct raw_client {
  raw_client() { server.start(out); }

  // Preface and an empty SETTINGS: a well-behaved start.
  static std::string hello() {
    std::string bytes(h2::client_preface);
    h2::write_settings(bytes, {});
    return bytes;
  }

  std::string headers(std::uint32_t stream, const field_list& fields, bool end_stream) {
    std::string block;
    encoder.begin_block(block);
    for (const auto& [name, value] : fields) encoder.encode(block, name, value);
    std::string bytes;
    h2::write_headers(bytes, stream, block, end_stream, h2::default_max_frame_size);
    return bytes;
  }

  static std::string data(std::uint32_t stream, std::string_view bytes, bool end_stream) {
    std::string out;
    h2::write_data(out, stream, bytes, end_stream);
    return out;
  }

  void send(std::string_view bytes) { server.receive(bytes, out, events); }

  // What the server wrote since the last call (SETTINGS and all).
  std::vector<server_frame> written() { return frames_in(out); }

  h2::server_session server;
  h2_test::server_recorder events;
  h2::encoder encoder;
  std::string out;
};

const field_list get_fields = {
    {":method", "GET"}, {":scheme", "https"}, {":authority", "example.com"}, {":path", "/x"}};

}  // namespace

BOOST_AUTO_TEST_SUITE(server_session)

BOOST_AUTO_TEST_CASE(start_writes_settings_and_connection_window) {
  h2::server_session session;
  std::string out;
  session.start(out);
  using h2_test::u16;
  using h2_test::u32;
  const std::string settings = u16(0x3) + u32(1000) + u16(0x4) + u32(1 << 20) + u16(0x6) +
                               u32(64 * 1024) + u16(0x1) + u32(4096);
  const std::string expected = h2_test::wire_frame(0x4, 0, 0, settings) +
                               h2_test::wire_frame(0x8, 0, 0, u32((64 << 20) - 65'535));
  BOOST_TEST(out == expected);
  BOOST_TEST(!session.closed());
}

BOOST_AUTO_TEST_CASE(preface_matching_tells_h2c_from_http1) {
  BOOST_TEST((h2::match_client_preface("") == h2::preface_match::partial));
  BOOST_TEST((h2::match_client_preface("PRI * HT") == h2::preface_match::partial));
  BOOST_TEST((h2::match_client_preface(h2::client_preface) == h2::preface_match::full));
  BOOST_TEST((h2::match_client_preface(std::string(h2::client_preface) + "more") ==
              h2::preface_match::full));
  BOOST_TEST((h2::match_client_preface("GET / HTTP/1.1\r\n") == h2::preface_match::no));
  BOOST_TEST((h2::match_client_preface("PRIX") == h2::preface_match::no));
}

BOOST_AUTO_TEST_CASE(get_round_trip) {
  session_pair p;
  keyless::http::fields fields;
  fields.add("Accept", "application/json");
  fields.add("X-Custom", "one");
  const std::uint32_t id = p.open(request("GET", "/openai/models?api-version=1", &fields));
  p.pump();
  BOOST_TEST(p.server.settings_acknowledged());
  BOOST_TEST(p.client.settings_acknowledged());
  BOOST_REQUIRE(p.server_events.requests.size() == 1u);
  const auto& r = p.server_events.requests[0];
  BOOST_TEST(r.id == id);
  BOOST_TEST(r.method == "GET");
  BOOST_TEST(r.scheme == "https");
  BOOST_TEST(r.authority == "example.openai.azure.com");
  BOOST_TEST(r.path == "/openai/models?api-version=1");
  BOOST_TEST(r.field("accept") == "application/json");
  BOOST_TEST(r.field("x-custom") == "one");
  BOOST_TEST(r.body.empty());

  p.respond(id, 200, "{\"ok\":true}", {{"Content-Type", "application/json"}, {"Connection", "x"}});
  p.pump();
  const auto& response = p.client_events.responses[id];
  BOOST_TEST(response.status == 200);
  BOOST_TEST(response.body == "{\"ok\":true}");
  BOOST_TEST(response.ended);
  BOOST_REQUIRE(response.fields.size() == 1u);  // connection is left out
  BOOST_TEST(response.fields[0].first == "content-type");
  BOOST_TEST(p.server.active_streams() == 0u);
  BOOST_TEST(p.client.active_streams() == 0u);
  BOOST_TEST(!p.server.closed());
}

BOOST_AUTO_TEST_CASE(bodies_larger_than_windows_and_frames_go_both_ways) {
  h2::server_session_options server_options;
  server_options.stream_window = 65'535;
  server_options.connection_window = 65'535;
  h2::session_options client_options;
  client_options.stream_window = 65'535;
  client_options.connection_window = 65'535;
  session_pair p(server_options, client_options);
  const std::string upload = patterned(300'000);
  const std::string download = patterned(500'000);
  p.server_events.answer = [&](std::uint32_t id, h2::incoming_request& r) {
    BOOST_TEST(r.body.size() == upload.size());
    BOOST_TEST((r.body == upload));
    BOOST_REQUIRE(p.server.respond_head(id, 200, {}, false, p.to_client));
    BOOST_REQUIRE(p.server.send_data(id, download, true, p.to_client));
    BOOST_TEST(p.server.queued_bytes(id) > 0u);  // the client's windows took only 65,535
  };
  const std::uint32_t id = p.open(request("POST", "/upload"), upload);
  p.pump();
  BOOST_REQUIRE(p.server_events.requests.size() == 1u);
  const auto& response = p.client_events.responses[id];
  BOOST_TEST(response.ended);
  BOOST_TEST(response.body.size() == download.size());
  BOOST_TEST((response.body == download));
  BOOST_TEST(p.server.queued_bytes() == 0u);
  BOOST_TEST(p.server.active_streams() == 0u);
}

BOOST_AUTO_TEST_CASE(many_concurrent_streams_answered_out_of_order) {
  session_pair p;
  p.pump();  // settings both ways
  std::vector<std::uint32_t> ids;
  for (int i = 0; i < 300; ++i) {
    ids.push_back(p.open(request("POST", fmt::format("/s/{}", i)), patterned(1'000 + i)));
  }
  p.pump();
  BOOST_REQUIRE(p.server_events.requests.size() == 300u);
  BOOST_TEST(p.server.active_streams() == 300u);
  for (auto it = p.server_events.requests.rbegin(); it != p.server_events.requests.rend(); ++it) {
    p.respond(it->id, 200, fmt::format("{} {}", it->path, it->body.size()));
  }
  p.pump();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto& response = p.client_events.responses[ids[i]];
    BOOST_REQUIRE(response.ended);
    BOOST_TEST(response.body == fmt::format("/s/{} {}", i, 1'000 + i));
  }
  BOOST_TEST(p.server.active_streams() == 0u);
}

BOOST_AUTO_TEST_CASE(a_token_sized_authorization_arrives_whole_every_time) {
  session_pair p;
  const std::string token = "Bearer " + patterned(2'500);
  const h2::field_view credential[] = {{"authorization", token}};
  for (int i = 0; i < 50; ++i) {
    h2::request_head head = request("POST", "/chat");
    head.more_fields = credential;
    const std::uint32_t id = p.open(head, "{}");
    const std::size_t sent = p.to_server.size();
    if (i > 0) BOOST_TEST(sent < 100u);  // indexed after the first request
    p.pump();
    BOOST_REQUIRE(p.server_events.requests.size() == static_cast<std::size_t>(i + 1));
    BOOST_TEST(p.server_events.requests.back().field("authorization") == token);
    p.respond(id, 200, "ok");
    p.pump();
  }
}

BOOST_AUTO_TEST_CASE(flow_control_blocks_and_resumes_in_order) {
  h2::session_options client_options;
  client_options.stream_window = 65'535;
  client_options.connection_window = 65'535;
  session_pair p({}, client_options);
  const std::uint32_t a = p.open(request("GET", "/a"));
  const std::uint32_t b = p.open(request("GET", "/b"));
  p.pump();
  const std::string body_a = patterned(100'000);
  const std::string body_b(50'000, 'B');
  BOOST_REQUIRE(p.server.respond_head(a, 200, {}, false, p.to_client));
  BOOST_REQUIRE(p.server.respond_head(b, 200, {}, false, p.to_client));
  BOOST_REQUIRE(
      p.server.send_data(a, std::string_view(body_a).substr(0, 60'000), false, p.to_client));
  BOOST_REQUIRE(p.server.send_data(b, body_b, false, p.to_client));
  BOOST_REQUIRE(p.server.send_data(a, std::string_view(body_a).substr(60'000), true, p.to_client));
  const h2::field_view trailers[] = {{"x-checksum", "abc"}};
  BOOST_REQUIRE(p.server.send_trailers(b, trailers, p.to_client));
  p.pump(false);  // the client holds on to what it got
  BOOST_TEST(p.server.queued_bytes() == 150'000u - 65'535u);
  BOOST_TEST(!p.client_events.responses[a].ended);
  BOOST_TEST(!p.client_events.responses[b].ended);
  BOOST_CHECK_THROW(p.server.send_data(a, "late", false, p.to_client), keyless::error);
  p.pump();  // consumes: WINDOW_UPDATEs release the rest
  BOOST_TEST(p.server.queued_bytes() == 0u);
  BOOST_TEST((p.client_events.responses[a].body == body_a));
  BOOST_TEST((p.client_events.responses[b].body == body_b));
  BOOST_TEST(p.client_events.responses[b].trailers.size() == 1u);
  BOOST_TEST(p.client_events.responses[a].ended);
  BOOST_TEST(p.client_events.responses[b].ended);
  BOOST_TEST(p.server.active_streams() == 0u);
}

BOOST_AUTO_TEST_CASE(the_client_resetting_a_stream_cancels_its_handler) {
  session_pair p;
  const std::uint32_t id = p.open(request("GET", "/slow"));
  const std::uint32_t other = p.open(request("GET", "/other"));
  p.pump();
  BOOST_TEST(p.server.respond_head(id, 200, {}, false, p.to_client));
  p.client.cancel(id, p.to_server);
  p.pump();
  BOOST_TEST(p.server_events.text() ==
             "request 1 GET /slow 0\nrequest 3 GET /other 0\ncancelled 1 CANCEL\n");
  BOOST_TEST(!p.server.send_data(id, "more", true, p.to_client));  // gone: nothing sent
  BOOST_TEST(p.to_client.empty());
  p.respond(other, 204, "");
  p.pump();
  BOOST_TEST(p.client_events.responses[other].status == 204);
  BOOST_TEST(p.client_events.responses[other].ended);
  BOOST_TEST(p.server.active_streams() == 0u);
}

BOOST_AUTO_TEST_CASE(the_server_resetting_a_stream_fails_it_at_the_client) {
  session_pair p;
  const std::uint32_t id = p.open(request("POST", "/x"), "body");
  p.pump();
  p.server.reset(id, h2::error_code::internal_error, p.to_client);
  p.pump();
  BOOST_TEST(p.client_events.lines.at(0) == "failed 1 kind=0 INTERNAL_ERROR");
  BOOST_TEST(p.server_events.text() == "request 1 POST /x 4\n");  // no event for our own reset
  BOOST_TEST(!p.server.respond_head(id, 200, {}, true, p.to_client));
}

BOOST_AUTO_TEST_CASE(graceful_goaway_lets_open_streams_finish) {
  session_pair p;
  const std::uint32_t id = p.open(request("GET", "/a"));
  p.pump();
  p.server.goaway(h2::error_code::no_error, "restarting", p.to_client);
  p.pump();
  BOOST_TEST(p.client_events.lines.at(0) == "goaway 1 NO_ERROR");
  BOOST_TEST((p.client.can_open() == h2::open_status::unusable));
  BOOST_TEST(!p.server.closed());  // stream 1 still has to be answered
  p.respond(id, 200, "bye");
  p.pump();
  BOOST_TEST(p.client_events.responses[id].body == "bye");
  BOOST_TEST(p.server.closed());
  BOOST_TEST(p.server.failure() == nullptr);
}

BOOST_AUTO_TEST_CASE(streams_above_our_goaway_are_ignored) {
  raw_client c;
  c.send(raw_client::hello() + c.headers(1, get_fields, true));
  c.server.goaway(h2::error_code::no_error, {}, c.out);
  // Sent before the client saw the GOAWAY: stream 3 is ignored, its body too.
  field_list post = get_fields;
  post[0].second = "POST";
  c.send(c.headers(3, post, false) + raw_client::data(3, "ignored", true));
  BOOST_TEST(c.events.text() == "request 1 GET /x 0\n");
  BOOST_TEST(resets_and_goaways(c.written()) == "GOAWAY 1 NO_ERROR;");
  BOOST_TEST(c.server.respond_head(1, 200, {}, true, c.out));
  BOOST_TEST(c.server.closed());
}

BOOST_AUTO_TEST_CASE(a_goaway_from_the_client_closes_once_streams_are_done) {
  raw_client c;
  std::string goaway;
  h2::write_goaway(goaway, 0, h2::error_code::no_error);
  c.send(raw_client::hello() + c.headers(1, get_fields, true) + goaway);
  BOOST_TEST(c.events.text() == "request 1 GET /x 0\ngoaway 0 NO_ERROR\n");
  BOOST_TEST(!c.server.closed());
  BOOST_TEST(c.server.respond_head(1, 200, {}, true, c.out));
  BOOST_TEST(c.server.closed());
}

BOOST_AUTO_TEST_CASE(a_wrong_preface_is_a_protocol_error) {
  const std::vector<std::string> starts = {"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                                           "PRI * HTTP/1.1\r\n", std::string(9, '\0')};
  for (const std::string& start : starts) {
    raw_client c;
    c.written();
    c.send(start);
    BOOST_REQUIRE(c.server.failure() != nullptr);
    BOOST_TEST(c.server.closed());
    BOOST_TEST(std::string(c.server.failure()->what()).find("client preface") != std::string::npos);
    BOOST_TEST(resets_and_goaways(c.written()) == "GOAWAY 0 PROTOCOL_ERROR;");
  }
}

BOOST_AUTO_TEST_CASE(client_protocol_errors_end_the_connection_with_the_right_code) {
  using h2_test::u16;
  using h2_test::u32;
  using h2_test::wire_frame;
  std::string ping;
  h2::write_ping(ping, 1);
  const std::string settings = wire_frame(0x4, 0, 0);
  struct case_ {
    std::string name;
    std::string after_preface;
    std::string expected;
  };
  raw_client encoder_owner;  // HPACK blocks for the cases
  const std::string get = encoder_owner.headers(1, get_fields, true);
  const std::vector<case_> cases = {
      {"first frame is not SETTINGS", ping, "GOAWAY 0 PROTOCOL_ERROR;"},
      {"PUSH_PROMISE from a client", settings + wire_frame(0x5, 0x4, 1, u32(2)),
       "GOAWAY 0 PROTOCOL_ERROR;"},
      {"SETTINGS_ENABLE_PUSH = 2", wire_frame(0x4, 0, 0, u16(0x2) + u32(2)),
       "GOAWAY 0 PROTOCOL_ERROR;"},
      {"SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1", wire_frame(0x4, 0, 0, u16(0x4) + u32(1u << 31)),
       "GOAWAY 0 FLOW_CONTROL_ERROR;"},
      {"DATA on an idle stream", settings + wire_frame(0x0, 0, 1, "x"), "GOAWAY 0 PROTOCOL_ERROR;"},
      {"HEADERS on an even stream", settings + wire_frame(0x1, 0x5, 2, "\x82"),
       "GOAWAY 0 PROTOCOL_ERROR;"},
      {"a header block that does not decode", settings + wire_frame(0x1, 0x5, 1, "\xff\xff\xff"),
       "GOAWAY 0 COMPRESSION_ERROR;"},
      {"CONTINUATION without HEADERS", settings + wire_frame(0x9, 0x4, 1, "\x82"),
       "GOAWAY 0 PROTOCOL_ERROR;"},
      {"a frame over our max frame size", settings + h2_test::header(16'385, 0x0, 0, 1),
       "GOAWAY 0 FRAME_SIZE_ERROR;"},
      {"connection window over 2^31-1", settings + wire_frame(0x8, 0, 0, u32(0x7fff'ffff)),
       "GOAWAY 0 FLOW_CONTROL_ERROR;"},
      {"an unasked SETTINGS ACK", settings + wire_frame(0x4, 0x1, 0) + wire_frame(0x4, 0x1, 0),
       "GOAWAY 0 PROTOCOL_ERROR;"},
      {"DATA after the request ended", settings + get + wire_frame(0x0, 0, 1, "x"),
       "RST_STREAM 1 STREAM_CLOSED;"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      raw_client client;
      client.written();
      BOOST_REQUIRE_NO_THROW(client.send(std::string(h2::client_preface) + c.after_preface));
      BOOST_TEST(resets_and_goaways(client.written()) == c.expected);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_client_may_send_settings_a_server_may_not) {
  raw_client c;
  c.written();
  c.send(std::string(h2::client_preface) +
         h2_test::wire_frame(0x4, 0, 0, h2_test::u16(0x2) + h2_test::u32(1)));  // ENABLE_PUSH = 1
  BOOST_TEST(c.server.failure() == nullptr);
  BOOST_TEST(resets_and_goaways(c.written()).empty());
}

BOOST_AUTO_TEST_CASE(malformed_requests_reset_only_their_stream) {
  struct case_ {
    std::string name;
    field_list fields;
  };
  const std::vector<case_> cases = {
      {"no :path", {{":method", "GET"}, {":scheme", "https"}}},
      {"no :method", {{":scheme", "https"}, {":path", "/"}}},
      {"two :path", {{":method", "GET"}, {":scheme", "https"}, {":path", "/"}, {":path", "/"}}},
      {"a response pseudo-header", {{":status", "200"}, {":method", "GET"}}},
      {"pseudo after regular", {{":method", "GET"}, {"a", "b"}, {":scheme", "https"}}},
      {"connection-specific",
       {{":method", "GET"}, {":scheme", "https"}, {":path", "/"}, {"connection", "keep-alive"}}},
      {"te other than trailers",
       {{":method", "GET"}, {":scheme", "https"}, {":path", "/"}, {"te", "gzip"}}},
      {"host differs from :authority",
       {{":method", "GET"},
        {":scheme", "https"},
        {":authority", "a"},
        {":path", "/"},
        {"host", "b"}}},
      {"relative :path", {{":method", "GET"}, {":scheme", "https"}, {":path", "x"}}},
      {"content-length but no body",
       {{":method", "GET"}, {":scheme", "https"}, {":path", "/"}, {"content-length", "3"}}},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      raw_client client;
      client.written();
      client.send(raw_client::hello() + client.headers(1, c.fields, true) +
                  client.headers(3, get_fields, true));
      BOOST_TEST(resets_and_goaways(client.written()) == "RST_STREAM 1 PROTOCOL_ERROR;");
      BOOST_TEST(client.events.text() == "request 3 GET /x 0\n");  // the next one is fine
      BOOST_TEST(client.server.failure() == nullptr);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_body_longer_than_its_content_length_resets_the_stream) {
  raw_client c;
  field_list post = {
      {":method", "POST"}, {":scheme", "https"}, {":path", "/"}, {"content-length", "3"}};
  c.send(raw_client::hello() + c.headers(1, post, false) + raw_client::data(1, "four", true));
  BOOST_TEST(resets_and_goaways(c.written()) == "RST_STREAM 1 PROTOCOL_ERROR;");
  BOOST_TEST(c.events.lines.empty());
}

BOOST_AUTO_TEST_CASE(a_body_over_the_limit_is_answered_413) {
  h2::server_session_options options;
  options.max_body_size = 1'000;
  session_pair p(options);
  const std::uint32_t big = p.open(request("POST", "/big"), std::string(1'001, 'x'));
  p.open(request("POST", "/fits"), std::string(1'000, 'x'));
  p.pump();
  BOOST_TEST(p.client_events.responses[big].status == 413);
  BOOST_TEST(p.client_events.responses[big].ended);
  BOOST_TEST(p.server_events.text() == "request 3 POST /fits 1000\n");
}

BOOST_AUTO_TEST_CASE(streams_over_our_limit_are_refused_and_retryable) {
  h2::server_session_options options;
  options.max_concurrent_streams = 2;
  session_pair p(options);
  // Opened before the client has seen our SETTINGS.
  p.open(request("GET", "/1"));
  p.open(request("GET", "/2"));
  const std::uint32_t third = p.open(request("GET", "/3"));
  p.pump();
  BOOST_TEST(p.server_events.requests.size() == 2u);
  BOOST_REQUIRE(p.client_events.responses[third].failure.has_value());
  BOOST_TEST(p.client_events.responses[third].failure->retryable);
  BOOST_TEST((p.client_events.responses[third].failure->h2_code == h2::error_code::refused_stream));
}

BOOST_AUTO_TEST_CASE(trailers_from_the_client_end_the_request) {
  raw_client c;
  field_list post = get_fields;
  post[0].second = "POST";
  c.send(raw_client::hello() + c.headers(1, post, false) + raw_client::data(1, "abc", false) +
         c.headers(1, {{"x-trailer", "1"}}, true));
  BOOST_TEST(c.events.text() == "request 1 POST /x 3\n");
  BOOST_TEST(c.events.requests.at(0).field(":authority") == "<none>");
  BOOST_TEST(c.events.requests.at(0).authority == "example.com");
}

BOOST_AUTO_TEST_CASE(a_ping_is_answered) {
  raw_client c;
  std::string ping;
  h2::write_ping(ping, 0x0102030405060708);
  c.written();
  c.send(raw_client::hello() + ping);
  const auto frames = c.written();
  BOOST_REQUIRE(frames.size() == 2u);  // SETTINGS ACK, PING ACK
  BOOST_TEST((frames[1].header.type == h2::frame_type::ping));
  BOOST_TEST(frames[1].header.has(h2::flag::ack));
  BOOST_TEST(h2::read_ping(frames[1].payload) == 0x0102030405060708u);
}

BOOST_AUTO_TEST_CASE(a_large_response_head_goes_out_in_continuation_frames) {
  session_pair p;
  const std::uint32_t id = p.open(request("GET", "/"));
  p.pump();
  const std::string large(40'000, 'v');
  BOOST_REQUIRE(p.server.respond_head(id, 200, fields_of{{"x-large", large}}, true, p.to_client));
  std::string copy = p.to_client;
  std::size_t continuations = 0;
  for (const auto& f : frames_in(copy)) {
    if (f.header.type == h2::frame_type::continuation) ++continuations;
  }
  BOOST_TEST(continuations >= 2u);
  p.pump();
  BOOST_TEST(p.client_events.responses[id].fields.at(0).second == large);
}

BOOST_AUTO_TEST_CASE(caller_bugs_throw_and_send_nothing) {
  session_pair p;
  const std::uint32_t id = p.open(request("GET", "/"));
  p.pump();
  BOOST_CHECK_THROW(p.server.send_data(id, "x", false, p.to_client), keyless::error);
  BOOST_CHECK_THROW(p.server.respond_head(id, 99, {}, true, p.to_client), keyless::error);
  BOOST_CHECK_THROW(p.server.respond_head(id, 101, {}, true, p.to_client), keyless::error);
  BOOST_CHECK_THROW(p.server.respond_head(id, 200, fields_of{{"bad name", "x"}}, true, p.to_client),
                    keyless::error);
  BOOST_CHECK_THROW(p.server.respond_head(id, 200, fields_of{{"x", "a\r\nb"}}, true, p.to_client),
                    keyless::error);
  BOOST_CHECK_THROW(p.server.respond_head(id, 103, {}, true, p.to_client), keyless::error);
  BOOST_TEST(p.to_client.empty());
  BOOST_REQUIRE(p.server.respond_head(id, 103, fields_of{{"link", "</a>"}}, false, p.to_client));
  BOOST_REQUIRE(p.server.respond_head(id, 200, {}, false, p.to_client));
  BOOST_CHECK_THROW(p.server.respond_head(id, 200, {}, false, p.to_client), keyless::error);
  BOOST_REQUIRE(p.server.send_data(id, "done", true, p.to_client));
  BOOST_TEST(!p.server.send_data(id, "x", false, p.to_client));  // gone once ended both ways
  p.pump();
  BOOST_TEST(p.client_events.responses[id].body == "done");
}

BOOST_AUTO_TEST_CASE(connection_lost_cancels_every_reported_stream) {
  session_pair p;
  p.open(request("GET", "/a"));
  p.open(request("POST", "/b"), "x");
  p.pump();
  p.server.connection_lost("end of file", p.server_events);
  BOOST_TEST(p.server_events.text() ==
             "request 1 GET /a 0\nrequest 3 POST /b 1\ncancelled 1 CANCEL\ncancelled 3 CANCEL\n");
  BOOST_TEST(p.server.closed());
}

BOOST_AUTO_TEST_CASE(every_split_of_the_input_gives_the_same_events_and_output) {
  // What a client sends: preface, SETTINGS, its ACK of ours, requests with
  // and without bodies, a PING.
  h2::client_session client;
  std::string script;
  client.start(script);
  {
    h2::server_session server;
    std::string server_out;
    server.start(server_out);
    h2_test::client_recorder ignored;
    client.receive(server_out, script, ignored);
  }
  keyless::http::fields fields;
  fields.add("authorization", "Bearer " + patterned(300));
  client.open_stream(request("GET", "/one", &fields), {}, script);
  client.open_stream(request("POST", "/two", &fields), patterned(40'000), script);
  h2::write_ping(script, 42);
  client.open_stream(request("DELETE", "/three"), {}, script);

  auto run = [&](const std::vector<std::string_view>& pieces) {
    h2::server_session server;
    h2_test::server_recorder events;
    std::string out;
    server.start(out);
    events.answer = [&](std::uint32_t id, h2::incoming_request& r) {
      server.respond_head(id, 200, fields_of{{"x-path", r.path}}, false, out);
      server.send_data(id, fmt::format("{} bytes", r.body.size()), true, out);
    };
    for (std::string_view piece : pieces) server.receive(piece, out, events);
    return events.text() + out;
  };
  const std::string whole = run({script});
  BOOST_TEST(whole.find("request 3 POST /two 40000\n") != std::string::npos);
  BOOST_TEST(whole.find("request 5 DELETE /three 0\n") != std::string::npos);
  std::size_t mismatches = 0;
  for (std::size_t cut = 1; cut < script.size(); ++cut) {
    if (run(keyless::testing::split_at(script, {cut})) != whole) ++mismatches;
  }
  BOOST_TEST(mismatches == 0u);
  BOOST_TEST(run(keyless::testing::split_at(
                 script, keyless::testing::every_offset(script.size()))) == whole);
}

BOOST_AUTO_TEST_SUITE_END()
