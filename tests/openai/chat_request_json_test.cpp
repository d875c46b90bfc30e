#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "keyless/core/error.hpp"
#include "keyless/openai/chat_types.hpp"
#include "openai/chat_json.hpp"

namespace ko = keyless::openai;

namespace {

ko::chat_request hello() {
  return {.messages = {{"user", "Hello"}}};
}

// The request body must always be one valid JSON document.
simdjson::dom::element parse_json(simdjson::dom::parser& parser, const std::string& text) {
  return parser.parse(text);
}

std::string content_of(const std::string& body) {
  simdjson::dom::parser parser;
  auto doc = parse_json(parser, body);
  return std::string(std::string_view(doc["messages"].at(0)["content"]));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(chat_request_json)

BOOST_AUTO_TEST_CASE(a_single_user_message_is_the_whole_body) {
  BOOST_TEST(ko::write_chat_request(hello()) ==
             R"({"messages":[{"role":"user","content":"Hello"}]})");
}

BOOST_AUTO_TEST_CASE(model_is_written_only_when_asked) {
  auto without = ko::write_chat_request(hello());
  auto with = ko::write_chat_request(hello(), {.model = "my-gpt4o-deployment"});
  BOOST_TEST(without.find("\"model\"") == std::string::npos);
  BOOST_TEST(with ==
             R"({"model":"my-gpt4o-deployment","messages":[{"role":"user","content":"Hello"}]})");
}

BOOST_AUTO_TEST_CASE(stream_options_are_written_only_for_streaming_requests) {
  auto request = hello();
  request.include_usage = true;
  auto plain = ko::write_chat_request(request);
  auto streamed = ko::write_chat_request(request, {.stream = true});
  BOOST_TEST(plain == R"({"messages":[{"role":"user","content":"Hello"}]})");
  BOOST_TEST(streamed == R"({"messages":[{"role":"user","content":"Hello"}],"stream":true,)"
                         R"("stream_options":{"include_usage":true}})");
  request.include_usage.reset();
  BOOST_TEST(ko::write_chat_request(request, {.stream = true}) ==
             R"({"messages":[{"role":"user","content":"Hello"}],"stream":true})");
}

BOOST_AUTO_TEST_CASE(every_optional_field_is_written_with_its_wire_name) {
  ko::chat_request r;
  r.messages = {{"system", "Be brief."}, {"user", "Weather?"}};
  r.temperature = 0.25;
  r.top_p = 1.0;
  r.max_tokens = 100;
  r.max_completion_tokens = 200;
  r.n = 2;
  r.stop = {"END", "\n\n"};
  r.presence_penalty = -0.5;
  r.frequency_penalty = 1.5;
  r.seed = -42;
  r.user = "user-1234";
  r.response_format =
      ko::response_format_option{.type = ko::response_format_option::kind::json_object};
  r.tools = {
      {.function = {.name = "get_weather",
                    .description = "Current weather",
                    .parameters = R"({"type":"object","properties":{"city":{"type":"string"}}})",
                    .strict = true}}};
  r.tool_choice = ko::tool_choice_option{.type = ko::tool_choice_option::kind::required};
  r.parallel_tool_calls = false;
  r.include_usage = true;
  r.reasoning_effort = "low";
  r.logprobs = true;
  r.top_logprobs = 3;
  r.extra = {{"logit_bias", R"({"50256": -100})"}, {"data_sources", "[]"}};
  auto body = ko::write_chat_request(r, {.model = "dep", .stream = true});
  BOOST_TEST(body ==
             R"({"model":"dep","messages":[{"role":"system","content":"Be brief."},)"
             R"({"role":"user","content":"Weather?"}],"temperature":0.25,"top_p":1,)"
             R"("max_tokens":100,"max_completion_tokens":200,"n":2,"stop":["END","\n\n"],)"
             R"("presence_penalty":-0.5,"frequency_penalty":1.5,"seed":-42,"user":"user-1234",)"
             R"("response_format":{"type":"json_object"},"tools":[{"type":"function",)"
             R"("function":{"name":"get_weather","description":"Current weather",)"
             R"("parameters":{"type":"object","properties":{"city":{"type":"string"}}},)"
             R"("strict":true}}],"tool_choice":"required","parallel_tool_calls":false,)"
             R"("reasoning_effort":"low","logprobs":true,"top_logprobs":3,"stream":true,)"
             R"("stream_options":{"include_usage":true},"logit_bias":{"50256": -100},)"
             R"("data_sources":[]})");
  simdjson::dom::parser parser;
  BOOST_TEST(parse_json(parser, body).is_object());
}

BOOST_AUTO_TEST_CASE(tool_choice_is_a_keyword_or_a_named_function) {
  using k = ko::tool_choice_option::kind;
  const std::vector<std::pair<ko::tool_choice_option, std::string>> cases = {
      {{k::automatic, {}}, R"("tool_choice":"auto")"},
      {{k::none, {}}, R"("tool_choice":"none")"},
      {{k::required, {}}, R"("tool_choice":"required")"},
      {ko::tool_choice_option::named("get_weather"),
       R"("tool_choice":{"type":"function","function":{"name":"get_weather"}})"},
  };
  for (const auto& [choice, expected] : cases) {
    auto r = hello();
    r.tool_choice = choice;
    auto body = ko::write_chat_request(r);
    BOOST_TEST(body.find(expected) != std::string::npos, body);
  }
}

BOOST_AUTO_TEST_CASE(response_format_writes_text_json_object_and_json_schema) {
  using k = ko::response_format_option::kind;
  const std::vector<std::pair<ko::response_format_option, std::string>> cases = {
      {{.type = k::text}, R"("response_format":{"type":"text"})"},
      {{.type = k::json_object}, R"("response_format":{"type":"json_object"})"},
      {{.type = k::json_schema,
        .name = "answer",
        .description = "One answer",
        .schema = "{ \"type\": \"object\" }\n",
        .strict = true},
       R"("response_format":{"type":"json_schema","json_schema":{"name":"answer",)"
       R"("description":"One answer","schema":{ "type": "object" },"strict":true}})"},
  };
  for (const auto& [format, expected] : cases) {
    auto r = hello();
    r.response_format = format;
    auto body = ko::write_chat_request(r);
    BOOST_TEST(body.find(expected) != std::string::npos, body);
  }
}

BOOST_AUTO_TEST_CASE(content_parts_tool_calls_and_tool_results_are_written) {
  ko::chat_request r;
  ko::chat_message user{"user", std::nullopt};
  user.name = "alice";
  user.parts = {ko::content_part::make_text("What is this?"),
                ko::content_part::make_image("data:image/png;base64,iVBORw0KGgo=", "low"),
                ko::content_part::make_image("https://example.com/cat.png")};
  ko::chat_message assistant{"assistant", std::nullopt};
  assistant.tool_calls = {{"call_1", "function", {"lookup", R"({"q":"cat"})"}}};
  ko::chat_message tool{"tool", "{\"found\":true}"};
  tool.tool_call_id = "call_1";
  ko::chat_message refused{"assistant", std::nullopt};
  refused.refusal = "I can't.";
  r.messages = {user, assistant, tool, refused};
  BOOST_TEST(
      ko::write_chat_request(r) ==
      R"({"messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},)"
      R"({"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=",)"
      R"("detail":"low"}},{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}],)"
      R"("name":"alice"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1",)"
      R"("type":"function","function":{"name":"lookup","arguments":"{\"q\":\"cat\"}"}}]},)"
      R"({"role":"tool","content":"{\"found\":true}","tool_call_id":"call_1"},)"
      R"({"role":"assistant","content":null,"refusal":"I can't."}]})");
}

BOOST_AUTO_TEST_CASE(strings_are_escaped_for_json) {
  struct escape_case {
    std::string input;
    std::string expected;  // the JSON string literal
  };
  const std::vector<escape_case> cases = {
      {"plain", R"("plain")"},
      {"say \"hi\"", R"("say \"hi\"")"},
      {"back\\slash", R"("back\\slash")"},
      {"tab\tnew\nret\rbs\bff\f", R"("tab\tnew\nret\rbs\bff\f")"},
      {std::string("nul\0x", 5), R"("nul\u0000x")"},
      {"\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\""},
      {"caf\xC3\xA9 \xE2\x98\x95 \xF0\x9F\x98\x80",
       "\"caf\xC3\xA9 \xE2\x98\x95 \xF0\x9F\x98\x80\""},
      {"</script>\xE2\x80\xA8", "\"</script>\xE2\x80\xA8\""},
  };
  for (const auto& c : cases) {
    auto body = ko::write_chat_request({.messages = {{"user", c.input}}});
    auto expected = R"({"messages":[{"role":"user","content":)" + c.expected + "}]}";
    BOOST_TEST(body == expected);
    BOOST_TEST(content_of(body) == c.input);  // reads back to the same text
  }
}

BOOST_AUTO_TEST_CASE(invalid_utf8_becomes_replacement_characters) {
  const std::string fffd = "\xEF\xBF\xBD";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a\xFF"
       "b",
       "a" + fffd + "b"},                               // never valid
      {"\xC3", fffd},                                   // truncated 2-byte sequence
      {"\xC0\xAF", fffd + fffd},                        // overlong '/'
      {"\xED\xA0\x80", fffd + fffd + fffd},             // UTF-16 surrogate
      {"\xF4\x90\x80\x80", fffd + fffd + fffd + fffd},  // past U+10FFFF
      {"ok\xE2\x98", "ok" + fffd},                      // cut mid-character
  };
  for (const auto& [input, expected] : cases) {
    auto body = ko::write_chat_request({.messages = {{"user", input}}});
    BOOST_TEST(content_of(body) == expected);
  }
}

BOOST_AUTO_TEST_CASE(unusable_requests_are_rejected_naming_the_field) {
  struct bad_case {
    std::string expected;  // part of the message
    std::function<void(ko::chat_request&)> spoil;
  };
  const std::vector<bad_case> cases = {
      {"chat_request.messages is empty",
       [](auto& r) {
         r.messages.clear();
       }},
      {"chat_request.messages[1].role is empty",
       [](auto& r) {
         r.messages.push_back({"", "x"});
       }},
      {"chat_request.temperature is not a finite number",
       [](auto& r) {
         r.temperature = std::nan("");
       }},
      {"chat_request.top_p is not a finite number",
       [](auto& r) {
         r.top_p = std::numeric_limits<double>::infinity();
       }},
      {"chat_request.tools[0].function.name is empty",
       [](auto& r) {
         r.tools = {ko::tool_definition{}};
       }},
      {"chat_request.tools[0].function.parameters is not exactly one well-formed JSON value",
       [](auto& r) {
         r.tools = {{.function = {.name = "f", .parameters = "{\"type\":}"}}};
       }},
      {"chat_request.tools[0].function.parameters must be a JSON object",
       [](auto& r) {
         r.tools = {{.function = {.name = "f", .parameters = "[1]"}}};
       }},
      {"chat_request.response_format.name is empty",
       [](auto& r) {
         r.response_format = {.type = ko::response_format_option::kind::json_schema};
       }},
      {"chat_request.response_format.schema is not exactly one",
       [](auto& r) {
         r.response_format = {
             .type = ko::response_format_option::kind::json_schema, .name = "n", .schema = "{} {}"};
       }},
      {"chat_request.tool_choice.function_name is empty",
       [](auto& r) {
         r.tool_choice = ko::tool_choice_option::named("");
       }},
      {"chat_request.messages[0].tool_calls[0].id is empty",
       [](auto& r) {
         r.messages[0].tool_calls = {{"", "function", {"f", "{}"}}};
       }},
      {"chat_request.messages[0].parts[0].image_url is empty",
       [](auto& r) {
         r.messages[0].parts = {ko::content_part::make_image("")};
       }},
      {"chat_request.extra[0] names \"temperature\", which the request already sets",
       [](auto& r) {
         r.temperature = 1;
         r.extra = {{"temperature", "0.5"}};
       }},
      {"chat_request.extra[1] names \"x\", which the request already sets",
       [](auto& r) {
         r.extra = {{"x", "1"}, {"x", "2"}};
       }},
      {"chat_request.extra[0] is not exactly one well-formed JSON value",
       [](auto& r) {
         r.extra = {{"x", "{\"unterminated\""}};
       }},
      {"chat_request.extra[0] has an empty name",
       [](auto& r) {
         r.extra = {{"", "1"}};
       }},
  };
  for (const auto& c : cases) {
    auto r = hello();
    c.spoil(r);
    try {
      ko::write_chat_request(r);
      BOOST_ERROR("no error for: " << c.expected);
    } catch (const keyless::error& e) {
      BOOST_TEST((e.code() == keyless::errc::invalid_argument));
      BOOST_TEST(e.message().find(c.expected) != std::string::npos, e.message()
                                                                        << " lacks " << c.expected);
    }
  }
}

BOOST_AUTO_TEST_CASE(rejections_do_not_quote_the_offending_text) {
  auto r = hello();
  r.tools = {{.function = {.name = "f", .parameters = "{\"secret-ish\": nope}"}}};
  try {
    ko::write_chat_request(r);
    BOOST_ERROR("expected an error");
  } catch (const keyless::error& e) {
    BOOST_TEST(std::string(e.what()).find("secret-ish") == std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()
