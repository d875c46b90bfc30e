#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "keyless/identity/access_token.hpp"
#include "keyless/identity/token_credential.hpp"
#include "keyless/identity/token_request.hpp"

namespace keyless::identity {

/// Options for azure_developer_cli_credential.
struct azure_developer_cli_credential_options {
  /// Tenant to get tokens from (`azd ... --tenant-id`). Empty: azd's default.
  std::string tenant_id;
  /// Tenants other than `tenant_id` that a token_request may name; "*"
  /// allows any. AZURE_IDENTITY_DISABLE_MULTITENANTAUTH turns requested
  /// tenants off.
  std::vector<std::string> additionally_allowed_tenants;
  /// How long azd may run before it is killed (credential_unavailable).
  std::chrono::milliseconds process_timeout{std::chrono::seconds(10)};
  /// The program to run: "azd", looked up on PATH, unless set.
  std::string executable = "azd";
  /// Extra environment variables for azd. The rest is inherited.
  std::vector<std::pair<std::string, std::string>> environment;
};

/// Gets tokens from the Azure Developer CLI's login: runs
/// `azd auth token --output json --no-prompt --scope <s1> [--scope <s2> ...]
/// [--tenant-id <t>]` from an argument vector (never a shell), with stdin on
/// /dev/null, in the working directory "/", with NO_COLOR=true. azd reports
/// expiry in UTC (RFC 3339), which is read as such.
///
/// Failures as for azure_cli_credential: credential_unavailable when azd is
/// not installed, not logged in (hint: `azd auth login`), hung, prints
/// unusable output, or claims are requested; authentication_failed with the
/// AADSTS code when Entra ID refused. Messages never contain a token or
/// azd's raw output.
///
/// Thread-safety: safe to share (immutable after construction).
class azure_developer_cli_credential final : public token_credential {
 public:
  /// Throws keyless::error(errc::invalid_argument) for a tenant azd cannot be given.
  explicit azure_developer_cli_credential(asio::any_io_executor executor,
                                          azure_developer_cli_credential_options options = {});

  asio::any_io_executor get_executor() const override { return executor_; }
  std::string_view name() const noexcept override { return "AzureDeveloperCliCredential"; }

  /// Runs azd. Completion: the token, or keyless::error as described above.
  /// Cancellation: terminal; azd is killed.
  asio::awaitable<access_token> get_token(token_request request) override;

 private:
  asio::any_io_executor executor_;
  azure_developer_cli_credential_options options_;
  bool multitenant_disabled_ = false;
};

}  // namespace keyless::identity
