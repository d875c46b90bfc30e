#pragma once
// Parsing of Entra ID and managed identity token responses (PROTOCOLS.md
// §2.3, §4, §6.1, §6.2) into access_token, and of their error bodies.
// Sans-I/O: the body is given, "now" comes from an injected clock.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keyless/core/clock.hpp"
#include "keyless/identity/access_token.hpp"

namespace keyless::identity::detail {

struct token_response_options {
  /// Names the response in error messages, e.g. "ManagedIdentityCredential:
  /// IMDS token response". Never include a value from the body.
  std::string_view context = "token response";
  /// The managed identity rule (§6.2): when the token lives 2 hours or more,
  /// refresh it at half its lifetime. keyless keeps `expires_on` real and puts
  /// the half-life in `refresh_on`; the C++ SDK instead overwrites its
  /// ExpiresOn with the half-life, so its "expiry" is not the token's.
  bool half_life_refresh = false;
};

/// Parses a successful token response body:
///  - `access_token`: a JSON string (required);
///  - `expires_in`: an integer ≤ INT32_MAX or a string that is exactly its
///    decimal form → now + value. A valid expires_in wins over expires_on;
///    an unusable one falls through to it;
///  - `expires_on`: an epoch integer ≤ 253402300799, or a string in RFC 3339,
///    exact-decimal epoch, RFC 1123 or App Service 2017 form;
///  - `refresh_in` (Entra, long-lived tokens): sets refresh_on = now + value,
///    never later than the expiry; unusable values are ignored.
/// Other fields are ignored. `body` is padded in place (its capacity may
/// grow once) so simdjson parses it without a copy.
/// Throws keyless::error(errc::malformed_response) naming the field; the
/// message never contains a token or any other value from the body.
access_token parse_token_response(std::string& body, const keyless::clock& clock,
                                  const token_response_options& options = {});

/// The same for a body the caller cannot pad (it is copied once).
access_token parse_token_response(std::string_view body, const keyless::clock& clock,
                                  const token_response_options& options = {});

/// Largest token response body read: real ones are a few KB (a JWT and a handful of
/// fields); a misbehaving endpoint streaming megabytes is cut off with limit_exceeded
/// rather than buffered.
inline constexpr std::size_t max_token_response_bytes = 1024 * 1024;

/// Refuses a token that has already expired at `clock.now()` (expires_in 0, or an
/// expires_on in the past): handing it out would only turn into a 401 at the service.
/// Throws keyless::error(errc::malformed_response) naming the expiry and now, with a hint
/// about this machine's clock (the usual cause of an expires_on in the past).
void require_unexpired(const access_token& token, const keyless::clock& clock,
                       std::string_view context);

/// What an identity service said when it refused.
struct service_error {
  /// The error's code: OAuth `error` ("invalid_client"), or `error.code` of
  /// the wrapped form ("SecretHeaderNotFound"); empty when the body has none.
  std::string error;
  /// First line of `error_description` / `error.message` / `message`,
  /// sanitised (control characters removed, runs of 32+ token or secret characters
  /// other than GUIDs replaced with <redacted>, length capped).
  std::string description;
  /// "AADSTS7000215" from `error_codes` or the description; otherwise `error`.
  std::string service_code;
  std::string trace_id;        ///< Entra `trace_id`, when present
  std::string correlation_id;  ///< Entra `correlation_id`, when present
};

/// Parses an error body in any of the shapes identity services use:
///   {"error":"invalid_client","error_description":"AADSTS7000215: ...","error_codes":[7000215]}
///   {"error":{"code":"...","message":"..."}}          (Service Fabric, ARM style)
///   {"statusCode":500,"message":"..."} / {"message":"..."}  (no error wrapper)
/// Returns nothing when the body is not JSON or has none of these fields.
std::optional<service_error> parse_service_error(std::string_view body);

/// The first "AADSTS<digits>" in `text`, if any.
std::optional<std::string> find_aadsts_code(std::string_view text);

}  // namespace keyless::identity::detail
