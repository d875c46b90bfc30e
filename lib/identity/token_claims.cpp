#include "keyless/identity/token_claims.hpp"

#include <simdjson.h>

#include "core/base64.hpp"
#include "identity/expiry_parse.hpp"

namespace keyless::identity {
namespace {

std::string string_claim(simdjson::dom::element payload, const char* name) {
  std::string_view value;
  if (payload[name].get(value) == simdjson::SUCCESS) return std::string(value);
  return {};
}

std::optional<std::chrono::system_clock::time_point> time_claim(simdjson::dom::element payload,
                                                                const char* name) {
  double seconds = 0;  // exp/iat are NumericDate: integer or fractional seconds
  if (payload[name].get(seconds) != simdjson::SUCCESS || !(seconds >= 0) ||
      seconds > static_cast<double>(detail::max_epoch_seconds)) {
    return std::nullopt;
  }
  // Saturating: system_clock counts nanoseconds and ends in 2262, so a later `exp` (up to
  // year 9999 is valid) would overflow the conversion.
  return detail::to_time_point(
      detail::sys_seconds(std::chrono::seconds(static_cast<long long>(seconds))));
}

}  // namespace

std::optional<token_claims> read_token_claims(std::string_view jwt) noexcept {
  try {
    const auto first_dot = jwt.find('.');
    if (first_dot == std::string_view::npos) return std::nullopt;
    const auto second_dot = jwt.find('.', first_dot + 1);
    if (second_dot == std::string_view::npos) return std::nullopt;
    auto payload_text =
        keyless::detail::base64_decode(jwt.substr(first_dot + 1, second_dot - first_dot - 1));
    if (!payload_text) return std::nullopt;

    simdjson::dom::parser parser;
    simdjson::dom::element payload;
    if (parser.parse(*payload_text).get(payload) != simdjson::SUCCESS || !payload.is_object()) {
      return std::nullopt;
    }
    token_claims claims;
    claims.tenant_id = string_claim(payload, "tid");
    claims.object_id = string_claim(payload, "oid");
    claims.audience = string_claim(payload, "aud");
    claims.app_id = string_claim(payload, "appid");
    if (claims.app_id.empty()) claims.app_id = string_claim(payload, "azp");
    for (const char* name : {"upn", "preferred_username", "unique_name"}) {
      if (claims.user.empty()) claims.user = string_claim(payload, name);
    }
    claims.issuer = string_claim(payload, "iss");
    claims.expires_on = time_claim(payload, "exp");
    claims.issued_at = time_claim(payload, "iat");
    return claims;
  } catch (...) {
    return std::nullopt;  // display-only: an unreadable token is simply not described
  }
}

}  // namespace keyless::identity
