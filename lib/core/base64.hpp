#pragma once
// Base64 (RFC 4648 §4) and base64url (§5) for JWTs, client assertions and CAE claims.

#include <optional>
#include <string>
#include <string_view>

namespace keyless::detail {

std::string base64_encode(std::string_view bytes);
/// URL-safe alphabet, no padding (as JWTs use).
std::string base64url_encode(std::string_view bytes);
/// Accepts either alphabet, with or without padding; whitespace is not allowed.
/// Returns nothing on any invalid character or impossible length.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace keyless::detail
