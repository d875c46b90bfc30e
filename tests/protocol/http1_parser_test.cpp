#include <boost/test/unit_test.hpp>

#include "http/http1_parser.hpp"
#include "keyless/core/error.hpp"
#include "split_input.hpp"
#include "text_contains.hpp"

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/core.h>

namespace http = keyless::http;
using http::detail::parse_event;
using http::detail::parser_limits;
using http::detail::response_parser;
using keyless::testing::contains;
using keyless::testing::every_offset;
using keyless::testing::random_cuts;
using keyless::testing::split_at;

namespace {

// One parsed response, flattened for comparison.
struct message {
  int status = 0;
  std::string reason;
  int version_minor = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool keep_alive = false;
};

// Everything a parse produced: the complete responses, then the error (code
// and message) if one was thrown.
struct outcome {
  std::vector<message> messages;
  std::string error;
  keyless::errc code{};
  bool data_outside_input = false;  // a body_data view did not point into the input
};

std::string describe(const outcome& o) {
  std::string out;
  for (const auto& m : o.messages) {
    out += fmt::format("[{} {} 1.{} ka={}]", m.status, m.reason, m.version_minor, m.keep_alive);
    for (const auto& [n, v] : m.headers) out += fmt::format(" {}={}", n, v);
    out += fmt::format(" body({})={}\n", m.body.size(), m.body);
  }
  if (!o.error.empty()) out += fmt::format("error {}: {}\n", static_cast<int>(o.code), o.error);
  return out;
}

// Feeds `pieces` in order, as a connection would deliver them, parsing
// back-to-back responses. At the end of the input a started response gets
// feed_eof, as when the peer closes.
outcome run(const std::vector<std::string_view>& pieces, bool head = false,
            parser_limits limits = {}) {
  outcome o;
  response_parser p(limits);
  p.reset(head);
  message current;
  std::size_t fed_since_reset = 0;
  auto finish = [&] {
    current.status = p.head().status;
    current.reason = p.head().reason;
    current.version_minor = p.head().version_minor;
    current.headers.assign(p.head().headers.begin(), p.head().headers.end());
    current.keep_alive = p.keep_alive();
    o.messages.push_back(std::move(current));
    current = {};
    p.reset(head);
    fed_since_reset = 0;
  };
  try {
    for (std::string_view rest : pieces) {
      for (;;) {
        auto r = p.feed(rest);
        if (r.event == parse_event::body_data) {
          if (r.data.empty() || r.data.data() < rest.data() ||
              r.data.data() + r.data.size() > rest.data() + rest.size()) {
            o.data_outside_input = true;
          }
          current.body.append(r.data);
        }
        rest.remove_prefix(r.consumed);
        fed_since_reset += r.consumed;
        if (r.event == parse_event::need_more) break;
        if (r.event == parse_event::message_done) {
          finish();
          if (rest.empty()) break;
        }
      }
    }
    if (fed_since_reset > 0) {
      auto r = p.feed_eof();
      if (r.event == parse_event::message_done) finish();
    }
  } catch (const keyless::error& e) {
    o.error = e.what();
    o.code = static_cast<keyless::errc>(e.code().value());
  }
  return o;
}

outcome run_whole(std::string_view text, bool head = false, parser_limits limits = {}) {
  return run({text}, head, limits);
}

std::string data_dir() {
  return KEYLESS_HTTP_DATA_DIR;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot open " << path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::filesystem::path> recorded_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(data_dir())) {
    if (entry.path().extension() == ".http") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool is_head_file(const std::filesystem::path& p) {
  return p.filename().string().find(".head.") != std::string::npos;
}

outcome run_recorded(std::string_view name) {
  auto path = std::filesystem::path(data_dir()) / name;
  auto text = read_file(path);
  return run_whole(text, is_head_file(path));
}

std::string find_header(const message& m, std::string_view name) {
  for (const auto& [n, v] : m.headers) {
    if (http::iequals(n, name)) return v;
  }
  return "<absent>";
}

// The error a complete input produces, checked to be of class `code`.
std::string error_of(std::string_view text, keyless::errc code, bool head = false,
                     parser_limits limits = {}) {
  auto o = run_whole(text, head, limits);
  BOOST_TEST(o.error.size() > 0u, "expected an error for: " << text.substr(0, 80));
  BOOST_TEST((o.code == code), "error class for: " << text.substr(0, 80) << " was " << o.error);
  return o.error;
}

std::string ok_head(std::string_view extra = "") {
  return "HTTP/1.1 200 OK\r\n" + std::string(extra);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(http1_parser)

// --- every recorded response, in every split ---

BOOST_AUTO_TEST_CASE(recorded_responses_parse_the_same_in_every_split) {
  auto files = recorded_files();
  BOOST_TEST_REQUIRE(files.size() >= 10u);
  std::mt19937 rng(20241127);  // fixed seed: a failure reproduces
  for (const auto& path : files) {
    BOOST_TEST_CONTEXT("file " << path.filename().string()) {
      std::string text = read_file(path);
      bool head = is_head_file(path);
      outcome whole = run_whole(text, head);
      std::string expected = describe(whole);
      BOOST_TEST(!whole.data_outside_input);
      bool bad = path.filename().string().rfind("bad_", 0) == 0;
      BOOST_TEST(whole.error.empty() == !bad, "outcome: " << expected);
      if (!bad) BOOST_TEST(!whole.messages.empty());

      // One byte at a time.
      outcome bytewise = run(split_at(text, every_offset(text.size())), head);
      BOOST_TEST(describe(bytewise) == expected);
      BOOST_TEST(!bytewise.data_outside_input);

      // Every two-way split. Compared without Boost.Test per split, so a
      // mismatch reports its first offending position once.
      std::size_t mismatches = 0;
      std::size_t first_bad = 0;
      bool outside = false;
      for (std::size_t cut = 0; cut <= text.size(); ++cut) {
        outcome o = run(split_at(text, {cut}), head);
        outside = outside || o.data_outside_input;
        if (describe(o) != expected && mismatches++ == 0) first_bad = cut;
      }
      BOOST_TEST(mismatches == 0u, "first differing split at offset " << first_bad);
      BOOST_TEST(!outside);

      // Random splits into 3 to 12 pieces.
      for (int round = 0; round < 200; ++round) {
        outcome o = run(split_at(text, random_cuts(rng, text.size())), head);
        if (describe(o) != expected) {
          BOOST_TEST(describe(o) == expected);
          break;
        }
      }
    }
  }
}

// --- what the recorded responses contain ---

BOOST_AUTO_TEST_CASE(content_length_json_response_is_read_whole) {
  auto o = run_recorded("aoai_chat_completion.http");
  BOOST_TEST_REQUIRE(o.messages.size() == 1u);
  const auto& m = o.messages[0];
  BOOST_TEST(m.status == 200);
  BOOST_TEST(m.reason == "OK");
  BOOST_TEST(m.version_minor == 1);
  BOOST_TEST(m.keep_alive);
  BOOST_TEST(std::to_string(m.body.size()) == find_header(m, "content-length"));
  BOOST_TEST(m.body.front() == '{');
  BOOST_TEST(m.body.back() == '}');
  BOOST_TEST(find_header(m, "APIM-REQUEST-ID") == "3f1c2b7e-5a4d-4c2b-9e8f-0a1b2c3d4e5f");
  BOOST_TEST(find_header(m, "x-ms-region") == "East US");
}

BOOST_AUTO_TEST_CASE(chunked_stream_is_decoded_and_extensions_and_trailers_are_skipped) {
  auto o = run_recorded("aoai_stream_chunked.http");
  BOOST_TEST_REQUIRE(o.messages.size() == 1u);
  const auto& m = o.messages[0];
  BOOST_TEST(m.keep_alive);
  BOOST_TEST(m.body.rfind("data: {", 0) == 0u);
  BOOST_TEST(m.body.size() > 14u);
  BOOST_TEST(m.body.substr(m.body.size() - 14) == "data: [DONE]\n\n");
  BOOST_TEST(!contains(m.body, "\r\n"));
  BOOST_TEST(!contains(m.body, "name=value"));
  BOOST_TEST(find_header(m, "x-ms-trailer-check") == "<absent>");
}

BOOST_AUTO_TEST_CASE(chunked_error_response_keeps_repeated_headers_in_order) {
  auto o = run_recorded("entra_error_chunked.http");
  BOOST_TEST_REQUIRE(o.messages.size() == 1u);
  const auto& m = o.messages[0];
  BOOST_TEST(m.status == 401);
  BOOST_TEST(m.reason == "Unauthorized");
  BOOST_TEST(contains(m.body, "AADSTS7000215"));
  BOOST_TEST(m.body.back() == '}');
  std::vector<std::string> cookies;
  for (const auto& [n, v] : m.headers) {
    if (n == "Set-Cookie") cookies.push_back(v.substr(0, v.find('=')));
  }
  BOOST_TEST((cookies == std::vector<std::string>{"fpc", "x-ms-gateway-slice"}));
}

BOOST_AUTO_TEST_CASE(interim_100_and_103_responses_are_skipped) {
  auto o = run_recorded("continue_and_early_hints.http");
  BOOST_TEST_REQUIRE(o.messages.size() == 1u);
  const auto& m = o.messages[0];
  BOOST_TEST(m.status == 201);
  BOOST_TEST(m.reason == "Created");
  BOOST_TEST(find_header(m, "Location") == "/items/42");
  BOOST_TEST(find_header(m, "Link") == "<absent>");
  BOOST_TEST(m.body == "{\"id\":\"42\"}");
}

BOOST_AUTO_TEST_CASE(close_delimited_body_ends_at_eof_and_is_not_kept_alive) {
  auto o = run_recorded("close_delimited_http10.http");
  BOOST_TEST_REQUIRE(o.messages.size() == 1u);
  BOOST_TEST(o.messages[0].version_minor == 0);
  BOOST_TEST(o.messages[0].body ==
             "This body ends when the server closes the connection.\nSecond line, no length.\n");
  BOOST_TEST(!o.messages[0].keep_alive);
}

BOOST_AUTO_TEST_CASE(http10_is_kept_alive_only_when_it_says_so) {
  auto o = run_recorded("keep_alive_http10.http");
  BOOST_TEST_REQUIRE(o.messages.size() == 1u);
  BOOST_TEST(o.messages[0].keep_alive);
  auto plain = run_whole("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
  BOOST_TEST_REQUIRE(plain.messages.size() == 1u);
  BOOST_TEST(!plain.messages[0].keep_alive);
}

BOOST_AUTO_TEST_CASE(pipelined_responses_each_end_where_their_framing_says) {
  auto o = run_recorded("pipelined_mixed.http");
  BOOST_TEST_REQUIRE(o.messages.size() == 6u, describe(o));
  std::vector<int> statuses;
  std::vector<std::string> bodies;
  for (const auto& m : o.messages) {
    statuses.push_back(m.status);
    bodies.push_back(m.body);
  }
  BOOST_TEST((statuses == std::vector<int>{204, 304, 200, 200, 200, 503}));
  BOOST_TEST((bodies == std::vector<std::string>{"", "", "hello", "world", "", "busy"}));
  BOOST_TEST(o.messages[4].keep_alive);
  BOOST_TEST(!o.messages[5].keep_alive);  // Connection: close
  BOOST_TEST(find_header(o.messages[5], "retry-after") == "10");
}

BOOST_AUTO_TEST_CASE(head_response_has_no_body_whatever_content_length_says) {
  auto o = run_recorded("head_response.head.http");
  BOOST_TEST_REQUIRE(o.messages.size() == 1u);
  BOOST_TEST(o.messages[0].body.empty());
  BOOST_TEST(find_header(o.messages[0], "content-length") == "1234");
  BOOST_TEST(o.messages[0].keep_alive);
  auto chunked = run_whole(ok_head("Transfer-Encoding: chunked\r\n\r\n"), true);
  BOOST_TEST_REQUIRE(chunked.messages.size() == 1u);
  BOOST_TEST(chunked.messages[0].keep_alive);
}

BOOST_AUTO_TEST_CASE(bare_lf_lines_are_accepted_and_values_are_trimmed) {
  auto o = run_recorded("lf_only_and_whitespace.http");
  BOOST_TEST_REQUIRE(o.messages.size() == 1u);
  const auto& m = o.messages[0];
  BOOST_TEST(find_header(m, "content-type") == "application/json");
  BOOST_TEST(find_header(m, "x-empty") == "");
  BOOST_TEST(find_header(m, "x-tabs") == "spaced\tvalue");
  BOOST_TEST(m.body == "abcd");  // "4, 4" is one length
}

BOOST_AUTO_TEST_CASE(transfer_encoding_wins_over_content_length_and_closes_the_connection) {
  auto o = run_recorded("both_lengths_chunked.http");
  BOOST_TEST_REQUIRE(o.messages.size() == 1u);
  BOOST_TEST(o.messages[0].body == "abcdef");
  BOOST_TEST(!o.messages[0].keep_alive);
}

BOOST_AUTO_TEST_CASE(recorded_bad_responses_fail_with_a_named_reason) {
  struct expectation {
    const char* file;
    keyless::errc code;
    const char* phrase;
  };
  const expectation cases[] = {
      {"bad_conflicting_length.http", keyless::errc::malformed_response,
       "conflicting Content-Length"},
      {"bad_obs_fold.http", keyless::errc::malformed_response, "obsolete line folding"},
      {"bad_switching_protocols.http", keyless::errc::malformed_response,
       "101 Switching Protocols"},
      {"bad_chunk_size.http", keyless::errc::malformed_response, "invalid chunk size \"zz\""},
      // Cut short: the connection failed; what arrived was fine.
      {"bad_truncated_body.http", keyless::errc::connection_failed,
       "connection closed before the end of the body (15 of 100 bytes)"},
      {"bad_http2_status.http", keyless::errc::malformed_response, "unsupported HTTP version"},
      {"bad_tls_alert.http", keyless::errc::malformed_response, "got \"\\x15\""},
      {"bad_gzip_coding.http", keyless::errc::malformed_response, "unsupported Transfer-Encoding"},
      {"bad_chunk_overrun.http", keyless::errc::malformed_response,
       "chunk data not followed by CRLF"},
  };
  for (const auto& c : cases) {
    auto o = run_recorded(c.file);
    BOOST_TEST_CONTEXT(c.file) {
      BOOST_TEST((o.code == c.code));
      BOOST_TEST(contains(o.error, c.phrase), o.error);
      BOOST_TEST(contains(o.error, "malformed HTTP response") ==
                 (c.code == keyless::errc::malformed_response));
    }
  }
}

// --- events and incremental use ---

BOOST_AUTO_TEST_CASE(events_report_head_then_body_in_place_then_done_with_the_rest_left) {
  std::string text =
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 204 No Content\r\n\r\n";
  std::string_view in = text;
  response_parser p;
  p.reset();
  BOOST_TEST(!p.head_done());
  auto r = p.feed(in);
  BOOST_TEST((r.event == parse_event::head_done));
  BOOST_TEST(r.consumed == 38u);
  BOOST_TEST(p.head_done());
  BOOST_TEST(!p.done());
  BOOST_TEST(p.head().status == 200);
  in.remove_prefix(r.consumed);
  r = p.feed(in);
  BOOST_TEST((r.event == parse_event::body_data));
  BOOST_TEST(r.data == "hello");
  BOOST_TEST(static_cast<const void*>(r.data.data()) == static_cast<const void*>(in.data()));
  BOOST_TEST(r.consumed == 5u);
  in.remove_prefix(r.consumed);
  r = p.feed(in);
  BOOST_TEST((r.event == parse_event::message_done));
  BOOST_TEST(r.consumed == 0u);
  BOOST_TEST(p.done());
  BOOST_TEST(p.keep_alive());
  // Asking again changes nothing.
  r = p.feed(in);
  BOOST_TEST((r.event == parse_event::message_done));
  BOOST_TEST(r.consumed == 0u);
  BOOST_TEST(in == "HTTP/1.1 204 No Content\r\n\r\n");

  p.reset();
  BOOST_TEST(p.head().headers.empty());
  r = p.feed(in);
  BOOST_TEST((r.event == parse_event::head_done));
  BOOST_TEST(p.head().status == 204);
  r = p.feed(in.substr(r.consumed));
  BOOST_TEST((r.event == parse_event::message_done));
}

BOOST_AUTO_TEST_CASE(need_more_consumes_everything_it_is_given) {
  response_parser p;
  p.reset();
  auto r = p.feed("HTTP/1.1 2");
  BOOST_TEST((r.event == parse_event::need_more));
  BOOST_TEST(r.consumed == 10u);
  r = p.feed("");
  BOOST_TEST((r.event == parse_event::need_more));
  BOOST_TEST(r.consumed == 0u);
  r = p.feed("00 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r");
  BOOST_TEST((r.event == parse_event::head_done));
  r = p.feed(std::string_view("5\r").substr(0));
  BOOST_TEST((r.event == parse_event::need_more));
  BOOST_TEST(r.consumed == 2u);
  r = p.feed("\nab");
  BOOST_TEST((r.event == parse_event::body_data));
  BOOST_TEST(r.data == "ab");
  BOOST_TEST(r.consumed == 3u);
}

BOOST_AUTO_TEST_CASE(keep_alive_is_false_until_the_message_is_done) {
  response_parser p;
  p.reset();
  auto r = p.feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n");
  BOOST_TEST((r.event == parse_event::head_done));
  BOOST_TEST(!p.keep_alive());
  r = p.feed("x");
  BOOST_TEST(p.done());
  BOOST_TEST(p.keep_alive());
}

BOOST_AUTO_TEST_CASE(connection_header_options_decide_keep_alive) {
  auto close = run_whole(ok_head("Connection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n"));
  BOOST_TEST_REQUIRE(close.messages.size() == 1u);
  BOOST_TEST(!close.messages[0].keep_alive);
  auto other = run_whole(ok_head("Connection: Upgrade\r\nContent-Length: 0\r\n\r\n"));
  BOOST_TEST_REQUIRE(other.messages.size() == 1u);
  BOOST_TEST(other.messages[0].keep_alive);
}

BOOST_AUTO_TEST_CASE(status_line_without_reason_is_accepted) {
  for (std::string_view line : {"HTTP/1.1 200\r\n", "HTTP/1.1 200 \r\n"}) {
    auto o = run_whole(std::string(line) + "Content-Length: 0\r\n\r\n");
    BOOST_TEST_REQUIRE(o.messages.size() == 1u, o.error);
    BOOST_TEST(o.messages[0].status == 200);
    BOOST_TEST(o.messages[0].reason.empty());
  }
}

BOOST_AUTO_TEST_CASE(reason_phrase_keeps_spaces_and_utf8) {
  auto o = run_whole("HTTP/1.1 404 Not  Found \xC3\xA9\r\nContent-Length: 0\r\n\r\n");
  BOOST_TEST_REQUIRE(o.messages.size() == 1u);
  BOOST_TEST(o.messages[0].reason == "Not  Found \xC3\xA9");
}

BOOST_AUTO_TEST_CASE(no_content_and_not_modified_never_have_a_body) {
  auto o = run_whole(
      "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"
      "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n");
  BOOST_TEST_REQUIRE(o.messages.size() == 2u, describe(o));
  BOOST_TEST(o.messages[0].body.empty());
  BOOST_TEST(o.messages[1].body.empty());
}

BOOST_AUTO_TEST_CASE(chunk_sizes_accept_any_hex_case_leading_zeros_and_spaces) {
  auto o =
      run_whole(ok_head("Transfer-Encoding: chunked\r\n\r\n"
                        "000A\r\n0123456789\r\nb ;ext\r\nabcdefghijk\r\n0000\r\nTrailer-A: "
                        "1\r\nTrailer-B: 2\r\n\r\n"));
  BOOST_TEST_REQUIRE(o.messages.size() == 1u, o.error);
  BOOST_TEST(o.messages[0].body == "0123456789abcdefghijk");
}

// --- malformed heads ---

BOOST_AUTO_TEST_CASE(a_peer_not_speaking_http_fails_before_any_newline) {
  response_parser p;
  p.reset();
  BOOST_CHECK_EXCEPTION(p.feed("SSH-2.0-OpenSSH_9.2p1"), keyless::error,
                        [](const keyless::error& e) {
                          return e.code() == keyless::errc::malformed_response &&
                                 contains(e.what(), "does not start with \"HTTP/\" (got \"S\")");
                        });
}

BOOST_AUTO_TEST_CASE(malformed_status_lines_are_named) {
  using keyless::errc;
  BOOST_TEST(contains(error_of("HTTP/1.1 20 OK\r\n\r\n", errc::malformed_response), "status line"));
  BOOST_TEST(contains(error_of("HTTP/1.1 2x0 OK\r\n\r\n", errc::malformed_response),
                      "three-digit status code"));
  BOOST_TEST(
      contains(error_of("HTTP/1.1 099 Low\r\n\r\n", errc::malformed_response), "outside 100-599"));
  BOOST_TEST(
      contains(error_of("HTTP/1.1 600 High\r\n\r\n", errc::malformed_response), "outside 100-599"));
  BOOST_TEST(contains(error_of("HTTP/1.1 2000 OK\r\n\r\n", errc::malformed_response),
                      "no space after the status code"));
  BOOST_TEST(contains(error_of("HTTP/1.2 200 OK\r\n\r\n", errc::malformed_response),
                      "unsupported HTTP version"));
  BOOST_TEST(
      contains(error_of("HTTP/1.1  200 OK\r\n\r\n", errc::malformed_response), "status code"));
  BOOST_TEST(contains(error_of("HTTP/1.1 200 O\x01K\r\n\r\n", errc::malformed_response),
                      "control character in the reason phrase"));
  BOOST_TEST(
      contains(error_of("HTTP/1.1 200 O\rK\r\n\r\n", errc::malformed_response), "status line"));
  BOOST_TEST(contains(error_of("http/1.1 200 OK\r\n\r\n", errc::malformed_response),
                      "status line does not start with \"HTTP/\""));
  BOOST_TEST(
      contains(error_of("\r\nHTTP/1.1 200 OK\r\n\r\n", errc::malformed_response), "status line"));
}

BOOST_AUTO_TEST_CASE(malformed_header_lines_are_named_without_echoing_values) {
  using keyless::errc;
  BOOST_TEST(contains(error_of(ok_head("NoColon\r\n\r\n"), errc::malformed_response), "no colon"));
  BOOST_TEST(contains(error_of(ok_head(": v\r\n\r\n"), errc::malformed_response), "empty name"));
  BOOST_TEST(contains(error_of(ok_head("Name : v\r\n\r\n"), errc::malformed_response),
                      "whitespace between a header name and its colon"));
  BOOST_TEST(contains(error_of(ok_head("Na(me: v\r\n\r\n"), errc::malformed_response),
                      "invalid character"));
  BOOST_TEST(contains(error_of(ok_head("\tfolded\r\n\r\n"), errc::malformed_response),
                      "obsolete line folding"));
  auto message =
      error_of(ok_head("Set-Cookie: SECRETCOOKIE\x7f\r\n\r\n"), errc::malformed_response);
  BOOST_TEST(contains(message, "\"Set-Cookie\" has a control character"));
  BOOST_TEST(!contains(message, "SECRETCOOKIE"));
  BOOST_TEST(contains(error_of(ok_head("X: a\rb\r\n\r\n"), errc::malformed_response),
                      "control character"));
  BOOST_TEST(
      contains(error_of(ok_head(std::string("X: a\0b\r\n\r\n", 10)), errc::malformed_response),
               "control character"));
}

BOOST_AUTO_TEST_CASE(bad_content_lengths_are_refused) {
  using keyless::errc;
  for (std::string_view value : {"abc", "-1", "+1", "1 2", "0x10", "1.0"}) {
    BOOST_TEST(contains(error_of(ok_head("Content-Length: " + std::string(value) + "\r\n\r\n"),
                                 errc::malformed_response),
                        "Content-Length is not a number"));
  }
  BOOST_TEST(contains(error_of(ok_head("Content-Length:\r\n\r\n"), errc::malformed_response),
                      "Content-Length is empty"));
  BOOST_TEST(
      contains(error_of(ok_head("Content-Length: 3, 4\r\n\r\nabcd"), errc::malformed_response),
               "conflicting"));
  // Agreeing duplicates are one length.
  auto o = run_whole(ok_head("Content-Length: 3\r\ncontent-length: 3\r\n\r\nabc"));
  BOOST_TEST_REQUIRE(o.messages.size() == 1u, o.error);
  BOOST_TEST(o.messages[0].body == "abc");
}

BOOST_AUTO_TEST_CASE(unsupported_transfer_encodings_are_refused) {
  using keyless::errc;
  for (std::string_view value : {"gzip", "chunked, chunked", "chunked, gzip", "chunked;q=1", ","}) {
    BOOST_TEST(contains(error_of(ok_head("Transfer-Encoding: " + std::string(value) + "\r\n\r\n"),
                                 errc::malformed_response),
                        "unsupported Transfer-Encoding"));
  }
  BOOST_TEST(contains(error_of("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                               errc::malformed_response),
                      "HTTP/1.0"));
  auto o = run_whole(ok_head("Transfer-Encoding: CHUNKED\r\n\r\n1\r\nx\r\n0\r\n\r\n"));
  BOOST_TEST_REQUIRE(o.messages.size() == 1u, o.error);
  BOOST_TEST(o.messages[0].body == "x");
}

BOOST_AUTO_TEST_CASE(malformed_chunk_framing_is_refused) {
  using keyless::errc;
  auto chunked = [](std::string_view body) {
    return ok_head("Transfer-Encoding: chunked\r\n\r\n") + std::string(body);
  };
  BOOST_TEST(
      contains(error_of(chunked(";ext\r\n"), errc::malformed_response), "invalid chunk size"));
  BOOST_TEST(
      contains(error_of(chunked("5 5\r\n"), errc::malformed_response), "invalid chunk size"));
  BOOST_TEST(
      contains(error_of(chunked("5;a\x01\r\n"), errc::malformed_response), "chunk extension"));
  BOOST_TEST(
      contains(error_of(chunked("1\r\nxy\r\n"), errc::malformed_response), "not followed by CRLF"));
  BOOST_TEST(
      contains(error_of(chunked("1\r\nx\r\n0\r\nbad trailer\r\n\r\n"), errc::malformed_response),
               "trailer line has no colon"));
  BOOST_TEST(contains(error_of(chunked(std::string(5000, '0')), errc::malformed_response),
                      "chunk size line longer than 4096 bytes"));
}

BOOST_AUTO_TEST_CASE(switching_protocols_is_an_error_not_an_interim_response) {
  auto message =
      error_of("HTTP/1.1 101 Switching Protocols\r\n\r\n", keyless::errc::malformed_response);
  BOOST_TEST(contains(message, "upgrades are not supported"));
}

// --- limits ---

BOOST_AUTO_TEST_CASE(head_exactly_at_the_limit_passes_and_one_byte_more_fails) {
  std::string head = "HTTP/1.1 200 OK\r\nX-Pad: abc\r\nContent-Length: 0\r\n\r\n";
  parser_limits limits;
  limits.max_header_bytes = head.size();
  auto o = run_whole(head, false, limits);
  BOOST_TEST_REQUIRE(o.messages.size() == 1u, o.error);
  limits.max_header_bytes = head.size() - 1;
  auto message = error_of(head, keyless::errc::limit_exceeded, false, limits);
  BOOST_TEST(contains(message, fmt::format("limit of {} bytes", head.size() - 1)));
}

BOOST_AUTO_TEST_CASE(an_endless_header_line_fails_at_the_default_64_kib_limit) {
  response_parser p;
  p.reset();
  p.feed("HTTP/1.1 200 OK\r\nX-Big: ");
  std::string block(1024, 'a');
  int fed = 0;
  try {
    for (; fed < 100; ++fed) p.feed(block);
    BOOST_FAIL("no limit");
  } catch (const keyless::error& e) {
    BOOST_TEST(e.code() == keyless::errc::limit_exceeded);
    BOOST_TEST(contains(e.what(), "65536"));
  }
  BOOST_TEST(fed == 63);
}

BOOST_AUTO_TEST_CASE(interim_responses_and_trailers_count_toward_the_head_limit) {
  parser_limits limits;
  limits.max_header_bytes = 100;
  std::string interim =
      "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n";    // 57 bytes
  std::string final_head = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";  // 38 bytes
  BOOST_TEST_REQUIRE(run_whole(interim + final_head, false, limits).messages.size() == 1u);
  error_of(interim + interim + final_head, keyless::errc::limit_exceeded, false, limits);

  std::string chunked_head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";  // 47 bytes
  std::string trailers = "A: 12345678901234567890\r\nB: 1234567890123456789\r\n\r\n";  // 51 bytes
  BOOST_TEST_REQUIRE(chunked_head.size() + trailers.size() == 98u);
  auto ok = run_whole(chunked_head + "0\r\n" + trailers, false, limits);
  BOOST_TEST(ok.messages.size() == 1u, ok.error);
  error_of(chunked_head + "0\r\nC: 123\r\n" + trailers, keyless::errc::limit_exceeded, false,
           limits);
}

BOOST_AUTO_TEST_CASE(content_length_above_the_body_limit_fails_at_the_head) {
  parser_limits limits;
  limits.max_body_bytes = 10;
  BOOST_TEST(
      run_whole(ok_head("Content-Length: 10\r\n\r\n0123456789"), false, limits).error.empty());
  auto message =
      error_of(ok_head("Content-Length: 11\r\n\r\n"), keyless::errc::limit_exceeded, false, limits);
  BOOST_TEST(contains(message, "11 bytes is larger than the limit of 10 bytes"));
  error_of(ok_head("Content-Length: 99999999999999999999999999\r\n\r\n"),
           keyless::errc::limit_exceeded);
  // A HEAD response's length describes a body that never comes.
  BOOST_TEST(run_whole(ok_head("Content-Length: 11\r\n\r\n"), true, limits).error.empty());
}

BOOST_AUTO_TEST_CASE(chunked_body_above_the_limit_fails_at_the_chunk_that_crosses_it) {
  parser_limits limits;
  limits.max_body_bytes = 10;
  std::string head = ok_head("Transfer-Encoding: chunked\r\n\r\n");
  BOOST_TEST(
      run_whole(head + "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n", false, limits).error.empty());
  auto o = run_whole(head + "5\r\n01234\r\n6\r\n", false, limits);
  BOOST_TEST((o.code == keyless::errc::limit_exceeded));
  BOOST_TEST(contains(o.error, "limit of 10 bytes"));
  error_of(head + "ffffffffffffffffffffffff\r\n", keyless::errc::limit_exceeded);
}

BOOST_AUTO_TEST_CASE(close_delimited_body_delivers_up_to_the_limit_then_fails) {
  parser_limits limits;
  limits.max_body_bytes = 10;
  std::string head = "HTTP/1.1 200 OK\r\n\r\n";
  auto exact = run_whole(head + "0123456789", false, limits);
  BOOST_TEST_REQUIRE(exact.messages.size() == 1u, exact.error);
  BOOST_TEST(exact.messages[0].body == "0123456789");

  response_parser p(limits);
  p.reset();
  std::string text = head + "0123456789X";
  std::string_view in = text;
  auto r = p.feed(in);
  BOOST_TEST((r.event == parse_event::head_done));
  in.remove_prefix(r.consumed);
  r = p.feed(in);
  BOOST_TEST((r.event == parse_event::body_data));
  BOOST_TEST(r.data == "0123456789");
  in.remove_prefix(r.consumed);
  BOOST_CHECK_EXCEPTION(p.feed(in), keyless::error, [](const keyless::error& e) {
    return e.code() == keyless::errc::limit_exceeded;
  });
}

// --- the connection closing early ---

BOOST_AUTO_TEST_CASE(eof_is_a_failed_connection_naming_where_the_response_was_cut) {
  auto eof_error = [](std::string_view text) {
    response_parser p;
    p.reset();
    while (!text.empty()) {
      auto r = p.feed(text);
      text.remove_prefix(r.consumed);
      if (r.event == parse_event::need_more) break;
    }
    try {
      p.feed_eof();
    } catch (const keyless::error& e) {
      BOOST_TEST(e.code() == keyless::errc::connection_failed, e.what());
      BOOST_TEST(!contains(e.what(), "malformed"), e.what());
      return e.message();
    }
    return std::string("no error");
  };
  BOOST_TEST(eof_error("") == "connection closed before any response byte arrived");
  BOOST_TEST(eof_error("HTTP/1.1 2") ==
             "connection closed before the end of the response head (after 10 bytes)");
  BOOST_TEST(eof_error("HTTP/1.1 200 OK\r\nA: b\r\n") ==
             "connection closed before the end of the response head (after 23 bytes)");
  BOOST_TEST(eof_error("HTTP/1.1 100 Continue\r\n\r\n") ==
             "connection closed before the end of the response head (after 25 bytes)");
  BOOST_TEST(eof_error("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab") ==
             "connection closed before the end of the body (2 of 4 bytes)");
  std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  BOOST_TEST(eof_error(chunked + "4\r\nab") ==
             "connection closed before the end of the chunked body (after 2 bytes, 2 short of "
             "the end of a chunk)");
  BOOST_TEST(eof_error(chunked + "4\r\nabcd") ==
             "connection closed before the end of the chunked body (after 4 bytes, before the "
             "CRLF ending a chunk)");
  BOOST_TEST(eof_error(chunked + "4\r\nabcd\r\n") ==
             "connection closed before the end of the chunked body (after 4 bytes, at a chunk "
             "boundary)");
  BOOST_TEST(eof_error(chunked + "4\r\nabcd\r\n1") ==
             "connection closed before the end of the chunked body (after 4 bytes, inside a "
             "chunk size line)");
  BOOST_TEST(eof_error(chunked + "2\r\nab\r\n0\r\nA: b\r\n") ==
             "connection closed before the end of the chunked body's trailers (after all 2 "
             "bytes of the body)");
}

BOOST_AUTO_TEST_CASE(every_prefix_of_a_good_response_is_a_failed_connection_not_a_malformed_one) {
  std::size_t cut_short = 0;
  for (const auto& path : recorded_files()) {
    std::string name = path.filename().string();
    if (name.rfind("bad_", 0) == 0 || is_head_file(path)) continue;
    std::string text = read_file(path);
    BOOST_TEST_CONTEXT("file " << name) {
      std::size_t wrong = 0;
      std::string first_wrong;
      for (std::size_t cut = 0; cut < text.size(); ++cut) {
        outcome o = run_whole(std::string_view(text).substr(0, cut));
        if (o.error.empty()) continue;  // a close-delimited body, or a message boundary
        ++cut_short;
        if (o.code != keyless::errc::connection_failed ||
            !contains(o.error, "connection closed before")) {
          if (wrong++ == 0) first_wrong = std::to_string(cut) + ": " + o.error;
        }
      }
      BOOST_TEST(wrong == 0u, "first at offset " << first_wrong);
    }
  }
  BOOST_TEST(cut_short > 1000u);  // the loop saw real truncations, not only boundaries
}

BOOST_AUTO_TEST_CASE(eof_after_a_complete_message_is_harmless) {
  response_parser p;
  p.reset();
  std::string_view text = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  auto r = p.feed(text);
  r = p.feed(text.substr(r.consumed));
  BOOST_TEST((r.event == parse_event::message_done));
  BOOST_TEST((p.feed_eof().event == parse_event::message_done));
}

BOOST_AUTO_TEST_SUITE_END()
