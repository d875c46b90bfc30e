#pragma once
// JSON mapping of the chat completions API: request bodies out, completions and
// streamed chunks in. Sans-I/O; the client feeds it bodies and SSE data.

#include <memory>
#include <string>
#include <string_view>

#include "keyless/openai/chat_types.hpp"

namespace keyless::openai {

/// How a request body is framed, beyond the request itself.
struct request_body_options {
  /// Written as "model" when not empty: the v1 surface names the deployment
  /// there; the dated surface has it in the URL and leaves this empty.
  std::string_view model{};
  /// Writes "stream": true and, when the request asks for it, stream_options.
  bool stream = false;
};

/// The JSON body of `request`. Strings are escaped for JSON; bytes that are not
/// valid UTF-8 become U+FFFD (the json::writer policy). Raw JSON fragments (tool
/// parameters, schemas, `extra` values) must parse. Throws
/// keyless::error(errc::invalid_argument) naming the offending field (never
/// quoting its text) for an empty message list or role, a missing tool or
/// schema name, a non-finite number, unparsable raw JSON, or an `extra` name
/// that a typed field already wrote.
std::string write_chat_request(const chat_request& request,
                               const request_body_options& options = {});

/// Parses chat completions and streamed chunks with simdjson On-Demand.
///
/// Keeps its parser and a padded copy buffer between calls, so one instance per
/// stream (or per connection) parses without allocating beyond the results.
/// Results own all their strings. Unknown fields are ignored. A field of the
/// wrong type throws keyless::error(errc::malformed_response) naming the field's
/// path (e.g. `choices[0].delta.content`). One parse at a time; movable.
class chat_parser {
 public:
  chat_parser();
  ~chat_parser();
  chat_parser(chat_parser&&) noexcept;
  chat_parser& operator=(chat_parser&&) noexcept;

  /// Parses a /chat/completions response body.
  chat_completion parse_completion(std::string_view body);

  /// Parses the JSON of one stream event. A chunk with a truthy `error` key is
  /// the service reporting a failure mid-stream: throws keyless::error
  /// (errc::http_status) carrying its message and, as service_code, its code.
  chat_chunk parse_chunk(std::string_view data);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// One-shot helpers over a temporary chat_parser.
chat_completion parse_chat_completion(std::string_view body);
chat_chunk parse_chat_chunk(std::string_view data);

}  // namespace keyless::openai
