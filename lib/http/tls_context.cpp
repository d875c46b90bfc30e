#include "tls_context.hpp"

#include <atomic>
#include <cstddef>
#include <limits>
#include <new>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <asio/ip/address.hpp>
#include <asio/ssl/error.hpp>
#include <asio/ssl/host_name_verification.hpp>
#include <asio/ssl/verify_context.hpp>

#include <fmt/core.h>

#include "keyless/core/error.hpp"

namespace keyless::http::detail {
namespace {

bool is_ip_literal(const std::string& host) {
  std::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// The reason text of an OpenSSL error code, without the "error:0A000086:SSL
// routines::" prefix that ERR_error_string would add.
std::string reason_of(std::error_code ec) {
  if (ec.category() == asio::error::get_ssl_category()) {
    if (const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()))) {
      return reason;
    }
  }
  return ec.message();
}

// asio::ssl::host_name_verification just answers false on a mismatch, which
// leaves OpenSSL's verify result at "ok" and the failure unexplained. Record
// the mismatch as the X509 error so describe_handshake_failure can name it.
class peer_verifier {
 public:
  explicit peer_verifier(std::string host) : host_(std::move(host)), ip_(is_ip_literal(host_)) {}

  bool operator()(bool preverified, asio::ssl::verify_context& ctx) const {
    if (!preverified) return false;  // OpenSSL has set the error already
    if (asio::ssl::host_name_verification(host_)(preverified, ctx)) return true;
    X509_STORE_CTX_set_error(ctx.native_handle(),
                             ip_ ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH);
    return false;
  }

 private:
  std::string host_;
  bool ip_;
};

std::atomic<std::uint64_t> contexts_built{0};

[[noreturn]] void fail_loading(std::string_view what, std::error_code ec) {
  throw keyless::error(errc::tls_failed, fmt::format("cannot load {}: {}", what, reason_of(ec)));
}

// The oldest queued OpenSSL error, as asio::ssl reports its own failures, except that a failed
// system call (a CA file that is missing or unreadable) becomes its errno, whose text says
// what happened ("No such file or directory") where OpenSSL has no reason string for it.
std::error_code last_ssl_error() {
  unsigned long err = ERR_get_error();
  ERR_clear_error();
  if (ERR_SYSTEM_ERROR(err)) {
    return {static_cast<int>(ERR_GET_REASON(err)), std::system_category()};
  }
  return {static_cast<int>(err), asio::error::get_ssl_category()};
}

// Adds every certificate of `pem` to `store`: at least one, and nothing but certificates.
void add_pem_certificates(X509_STORE* store, const std::string& pem) {
  constexpr std::string_view what = "CA certificates from tls_options::ca_pem";
  if (pem.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw keyless::error(errc::tls_failed,
                         fmt::format("cannot load {}: the text is too long", what));
  }
  ERR_clear_error();
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) throw std::bad_alloc();
  for (bool added = false;; added = true) {
    std::unique_ptr<X509, decltype(&X509_free)> cert(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
    if (!cert) {
      unsigned long err = ERR_peek_error();
      bool no_more = ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
      if (no_more) {
        ERR_clear_error();
        // Running out of PEM blocks after at least one certificate is the normal end.
        if (added) return;
        throw keyless::error(
            errc::tls_failed,
            fmt::format("cannot load {}: the text holds no PEM certificate", what));
      }
      fail_loading(what, last_ssl_error());
    }
    if (X509_STORE_add_cert(store, cert.get()) != 1) fail_loading(what, last_ssl_error());
  }
}

}  // namespace

client_tls_context::client_tls_context(const tls_options& options)
    : use_system_trust_store_(options.use_system_trust_store) {
  if (options.ca_file.empty() && options.ca_pem.empty()) return;
  explicit_cas_.reset(X509_STORE_new());
  if (!explicit_cas_) throw std::bad_alloc();
  if (!options.ca_file.empty()) {
    ERR_clear_error();
    if (X509_STORE_load_file(explicit_cas_.get(), options.ca_file.c_str()) != 1) {
      fail_loading(fmt::format("CA file \"{}\"", options.ca_file), last_ssl_error());
    }
  }
  if (!options.ca_pem.empty()) add_pem_certificates(explicit_cas_.get(), options.ca_pem);
}

std::shared_ptr<asio::ssl::context> client_tls_context::get() {
  // A plain mutex rather than a lock-free fast path: get() runs once per new TLS connection,
  // next to a handshake that costs far more than an uncontended lock.
  std::lock_guard lock(mutex_);
  if (!context_) context_ = build();
  return context_;
}

std::shared_ptr<asio::ssl::context> client_tls_context::build() {
  std::shared_ptr<asio::ssl::context> ctx;
  try {
    ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  } catch (const std::system_error& e) {
    throw keyless::error(errc::tls_failed, fmt::format("cannot create a TLS client context: {}",
                                                       reason_of(e.code())));
  }
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression);
  ctx->set_verify_mode(asio::ssl::verify_peer);
  if (explicit_cas_) {
    // The context takes the store with the explicit CAs; the system store joins it below.
    SSL_CTX_set_cert_store(native, explicit_cas_.release());
  }
  if (use_system_trust_store_) {
    // Reads SSL_CERT_FILE / SSL_CERT_DIR when set, the distribution's bundle otherwise. A
    // missing store is not an error here: verification then fails with a clear reason.
    std::error_code ignored;
    ctx->set_default_verify_paths(ignored);
    ERR_clear_error();
  }
  contexts_built.fetch_add(1, std::memory_order_relaxed);
  return ctx;
}

std::uint64_t client_tls_contexts_built() noexcept {
  return contexts_built.load(std::memory_order_relaxed);
}

void prepare_client_stream(tls_stream& stream, const std::string& host) {
  if (!is_ip_literal(host)) SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
  stream.set_verify_mode(asio::ssl::verify_peer);
  stream.set_verify_callback(peer_verifier(host));
}

std::string describe_handshake_failure(tls_stream& stream, std::error_code ec,
                                       std::string_view host) {
  long verify = SSL_get_verify_result(stream.native_handle());
  if (verify != X509_V_OK) {
    std::string text =
        fmt::format("certificate verify failed: {}", X509_verify_cert_error_string(verify));
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      text += fmt::format(" for {}", host);
    }
    return text;
  }
  if (ec == asio::ssl::error::stream_truncated || ec == asio::error::eof) {
    return "the server closed the connection during the handshake";
  }
  return reason_of(ec);
}

}  // namespace keyless::http::detail
