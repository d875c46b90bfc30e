#pragma once
// Turns Azure OpenAI error responses into keyless::error with diagnostics and a
// hint that names the usual keyless-auth pitfalls (PROTOCOLS.md §7, §8.5).

#include <optional>
#include <string>
#include <string_view>

#include "keyless/core/clock.hpp"
#include "keyless/core/error.hpp"
#include "keyless/http/fields.hpp"

namespace keyless::openai {

/// What the client knows about the failed call, to make the hint specific.
/// Every member is optional.
struct error_context {
  std::string_view endpoint{};    ///< endpoint URL or host, e.g. "https://x.openai.azure.com"
  std::string_view scope{};       ///< the token scope used; empty when unknown or with a key
  bool api_key = false;           ///< the call used an api-key header, not a bearer token
  std::string_view deployment{};  ///< the deployment name in the URL or `model`
  /// The time to read an HTTP-date retry-after against; nullopt: the system clock.
  std::optional<clock::time_point> now{};
};

/// Maps a non-2xx response to keyless::error(errc::http_status). Diagnostics:
/// http_status; service_code from error.code (or innererror.code); request_id
/// from apim-request-id, x-ms-request-id or x-request-id; retry_after from
/// retry-after-ms / x-ms-retry-after-ms / retry-after; and a hint for wrong
/// scope or expired token (401), a missing "Cognitive Services OpenAI User" role
/// (401/403 PermissionDenied), unknown deployments (404), throttling (429) and
/// content filtering (400). The message holds the service's own message
/// (control characters removed, length capped), never a request body or header.
error service_error(int status, std::string_view body, const http::fields& headers,
                    const error_context& context = {});

/// The error for a stream event whose JSON has a truthy `error` member:
/// errc::http_status with the service's message, service_code = `code`.
error stream_event_error(std::string_view code, std::string_view message);

/// The request id of a response: apim-request-id, x-ms-request-id, x-request-id.
std::string request_id_of(const http::fields& headers);

/// `text` made safe for an error message: control characters become spaces and
/// at most `max_bytes` bytes are kept (cut on a UTF-8 boundary, "…" appended).
std::string printable_excerpt(std::string_view text, std::size_t max_bytes);

}  // namespace keyless::openai
