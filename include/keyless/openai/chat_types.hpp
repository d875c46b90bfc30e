#pragma once
// Value types of the Azure OpenAI chat completions API: what a request carries
// and what a response or a streamed chunk holds once parsed. Plain aggregates of
// std types; reading and writing them lives in lib/openai.
//
// Every member has a default member initializer (often just `{}`): without it
// g++ warns under -Wextra (-Wmissing-field-initializers) for `{"user", "Hello"}`
// and for designated initializers that leave members out, in users' code too.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keyless::openai {

/// One part of a multi-part message content: a piece of text or an image.
struct content_part {
  enum class kind { text, image_url };

  kind type = kind::text;
  std::string text{};       ///< kind::text: the text
  std::string image_url{};  ///< kind::image_url: an https: or data: URL
  std::string detail{};     ///< kind::image_url: "auto", "low" or "high"; empty: not sent

  /// A text part.
  static content_part make_text(std::string text) {
    content_part p;
    p.text = std::move(text);
    return p;
  }
  /// An image part; `detail` may be empty.
  static content_part make_image(std::string url, std::string detail = {}) {
    content_part p;
    p.type = kind::image_url;
    p.image_url = std::move(url);
    p.detail = std::move(detail);
    return p;
  }
};

/// The function a tool call invokes.
struct function_call {
  std::string name{};
  std::string arguments{};  ///< JSON text as the model wrote it; may not be valid JSON
};

/// A tool call made by the assistant.
struct tool_call {
  std::string id{};
  std::string type = "function";
  function_call function{};
};

/// One message of a conversation, in a request or in a response.
///
/// `{"user", "Hello"}` builds a user message. In responses, `content` is empty
/// (nullopt) when the service sent null, which is not the same as "".
struct chat_message {
  std::string role{};                    ///< "system", "developer", "user", "assistant" or "tool"
  std::optional<std::string> content{};  ///< the text; nullopt is written as null
  std::vector<content_part> parts{};     ///< when not empty, sent as content instead of `content`
  std::string name{};                    ///< optional participant name; empty: not sent
  std::vector<tool_call> tool_calls{};   ///< assistant: the calls it made
  std::string tool_call_id{};            ///< tool: the call this message answers
  std::optional<std::string> refusal{};  ///< assistant: why it declined, when it did
};

/// A function the model may call. `parameters` is a JSON Schema as raw JSON text
/// (empty: not sent); the writer checks that it parses.
struct function_definition {
  std::string name{};
  std::string description{};  ///< empty: not sent
  std::string parameters{};   ///< raw JSON object text
  std::optional<bool> strict{};
};

/// A tool offered to the model; only functions exist today.
struct tool_definition {
  std::string type = "function";
  function_definition function{};
};

/// Which tool the model should use: "auto", "none", "required" or one named function.
struct tool_choice_option {
  enum class kind { automatic, none, required, function };

  kind type = kind::automatic;
  std::string function_name{};  ///< kind::function: the function to call

  /// Forces a call to the function `name`.
  static tool_choice_option named(std::string name) { return {kind::function, std::move(name)}; }
};

/// The shape of the reply: free text, any JSON object, or JSON matching a schema.
struct response_format_option {
  enum class kind { text, json_object, json_schema };

  kind type = kind::text;
  std::string name{};         ///< json_schema: the schema's name (required there)
  std::string description{};  ///< json_schema: empty: not sent
  std::string schema{};       ///< json_schema: raw JSON Schema text
  std::optional<bool> strict{};
};

/// A chat completions request. Unset optionals and empty containers are not sent.
/// The deployment (and on the v1 surface the `model` field) comes from the client.
struct chat_request {
  std::vector<chat_message> messages{};
  std::optional<double> temperature{};
  std::optional<double> top_p{};
  std::optional<std::int64_t> max_tokens{};             ///< older models
  std::optional<std::int64_t> max_completion_tokens{};  ///< reasoning models
  std::optional<std::int64_t> n{};
  std::vector<std::string> stop{};
  std::optional<double> presence_penalty{};
  std::optional<double> frequency_penalty{};
  std::optional<std::int64_t> seed{};
  std::optional<std::string> user{};
  std::optional<response_format_option> response_format{};
  std::vector<tool_definition> tools{};
  std::optional<tool_choice_option> tool_choice{};
  std::optional<bool> parallel_tool_calls{};
  /// stream_options.include_usage; written only for streaming requests, where the
  /// service rejects stream_options otherwise.
  std::optional<bool> include_usage{};
  std::optional<std::string> reasoning_effort{};  ///< "minimal", "low", "medium", "high"
  std::optional<bool> logprobs{};
  std::optional<std::int64_t> top_logprobs{};
  /// Escape hatch: more top-level fields as (name, raw JSON value), written last.
  /// A name that a typed field above already wrote is rejected.
  std::vector<std::pair<std::string, std::string>> extra{};
};

/// One category of Azure content filtering, e.g. "hate" or "jailbreak".
struct filter_category {
  std::string name{};
  bool filtered = false;
  std::string severity{};          ///< "safe", "low", "medium", "high"; empty when not sent
  std::optional<bool> detected{};  ///< for jailbreak and protected_material_*
};

/// Azure content filter results for one prompt or one choice.
struct filter_results {
  std::vector<filter_category> categories{};
  std::string error_code{};  ///< set when the filter itself failed
  std::string error_message{};

  /// The category named `name`, or null.
  const filter_category* find(std::string_view name) const noexcept {
    for (const auto& c : categories)
      if (c.name == name) return &c;
    return nullptr;
  }
  /// True when any category filtered the content.
  bool any_filtered() const noexcept {
    for (const auto& c : categories)
      if (c.filtered) return true;
    return false;
  }
  bool empty() const noexcept { return categories.empty() && error_code.empty(); }
};

/// Azure's filter verdict on one prompt of the request.
struct prompt_filter_result {
  std::int64_t prompt_index = 0;
  filter_results content_filter_results{};
};

/// Token accounting of a completion.
struct token_usage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t total_tokens = 0;
  std::optional<std::int64_t> cached_tokens{};     ///< prompt_tokens_details.cached_tokens
  std::optional<std::int64_t> reasoning_tokens{};  ///< completion_tokens_details.reasoning_tokens
};

/// One alternative of a completion.
struct chat_choice {
  std::int64_t index = 0;
  chat_message message{};
  std::string
      finish_reason{};  ///< "stop", "length", "tool_calls", "content_filter", ...; empty: null
  filter_results content_filter_results{};
};

/// A whole (non-streamed) chat completion.
struct chat_completion {
  std::string id{};
  std::string object{};      ///< "chat.completion"
  std::int64_t created = 0;  ///< Unix seconds
  std::string model{};
  std::string system_fingerprint{};
  std::vector<chat_choice> choices{};
  std::optional<token_usage> usage{};
  std::vector<prompt_filter_result> prompt_filter_results{};
};

/// A fragment of a tool call inside a streamed delta. The first fragment of a
/// call carries its id, type and name; later ones add pieces of `arguments`.
struct tool_call_delta {
  std::int64_t index = 0;  ///< which call of the message this fragment belongs to
  std::string id{};
  std::string type{};
  std::string name{};
  std::string arguments{};
};

/// What one streamed chunk adds to a choice's message.
struct chat_delta {
  std::optional<std::string> role{};
  std::optional<std::string> content{};
  std::optional<std::string> refusal{};
  std::vector<tool_call_delta> tool_calls{};
};

/// One choice inside a streamed chunk.
struct chunk_choice {
  std::int64_t index = 0;
  chat_delta delta{};
  std::string finish_reason{};  ///< empty while the choice is still running
  filter_results content_filter_results{};
};

/// One streamed chunk (one Server-Sent Event's JSON). On Azure the first chunk
/// may have an empty id and model, no choices and only prompt_filter_results;
/// filter-only chunks and, with include_usage, a final usage chunk with no
/// choices also occur.
struct chat_chunk {
  std::string id{};
  std::string object{};  ///< "chat.completion.chunk" (empty in Azure's first chunk)
  std::int64_t created = 0;
  std::string model{};
  std::string system_fingerprint{};
  std::vector<chunk_choice> choices{};
  std::optional<token_usage> usage{};
  std::vector<prompt_filter_result> prompt_filter_results{};
};

}  // namespace keyless::openai
