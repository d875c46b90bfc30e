// libFuzzer target for the chat JSON mapping. The input is parsed as a
// completion and as a stream chunk (keyless::error with malformed_response,
// or http_status for an `error` event, are the only allowed failures); parsed
// chunks are folded by the accumulator; and the input used as message text
// must always produce a request body that is valid JSON and reads back.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "keyless/core/error.hpp"
#include "keyless/openai/chat_stream_accumulator.hpp"
#include "openai/chat_json.hpp"

namespace {

namespace ko = keyless::openai;

void check(bool ok) {
  if (!ok) std::abort();
}

bool valid_utf8(std::string_view s) {
  return simdjson::validate_utf8(s.data(), s.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  ko::chat_parser parser;

  try {
    auto c = parser.parse_completion(input);
    for (const auto& choice : c.choices) {
      if (choice.message.content) check(valid_utf8(*choice.message.content));
    }
  } catch (const keyless::error& e) {
    check(e.code() == keyless::errc::malformed_response);
  }

  try {
    auto chunk = parser.parse_chunk(input);
    ko::chat_stream_accumulator acc;
    acc.add(chunk);
    acc.add(chunk);
    check(acc.completion().choices.size() <= chunk.choices.size());
  } catch (const keyless::error& e) {
    check(e.code() == keyless::errc::malformed_response || e.code() == keyless::errc::http_status);
  }

  // Any bytes as content: the body is JSON, and valid UTF-8 reads back unchanged.
  ko::chat_request request{.messages = {{"user", std::string(input)}}};
  request.stop = {std::string(input)};
  const auto body = ko::write_chat_request(request, {.model = "m", .stream = true});
  simdjson::dom::parser dom;
  simdjson::dom::element doc;
  check(dom.parse(body).get(doc) == simdjson::SUCCESS);
  std::string_view content;
  check(doc["messages"].at(0)["content"].get_string().get(content) == simdjson::SUCCESS);
  if (valid_utf8(input)) check(content == input);
  return 0;
}
