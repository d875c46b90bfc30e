// Server-Sent Events decoding throughput over an Azure-shaped chat stream
// (filter-annotated content chunks, a usage chunk, [DONE]), fed in pieces the
// size a socket read returns. Reports bytes/s and events/s.
//
//   build/benchmarks/bench_sse_decode

#include <benchmark/benchmark.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "openai/sse_decoder.hpp"

namespace {

namespace ko = keyless::openai;

// One Azure content chunk as it appears on the wire, with its filter results.
std::string content_event(int i) {
  return "data: {\"choices\":[{\"content_filter_results\":{\"hate\":{\"filtered\":false,"
         "\"severity\":\"safe\"},\"self_harm\":{\"filtered\":false,\"severity\":\"safe\"},"
         "\"sexual\":{\"filtered\":false,\"severity\":\"safe\"},\"violence\":{\"filtered\":false,"
         "\"severity\":\"safe\"}},\"delta\":{\"content\":\" token" +
         std::to_string(i) +
         "\"},\"finish_reason\":null,\"index\":0,\"logprobs\":null}],\"created\":1732712700,"
         "\"id\":\"chatcmpl-AXyZ0123456789abcdefGHIJ\",\"model\":\"gpt-4o-mini-2024-07-18\","
         "\"object\":\"chat.completion.chunk\",\"system_fingerprint\":\"fp_04751d0b65\"}\n\n";
}

// A 500-chunk reply: about 250 KB.
const std::string& stream() {
  static const std::string s = [] {
    std::string out =
        "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\","
        "\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":{}}]}\n\n";
    for (int i = 0; i < 500; ++i) out += content_event(i);
    out +=
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":500,"
        "\"total_tokens\":512}}\n\n";
    out += "data: [DONE]\n\n";
    return out;
  }();
  return s;
}

void decode_in_pieces(benchmark::State& state) {
  const auto piece = static_cast<std::size_t>(state.range(0));
  const std::string_view body = stream();
  std::size_t events = 0;
  ko::sse_event e;
  for (auto _ : state) {
    ko::sse_decoder decoder;
    for (std::size_t at = 0; at < body.size(); at += piece) {
      decoder.feed(body.substr(at, piece));
      while (decoder.next(e)) {
        ++events;
        benchmark::DoNotOptimize(e.data.data());
      }
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
  state.counters["events/s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}
// 16 KiB and 1460 B are typical TLS record / TCP segment reads; 64 B shows the
// cost of many tiny reads (lines split across feeds).
BENCHMARK(decode_in_pieces)->Arg(16384)->Arg(1460)->Arg(64);

void decode_crlf_stream(benchmark::State& state) {
  std::string body;
  for (char c : stream()) {
    if (c == '\n') body += '\r';
    body += c;
  }
  ko::sse_event e;
  for (auto _ : state) {
    ko::sse_decoder decoder;
    for (std::size_t at = 0; at < body.size(); at += 1460) {
      decoder.feed(std::string_view(body).substr(at, 1460));
      while (decoder.next(e)) benchmark::DoNotOptimize(e.data.data());
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(decode_crlf_stream);

}  // namespace

BENCHMARK_MAIN();
