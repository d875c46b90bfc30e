#include "test_pki.hpp"

#include <chrono>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <asio/buffer.hpp>
#include <asio/ssl/context.hpp>

namespace keyless::testing {
namespace {

struct pkey_free {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct x509_free {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
struct bio_free {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
struct bn_free {
  void operator()(BIGNUM* p) const noexcept { BN_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;
using bio_ptr = std::unique_ptr<BIO, bio_free>;
using bn_ptr = std::unique_ptr<BIGNUM, bn_free>;

[[noreturn]] void fail(const char* step) {
  std::string detail;
  if (unsigned long code = ERR_get_error(); code != 0) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    detail = std::string(": ") + text;
  }
  ERR_clear_error();
  throw std::runtime_error(std::string("test_pki: ") + step + " failed" + detail);
}

void check(int ok, const char* step) {
  if (ok != 1) fail(step);
}

pkey_ptr make_ec_key() {
  pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) fail("EC P-256 key generation");
  return key;
}

pkey_ptr make_rsa_key() {
  pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
  if (!key) fail("RSA-2048 key generation");
  return key;
}

struct cert_spec {
  std::string common_name;
  std::string subject_alt_names;  // OpenSSL config syntax, empty for none
  bool is_ca = false;
  std::chrono::seconds not_before_offset{-3600};  // relative to now
  std::chrono::seconds not_after_offset{30 * 24 * 3600};
};

void add_extension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (ext == nullptr) fail("certificate extension");
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  check(ok, "adding a certificate extension");
}

// `issuer == nullptr` makes a self-signed certificate.
x509_ptr make_certificate(const cert_spec& spec, EVP_PKEY* key, X509* issuer,
                          EVP_PKEY* issuer_key) {
  x509_ptr cert(X509_new());
  if (!cert) fail("X509_new");
  check(X509_set_version(cert.get(), 2), "X509_set_version");

  // Random 63-bit serials: two certificates from one issuer must never share one.
  bn_ptr serial(BN_new());
  if (!serial) fail("BN_new");
  check(BN_rand(serial.get(), 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "BN_rand");
  if (BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr)
    fail("setting the serial number");

  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before_offset.count()) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after_offset.count()) == nullptr)
    fail("setting the validity period");

  X509_NAME* name = X509_get_subject_name(cert.get());
  check(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("keyless tests"), -1, -1,
                                   0),
        "setting the subject");
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(spec.common_name.c_str()),
                                   -1, -1, 0),
        "setting the subject");
  check(X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name),
        "setting the issuer");
  check(X509_set_pubkey(cert.get(), key), "X509_set_pubkey");

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  if (spec.is_ca) {
    add_extension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    add_extension(cert.get(), &ctx, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  add_extension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) add_extension(cert.get(), &ctx, NID_authority_key_identifier, "keyid");
  if (!spec.subject_alt_names.empty())
    add_extension(cert.get(), &ctx, NID_subject_alt_name, spec.subject_alt_names);

  if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) == 0)
    fail("signing the certificate");
  return cert;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string certificate_pem(X509* cert) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio) fail("BIO_new");
  check(PEM_write_bio_X509(bio.get(), cert), "PEM_write_bio_X509");
  return bio_text(bio.get());
}

std::string private_key_pem(EVP_PKEY* key) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio) fail("BIO_new");
  check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
        "PEM_write_bio_PrivateKey");
  return bio_text(bio.get());
}

std::string certificate_der(X509* cert) {
  int size = i2d_X509(cert, nullptr);
  if (size <= 0) fail("i2d_X509");
  std::string der(static_cast<std::size_t>(size), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_X509(cert, &out) != size) fail("i2d_X509");
  return der;
}

std::string hex_digest(const EVP_MD* md, const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  check(EVP_Digest(data.data(), data.size(), digest, &size, md, nullptr), "EVP_Digest");
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex.push_back(digits[digest[i] >> 4]);
    hex.push_back(digits[digest[i] & 0xf]);
  }
  return hex;
}

struct issued {
  pkey_ptr key;
  x509_ptr cert;

  certified_key pem() const { return {certificate_pem(cert.get()), private_key_pem(key.get())}; }
};

issued make_ca(const std::string& name) {
  issued ca{make_ec_key(), nullptr};
  cert_spec spec{name, "", true};
  spec.not_after_offset = std::chrono::hours(24 * 365);
  ca.cert = make_certificate(spec, ca.key.get(), nullptr, nullptr);
  return ca;
}

issued make_leaf(const issued& ca, cert_spec spec) {
  issued leaf{make_ec_key(), nullptr};
  leaf.cert = make_certificate(spec, leaf.key.get(), ca.cert.get(), ca.key.get());
  return leaf;
}

constexpr const char* loopback_names = "IP:127.0.0.1,IP:::1,DNS:localhost";

}  // namespace

rsa_certificate generate_rsa_certificate(std::string_view common_name) {
  pkey_ptr key = make_rsa_key();
  cert_spec spec{std::string(common_name), "", false};
  x509_ptr cert = make_certificate(spec, key.get(), nullptr, nullptr);
  rsa_certificate out;
  out.certificate_pem = certificate_pem(cert.get());
  out.private_key_pem = private_key_pem(key.get());
  out.certificate_der = certificate_der(cert.get());
  out.sha1_thumbprint = hex_digest(EVP_sha1(), out.certificate_der);
  out.sha256_thumbprint = hex_digest(EVP_sha256(), out.certificate_der);
  return out;
}

const rsa_certificate& shared_rsa_certificate() {
  static const rsa_certificate certificate = generate_rsa_certificate("keyless-test-client");
  return certificate;
}

std::string_view to_string(leaf_kind kind) noexcept {
  switch (kind) {
    case leaf_kind::good:
      return "good";
    case leaf_kind::wrong_name:
      return "wrong_name";
    case leaf_kind::expired:
      return "expired";
    case leaf_kind::untrusted:
      return "untrusted";
  }
  return "unknown";
}

test_pki test_pki::generate() {
  issued ca = make_ca("keyless test CA");
  issued other_ca = make_ca("keyless untrusted test CA");

  cert_spec good{"127.0.0.1", loopback_names};
  cert_spec wrong{std::string(wrong_host), "DNS:" + std::string(wrong_host)};
  cert_spec expired{"127.0.0.1", loopback_names};
  expired.not_before_offset = -std::chrono::hours(24 * 30);
  expired.not_after_offset = -std::chrono::hours(24);

  test_pki pki;
  pki.ca_ = ca.pem();
  pki.untrusted_ca_ = other_ca.pem();
  pki.good_ = make_leaf(ca, good).pem();
  pki.wrong_name_ = make_leaf(ca, wrong).pem();
  pki.expired_ = make_leaf(ca, expired).pem();
  pki.untrusted_ = make_leaf(other_ca, good).pem();
  // The CA keys die here: nothing can sign another certificate for this PKI.
  return pki;
}

const test_pki& test_pki::shared() {
  // C++11 guarantees thread-safe one-time initialisation of function statics.
  static const test_pki pki = generate();
  return pki;
}

const certified_key& test_pki::leaf(leaf_kind kind) const noexcept {
  switch (kind) {
    case leaf_kind::good:
      return good_;
    case leaf_kind::wrong_name:
      return wrong_name_;
    case leaf_kind::expired:
      return expired_;
    case leaf_kind::untrusted:
      return untrusted_;
  }
  return good_;
}

std::filesystem::path test_pki::write_ca_file(const std::filesystem::path& directory) const {
  auto path = directory / "keyless-test-ca.pem";
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << ca_.certificate_pem;
  out.close();
  if (!out) throw std::runtime_error("test_pki: cannot write " + path.string());
  return path;
}

void test_pki::trust_ca(asio::ssl::context& ctx) const {
  ctx.add_certificate_authority(asio::buffer(ca_.certificate_pem));
}

void test_pki::use_leaf(asio::ssl::context& ctx, leaf_kind kind) const {
  const certified_key& l = leaf(kind);
  ctx.use_certificate_chain(asio::buffer(l.certificate_pem));
  ctx.use_private_key(asio::buffer(l.private_key_pem), asio::ssl::context::pem);
}

}  // namespace keyless::testing
