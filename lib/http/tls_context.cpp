#include "tls_context.hpp"

#include <map>
#include <mutex>
#include <utility>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <asio/buffer.hpp>
#include <asio/ip/address.hpp>
#include <asio/ssl/error.hpp>
#include <asio/ssl/host_name_verification.hpp>
#include <asio/ssl/verify_context.hpp>

#include <fmt/core.h>

#include "core/env_value.hpp"
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

[[noreturn]] void fail_loading(std::string_view what, std::error_code ec) {
  throw keyless::error(errc::tls_failed, fmt::format("cannot load {}: {}", what, reason_of(ec)));
}

struct store_deleter {
  void operator()(X509_STORE* store) const { X509_STORE_free(store); }
};

// Loading the distribution's bundle parses every certificate in it (~20 ms here), and a
// default chain builds several clients; so each process loads it once per value of
// SSL_CERT_FILE / SSL_CERT_DIR and its contexts share that store (OpenSSL locks a store
// shared between contexts and threads). Returns a new reference.
X509_STORE* shared_system_store() {
  static std::mutex mutex;
  static std::map<std::pair<std::string, std::string>, std::unique_ptr<X509_STORE, store_deleter>>
      stores;
  std::pair key{keyless::detail::env_value("SSL_CERT_FILE"),
                keyless::detail::env_value("SSL_CERT_DIR")};
  std::lock_guard lock(mutex);
  auto found = stores.find(key);
  if (found == stores.end()) {
    std::unique_ptr<X509_STORE, store_deleter> store(X509_STORE_new());
    if (!store) throw keyless::error(errc::tls_failed, "cannot create a certificate store");
    // A missing store is not an error here: verification then fails with a clear reason.
    X509_STORE_set_default_paths(store.get());
    ERR_clear_error();
    found = stores.emplace(std::move(key), std::move(store)).first;
  }
  X509_STORE_up_ref(found->second.get());
  return found->second.get();
}

}  // namespace

std::shared_ptr<asio::ssl::context> make_client_tls_context(const tls_options& options) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression);
  ctx->set_verify_mode(asio::ssl::verify_peer);

  std::error_code ec;
  const bool adds_own_authorities = !options.ca_file.empty() || !options.ca_pem.empty();
  if (options.use_system_trust_store) {
    // Reads SSL_CERT_FILE / SSL_CERT_DIR when set, the distribution's bundle otherwise. The
    // shared store must not learn this client's own authorities: such a client loads a copy.
    if (adds_own_authorities) {
      ctx->set_default_verify_paths(ec);
      ERR_clear_error();
    } else {
      SSL_CTX_set_cert_store(ctx->native_handle(), shared_system_store());
    }
  }
  if (!options.ca_file.empty()) {
    ctx->load_verify_file(options.ca_file, ec);
    if (ec) fail_loading(fmt::format("CA file \"{}\"", options.ca_file), ec);
  }
  if (!options.ca_pem.empty()) {
    ctx->add_certificate_authority(asio::buffer(options.ca_pem), ec);
    if (ec) fail_loading("CA certificates from tls_options::ca_pem", ec);
  }
  return ctx;
}

void offer_alpn(tls_stream& stream, alpn_offer offer) {
  // Length-prefixed protocol names, in order of preference.
  static constexpr unsigned char h2_only[] = {2, 'h', '2'};
  static constexpr unsigned char h2_or_http1[] = {2,   'h', '2', 8,   'h', 't',
                                                  't', 'p', '/', '1', '.', '1'};
  if (offer == alpn_offer::none) return;
  const bool both = offer == alpn_offer::h2_or_http1;
  // Unlike most of OpenSSL, 0 is success here.
  if (SSL_set_alpn_protos(stream.native_handle(), both ? h2_or_http1 : h2_only,
                          both ? sizeof h2_or_http1 : sizeof h2_only) != 0) {
    throw keyless::error(errc::tls_failed, "cannot offer HTTP/2 through ALPN");
  }
}

std::string_view alpn_selected(const tls_stream& stream) noexcept {
  const unsigned char* data = nullptr;
  unsigned int size = 0;
  SSL_get0_alpn_selected(const_cast<tls_stream&>(stream).native_handle(), &data, &size);
  return {reinterpret_cast<const char*>(data), size};
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
