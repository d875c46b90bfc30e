#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "keyless/core/clock.hpp"
#include "keyless/http/client_options.hpp"
#include "keyless/identity/authority.hpp"
#include "keyless/identity/chained_token_credential.hpp"

namespace keyless::identity {

/// Options of default_azure_credential. Unset values come from the environment.
struct default_azure_credential_options {
  bool exclude_environment_credential = false;
  bool exclude_workload_identity_credential = false;
  bool exclude_managed_identity_credential = false;
  bool exclude_azure_cli_credential = false;
  bool exclude_azure_developer_cli_credential = false;

  /// User-assigned managed identity by client id; unset: AZURE_CLIENT_ID, if set.
  std::optional<std::string> managed_identity_client_id;
  /// User-assigned managed identity by ARM resource id (instead of a client id).
  std::optional<std::string> managed_identity_resource_id;
  /// Workload identity's client id; unset: AZURE_CLIENT_ID.
  std::optional<std::string> workload_identity_client_id;
  /// Tenant for workload identity and the CLIs; unset: AZURE_TENANT_ID / the CLI's login.
  std::optional<std::string> tenant_id;
  std::vector<std::string> additionally_allowed_tenants;

  /// Limit for `az` and `azd` to answer.
  std::chrono::milliseconds process_timeout{std::chrono::seconds(10)};
  /// How long the managed identity endpoint gets to answer the first request.
  std::chrono::milliseconds managed_identity_probe_timeout{std::chrono::seconds(1)};
  /// Concurrent by default: sources run together and the highest-priority success wins.
  chain_options::mode run_mode = chain_options::mode::concurrent;
  /// How long `az`/`azd` wait for the sources ahead of them (see chain_options).
  /// 200 ms, from bench_chain_cold_start (docs/BENCHMARKS.md): an answering managed
  /// identity endpoint (on loopback) returns its token in under 1 ms, while starting the
  /// real `az` costs about 1.3 s and 57 MB of Python even when it only reports "not
  /// logged in". So an endpoint that answers beats the delay by a wide margin and az is
  /// not spawned on Azure, while where the endpoint is black-holed the delay adds about a
  /// sixth to az's own time. Where the endpoint refuses at once, az starts at once.
  std::chrono::milliseconds hedge_delay{std::chrono::milliseconds(200)};
  /// Remember the first source that succeeds and use it directly afterwards.
  bool remember_winner = true;

  /// Programs to run for the CLI sources (PATH is searched for bare names).
  std::string azure_cli_path = "az";
  std::string azure_developer_cli_path = "azd";
  /// Extra environment variables for `az`/`azd`, e.g. {"AZURE_CONFIG_DIR", dir}.
  std::vector<std::pair<std::string, std::string>> cli_environment;
  /// Variables the sources read; unset: the process environment (read once, here).
  std::optional<environment_map> environment;
  /// HTTP settings of the HTTP-based sources (CA trust for tests and private clouds).
  http::client_options http;
  std::shared_ptr<const keyless::clock> clock;
};

/// The credential chain that makes one program work on a laptop and in Azure:
/// environment service principal, workload identity, managed identity, Azure CLI,
/// Azure Developer CLI — in that priority, filtered by AZURE_TOKEN_CREDENTIALS
/// ("dev", "prod" or one credential's name) and the exclude options.
///
/// Sources run concurrently (run_mode); az/azd start after hedge_delay unless every
/// source ahead has already failed. The managed identity endpoint is probed: if it has
/// not answered by the time a CLI has a token, it is taken as absent rather than waited
/// for, so a black-holed endpoint costs the hedge delay, not a timeout.
///
/// Throws keyless::error(errc::invalid_argument) for an invalid AZURE_TOKEN_CREDENTIALS
/// or when every source is excluded. The returned chain explains itself: its errors list
/// every source with why and how long, and last_report() names the winner.
std::shared_ptr<chained_token_credential> default_azure_credential(
    asio::any_io_executor executor, default_azure_credential_options options = {});

}  // namespace keyless::identity

namespace keyless {
using identity::default_azure_credential;
}  // namespace keyless
