#pragma once
// Continuous Access Evaluation: the claims challenge in a 401's WWW-Authenticate.
//
//   WWW-Authenticate: Bearer realm="", authorization_uri="https://login.microsoftonline.com/
//       common/oauth2/authorize", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4i..."
//
// The service asks for a token carrying these claims (for example issued after a revocation
// event); the client gets one through bearer_token_provider::get_with_claims and resends once.

#include <optional>
#include <string>
#include <string_view>

#include "keyless/http/fields.hpp"

namespace keyless::openai {

/// The decoded claims JSON of a Bearer challenge with error="insufficient_claims" in one
/// WWW-Authenticate value (RFC 7235 syntax: several challenges, comma-separated parameters,
/// quoted or bare values, parameter names and schemes case-insensitive). The claims value may
/// be base64 or base64url, padded or not. Nothing when there is no such challenge, the claims
/// are missing or undecodable, or they do not decode to a JSON object: such a 401 is then
/// handled like any other.
std::optional<std::string> insufficient_claims(std::string_view www_authenticate);

/// insufficient_claims() of the first WWW-Authenticate header of `headers` that has one.
std::optional<std::string> insufficient_claims(const http::fields& headers);

}  // namespace keyless::openai
