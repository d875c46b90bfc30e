// HTTP/1.1 response parser throughput (bytes of wire format per second) for
// the three shapes keyless reads most: a Content-Length JSON reply, a chunked
// Server-Sent Events stream, and a head heavy with headers.

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/core.h>

#include "http/http1_parser.hpp"

namespace {

using keyless::http::detail::parse_event;
using keyless::http::detail::response_parser;

std::string json_response() {
  std::string body = R"({"choices":[)";
  for (int i = 0; i < 8; ++i) {
    if (i > 0) body += ',';
    body += fmt::format(
        R"({{"finish_reason":"stop","index":{},"message":{{"content":"Choice {} says hello; )"
        R"(this sentence pads the reply to a realistic size for a short chat answer.",)"
        R"("role":"assistant"}},"content_filter_results":{{"hate":{{"filtered":false,)"
        R"("severity":"safe"}},"violence":{{"filtered":false,"severity":"safe"}}}}}})",
        i, i);
  }
  body += R"(],"created":1732700000,"id":"chatcmpl-bench","model":"gpt-4o-mini",)"
          R"("object":"chat.completion","usage":{"completion_tokens":90,"prompt_tokens":8,)"
          R"("total_tokens":98}})";
  return fmt::format(
      "HTTP/1.1 200 OK\r\n"
      "Content-Length: {}\r\n"
      "Content-Type: application/json\r\n"
      "apim-request-id: 3f1c2b7e-5a4d-4c2b-9e8f-0a1b2c3d4e5f\r\n"
      "Strict-Transport-Security: max-age=31536000; includeSubDomains; preload\r\n"
      "x-content-type-options: nosniff\r\n"
      "x-ms-region: East US\r\n"
      "x-ratelimit-remaining-requests: 99\r\n"
      "x-ratelimit-remaining-tokens: 99983\r\n"
      "x-request-id: 7d2c6a1e-0f3b-4e5a-8c9d-1e2f3a4b5c6d\r\n"
      "Date: Wed, 27 Nov 2024 10:00:00 GMT\r\n"
      "\r\n{}",
      body.size(), body);
}

// One SSE event per chunk, as Azure OpenAI streams a chat completion.
std::string chunked_response() {
  std::string out =
      "HTTP/1.1 200 OK\r\n"
      "Transfer-Encoding: chunked\r\n"
      "Content-Type: text/event-stream; charset=utf-8\r\n"
      "apim-request-id: 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\r\n"
      "\r\n";
  for (int i = 0; i < 200; ++i) {
    std::string event = fmt::format(
        "data: {{\"choices\":[{{\"delta\":{{\"content\":\" token{}\"}},\"finish_reason\":null,"
        "\"index\":0}}],\"created\":1732700000,\"id\":\"chatcmpl-bench\",\"model\":"
        "\"gpt-4o-mini\",\"object\":\"chat.completion.chunk\"}}\n\n",
        i);
    out += fmt::format("{:x}\r\n{}\r\n", event.size(), event);
  }
  out += "e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n";
  return out;
}

std::string many_headers_response() {
  std::string out = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 98; ++i) {
    out += fmt::format("X-Bench-Header-{:02}: value-{:02}-with-some-typical-length\r\n", i, i);
  }
  out += "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
  return out;
}

// Feeds `wire` in pieces of at most `piece` bytes (as socket reads deliver
// it) until the response is complete.
void parse_all(response_parser& p, std::string_view wire, std::size_t piece) {
  p.reset();
  std::size_t body = 0;
  while (!p.done() && !wire.empty()) {
    std::string_view in = wire.substr(0, piece);
    wire.remove_prefix(in.size());
    for (;;) {
      auto r = p.feed(in);
      in.remove_prefix(r.consumed);
      if (r.event == parse_event::body_data) body += r.data.size();
      if (r.event == parse_event::need_more || r.event == parse_event::message_done) break;
    }
  }
  if (!p.done()) throw std::runtime_error("benchmark response did not parse completely");
  benchmark::DoNotOptimize(body);
}

void run(benchmark::State& state, const std::string& wire) {
  response_parser p;
  auto piece = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) parse_all(p, wire, piece);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(wire.size()));
  state.counters["wire_bytes"] = static_cast<double>(wire.size());
}

void content_length_json(benchmark::State& state) {
  static const std::string wire = json_response();
  run(state, wire);
}

void chunked_sse(benchmark::State& state) {
  static const std::string wire = chunked_response();
  run(state, wire);
}

void hundred_headers(benchmark::State& state) {
  static const std::string wire = many_headers_response();
  run(state, wire);
}

// Argument: the largest piece fed at once. 1 MiB means "all in one piece";
// 1460 is one TCP segment's payload, the worst realistic case.
BENCHMARK(content_length_json)->Arg(1 << 20)->Arg(1460);
BENCHMARK(chunked_sse)->Arg(1 << 20)->Arg(1460);
BENCHMARK(hundred_headers)->Arg(1 << 20)->Arg(1460);

}  // namespace

BENCHMARK_MAIN();
