// libFuzzer target for the HTTP/1.1 response parser. Besides looking for
// crashes, it checks that the parser is split-invariant: the input parsed in
// one piece, in pieces of pseudo-random sizes and byte by byte must give the
// same responses or the same error. keyless::error is an expected outcome;
// any other exception escapes and is reported as a crash.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/http1_parser.hpp"
#include "keyless/core/error.hpp"

namespace {

using keyless::http::detail::parse_event;
using keyless::http::detail::parser_limits;
using keyless::http::detail::response_parser;

struct message {
  int status = 0;
  std::string reason;
  int version_minor = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool keep_alive = false;
  bool operator==(const message&) const = default;
};

struct outcome {
  std::vector<message> messages;
  int code = 0;
  std::string error;
  bool operator==(const outcome&) const = default;
};

void check(bool ok) {
  if (!ok) std::abort();
}

// Parses back-to-back responses from `input`, delivered in pieces whose
// sizes `next_size` picks; a started response at the end gets feed_eof.
template <typename NextSize>
outcome run(std::string_view input, bool head, parser_limits limits, NextSize next_size) {
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
    check(p.done());
    o.messages.push_back(std::move(current));
    current = {};
    p.reset(head);
    fed_since_reset = 0;
  };
  try {
    while (!input.empty()) {
      std::string_view rest = input.substr(0, next_size(input.size()));
      input.remove_prefix(rest.size());
      int idle = 0;  // calls in a row that consumed nothing: more than two is a hang
      for (;;) {
        auto r = p.feed(rest);
        check(r.consumed <= rest.size());
        if (r.event == parse_event::need_more) check(r.consumed == rest.size());
        if (r.event == parse_event::head_done) check(p.head_done() && p.head().status >= 200);
        if (r.event == parse_event::body_data) {
          check(!r.data.empty() && r.data.data() >= rest.data() &&
                r.data.data() + r.data.size() <= rest.data() + r.consumed);
          current.body.append(r.data);
        }
        idle = r.consumed == 0 ? idle + 1 : 0;
        check(idle <= 2);
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
      check(r.event == parse_event::message_done);  // anything else throws
      finish();
    }
  } catch (const keyless::error& e) {
    check(e.code().category() == keyless::keyless_category());
    o.code = e.code().value();
    o.error = e.what();
  }
  for (const auto& m : o.messages) {
    check(m.body.size() <= limits.max_body_bytes);
  }
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Options come from a hash of the input, so the seed corpus stays plain
  // HTTP text while every input still picks a HEAD flag and a split pattern.
  std::uint32_t hash = 2166136261u;
  for (unsigned char c : input) hash = (hash ^ c) * 16777619u;
  bool head = (hash & 7) == 0;

  // Default limits, then small ones so the limit paths are reached too.
  parser_limits small;
  small.max_header_bytes = 200 + (hash >> 8) % 200;
  small.max_body_bytes = (hash >> 16) % 100;
  for (const parser_limits& limits : {parser_limits{}, small}) {
    outcome whole = run(input, head, limits, [](std::size_t n) { return n; });
    std::uint32_t state = hash | 1;
    outcome pieces = run(input, head, limits, [&](std::size_t n) {
      state ^= state << 13;
      state ^= state >> 17;
      state ^= state << 5;
      std::size_t want = 1 + state % 17;
      return want < n ? want : n;
    });
    check(pieces == whole);
    if (size <= 4096) {
      outcome bytes = run(input, head, limits, [](std::size_t) { return std::size_t{1}; });
      check(bytes == whole);
    }
  }
  return 0;
}
