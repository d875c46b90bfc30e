#pragma once
// Client-side TLS set-up over asio::ssl: the shared context, per-connection verification and
// readable failure messages.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>

#include <openssl/x509_vfy.h>

#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>

#include "keyless/http/tls_options.hpp"

namespace keyless::http::detail {

using tls_stream = asio::ssl::stream<asio::ip::tcp::socket>;

/// A client's TLS context (TLS 1.2 minimum, peer verification on, trust from tls_options),
/// built on the first https connection rather than with the client: SSL_CTX_new and, above all,
/// loading the system trust store cost tens of milliseconds, while most clients (IMDS and the
/// other plain-http identity endpoints, or credentials never asked for a token) make no https
/// connection at all.
///
/// Explicitly configured CA material (ca_file, ca_pem) is still read and parsed in the
/// constructor: it is small, so this costs microseconds, and a typo in a path or a broken PEM
/// then fails where it was configured instead of at some later first request. The parsed
/// certificates are kept, so the file is read once and a later change to it cannot matter.
///
/// Thread-safety: get() may be called from any number of threads at once; the context is built
/// exactly once and then shared by every connection.
class client_tls_context {
 public:
  /// Throws keyless::error(tls_failed) naming the CA source that could not be loaded.
  explicit client_tls_context(const tls_options& options);

  /// The context, built by the first call (which reads the system trust store when asked to,
  /// honouring SSL_CERT_FILE / SSL_CERT_DIR as they are at that moment); concurrent first
  /// callers wait for that one build. Throws keyless::error(tls_failed) when OpenSSL cannot
  /// create a context; a later call tries again.
  std::shared_ptr<asio::ssl::context> get();

 private:
  struct store_free {
    void operator()(X509_STORE* store) const noexcept { X509_STORE_free(store); }
  };

  std::shared_ptr<asio::ssl::context> build();

  bool use_system_trust_store_;
  std::unique_ptr<X509_STORE, store_free> explicit_cas_;  // handed to the context when built
  std::mutex mutex_;
  std::shared_ptr<asio::ssl::context> context_;  // under mutex_
};

/// How many client TLS contexts this process has built (all clients together). For tests
/// that check a context is built lazily and once; a relaxed atomic read.
std::uint64_t client_tls_contexts_built() noexcept;

/// Prepares `stream` for a handshake with `host`: SNI (host names only; RFC 6066 forbids IP
/// literals) and a verify callback that adds host-name (or IP address) verification to
/// OpenSSL's chain verification.
void prepare_client_stream(tls_stream& stream, const std::string& host);

/// Why a handshake with `host` failed, in a sentence: the X509 verification result when the
/// certificate was refused ("certificate verify failed: certificate has expired"), else the
/// reason of the TLS error, never a raw OpenSSL error queue dump.
std::string describe_handshake_failure(tls_stream& stream, std::error_code ec,
                                       std::string_view host);

}  // namespace keyless::http::detail
