#pragma once
// The wire shape of each managed identity source (PROTOCOLS.md §4): which request to send
// for a resource, and the Azure Arc challenge. Sans-I/O except for reading the Arc key file.

#include <filesystem>
#include <string>
#include <string_view>

#include "keyless/http/request.hpp"
#include "keyless/http/response.hpp"
#include "keyless/http/url.hpp"
#include "keyless/identity/managed_identity_credential.hpp"

namespace keyless::identity::detail {

/// What source detection found in the environment.
struct mi_source_config {
  managed_identity_source kind = managed_identity_source::imds;
  http::url endpoint;  ///< the token URL
  /// IDENTITY_HEADER (App Service, Service Fabric) or MSI_SECRET (Azure ML). Never shown.
  std::string secret;
  /// Azure ML: DEFAULT_IDENTITY_CLIENT_ID, sent as clientid for the system-assigned identity.
  std::string default_client_id;
};

/// Human name of a source for messages: "IMDS", "App Service", ...
std::string_view display_name(managed_identity_source kind) noexcept;

/// Appends "&name=<encoded value>" (or "?..." for the first parameter) to `target`.
inline void append_query(http::url& target, std::string_view name, std::string_view value) {
  target.target += target.target.find('?') == std::string::npos ? '?' : '&';
  target.target += http::form_encode(name);
  target.target += '=';
  target.target += http::form_encode(value);
}

/// Query parameter names a source uses for a user-assigned identity.
struct identity_parameter_names {
  std::string_view client_id;
  std::string_view object_id;
  std::string_view resource_id;
};

/// Adds the user-assigned identity's parameter (nothing for system-assigned).
inline void append_identity(http::url& target, const managed_identity_id& id,
                            const identity_parameter_names& names) {
  switch (id.type) {
    case managed_identity_id::kind::system_assigned:
      return;
    case managed_identity_id::kind::client_id:
      return append_query(target, names.client_id, id.value);
    case managed_identity_id::kind::object_id:
      return append_query(target, names.object_id, id.value);
    case managed_identity_id::kind::resource_id:
      return append_query(target, names.resource_id, id.value);
  }
}

/// GET {endpoint}?api-version=2018-02-01&resource=R[&client_id|object_id|msi_res_id=...],
/// Metadata: true.
http::request imds_request(const mi_source_config& source, const managed_identity_id& id,
                           std::string_view resource);

/// GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=R[&client_id|principal_id|
/// mi_res_id=...], X-IDENTITY-HEADER.
http::request app_service_request(const mi_source_config& source, const managed_identity_id& id,
                                  std::string_view resource);

/// GET {MSI_ENDPOINT}?api-version=2017-09-01&resource=R[&clientid=...], secret, Metadata.
http::request azure_ml_request(const mi_source_config& source, const managed_identity_id& id,
                               std::string_view resource);

/// POST {MSI_ENDPOINT}, Metadata: true, form body resource=R.
http::request cloud_shell_request(const mi_source_config& source, std::string_view resource);

/// GET {IDENTITY_ENDPOINT}?api-version=2019-07-01-preview&resource=R, Secret.
http::request service_fabric_request(const mi_source_config& source, std::string_view resource);

/// GET {IDENTITY_ENDPOINT}?api-version=2020-06-01&resource=R, Metadata: true (the first,
/// unauthenticated request; the agent answers it with a 401 challenge).
http::request azure_arc_request(const mi_source_config& source, std::string_view resource);

/// Arc's challenge: `WWW-Authenticate: Basic realm=<path of a key file>`. Checks that the
/// file is a regular file (not a symlink) directly inside `key_directory`, named *.key and at
/// most 4096 bytes, then returns "Basic <file contents>". Throws
/// keyless::error(errc::authentication_failed) naming the failed check; the key never appears
/// in a message.
std::string azure_arc_authorization(const http::response& challenge,
                                    const std::filesystem::path& key_directory);

/// Largest Arc key file accepted, as the agent and the Azure SDKs agree.
inline constexpr std::uintmax_t max_arc_key_bytes = 4096;

}  // namespace keyless::identity::detail
