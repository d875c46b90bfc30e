#pragma once

#include <string>

namespace keyless::http {

/// Which certificate authorities a client trusts. Peer verification, host-name verification,
/// SNI and the TLS 1.2 floor are always on; only the trust anchors are configurable.
struct tls_options {
  /// Load the system trust store (OpenSSL's default paths, which honour the SSL_CERT_FILE and
  /// SSL_CERT_DIR environment variables). Loaded once per process for each value of those
  /// variables and shared by the clients that add no CA of their own; a client with `ca_file`
  /// or `ca_pem` loads a copy of its own.
  bool use_system_trust_store = true;
  /// A PEM file of extra trusted CA certificates; empty for none.
  std::string ca_file;
  /// Extra trusted CA certificates as PEM text (one or more certificates); empty for none.
  std::string ca_pem;

  friend bool operator==(const tls_options&, const tls_options&) = default;
};

}  // namespace keyless::http
