// Chat JSON costs on the client's CPU: parsing a streamed chunk (plain and
// with Azure's per-chunk filter results), parsing a whole completion, and
// writing a request body. Time per iteration is ns per item.
//
//   build/benchmarks/bench_chat_chunk_json

#include <benchmark/benchmark.h>

#include <string>

#include "keyless/openai/chat_stream_accumulator.hpp"
#include "openai/chat_json.hpp"

namespace {

namespace ko = keyless::openai;

const std::string plain_chunk =
    R"({"choices":[{"delta":{"content":" world"},"finish_reason":null,"index":0,"logprobs":null}],)"
    R"("created":1732712700,"id":"chatcmpl-AXyZ0123456789abcdefGHIJ","model":"gpt-4o-mini-2024-07-18",)"
    R"("object":"chat.completion.chunk","system_fingerprint":"fp_04751d0b65"})";

const std::string filtered_chunk =
    R"({"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},)"
    R"("self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},)"
    R"("violence":{"filtered":false,"severity":"safe"}},"delta":{"content":" world"},)"
    R"("finish_reason":null,"index":0,"logprobs":null}],"created":1732712700,)"
    R"("id":"chatcmpl-AXyZ0123456789abcdefGHIJ","model":"gpt-4o-mini-2024-07-18",)"
    R"("object":"chat.completion.chunk","system_fingerprint":"fp_04751d0b65"})";

const std::string completion =
    R"({"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},)"
    R"("self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},)"
    R"("violence":{"filtered":false,"severity":"safe"}},"finish_reason":"stop","index":0,)"
    R"("logprobs":null,"message":{"content":"Hello! How can I assist you today? I can answer )"
    R"(questions, summarise text, or help you write code.","refusal":null,"role":"assistant"}}],)"
    R"("created":1732712345,"id":"chatcmpl-AXyZ0123456789abcdefGHIJ","model":"gpt-4o-mini-2024-07-18",)"
    R"("object":"chat.completion","prompt_filter_results":[{"prompt_index":0,"content_filter_results":)"
    R"({"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},)"
    R"("self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},)"
    R"("violence":{"filtered":false,"severity":"safe"}}}],"system_fingerprint":"fp_04751d0b65",)"
    R"("usage":{"completion_tokens":22,"completion_tokens_details":{"reasoning_tokens":0},)"
    R"("prompt_tokens":19,"prompt_tokens_details":{"cached_tokens":0},"total_tokens":41}})";

void parse_chunk(benchmark::State& state, const std::string& json) {
  ko::chat_parser parser;
  for (auto _ : state) {
    auto chunk = parser.parse_chunk(json);
    benchmark::DoNotOptimize(chunk.choices.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * json.size()));
}
BENCHMARK_CAPTURE(parse_chunk, plain, plain_chunk);
BENCHMARK_CAPTURE(parse_chunk, with_filter_results, filtered_chunk);

void parse_and_accumulate_chunk(benchmark::State& state) {
  ko::chat_parser parser;
  ko::chat_stream_accumulator acc;
  std::size_t n = 0;
  for (auto _ : state) {
    acc.add(parser.parse_chunk(filtered_chunk));
    // A reply is a few hundred chunks; start over so the text stays realistic.
    if (++n % 500 == 0) benchmark::DoNotOptimize(acc.take());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(parse_and_accumulate_chunk);

void parse_completion(benchmark::State& state) {
  ko::chat_parser parser;
  for (auto _ : state) {
    auto c = parser.parse_completion(completion);
    benchmark::DoNotOptimize(c.choices.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * completion.size()));
}
BENCHMARK(parse_completion);

void write_request(benchmark::State& state) {
  ko::chat_request r;
  r.messages = {{"system", "You are a helpful assistant that answers briefly."},
                {"user", "Summarise the plot of \"Hamlet\" in two sentences, please."}};
  r.temperature = 0.7;
  r.max_tokens = 256;
  r.include_usage = true;
  for (auto _ : state) {
    auto body = ko::write_chat_request(r, {.model = "gpt-4o-mini", .stream = true});
    benchmark::DoNotOptimize(body.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(write_request);

}  // namespace

BENCHMARK_MAIN();
