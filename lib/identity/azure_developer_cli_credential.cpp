#include "keyless/identity/azure_developer_cli_credential.hpp"

#include <cstdlib>

#include <fmt/core.h>

#include "core/logging.hpp"
#include "identity/cli_common.hpp"
#include "identity/cli_output.hpp"
#include "keyless/core/error.hpp"
#include "keyless/identity/tenant_policy.hpp"

namespace keyless::identity {
namespace {

const detail::cli_profile& azd = detail::azure_developer_cli_profile;

std::string scope_flags(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& scope : scopes) out += " --scope " + scope;
  return out;
}

}  // namespace

azure_developer_cli_credential::azure_developer_cli_credential(
    asio::any_io_executor executor, azure_developer_cli_credential_options options)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      multitenant_disabled_(detail::multitenant_disabled_from_environment()) {
  if (!options_.tenant_id.empty()) detail::validate_tenant(azd, options_.tenant_id);
  for (const auto& tenant : options_.additionally_allowed_tenants) {
    if (tenant != "*") detail::validate_tenant(azd, tenant);
  }
  if (options_.process_timeout <= std::chrono::milliseconds::zero()) {
    throw keyless::error(errc::invalid_argument,
                         "AzureDeveloperCliCredential: process_timeout must be positive");
  }
  if (options_.executable.empty()) {
    throw keyless::error(errc::invalid_argument,
                         "AzureDeveloperCliCredential: executable is empty");
  }
}

asio::awaitable<access_token> azure_developer_cli_credential::get_token(token_request request) {
  if (request.scopes.empty()) {
    throw keyless::error(errc::invalid_argument,
                         "AzureDeveloperCliCredential: a request must name at least one scope");
  }
  for (const auto& scope : request.scopes) detail::validate_scope(azd, scope);
  const tenant_policy policy{options_.tenant_id, options_.additionally_allowed_tenants,
                             multitenant_disabled_};
  const std::string tenant = policy.resolve(request.tenant, name());
  if (!tenant.empty()) detail::validate_tenant(azd, tenant);

  const std::string login_command = fmt::format("azd auth login{}{}", scope_flags(request.scopes),
                                                tenant.empty() ? "" : " --tenant-id " + tenant);
  if (request.claims && !request.claims->empty()) {
    // Older azd versions reject a --claims flag outright; a fresh login is
    // the one remedy every version supports.
    diagnostics details;
    details.hint = "Run: " + login_command;
    throw keyless::error(errc::credential_unavailable,
                         "AzureDeveloperCliCredential cannot satisfy a claims challenge. Log in "
                         "again: " +
                             login_command,
                         details);
  }

  detail::process_options process;
  process.program = options_.executable;
  // --no-prompt: azd must fail rather than wait for input nobody will give.
  process.arguments = {"auth", "token", "--output", "json", "--no-prompt"};
  for (const auto& scope : request.scopes) {
    process.arguments.insert(process.arguments.end(), {"--scope", scope});
  }
  if (!tenant.empty()) process.arguments.insert(process.arguments.end(), {"--tenant-id", tenant});
  for (const auto& [variable, value] : options_.environment) {
    process.environment.emplace_back(variable, value);
  }
  process.environment.emplace_back("NO_COLOR", "true");
  // A fixed directory, as for az; for azd it also matters that it does not
  // pick up a project's .azure/ environment from wherever the host runs.
  process.working_directory = "/";
  process.timeout = options_.process_timeout;
  process.display_name = std::string(azd.display);

  keyless::detail::log(log_level::verbose, "AzureDeveloperCliCredential: running azd for{}{}",
                       scope_flags(request.scopes),
                       tenant.empty() ? std::string() : " in tenant " + tenant);
  detail::process_result result = co_await detail::run_cli(azd, std::move(process));

  if (result.exit_code != 0) {
    const std::string said = detail::azd_stderr_text(result.err);
    // JS maps these to "log in again" as well: the stored login exists but
    // Entra ID wants a fresh, stronger one.
    const bool reauthenticate =
        said.find("must use multi-factor authentication") != std::string::npos ||
        said.find("reauthentication required") != std::string::npos;
    detail::throw_cli_failure(
        azd, result, said,
        reauthenticate ? std::vector<std::string_view>{"multi-factor", "reauthentication"}
                       : std::vector<std::string_view>{"azd auth login", "not logged in"},
        fmt::format("Run '{}' and try again.", reauthenticate ? login_command : "azd auth login"));
  }
  try {
    co_return detail::parse_azd_output(result.out);
  } catch (const keyless::error& e) {
    detail::throw_unusable_output(azd, e.message(), result.out);
  }
}

}  // namespace keyless::identity
