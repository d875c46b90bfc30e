#pragma once
// The client credentials grant against Entra ID's token endpoint, shared by the client
// secret, client certificate and workload identity credentials (PROTOCOLS.md §2.2-§2.5),
// plus the retry and error-reporting helpers the managed identity sources reuse.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "identity/scope_resource.hpp"
#include "keyless/core/clock.hpp"
#include "keyless/core/error.hpp"
#include "keyless/http/client.hpp"
#include "keyless/http/fields.hpp"
#include "keyless/http/response.hpp"
#include "keyless/identity/access_token.hpp"
#include "keyless/identity/authority.hpp"
#include "keyless/identity/tenant_policy.hpp"
#include "keyless/identity/token_request.hpp"

namespace keyless::identity::detail {

/// What proves the client's identity in one token request.
struct client_proof {
  /// Form fields after client_id, already encoded: "client_secret=..." or
  /// "client_assertion_type=...&client_assertion=...".
  std::string form;
  /// The raw secret or assertion, removed from any service text before it reaches a message.
  std::string secret;
};

/// Builds the proof for one attempt; `token_endpoint` is the assertion audience. Called once
/// per attempt, so assertions are fresh and rotated files are re-read. May throw
/// keyless::error, which is reported as is.
using proof_factory = std::function<client_proof(std::string_view token_endpoint)>;

/// A credential's settings with the environment's fallbacks applied.
struct entra_settings {
  std::string credential;  ///< "ClientSecretCredential", for messages
  std::string authority;   ///< normalised authority host
  std::string client_id;
  tenant_policy tenants;
  retry_options retry;
};

/// Applies entra_options and the environment: AZURE_AUTHORITY_HOST when no authority host is
/// set, AZURE_IDENTITY_DISABLE_MULTITENANTAUTH, and (with `allowed_tenants_from_env`)
/// AZURE_ADDITIONALLY_ALLOWED_TENANTS when the options list none. Throws
/// keyless::error(errc::invalid_argument) for a bad authority host, a tenant id that is not
/// tenant id syntax or an empty client id.
entra_settings make_entra_settings(std::string credential, std::string tenant_id,
                                   std::string client_id, const entra_options& options,
                                   const environment_map& env, bool allowed_tenants_from_env);

/// Sends client credentials grants for one credential. Safe to share between concurrent
/// operations (the HTTP client is; everything else is immutable).
class entra_token_client {
 public:
  entra_token_client(asio::any_io_executor executor, entra_settings settings,
                     const entra_options& options);

  /// Resolves the tenant, POSTs the grant (retrying transient failures) and parses the token.
  asio::awaitable<access_token> request(token_request req, proof_factory proof) const;

  const entra_settings& settings() const noexcept { return settings_; }
  const asio::any_io_executor& executor() const noexcept { return executor_; }
  const std::shared_ptr<const keyless::clock>& clock() const noexcept { return clock_; }

 private:
  asio::any_io_executor executor_;
  entra_settings settings_;
  http::client http_;
  std::shared_ptr<const keyless::clock> clock_;
};

// ---- helpers shared with the managed identity sources ----

/// Diagnostics carrying only a hint.
inline diagnostics with_hint(std::string hint) {
  diagnostics d;
  d.hint = std::move(hint);
  return d;
}

/// 408, 429 and 5xx except 501 and 505 (which will not change on a retry).
bool is_transient_status(int status) noexcept;

/// Failures worth another try: timeouts and failed connections, which include a response
/// the peer cut short (token requests may be sent again). A response that does not parse
/// (malformed_response) is not: the same service would send it again.
bool is_transient_failure(const keyless::error& e) noexcept;

/// initial_delay × 2^retry, at most max_delay.
std::chrono::milliseconds backoff_delay(const retry_options& options, int retry) noexcept;

/// The delay a response asks for: retry-after-ms / x-ms-retry-after-ms (milliseconds) or
/// Retry-After (seconds or an HTTP date, relative to `now`).
std::optional<std::chrono::milliseconds> retry_after(const http::fields& headers,
                                                     keyless::clock::time_point now);

/// x-ms-request-id, else x-ms-client-request-id, else empty.
std::string request_id_of(const http::fields& headers);

/// `text` with every occurrence of `secret` (when at least 4 characters long) replaced by
/// "<redacted>".
std::string redact(std::string text, std::string_view secret);

/// Claims for a token request: the caller's claims challenge, with the client capability
/// "CP1" merged into access_token.xms_cc when CAE is enabled. Empty when there is neither.
/// Throws keyless::error(errc::invalid_argument) when `claims` is not a JSON object.
std::string request_claims(const token_request& req);

}  // namespace keyless::identity::detail
