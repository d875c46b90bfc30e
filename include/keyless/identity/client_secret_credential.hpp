#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "keyless/identity/authority.hpp"
#include "keyless/identity/token_credential.hpp"

namespace keyless::identity {

/// A service principal authenticating with a client secret: the OAuth 2.0 client
/// credentials grant, POSTed to "{authority}/{tenant}/oauth2/v2.0/token".
///
/// Failures: Entra ID refusing (wrong secret, unknown application or tenant, ...) is
/// errc::authentication_failed with diagnostics::service_code set to the AADSTS code and a
/// hint; HTTP 408/429/5xx and connection failures are retried per entra_options::retry and
/// then reported with their own class (http_status, connection_failed, timeout); a success
/// body that does not parse is errc::malformed_response. Messages name the credential, the
/// client id and the tenant, never the secret or a token.
///
/// Each call asks Entra ID: wrap the credential in a token_cache (or use a
/// bearer_token_provider) to share tokens between calls.
/// Thread-safety: safe to share; operations may run concurrently. Lifetime: operations in
/// flight keep the credential's state alive.
class client_secret_credential final : public token_credential {
 public:
  /// Throws keyless::error(errc::invalid_argument) for a tenant id that is not tenant id
  /// syntax, an empty client id or secret, or an unusable authority host.
  client_secret_credential(asio::any_io_executor executor, std::string tenant_id,
                           std::string client_id, std::string client_secret,
                           entra_options options = {});
  ~client_secret_credential() override;

  asio::any_io_executor get_executor() const override;
  /// "ClientSecretCredential".
  std::string_view name() const noexcept override;
  /// Completion: void(std::exception_ptr, access_token). Cancellation: terminal; the HTTP
  /// exchange or retry delay in progress is abandoned.
  asio::awaitable<access_token> get_token(token_request req) override;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace keyless::identity
