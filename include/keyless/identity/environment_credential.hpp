#pragma once

#include <memory>
#include <string_view>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "keyless/identity/authority.hpp"
#include "keyless/identity/token_credential.hpp"

namespace keyless::identity {

/// A service principal described by environment variables (read at construction, from
/// entra_options::environment or the process environment):
///
/// - AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET → a client_secret_credential;
/// - otherwise AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_CERTIFICATE_PATH (a PEM
///   file), with AZURE_CLIENT_CERTIFICATE_PASSWORD and AZURE_CLIENT_SEND_CERTIFICATE_CHAIN
///   ("1"/"true") → a client_certificate_credential;
/// - AZURE_AUTHORITY_HOST and AZURE_ADDITIONALLY_ALLOWED_TENANTS apply to both unless the
///   options set them.
///
/// Not configured (any of the needed variables missing) → every get_token fails with
/// errc::credential_unavailable naming the missing variables, so a chain moves on; a
/// partial configuration (say tenant and client id without secret or certificate) says
/// exactly what is missing. Configured but unusable (a malformed tenant id, an unreadable
/// certificate) → errc::invalid_argument at get_token; configured and refused by Entra ID →
/// errc::authentication_failed. Both stop a chain: keyless never silently falls through to
/// another identity when one was configured.
///
/// Thread-safety: safe to share. Lifetime: operations in flight keep its state alive.
class environment_credential final : public token_credential {
 public:
  /// Never throws for the environment's content (errors surface at get_token).
  explicit environment_credential(asio::any_io_executor executor, entra_options options = {});
  ~environment_credential() override;

  asio::any_io_executor get_executor() const override;
  /// "EnvironmentCredential".
  std::string_view name() const noexcept override;
  /// Completion: void(std::exception_ptr, access_token). Cancellation: terminal.
  asio::awaitable<access_token> get_token(token_request req) override;

  /// Which credential the environment selected: "ClientSecretCredential",
  /// "ClientCertificateCredential", or empty when not configured or unusable.
  std::string_view selected() const noexcept;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace keyless::identity
