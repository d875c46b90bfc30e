#pragma once
// How a chat_client authenticates: an API key or Microsoft Entra ID tokens.
// Switching between them is the one-line change the library exists for:
//
//     .auth = keyless::api_key{key},   // before
//     .auth = tokens,                  // after: a keyless::bearer_token_provider

#include <iosfwd>
#include <memory>
#include <string>
#include <variant>

#include "keyless/identity/bearer_token_provider.hpp"
#include "keyless/identity/token_credential.hpp"

namespace keyless::openai {

/// An Azure OpenAI resource key (key 1 or key 2 of the resource), sent as the
/// `api-key` header. Printing one shows a redacted form; keyless never puts the
/// value into messages or logs.
struct api_key {
  std::string value{};
};

/// Writes "api_key(<redacted>)", never the key.
std::ostream& operator<<(std::ostream& os, const api_key& key);

/// What a chat_client authenticates with:
/// - std::monostate (the default): the key in AZURE_OPENAI_API_KEY, and an error
///   naming both choices when that is unset;
/// - api_key: the `api-key` header;
/// - identity::bearer_token_provider: `Authorization: Bearer <token>`, the
///   provider's scopes as given;
/// - a token_credential: `Authorization: Bearer`, through a private
///   bearer_token_provider whose scope is derived from the endpoint's host
///   (https://cognitiveservices.azure.com/.default for *.openai.azure.com).
using chat_auth = std::variant<std::monostate, api_key, identity::bearer_token_provider,
                               std::shared_ptr<identity::token_credential>>;

}  // namespace keyless::openai

namespace keyless {
using identity::bearer_token_provider;
using openai::api_key;
}  // namespace keyless
