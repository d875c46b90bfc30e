#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "keyless/core/clock.hpp"
#include "keyless/http/client_options.hpp"
#include "keyless/identity/authority.hpp"
#include "keyless/identity/token_credential.hpp"

namespace keyless::identity {

/// Where a managed identity token comes from.
enum class managed_identity_source {
  imds,            ///< Azure Instance Metadata Service (VMs, scale sets, AKS nodes, ...)
  app_service,     ///< App Service, Functions, Container Apps (IDENTITY_ENDPOINT + IDENTITY_HEADER)
  azure_arc,       ///< Azure Arc-enabled servers (the himds agent, with its key-file challenge)
  cloud_shell,     ///< Azure Cloud Shell (MSI_ENDPOINT)
  service_fabric,  ///< Service Fabric (IDENTITY_ENDPOINT + IDENTITY_HEADER + thumbprint)
  azure_ml,        ///< Azure Machine Learning, and legacy App Service 2017-09-01 (MSI_ENDPOINT +
                   ///< MSI_SECRET)
};

/// "imds", "app_service", "azure_arc", "cloud_shell", "service_fabric", "azure_ml".
std::string_view to_string(managed_identity_source source) noexcept;

/// Which identity to use: the resource's system-assigned identity, or a user-assigned one
/// named by its client id, object (principal) id or ARM resource id.
struct managed_identity_id {
  enum class kind { system_assigned, client_id, object_id, resource_id };
  kind type = kind::system_assigned;
  std::string value;

  static managed_identity_id system_assigned() { return {}; }
  static managed_identity_id from_client_id(std::string id) {
    return {kind::client_id, std::move(id)};
  }
  static managed_identity_id from_object_id(std::string id) {
    return {kind::object_id, std::move(id)};
  }
  static managed_identity_id from_resource_id(std::string id) {
    return {kind::resource_id, std::move(id)};
  }
};

/// Options of managed_identity_credential. Every endpoint is an option, so tests and
/// emulators point the credential at loopback.
struct managed_identity_options {
  managed_identity_id identity;
  /// Forces a source. Unset: detect_managed_identity_source() on `environment`.
  std::optional<managed_identity_source> source;
  /// Unset: process_environment() at construction.
  std::optional<environment_map> environment;

  /// IMDS scheme://host[:port]. Empty: AZURE_POD_IDENTITY_AUTHORITY_HOST, else
  /// http://169.254.169.254. The path is always /metadata/identity/oauth2/token.
  std::string imds_endpoint;
  /// Chain mode: the first IMDS request must connect and answer within `probe_timeout`
  /// (the whole exchange, so a black-holed address is caught too); one that does not fails
  /// with errc::credential_unavailable ("no managed identity endpoint responded") instead of
  /// being retried. Once any response has come
  /// back, the credential behaves normally for good.
  bool probe = false;
  std::chrono::milliseconds probe_timeout{std::chrono::seconds(1)};
  /// IMDS answers 410 while it is being updated, for up to 70 s: 410s are retried until
  /// this much clock time has passed since the first attempt.
  std::chrono::milliseconds imds_gone_retry_duration{std::chrono::seconds(70)};

  /// Azure Arc: the only directory the agent's challenge may point into.
  std::filesystem::path arc_key_directory = "/var/opt/azcmagent/tokens";
  /// Azure Arc: files whose presence means the agent is installed (when IDENTITY_ENDPOINT
  /// and IMDS_ENDPOINT are not set), and the endpoint used then.
  std::vector<std::filesystem::path> arc_agent_files = {"/opt/azcmagent/bin/himds",
                                                        "/var/opt/azcmagent/bin/himds"};
  std::string arc_default_endpoint = "http://127.0.0.1:40342/metadata/identity/oauth2/token";

  /// Retries of 404 (IMDS), 408, 429 and 5xx responses and of failed connections.
  retry_options retry{5, std::chrono::seconds(1), std::chrono::seconds(10),
                      std::chrono::seconds(60)};
  /// Transport settings. Service Fabric serves a self-signed certificate: add it to
  /// http.tls (ca_pem or ca_file) — keyless does not pin IDENTITY_SERVER_THUMBPRINT and never
  /// turns verification off.
  http::client_options http;
  /// Null: keyless::clock::system().
  std::shared_ptr<const keyless::clock> clock;
};

/// The source the environment selects, first match wins:
///  1. Service Fabric: IDENTITY_ENDPOINT, IDENTITY_HEADER and IDENTITY_SERVER_THUMBPRINT —
///     before App Service, which sets the first two only, so a Service Fabric node is never
///     mistaken for App Service;
///  2. App Service (2019-08-01): IDENTITY_ENDPOINT and IDENTITY_HEADER;
///  3. Azure Arc: IDENTITY_ENDPOINT and IMDS_ENDPOINT;
///  4. Azure ML / App Service 2017: MSI_ENDPOINT and MSI_SECRET;
///  5. Cloud Shell: MSI_ENDPOINT alone;
///  6. Azure Arc again when one of `arc_agent_files` exists: variables describe the
///     process's own hosting and are more specific than a file on the machine;
///  7. IMDS, always available as a last resort.
managed_identity_source detect_managed_identity_source(const environment_map& env,
                                                       const managed_identity_options& options);

/// A managed identity of the Azure resource the process runs on.
///
/// One scope per request; its resource is the scope without a trailing "/.default".
/// User-assigned identities: IMDS and App Service accept all three id kinds, Azure ML only
/// a client id, Azure Arc, Cloud Shell and Service Fabric none (the constructor refuses).
/// A request's tenant is ignored: a managed identity lives in one tenant.
/// Identity endpoints are never reached through a proxy. Tokens living 2 hours or more get
/// refresh_on at half their lifetime.
///
/// Failures: not reachable in probe mode, IMDS 400 (no such identity on this resource) and
/// IMDS 403 "unreachable" → errc::credential_unavailable with a hint; other refusals
/// (401/403) → errc::authentication_failed; IMDS 404/410/429/5xx and other sources'
/// 408/429/5xx are retried (see managed_identity_options) and then reported as
/// errc::http_status; unusable bodies → errc::malformed_response. Messages never contain a
/// token, a secret header value or the Arc key.
/// Thread-safety: safe to share. Lifetime: operations in flight keep its state alive.
class managed_identity_credential final : public token_credential {
 public:
  /// Detects the source now. Throws keyless::error(errc::invalid_argument) when the
  /// environment names an endpoint that is not a URL, or the identity kind is not
  /// supported by the source.
  explicit managed_identity_credential(asio::any_io_executor executor,
                                       managed_identity_options options = {});
  ~managed_identity_credential() override;

  asio::any_io_executor get_executor() const override;
  /// "ManagedIdentityCredential".
  std::string_view name() const noexcept override;
  /// Completion: void(std::exception_ptr, access_token). Cancellation: terminal.
  asio::awaitable<access_token> get_token(token_request req) override;

  /// The source in use.
  managed_identity_source source() const noexcept;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace keyless::identity
