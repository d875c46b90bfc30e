#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "keyless/core/error.hpp"
#include "openai/chat_json.hpp"
#include "openai/sse_decoder.hpp"
#include "openai_test_data.hpp"

namespace ko = keyless::openai;
using openai_test::event_data;
using openai_test::read_data;

namespace {

// Runs `f` and returns the keyless::error it throws (failing the test otherwise).
template <typename F>
keyless::error error_of(F&& f) {
  try {
    f();
  } catch (const keyless::error& e) {
    return e;
  }
  BOOST_ERROR("expected a keyless::error");
  return keyless::error(keyless::errc::invalid_argument, "none");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(chat_response_json)

BOOST_AUTO_TEST_CASE(a_recorded_completion_fills_every_field) {
  auto c = ko::parse_chat_completion(read_data("completion_basic.json"));
  BOOST_TEST(c.id == "chatcmpl-AXyZ0123456789abcdefGHIJ");
  BOOST_TEST(c.object == "chat.completion");
  BOOST_TEST(c.created == 1732712345);
  BOOST_TEST(c.model == "gpt-4o-mini-2024-07-18");
  BOOST_TEST(c.system_fingerprint == "fp_04751d0b65");
  BOOST_REQUIRE(c.choices.size() == 1u);
  const auto& choice = c.choices[0];
  BOOST_TEST(choice.index == 0);
  BOOST_TEST(choice.finish_reason == "stop");
  BOOST_TEST(choice.message.role == "assistant");
  BOOST_REQUIRE(choice.message.content.has_value());
  BOOST_TEST(
      *choice.message.content ==
      "Hello! How can I help you today? \xC3\xA9t\xC3\xA9 \xF0\x9F\x98\x80 \"quoted\"\nnext line");
  BOOST_TEST(!choice.message.refusal.has_value());
  BOOST_TEST(choice.message.tool_calls.empty());
  BOOST_TEST(choice.content_filter_results.categories.size() == 6u);
  BOOST_REQUIRE(choice.content_filter_results.find("violence") != nullptr);
  BOOST_TEST(choice.content_filter_results.find("violence")->severity == "low");
  BOOST_REQUIRE(choice.content_filter_results.find("protected_material_code") != nullptr);
  BOOST_TEST(*choice.content_filter_results.find("protected_material_code")->detected == false);
  BOOST_TEST(!choice.content_filter_results.any_filtered());
  BOOST_REQUIRE(c.usage.has_value());
  BOOST_TEST(c.usage->prompt_tokens == 2048);
  BOOST_TEST(c.usage->completion_tokens == 17);
  BOOST_TEST(c.usage->total_tokens == 2065);
  BOOST_TEST(*c.usage->cached_tokens == 1920);
  BOOST_TEST(*c.usage->reasoning_tokens == 0);
  BOOST_REQUIRE(c.prompt_filter_results.size() == 1u);
  BOOST_TEST(c.prompt_filter_results[0].prompt_index == 0);
  const auto* jailbreak = c.prompt_filter_results[0].content_filter_results.find("jailbreak");
  BOOST_REQUIRE(jailbreak != nullptr);
  BOOST_TEST(!jailbreak->filtered);
  BOOST_TEST(jailbreak->detected.has_value());
}

BOOST_AUTO_TEST_CASE(tool_calls_come_with_null_content) {
  auto c = ko::parse_chat_completion(read_data("completion_tool_calls.json"));
  BOOST_REQUIRE(c.choices.size() == 1u);
  const auto& m = c.choices[0].message;
  BOOST_TEST(!m.content.has_value());  // null, not ""
  BOOST_TEST(c.choices[0].finish_reason == "tool_calls");
  BOOST_REQUIRE(m.tool_calls.size() == 2u);
  BOOST_TEST(m.tool_calls[0].id == "call_9Qm1tYc3ZkP0aRb7");
  BOOST_TEST(m.tool_calls[0].type == "function");
  BOOST_TEST(m.tool_calls[0].function.name == "get_weather");
  BOOST_TEST(m.tool_calls[0].function.arguments ==
             R"({"location":"Paris, France","unit":"celsius"})");
  BOOST_TEST(m.tool_calls[1].function.name == "get_time");
  BOOST_TEST(c.choices[0].content_filter_results.empty());
}

BOOST_AUTO_TEST_CASE(empty_content_is_not_null_content) {
  auto c = ko::parse_chat_completion(read_data("completion_reasoning.json"));
  BOOST_REQUIRE(c.choices[0].message.content.has_value());
  BOOST_TEST(c.choices[0].message.content->empty());
  BOOST_TEST(c.choices[0].finish_reason == "length");
  BOOST_TEST(*c.usage->reasoning_tokens == 1000);
}

BOOST_AUTO_TEST_CASE(filtered_choices_refusals_and_filter_errors_are_kept) {
  auto c = ko::parse_chat_completion(read_data("completion_filtered.json"));
  BOOST_REQUIRE(c.choices.size() == 2u);
  const auto& blocked = c.choices[0];
  BOOST_TEST(blocked.finish_reason == "content_filter");
  BOOST_TEST(blocked.content_filter_results.any_filtered());
  BOOST_TEST(blocked.content_filter_results.find("violence")->severity == "medium");
  BOOST_TEST(blocked.content_filter_results.error_code == "content_filter_error");
  BOOST_TEST(blocked.content_filter_results.error_message == "The contents are not filtered");
  BOOST_TEST(blocked.content_filter_results.find("error") == nullptr);
  BOOST_TEST(*c.choices[1].message.refusal == "I can't help with that.");
  BOOST_TEST(c.choices[1].index == 1);
  BOOST_TEST(c.system_fingerprint.empty());  // null
  BOOST_TEST(!c.usage->cached_tokens.has_value());
  // custom_blocklists carries "details" beside "filtered": still a category.
  BOOST_TEST(c.prompt_filter_results[0].content_filter_results.find("custom_blocklists") !=
             nullptr);
}

BOOST_AUTO_TEST_CASE(azure_stream_chunks_parse_including_the_quirky_ones) {
  auto events = event_data(read_data("stream_basic.sse"));
  BOOST_REQUIRE(events.size() == 8u);
  BOOST_TEST(ko::is_done_marker(events.back()));
  ko::chat_parser parser;
  std::vector<ko::chat_chunk> chunks;
  for (std::size_t i = 0; i + 1 < events.size(); ++i)
    chunks.push_back(parser.parse_chunk(events[i]));

  // The first chunk: no id, no model, no choices, only prompt filter results.
  BOOST_TEST(chunks[0].id.empty());
  BOOST_TEST(chunks[0].model.empty());
  BOOST_TEST(chunks[0].created == 0);
  BOOST_TEST(chunks[0].choices.empty());
  BOOST_REQUIRE(chunks[0].prompt_filter_results.size() == 1u);
  BOOST_TEST(chunks[0].prompt_filter_results[0].content_filter_results.categories.size() == 5u);

  BOOST_TEST(chunks[1].id == "chatcmpl-AXyZstream");
  BOOST_TEST(chunks[1].object == "chat.completion.chunk");
  BOOST_TEST(*chunks[1].choices[0].delta.role == "assistant");
  BOOST_TEST(*chunks[1].choices[0].delta.content == "");
  BOOST_TEST(!chunks[1].choices[0].delta.refusal.has_value());
  BOOST_TEST(!chunks[1].usage.has_value());

  BOOST_TEST(*chunks[2].choices[0].delta.content == "Hello");
  BOOST_TEST(!chunks[2].choices[0].delta.role.has_value());
  BOOST_TEST(chunks[2].choices[0].finish_reason.empty());
  BOOST_TEST(*chunks[3].choices[0].delta.content == "! Caf\xC3\xA9 \xE2\x98\x95");
  BOOST_TEST(chunks[4].choices[0].finish_reason == "stop");
  BOOST_TEST(!chunks[4].choices[0].delta.content.has_value());

  // A filter-only chunk: a choice without delta.
  BOOST_REQUIRE(chunks[5].choices.size() == 1u);
  BOOST_TEST(!chunks[5].choices[0].delta.content.has_value());
  BOOST_TEST(chunks[5].choices[0].content_filter_results.find("sexual")->severity == "low");

  // The usage chunk: choices: [] and usage.
  BOOST_TEST(chunks[6].choices.empty());
  BOOST_REQUIRE(chunks[6].usage.has_value());
  BOOST_TEST(chunks[6].usage->total_tokens == 17);
}

BOOST_AUTO_TEST_CASE(an_error_event_in_the_stream_becomes_an_error) {
  auto events = event_data(read_data("stream_error.sse"));
  BOOST_REQUIRE(events.size() == 3u);
  ko::chat_parser parser;
  BOOST_TEST(*parser.parse_chunk(events[1]).choices[0].delta.content == "Partial");
  auto e = error_of([&] { parser.parse_chunk(events[2]); });
  BOOST_TEST((e.code() == keyless::errc::http_status));
  BOOST_TEST(e.details().service_code == "server_error");
  BOOST_TEST(e.message().find("The server had an error while processing your request") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(only_a_truthy_error_member_is_an_error) {
  const std::vector<std::pair<std::string, bool>> cases = {
      {R"({"error":null,"choices":[]})", false},
      {R"({"error":false})", false},
      {R"({"error":""})", false},
      {R"({"error":{}})", false},
      {R"({"error":true})", true},
      {R"({"error":"boom"})", true},
      {R"({"error":{"code":429,"message":"slow down"}})", true},
      {R"({"choices":[],"error":{"message":"late"}})", true},
  };
  for (const auto& [json, fails] : cases) {
    bool threw = false;
    try {
      ko::parse_chat_chunk(json);
    } catch (const keyless::error& e) {
      threw = true;
      BOOST_TEST((e.code() == keyless::errc::http_status), json);
    }
    BOOST_TEST(threw == fails, json);
  }
  auto e =
      error_of([] { ko::parse_chat_chunk(R"({"error":{"code":429,"message":"slow down"}})"); });
  BOOST_TEST(e.details().service_code == "429");
  auto generic = error_of([] { ko::parse_chat_chunk(R"({"error":true})"); });
  BOOST_TEST(generic.message().find("An error occurred during streaming") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unknown_fields_are_ignored_at_every_level) {
  auto c = ko::parse_chat_completion(
      R"({"future":{"deep":[1,{"x":null}]},"id":"a","choices":[{"index":0,"novel":true,)"
      R"("message":{"role":"assistant","content":"hi","audio":{"id":"x"},"context":{"citations":[]}},)"
      R"("logprobs":{"content":[{"token":"hi","logprob":-0.1}]}}],"usage":{"prompt_tokens":1,)"
      R"("extra_tokens":{"a":1}},"service_tier":"default"})");
  BOOST_TEST(c.id == "a");
  BOOST_TEST(*c.choices[0].message.content == "hi");
  BOOST_TEST(c.usage->prompt_tokens == 1);
}

BOOST_AUTO_TEST_CASE(the_legacy_prompt_annotations_name_is_understood) {
  auto chunk = ko::parse_chat_chunk(
      R"({"id":"","choices":[],"prompt_annotations":[{"prompt_index":0,)"
      R"("content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]})");
  BOOST_REQUIRE(chunk.prompt_filter_results.size() == 1u);
  BOOST_TEST(chunk.prompt_filter_results[0].content_filter_results.categories.size() == 1u);
}

BOOST_AUTO_TEST_CASE(wrong_types_and_broken_json_name_the_field) {
  struct bad {
    std::string json;
    std::string expected;  // part of the message
  };
  const std::vector<bad> cases = {
      {R"({"id":5})", "malformed chat chunk: id: expected a string"},
      {R"({"created":"yesterday"})", "created: expected an integer"},
      {R"({"created":1.5})", "created: expected an integer"},
      {R"({"choices":{}})", "choices: expected an array"},
      {R"({"choices":[5]})", "choices[0]: expected an object"},
      {R"({"choices":[{"delta":{"content":5}}]})", "choices[0].delta.content: expected a string"},
      {R"({"choices":[{},{"delta":{"tool_calls":[{"index":"0"}]}}]})",
       "choices[1].delta.tool_calls[0].index: expected an integer"},
      {R"({"choices":[{"delta":{"tool_calls":[{"function":{"arguments":{}}}]}}]})",
       "choices[0].delta.tool_calls[0].function.arguments: expected a string"},
      {R"({"choices":[{"content_filter_results":{"hate":{"filtered":"no"}}}]})",
       "choices[0].content_filter_results.hate.filtered: expected a boolean"},
      {R"({"usage":{"prompt_tokens":"7"}})", "usage.prompt_tokens: expected an integer"},
      {R"({"usage":{"prompt_tokens_details":{"cached_tokens":true}}})",
       "usage.prompt_tokens_details.cached_tokens: expected an integer"},
      {R"({"prompt_filter_results":[{"prompt_index":[]}]})",
       "prompt_filter_results[0].prompt_index: expected an integer"},
      {R"([])", "top level: expected an object"},
      {R"("chunk")", "top level: expected an object"},
      {R"({"id":"a")", "malformed chat chunk"},
      {R"({"id":"a"}})", "top level: unexpected content after the JSON value"},
      {R"({"id":"a",})", "malformed chat chunk"},
      {"", "malformed chat chunk"},
      {"{\"id\":\"\xFF\"}", "malformed chat chunk"},
  };
  for (const auto& c : cases) {
    auto e = error_of([&] { ko::parse_chat_chunk(c.json); });
    BOOST_TEST((e.code() == keyless::errc::malformed_response), c.json);
    BOOST_TEST(e.message().find(c.expected) != std::string::npos,
               c.json << " gave: " << e.message());
  }
  auto e = error_of(
      [] { ko::parse_chat_completion(R"({"choices":[{"message":{"tool_calls":[{"id":1}]}}]})"); });
  BOOST_TEST(e.message().find("malformed chat completion: choices[0].message.tool_calls[0].id") !=
                 std::string::npos,
             e.message());
}

BOOST_AUTO_TEST_CASE(a_reused_parser_returns_independent_owned_results) {
  ko::chat_parser parser;
  auto first = parser.parse_chunk(R"({"id":"first","choices":[{"delta":{"content":"one"}}]})");
  auto second = parser.parse_chunk(R"({"id":"second","choices":[{"delta":{"content":"two"}}]})");
  BOOST_CHECK_THROW(parser.parse_chunk("{"), keyless::error);
  auto third = parser.parse_chunk(R"({"id":"third"})");
  BOOST_TEST(first.id == "first");
  BOOST_TEST(*first.choices[0].delta.content == "one");
  BOOST_TEST(second.id == "second");
  BOOST_TEST(*second.choices[0].delta.content == "two");
  BOOST_TEST(third.id == "third");
}

BOOST_AUTO_TEST_SUITE_END()
