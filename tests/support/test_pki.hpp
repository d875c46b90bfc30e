#pragma once
// Certificates generated at run time with OpenSSL 3, so no key or certificate is ever committed.

#include <filesystem>
#include <string>
#include <string_view>

namespace asio::ssl {
class context;
}

namespace keyless::testing {

/// A certificate with its private key, both PEM (the key is unencrypted PKCS#8).
struct certified_key {
  std::string certificate_pem;
  std::string private_key_pem;

  /// Certificate followed by key in one PEM text, the layout Azure's client-certificate
  /// credentials accept as a single file.
  std::string combined_pem() const { return certificate_pem + private_key_pem; }
};

/// An RSA-2048 self-signed certificate for client-certificate credential tests.
struct rsa_certificate {
  std::string certificate_pem;
  std::string private_key_pem;
  std::string certificate_der;    ///< raw DER bytes (base64 of these is an `x5c` entry)
  std::string sha1_thumbprint;    ///< uppercase hex of SHA-1(DER), 40 characters
  std::string sha256_thumbprint;  ///< uppercase hex of SHA-256(DER), 64 characters

  std::string combined_pem() const { return certificate_pem + private_key_pem; }
};

/// Generates an RSA-2048 key and a self-signed certificate (CN = `common_name`, valid from an
/// hour ago for 30 days). RSA key generation is slow (0.1 to 2 s); prefer
/// shared_rsa_certificate() unless a test needs a distinct certificate. Throws
/// std::runtime_error naming the failing OpenSSL step.
rsa_certificate generate_rsa_certificate(std::string_view common_name);

/// One RSA certificate per process (CN "keyless-test-client"), generated on first use;
/// thread-safe.
const rsa_certificate& shared_rsa_certificate();

/// Which server certificate a fake presents.
enum class leaf_kind {
  good,        ///< SANs 127.0.0.1, ::1, localhost; signed by the trusted CA
  wrong_name,  ///< SAN wrong.invalid only; signed by the trusted CA
  expired,     ///< SANs as `good`, but validity ended yesterday; signed by the trusted CA
  untrusted,   ///< SANs as `good`, signed by a second CA that nobody trusts
};

/// Name for messages: "good", "wrong_name", "expired", "untrusted".
std::string_view to_string(leaf_kind kind) noexcept;

/// A tiny PKI for TLS tests: one trusted CA (EC P-256) and four server leaves (EC P-256).
/// Immutable after construction, so safe to share between threads.
class test_pki {
 public:
  /// Generates a fresh, independent PKI (a few milliseconds). Throws std::runtime_error naming
  /// the failing OpenSSL step.
  static test_pki generate();

  /// One PKI per process, generated on first use; thread-safe. Prefer this in tests.
  static const test_pki& shared();

  /// The trusted CA's certificate (clients add it to their trust store).
  const std::string& ca_certificate_pem() const noexcept { return ca_.certificate_pem; }
  /// The untrusted CA's certificate (for tests that trust it deliberately).
  const std::string& untrusted_ca_certificate_pem() const noexcept {
    return untrusted_ca_.certificate_pem;
  }

  const certified_key& leaf(leaf_kind kind) const noexcept;
  const certified_key& good() const noexcept { return good_; }
  const certified_key& wrong_name() const noexcept { return wrong_name_; }
  const certified_key& expired() const noexcept { return expired_; }
  const certified_key& untrusted() const noexcept { return untrusted_; }

  /// The only name `wrong_name()` is valid for.
  static constexpr std::string_view wrong_host = "wrong.invalid";

  /// Writes the trusted CA certificate to `<directory>/keyless-test-ca.pem` (for
  /// SSL_CERT_FILE-style options) and returns that path. Throws std::runtime_error on I/O error.
  std::filesystem::path write_ca_file(const std::filesystem::path& directory) const;

  /// Adds the trusted CA to `ctx`'s verify store (client side).
  void trust_ca(asio::ssl::context& ctx) const;
  /// Installs `kind`'s certificate and key into `ctx` (server side).
  void use_leaf(asio::ssl::context& ctx, leaf_kind kind) const;

 private:
  test_pki() = default;

  certified_key ca_;
  certified_key untrusted_ca_;
  certified_key good_;
  certified_key wrong_name_;
  certified_key expired_;
  certified_key untrusted_;
};

}  // namespace keyless::testing
