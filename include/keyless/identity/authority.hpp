#pragma once
// Where Entra ID lives (authority hosts of the clouds), tenant id syntax, the
// environment credentials read, and the options every Entra-based credential shares.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keyless/core/clock.hpp"
#include "keyless/http/client_options.hpp"

namespace keyless::identity {

/// Environment variables as credentials read them: name → value. Credentials take one as
/// an option so tests and embedders can describe an environment without touching the
/// process's; an empty value counts as unset.
using environment_map = std::map<std::string, std::string, std::less<>>;

/// A snapshot of this process's environment (`environ`), taken when called.
environment_map process_environment();

/// The value of `name` in `env`, or nothing when absent or empty.
std::optional<std::string_view> find_variable(const environment_map& env, std::string_view name);

/// Authority hosts of the Azure clouds (AZURE_AUTHORITY_HOST values).
namespace authority_hosts {
inline constexpr std::string_view azure_public_cloud = "https://login.microsoftonline.com";
inline constexpr std::string_view azure_government = "https://login.microsoftonline.us";
inline constexpr std::string_view azure_china = "https://login.chinacloudapi.cn";
}  // namespace authority_hosts

/// Normalises an authority host: surrounding whitespace and trailing '/' are removed and a
/// value without a scheme gets "https://" ("login.microsoftonline.us" is accepted). A path
/// prefix is kept (ADFS farms may live under one). Throws
/// keyless::error(errc::invalid_argument) for an empty value, a scheme other than https (the
/// client secret and assertions must never travel in clear text), a query, a fragment, user
/// information, or a URL that does not parse.
std::string normalize_authority_host(std::string_view host);

/// The token endpoint of `tenant` under a normalised authority host:
/// "{authority}/{tenant}/oauth2/v2.0/token", or "{authority}/adfs/oauth2/token" when the
/// tenant is "adfs" (any case).
std::string token_endpoint(std::string_view authority_host, std::string_view tenant);

/// Whether `tenant` has tenant id syntax: one or more of A-Z a-z 0-9 '.' '-' (a GUID, a
/// domain such as contoso.onmicrosoft.com, "organizations", "adfs"). Anything else could
/// change the meaning of the token URL.
bool is_valid_tenant_id(std::string_view tenant) noexcept;

/// Whether `tenant` names ADFS ("adfs", any case).
bool is_adfs_tenant(std::string_view tenant) noexcept;

/// How a credential retries requests that failed transiently (HTTP 408, 429, 5xx, a
/// connection that failed or timed out). The delay before retry n (0-based) is
/// initial_delay × 2ⁿ, at most max_delay; a server's Retry-After replaces it when it is not
/// longer than max_retry_after (a longer one is not waited for: the error is reported, with
/// the delay in diagnostics::retry_after). Delays are slept on the credential's clock.
struct retry_options {
  int max_retries = 3;
  std::chrono::milliseconds initial_delay{std::chrono::seconds(1)};
  std::chrono::milliseconds max_delay{std::chrono::seconds(10)};
  std::chrono::milliseconds max_retry_after{std::chrono::seconds(60)};
};

/// Options shared by the credentials that ask Entra ID's token endpoint for tokens
/// (client secret, client certificate, workload identity, environment).
struct entra_options {
  /// e.g. authority_hosts::azure_government. Empty: AZURE_AUTHORITY_HOST from `environment`,
  /// else the public cloud. https only; see normalize_authority_host.
  std::string authority_host;
  /// Tenants other than the credential's own that get_token may be asked for (token_request
  /// ::tenant); "*" allows any. Empty: AZURE_ADDITIONALLY_ALLOWED_TENANTS (';'-separated) for
  /// the environment-based credentials, none otherwise.
  std::vector<std::string> additionally_allowed_tenants;
  /// The environment read for AZURE_AUTHORITY_HOST, AZURE_IDENTITY_DISABLE_MULTITENANTAUTH
  /// and the credential's own variables. Unset: process_environment() at construction.
  std::optional<environment_map> environment;
  /// Transport settings (timeouts, TLS trust, proxy) of the credential's HTTP client.
  http::client_options http;
  /// Retries of transient failures.
  retry_options retry;
  /// Time source for assertions, expiry and retry delays. Null: keyless::clock::system().
  std::shared_ptr<const keyless::clock> clock;
};

}  // namespace keyless::identity
