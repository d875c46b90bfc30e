#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "keyless/openai/chat_stream_accumulator.hpp"
#include "openai/chat_json.hpp"
#include "openai/sse_decoder.hpp"
#include "openai_test_data.hpp"

namespace ko = keyless::openai;

namespace {

// Decodes a recorded SSE body and folds every chunk up to [DONE].
ko::chat_stream_accumulator fold(const std::string& file) {
  ko::chat_stream_accumulator acc;
  ko::chat_parser parser;
  for (const auto& data : openai_test::event_data(openai_test::read_data(file))) {
    if (ko::is_done_marker(data)) break;
    acc.add(parser.parse_chunk(data));
  }
  return acc;
}

ko::chunk_choice content_delta(std::int64_t index, std::string text) {
  ko::chunk_choice c;
  c.index = index;
  c.delta.content = std::move(text);
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(chat_stream_accumulator)

BOOST_AUTO_TEST_CASE(a_recorded_azure_stream_adds_up_to_a_completion) {
  auto acc = fold("stream_basic.sse");
  const auto& c = acc.completion();
  BOOST_TEST(acc.chunk_count() == 7u);
  BOOST_TEST(c.object == "chat.completion");
  BOOST_TEST(c.id == "chatcmpl-AXyZstream");  // not the first chunk's empty id
  BOOST_TEST(c.model == "gpt-4o-mini-2024-07-18");
  BOOST_TEST(c.created == 1732712700);
  BOOST_TEST(c.system_fingerprint == "fp_04751d0b65");
  BOOST_REQUIRE(c.choices.size() == 1u);
  BOOST_TEST(c.choices[0].message.role == "assistant");
  BOOST_TEST(*c.choices[0].message.content == "Hello! Caf\xC3\xA9 \xE2\x98\x95");
  BOOST_TEST(!c.choices[0].message.refusal.has_value());
  BOOST_TEST(c.choices[0].finish_reason == "stop");
  // The filter-only chunk after finish_reason raised "sexual" to low.
  BOOST_TEST(c.choices[0].content_filter_results.find("sexual")->severity == "low");
  BOOST_REQUIRE(c.usage.has_value());
  BOOST_TEST(c.usage->prompt_tokens == 12);
  BOOST_TEST(c.usage->completion_tokens == 5);
  BOOST_TEST(c.prompt_filter_results.size() == 1u);
}

BOOST_AUTO_TEST_CASE(interleaved_tool_call_fragments_are_joined_by_index) {
  auto acc = fold("stream_tool_calls.sse");
  const auto& m = acc.completion().choices.at(0).message;
  BOOST_TEST(!m.content.has_value());  // only null content arrived
  BOOST_REQUIRE(m.tool_calls.size() == 2u);
  BOOST_TEST(m.tool_calls[0].id == "call_A1");
  BOOST_TEST(m.tool_calls[0].type == "function");
  BOOST_TEST(m.tool_calls[0].function.name == "get_weather");
  BOOST_TEST(m.tool_calls[0].function.arguments == R"({"location":"Paris"})");
  BOOST_TEST(m.tool_calls[1].id == "call_B2");
  BOOST_TEST(m.tool_calls[1].function.name == "get_time");
  BOOST_TEST(m.tool_calls[1].function.arguments == R"({"tz":"Europe/Paris"})");
  BOOST_TEST(acc.completion().choices[0].finish_reason == "tool_calls");
}

BOOST_AUTO_TEST_CASE(tool_calls_that_first_appear_out_of_order_end_up_in_index_order) {
  ko::chat_stream_accumulator acc;
  ko::chat_chunk chunk;
  ko::chunk_choice choice;
  choice.delta.tool_calls = {{2, "call_c", "function", "c", "{"},
                             {0, "call_a", "function", "a", "["}};
  chunk.choices = {choice};
  acc.add(chunk);
  chunk.choices[0].delta.tool_calls = {
      {1, "call_b", "", "b", "1"}, {2, "", "", "", "}"}, {0, "", "", "", "]"}};
  acc.add(chunk);
  const auto& calls = acc.completion().choices[0].message.tool_calls;
  BOOST_REQUIRE(calls.size() == 3u);
  BOOST_TEST(calls[0].id == "call_a");
  BOOST_TEST(calls[0].function.arguments == "[]");
  BOOST_TEST(calls[1].id == "call_b");
  BOOST_TEST(calls[1].type == "function");  // defaulted when no fragment named it
  BOOST_TEST(calls[2].function.arguments == "{}");
}

BOOST_AUTO_TEST_CASE(several_choices_are_kept_apart_and_sorted) {
  ko::chat_stream_accumulator acc;
  ko::chat_chunk chunk;
  chunk.choices = {content_delta(1, "B1"), content_delta(0, "A1")};
  acc.add(chunk);
  chunk.choices = {content_delta(0, "A2")};
  chunk.choices[0].delta.role = "assistant";
  acc.add(chunk);
  chunk.choices = {content_delta(1, "B2")};
  chunk.choices[0].finish_reason = "length";
  chunk.choices.push_back(content_delta(0, ""));
  chunk.choices.back().finish_reason = "stop";
  acc.add(chunk);
  const auto& choices = acc.completion().choices;
  BOOST_REQUIRE(choices.size() == 2u);
  BOOST_TEST(choices[0].index == 0);
  BOOST_TEST(*choices[0].message.content == "A1A2");
  BOOST_TEST(choices[0].finish_reason == "stop");
  BOOST_TEST(choices[1].index == 1);
  BOOST_TEST(*choices[1].message.content == "B1B2");
  BOOST_TEST(choices[1].finish_reason == "length");
}

BOOST_AUTO_TEST_CASE(refusals_and_filter_verdicts_accumulate) {
  ko::chat_stream_accumulator acc;
  ko::chat_chunk chunk;
  ko::chunk_choice c;
  c.delta.refusal = "I can't ";
  c.content_filter_results.categories = {{"violence", false, "low", {}},
                                         {"jailbreak", false, "", false}};
  chunk.choices = {c};
  acc.add(chunk);
  c.delta.refusal = "help.";
  c.content_filter_results.categories = {{"violence", true, "medium", {}},
                                         {"jailbreak", false, "", true},
                                         {"hate", false, "safe", {}}};
  chunk.choices = {c};
  acc.add(chunk);
  c.delta.refusal.reset();
  c.content_filter_results.categories = {{"violence", false, "safe", {}}};
  chunk.choices = {c};
  acc.add(chunk);
  const auto& choice = acc.completion().choices[0];
  BOOST_TEST(*choice.message.refusal == "I can't help.");
  BOOST_TEST(!choice.message.content.has_value());
  const auto& f = choice.content_filter_results;
  BOOST_TEST(f.categories.size() == 3u);
  BOOST_TEST(f.find("violence")->filtered);
  BOOST_TEST(f.find("violence")->severity == "medium");  // the worst seen
  BOOST_TEST(*f.find("jailbreak")->detected);
  BOOST_TEST(f.any_filtered());
}

BOOST_AUTO_TEST_CASE(take_moves_the_result_out_and_resets) {
  auto acc = fold("stream_basic.sse");
  auto done = acc.take();
  BOOST_TEST(*done.choices.at(0).message.content == "Hello! Caf\xC3\xA9 \xE2\x98\x95");
  BOOST_TEST(acc.completion().choices.empty());
  BOOST_TEST(acc.chunk_count() == 0u);
  ko::chat_chunk chunk;
  chunk.choices = {content_delta(0, "again")};
  acc.add(chunk);
  BOOST_TEST(*acc.completion().choices[0].message.content == "again");
}

BOOST_AUTO_TEST_SUITE_END()
