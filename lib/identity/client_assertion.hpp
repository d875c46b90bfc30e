#pragma once
// Signed JWT client assertions for certificate-based service principals.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keyless::identity::detail {

/// A client certificate and its RSA private key, loaded from PEM text, ready to sign.
/// Immutable after load; safe to share between threads.
class client_certificate {
 public:
  /// Loads the first private key and the certificate that matches it from `pem`
  /// (certificate and key may come in any order; further certificates form the chain).
  /// An encrypted key needs `password`. Throws keyless::error(errc::invalid_argument)
  /// saying what is missing or wrong, never echoing key material or the password.
  static client_certificate load(std::string_view pem, std::optional<std::string> password = {});

  /// A JWT for the client-credentials grant: PS256 signed, with the certificate's SHA-256
  /// thumbprint as `x5t#S256` (Entra ID's current choice; it also accepts the older RS256
  /// with a SHA-1 `x5t`), a fresh random `jti`, and a ten-minute lifetime from `now`. With
  /// `send_chain`, `x5c` carries the certificate chain (subject-name/issuer authentication).
  std::string make_assertion(std::string_view client_id, std::string_view token_endpoint,
                             std::chrono::system_clock::time_point now, bool send_chain) const;

  /// Uppercase hex SHA-1 of the certificate (the "thumbprint" Azure portals show).
  const std::string& sha1_thumbprint() const noexcept;

 private:
  struct state;
  explicit client_certificate(std::shared_ptr<const state> s) : state_(std::move(s)) {}
  std::shared_ptr<const state> state_;
};

/// A random version-4 UUID, lower-case, from OpenSSL's CSPRNG.
std::string random_uuid();

}  // namespace keyless::identity::detail
