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

/// Options for azure_cli_credential.
struct azure_cli_credential_options {
  /// Tenant to get tokens from (`az ... --tenant`). Empty: the tenant az is
  /// logged in to.
  std::string tenant_id;
  /// Tenants other than `tenant_id` that a token_request may name; "*"
  /// allows any. AZURE_IDENTITY_DISABLE_MULTITENANTAUTH turns requested
  /// tenants off.
  std::vector<std::string> additionally_allowed_tenants;
  /// Subscription (id, or a name made of letters, digits, '_', '-', '.' and
  /// spaces) whose tenant az uses (`--subscription`). Cannot be combined
  /// with `tenant_id`: az accepts only one of the two.
  std::string subscription;
  /// How long az may run; after that it is killed and the credential reports
  /// credential_unavailable. az usually answers in under a second, but its
  /// first run after an upgrade can take several.
  std::chrono::milliseconds process_timeout{std::chrono::seconds(10)};
  /// The program to run: "az", looked up on PATH, unless set (a path
  /// containing '/' is used as is).
  std::string executable = "az";
  /// Extra environment variables for az, e.g. {"AZURE_CONFIG_DIR", dir} to
  /// use another login profile. The rest of the environment is inherited.
  std::vector<std::pair<std::string, std::string>> environment;
};

/// Gets tokens from the Azure CLI's login: runs
/// `az account get-access-token --output json --resource <resource>
/// [--tenant <t> | --subscription <s>]` from an argument vector (never a
/// shell), with stdin on /dev/null, in the working directory "/", with
/// AZURE_CORE_NO_COLOR=true. Spawning and reading never block the I/O thread.
///
/// Requests must name exactly one scope; its resource is the scope without a
/// trailing "/.default". Scope, tenant and subscription are validated before
/// anything runs (errc::invalid_argument).
///
/// Failures: credential_unavailable when az is not installed, not logged in
/// (hint: `az login`), hung past `process_timeout` (it is killed), prints
/// output that is not a token, or a claims challenge is requested (hint:
/// `az login --claims-challenge ...`); authentication_failed when Entra ID
/// refused (diagnostics.service_code holds the AADSTS code). Messages never
/// contain a token or az's raw output.
///
/// Each call runs az once; put a token_cache in front to share tokens.
/// Thread-safety: safe to share (immutable after construction).
class azure_cli_credential final : public token_credential {
 public:
  /// Throws keyless::error(errc::invalid_argument) for a tenant or
  /// subscription az cannot be given, or both at once.
  explicit azure_cli_credential(asio::any_io_executor executor,
                                azure_cli_credential_options options = {});

  asio::any_io_executor get_executor() const override { return executor_; }
  std::string_view name() const noexcept override { return "AzureCliCredential"; }

  /// Runs az. Completion: the token, or keyless::error as described above.
  /// Cancellation: terminal; az is killed.
  asio::awaitable<access_token> get_token(token_request request) override;

 private:
  asio::any_io_executor executor_;
  azure_cli_credential_options options_;
  bool multitenant_disabled_ = false;
};

}  // namespace keyless::identity
