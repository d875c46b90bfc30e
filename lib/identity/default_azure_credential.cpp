#include "keyless/identity/default_azure_credential.hpp"

#include "identity/credential_selection.hpp"
#include "keyless/core/error.hpp"
#include "keyless/identity/azure_cli_credential.hpp"
#include "keyless/identity/azure_developer_cli_credential.hpp"
#include "keyless/identity/environment_credential.hpp"
#include "keyless/identity/managed_identity_credential.hpp"
#include "keyless/identity/workload_identity_credential.hpp"

namespace keyless::identity {
namespace {

std::string variable(const environment_map& env, std::string_view name) {
  auto value = find_variable(env, name);
  return value ? std::string(*value) : std::string();
}

entra_options shared_entra_options(const default_azure_credential_options& o,
                                   const environment_map& env) {
  entra_options e;
  e.additionally_allowed_tenants = o.additionally_allowed_tenants;
  e.environment = env;
  e.http = o.http;
  e.clock = o.clock;
  return e;
}

managed_identity_id managed_identity_of(const default_azure_credential_options& o,
                                        const environment_map& env) {
  if (o.managed_identity_resource_id) {
    return managed_identity_id::from_resource_id(*o.managed_identity_resource_id);
  }
  auto client_id = o.managed_identity_client_id.value_or(variable(env, "AZURE_CLIENT_ID"));
  if (!client_id.empty()) return managed_identity_id::from_client_id(std::move(client_id));
  return managed_identity_id::system_assigned();
}

}  // namespace

std::shared_ptr<chained_token_credential> default_azure_credential(
    asio::any_io_executor executor, default_azure_credential_options options) {
  const environment_map env = options.environment ? *options.environment : process_environment();
  const auto selection =
      detail::parse_credential_selection(find_variable(env, "AZURE_TOKEN_CREDENTIALS"));
  const auto tenant = options.tenant_id.value_or(variable(env, "AZURE_TENANT_ID"));

  std::vector<chain_source> sources;
  if (selection.environment && !options.exclude_environment_credential) {
    sources.push_back(
        {std::make_shared<environment_credential>(executor, shared_entra_options(options, env))});
  }
  if (selection.workload_identity && !options.exclude_workload_identity_credential) {
    workload_identity_options w;
    static_cast<entra_options&>(w) = shared_entra_options(options, env);
    w.tenant_id = tenant;
    w.client_id = options.workload_identity_client_id.value_or(variable(env, "AZURE_CLIENT_ID"));
    sources.push_back({std::make_shared<workload_identity_credential>(executor, std::move(w))});
  }
  if (selection.managed_identity && !options.exclude_managed_identity_credential) {
    managed_identity_options m;
    m.identity = managed_identity_of(options, env);
    m.environment = env;
    // Inside a chain the first request is a probe: no managed identity answers on a
    // laptop, and that must cost a short timeout, not the long retry schedule. A user who
    // named ManagedIdentityCredential knows it is there, so no probe.
    m.probe = !selection.single_named;
    m.probe_timeout = options.managed_identity_probe_timeout;
    m.http = options.http;
    m.clock = options.clock;
    // A probed endpoint may be missing or black-holed (some VPNs and proxies accept
    // connections to 169.254.169.254 and never answer): a CLI token found meanwhile is
    // not held back until the probe times out.
    const bool probing = m.probe;
    sources.push_back({std::make_shared<managed_identity_credential>(executor, std::move(m)),
                       /*costly=*/false, /*presence_unknown=*/probing});
  }
  if (selection.azure_cli && !options.exclude_azure_cli_credential) {
    azure_cli_credential_options c;
    c.tenant_id = options.tenant_id.value_or("");
    c.additionally_allowed_tenants = options.additionally_allowed_tenants;
    c.process_timeout = options.process_timeout;
    c.executable = options.azure_cli_path;
    c.environment = options.cli_environment;
    sources.push_back(
        {std::make_shared<azure_cli_credential>(executor, std::move(c)), /*costly=*/true});
  }
  if (selection.azure_developer_cli && !options.exclude_azure_developer_cli_credential) {
    azure_developer_cli_credential_options d;
    d.tenant_id = options.tenant_id.value_or("");
    d.additionally_allowed_tenants = options.additionally_allowed_tenants;
    d.process_timeout = options.process_timeout;
    d.executable = options.azure_developer_cli_path;
    d.environment = options.cli_environment;
    sources.push_back({std::make_shared<azure_developer_cli_credential>(executor, std::move(d)),
                       /*costly=*/true});
  }
  if (sources.empty()) {
    throw error(errc::invalid_argument,
                "DefaultAzureCredential: every credential source is excluded (by the exclude "
                "options and AZURE_TOKEN_CREDENTIALS), so it could never get a token.");
  }

  chain_options chain;
  chain.run_mode = options.run_mode;
  chain.hedge_delay = options.hedge_delay;
  chain.remember_winner = options.remember_winner;
  chain.name = "DefaultAzureCredential";
  chain.troubleshooting_hint =
      "On a developer machine run `az login` (or `azd auth login`); in Azure, enable a managed "
      "identity for the resource; elsewhere set AZURE_TENANT_ID, AZURE_CLIENT_ID and "
      "AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH) for a service principal.";
  return std::make_shared<chained_token_credential>(std::move(executor), std::move(sources),
                                                    std::move(chain));
}

}  // namespace keyless::identity
