#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "keyless/identity/authority.hpp"
#include "keyless/identity/token_credential.hpp"

namespace keyless::identity {

/// Options of workload_identity_credential; empty strings fall back to the environment.
struct workload_identity_options : entra_options {
  std::string tenant_id;                  ///< empty: AZURE_TENANT_ID
  std::string client_id;                  ///< empty: AZURE_CLIENT_ID
  std::filesystem::path token_file_path;  ///< empty: AZURE_FEDERATED_TOKEN_FILE
};

/// Workload identity federation (Azure Kubernetes Service and other OIDC issuers): the
/// client credentials grant with the federated token from a file as client assertion.
///
/// The file is read on every get_token, i.e. on every token cache miss (a few times an
/// hour). The kubelet rotates the projected token by swapping a symlink; reading each time
/// costs one small file read per fetch and can never send a stale token, where a
/// stat-and-compare or age-based cache (the peers re-read after 5 or 10 minutes) can
/// send one that was replaced in the same second or has just expired. Surrounding
/// whitespace is removed (a JWT has none; a hand-written file often ends in a newline).
///
/// Not configured (tenant, client id or token file missing) → errc::credential_unavailable
/// naming what is missing. An unreadable, empty or oversized (> 64 KiB) file →
/// errc::authentication_failed naming the file: the credential is configured, so a chain
/// must not fall through to another identity. Entra ID refusing the assertion (e.g.
/// AADSTS70021, no matching federated identity record) → errc::authentication_failed with
/// a hint. Messages never contain the assertion or a token.
/// Thread-safety: safe to share. Lifetime: operations in flight keep its state alive.
class workload_identity_credential final : public token_credential {
 public:
  /// Throws keyless::error(errc::invalid_argument) for a tenant id that is not tenant id
  /// syntax or an unusable authority host; missing settings do not throw.
  explicit workload_identity_credential(asio::any_io_executor executor,
                                        workload_identity_options options = {});
  ~workload_identity_credential() override;

  asio::any_io_executor get_executor() const override;
  /// "WorkloadIdentityCredential".
  std::string_view name() const noexcept override;
  /// Completion: void(std::exception_ptr, access_token). Cancellation: terminal.
  asio::awaitable<access_token> get_token(token_request req) override;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace keyless::identity
