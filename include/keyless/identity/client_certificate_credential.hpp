#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "keyless/identity/authority.hpp"
#include "keyless/identity/token_credential.hpp"

namespace keyless::identity {

/// Options of client_certificate_credential.
struct client_certificate_options : entra_options {
  /// Password of an encrypted private key.
  std::optional<std::string> password;
  /// Send the certificate chain in the assertion's `x5c` header, as subject name / issuer
  /// authentication (certificates that rotate without re-registration) requires.
  bool send_certificate_chain = false;
};

/// A service principal authenticating with a certificate: the client credentials grant with
/// a JWT client assertion (PS256, `x5t#S256`, a fresh `jti` and a ten-minute lifetime for
/// every request) signed with the certificate's RSA private key.
///
/// The certificate comes as PEM: the certificate and its private key (PKCS#8 or
/// traditional, optionally encrypted), in any order, optionally followed by the chain.
/// PKCS#12 (.pfx) files are not read; convert one with
/// `openssl pkcs12 -in cert.pfx -out cert.pem -nodes`.
///
/// Failures are as for client_secret_credential. Messages never contain the key, the
/// password, the assertion or a token.
/// Thread-safety: safe to share. Lifetime: operations in flight keep its state alive.
class client_certificate_credential final : public token_credential {
 public:
  /// Reads the PEM file at `certificate_path` now. Throws keyless::error(errc::
  /// invalid_argument) naming the problem for an unreadable or unusable file, a wrong
  /// password, a malformed tenant id, an empty client id or an unusable authority host.
  client_certificate_credential(asio::any_io_executor executor, std::string tenant_id,
                                std::string client_id, std::filesystem::path certificate_path,
                                client_certificate_options options = {});

  /// The same with the PEM text itself.
  static std::unique_ptr<client_certificate_credential> from_pem(
      asio::any_io_executor executor, std::string tenant_id, std::string client_id,
      std::string_view pem, client_certificate_options options = {});

  ~client_certificate_credential() override;

  asio::any_io_executor get_executor() const override;
  /// "ClientCertificateCredential".
  std::string_view name() const noexcept override;
  /// Completion: void(std::exception_ptr, access_token). Cancellation: terminal.
  asio::awaitable<access_token> get_token(token_request req) override;

  /// Uppercase hex SHA-1 thumbprint of the certificate, as the Azure portal shows it.
  const std::string& thumbprint() const noexcept;

  struct impl;

 private:
  struct from_pem_tag {};
  client_certificate_credential(from_pem_tag, asio::any_io_executor executor, std::string tenant_id,
                                std::string client_id, std::string_view pem, std::string origin,
                                client_certificate_options options);

  std::shared_ptr<impl> impl_;
};

}  // namespace keyless::identity
