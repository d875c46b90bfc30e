// libFuzzer target for the chunked transfer decoder. The input is the body of a
// "Transfer-Encoding: chunked" response (chunk sizes, extensions, trailers), so
// every byte lands in the chunked path instead of the status line. Oracle: the
// decoded body and the outcome (message or keyless::error) are the same whether
// the bytes arrive whole or one at a time, the decoded body is never longer than
// its encoding, and the body limit is honoured.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/http1_parser.hpp"
#include "keyless/core/error.hpp"

namespace {

using keyless::http::detail::parse_event;
using keyless::http::detail::parser_limits;
using keyless::http::detail::response_parser;

constexpr std::string_view head =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

void check(bool ok) {
  if (!ok) std::abort();
}

struct outcome {
  bool done = false;
  std::string body;
  std::string trailer_view;  // header names after the body (trailers are merged or dropped)
  int code = 0;
  bool operator==(const outcome&) const = default;
};

outcome run(std::string_view input, const parser_limits& limits, std::size_t piece) {
  outcome o;
  response_parser p(limits);
  p.reset(false);
  try {
    while (!input.empty() && !o.done) {
      std::string_view rest = input.substr(0, piece);
      input.remove_prefix(rest.size());
      int idle = 0;
      while (!o.done) {
        auto r = p.feed(rest);
        check(r.consumed <= rest.size());
        idle = r.consumed == 0 ? idle + 1 : 0;
        check(idle <= 2);
        if (r.event == parse_event::body_data) o.body.append(r.data);
        rest.remove_prefix(r.consumed);
        if (r.event == parse_event::message_done) o.done = true;
        if (r.event == parse_event::need_more) break;
      }
    }
    if (!o.done) {
      auto r = p.feed_eof();  // a chunked body cut short must throw
      check(r.event == parse_event::message_done);
      o.done = true;
    }
    for (const auto& [name, value] : p.head().headers) o.trailer_view += name + ":";
  } catch (const keyless::error& e) {
    check(e.code().category() == keyless::keyless_category());
    o.code = e.code().value();
    o.body.clear();
  }
  check(o.body.size() <= limits.max_body_bytes);
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(head);
  input.append(reinterpret_cast<const char*>(data), size);
  parser_limits small;
  small.max_body_bytes = 64;
  small.max_header_bytes = 512;
  for (const parser_limits& limits : {parser_limits{}, small}) {
    const outcome whole = run(input, limits, input.size());
    if (whole.code == 0) check(whole.body.size() <= size);
    check(run(input, limits, 7) == whole);
    if (size <= 2048) check(run(input, limits, 1) == whole);
  }
  return 0;
}
