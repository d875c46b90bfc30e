#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace keyless::identity {

/// Claims read from an access token's payload, for display and diagnosis only:
/// the signature is never verified, so nothing here may be trusted for decisions.
struct token_claims {
  std::string tenant_id;  ///< tid
  std::string object_id;  ///< oid: the principal Azure role assignments name
  std::string audience;   ///< aud: must fit the service (e.g. https://cognitiveservices.azure.com)
  std::string app_id;     ///< appid / azp: the client application
  std::string user;       ///< upn / preferred_username / unique_name, when a person
  std::string issuer;     ///< iss
  std::optional<std::chrono::system_clock::time_point> expires_on;  ///< exp
  std::optional<std::chrono::system_clock::time_point> issued_at;   ///< iat
};

/// Decodes the payload of a JWT (header.payload.signature). Returns nothing for a
/// token that is not a readable JWT (opaque tokens exist and are legitimate).
std::optional<token_claims> read_token_claims(std::string_view jwt) noexcept;

}  // namespace keyless::identity
