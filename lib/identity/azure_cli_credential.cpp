#include "keyless/identity/azure_cli_credential.hpp"

#include <cstdlib>

#include <fmt/core.h>

#include "core/base64.hpp"
#include "core/logging.hpp"
#include "identity/cli_common.hpp"
#include "identity/cli_output.hpp"
#include "keyless/core/error.hpp"
#include "keyless/identity/tenant_policy.hpp"

namespace keyless::identity {
namespace {

const detail::cli_profile& az = detail::azure_cli_profile;

}  // namespace

azure_cli_credential::azure_cli_credential(asio::any_io_executor executor,
                                           azure_cli_credential_options options)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      multitenant_disabled_(detail::multitenant_disabled_from_environment()) {
  if (!options_.tenant_id.empty()) detail::validate_tenant(az, options_.tenant_id);
  for (const auto& tenant : options_.additionally_allowed_tenants) {
    if (tenant != "*") detail::validate_tenant(az, tenant);
  }
  if (!options_.subscription.empty()) detail::validate_subscription(az, options_.subscription);
  if (!options_.tenant_id.empty() && !options_.subscription.empty()) {
    throw keyless::error(errc::invalid_argument,
                         "AzureCliCredential: set tenant_id or subscription, not both ("
                         "'az account get-access-token' accepts only one of them)");
  }
  if (options_.process_timeout <= std::chrono::milliseconds::zero()) {
    throw keyless::error(errc::invalid_argument,
                         "AzureCliCredential: process_timeout must be positive");
  }
  if (options_.executable.empty()) {
    throw keyless::error(errc::invalid_argument, "AzureCliCredential: executable is empty");
  }
}

asio::awaitable<access_token> azure_cli_credential::get_token(token_request request) {
  if (request.scopes.size() != 1) {
    throw keyless::error(errc::invalid_argument,
                         fmt::format("AzureCliCredential: a request must name exactly one scope "
                                     "(it named {}); az gets a token for one resource",
                                     request.scopes.size()));
  }
  const std::string& scope = request.scopes.front();
  detail::validate_scope(az, scope);
  const tenant_policy policy{options_.tenant_id, options_.additionally_allowed_tenants,
                             multitenant_disabled_};
  const std::string tenant = policy.resolve(request.tenant, name());
  if (!tenant.empty()) detail::validate_tenant(az, tenant);

  if (request.claims && !request.claims->empty()) {
    // `az account get-access-token` has no way to pass claims; only a new
    // interactive login can satisfy them.
    const std::string command = fmt::format("az login --claims-challenge {}{} --scope {}",
                                            keyless::detail::base64_encode(*request.claims),
                                            tenant.empty() ? "" : " --tenant " + tenant, scope);
    diagnostics details;
    details.hint = "Run: " + command;
    throw keyless::error(errc::credential_unavailable,
                         "AzureCliCredential cannot satisfy a claims challenge: az does not take "
                         "claims when it gets a token. Log in again with them (Azure CLI 2.76 "
                         "or later): " +
                             command,
                         details);
  }

  detail::process_options process;
  process.program = options_.executable;
  // --resource rather than --scope: every az version has it (--scope came
  // later), the Python and JS credentials use it too, and for the ".default"
  // scopes keyless is asked for the two mean the same thing. (The C++ SDK
  // passes --scope.)
  process.arguments = {"account", "get-access-token", "--output",
                       "json",    "--resource",       detail::scope_to_resource(scope)};
  if (!tenant.empty()) {
    process.arguments.insert(process.arguments.end(), {"--tenant", tenant});
  } else if (!options_.subscription.empty()) {
    // A tenant chosen for this request overrides the subscription (which
    // only implies a tenant); az refuses both at once.
    process.arguments.insert(process.arguments.end(), {"--subscription", options_.subscription});
  }
  for (const auto& [variable, value] : options_.environment) {
    process.environment.emplace_back(variable, value);
  }
  process.environment.emplace_back("AZURE_CORE_NO_COLOR", "true");
  // A fixed directory: the token must not depend on where the host process
  // happens to run, and az must not pick up files from a directory nobody
  // chose for it (the caller's may be a checked-out repository). "/" always
  // exists; the peers use /bin for the same reason.
  process.working_directory = "/";
  process.timeout = options_.process_timeout;
  process.display_name = std::string(az.display);

  keyless::detail::log(log_level::verbose, "AzureCliCredential: running az for resource {}{}",
                       detail::scope_to_resource(scope),
                       tenant.empty() ? std::string() : " in tenant " + tenant);
  detail::process_result result = co_await detail::run_cli(az, std::move(process));

  if (result.exit_code != 0) {
    const std::string hint = tenant.empty()
                                 ? "Run 'az login' and try again."
                                 : fmt::format("Run 'az login --tenant {}' and try again.", tenant);
    detail::throw_cli_failure(az, result, result.err, {"az login", "az account set"}, hint);
  }
  if (!result.err.empty()) {
    // az warns on stderr and still succeeds, e.g. when --tenant is not the
    // tenant of the current subscription.
    keyless::detail::log(log_level::verbose, "AzureCliCredential: az wrote to stderr: {}",
                         detail::first_error_line(result.err));
  }
  try {
    co_return detail::parse_az_output(result.out);
  } catch (const keyless::error& e) {
    detail::throw_unusable_output(az, e.message(), result.out);
  }
}

}  // namespace keyless::identity
