#include "identity/client_assertion.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/base64.hpp"
#include "keyless/core/error.hpp"

namespace keyless::identity::detail {
namespace {

struct bio_free {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct pkey_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct x509_free {
  void operator()(X509* c) const { X509_free(c); }
};
struct md_ctx_free {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using bio_ptr = std::unique_ptr<BIO, bio_free>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;

[[noreturn]] void fail(const std::string& what) {
  ERR_clear_error();  // OpenSSL's queue may mention file offsets of secret material; drop it
  throw error(errc::invalid_argument, "client certificate: " + what);
}

bio_ptr memory_bio(std::string_view pem) {
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) fail("out of memory reading the PEM text");
  return bio;
}

int password_callback(char* buffer, int size, int, void* user) {
  const auto* password = static_cast<const std::optional<std::string>*>(user);
  if (!password->has_value()) return -1;  // encrypted key and no password: fail, do not prompt
  const auto length = std::min<std::size_t>(static_cast<std::size_t>(size), (*password)->size());
  std::memcpy(buffer, (*password)->data(), length);
  return static_cast<int>(length);
}

std::string der_of(X509* cert) {
  const int length = i2d_X509(cert, nullptr);
  if (length <= 0) fail("the certificate cannot be encoded");
  std::string der(static_cast<std::size_t>(length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(cert, &out);
  return der;
}

std::string digest_of(std::string_view bytes, const EVP_MD* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), out, &length, md, nullptr) != 1) fail("digest failed");
  return std::string(reinterpret_cast<const char*>(out), length);
}

std::string upper_hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02X}", c);
  return out;
}

// JSON string body for values we control or have validated (ids, URLs, base64).
std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
      continue;
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace

struct client_certificate::state {
  pkey_ptr key;
  std::vector<std::string> chain_der;  // leaf first
  std::string sha1_thumbprint;
  std::string sha256_thumbprint_b64url;
};

client_certificate client_certificate::load(std::string_view pem,
                                            std::optional<std::string> password) {
  auto bio = memory_bio(pem);
  pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, password_callback, &password));
  if (!key) {
    fail(password ? "no private key could be read; the PEM has none or the password is wrong"
                  : "no private key could be read; the PEM has none, or it is encrypted and no "
                    "password was given");
  }
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
    fail("the private key is not RSA; Entra ID client certificates must use RSA keys");
  }

  std::vector<x509_ptr> certs;
  bio = memory_bio(pem);
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    certs.emplace_back(cert);
  ERR_clear_error();  // the loop ends on "no start line", which is expected
  if (certs.empty()) fail("the PEM text holds no certificate");

  auto leaf = std::find_if(certs.begin(), certs.end(), [&](const x509_ptr& c) {
    return X509_check_private_key(c.get(), key.get()) == 1;
  });
  if (leaf == certs.end()) fail("no certificate in the PEM text matches its private key");
  std::rotate(certs.begin(), leaf, leaf + 1);  // leaf first, the rest keep their order

  auto s = std::make_shared<state>();
  s->key = std::move(key);
  for (const auto& c : certs) s->chain_der.push_back(der_of(c.get()));
  s->sha1_thumbprint = upper_hex(digest_of(s->chain_der.front(), EVP_sha1()));
  s->sha256_thumbprint_b64url =
      keyless::detail::base64url_encode(digest_of(s->chain_der.front(), EVP_sha256()));
  ERR_clear_error();
  return client_certificate(std::move(s));
}

const std::string& client_certificate::sha1_thumbprint() const noexcept {
  return state_->sha1_thumbprint;
}

std::string client_certificate::make_assertion(std::string_view client_id,
                                               std::string_view token_endpoint,
                                               std::chrono::system_clock::time_point now,
                                               bool send_chain) const {
  std::string header =
      R"({"alg":"PS256","typ":"JWT","x5t#S256":)" + json_string(state_->sha256_thumbprint_b64url);
  if (send_chain) {
    header += R"(,"x5c":[)";
    for (std::size_t i = 0; i < state_->chain_der.size(); ++i) {
      if (i) header += ',';
      header += json_string(keyless::detail::base64_encode(state_->chain_der[i]));
    }
    header += ']';
  }
  header += '}';

  const auto issued =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  // Ten minutes: long enough for a slow token request, short enough to limit replay.
  const auto expires = issued + 600;
  const std::string payload =
      fmt::format(R"({{"aud":{},"iss":{},"sub":{},"jti":{},"nbf":{},"iat":{},"exp":{}}})",
                  json_string(token_endpoint), json_string(client_id), json_string(client_id),
                  json_string(random_uuid()), issued, issued, expires);

  const std::string signing_input =
      keyless::detail::base64url_encode(header) + "." + keyless::detail::base64url_encode(payload);

  std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, state_->key.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1) {
    ERR_clear_error();
    throw error(errc::invalid_argument, "client certificate: cannot set up PS256 signing");
  }
  std::size_t length = 0;
  const auto* input = reinterpret_cast<const unsigned char*>(signing_input.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &length, input, signing_input.size()) != 1) {
    ERR_clear_error();
    throw error(errc::invalid_argument, "client certificate: signing failed");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length, input,
                     signing_input.size()) != 1) {
    ERR_clear_error();
    throw error(errc::invalid_argument, "client certificate: signing failed");
  }
  signature.resize(length);
  return signing_input + "." + keyless::detail::base64url_encode(signature);
}

std::string random_uuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) {
    ERR_clear_error();
    throw error(errc::invalid_argument, "the system random generator failed");
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  return fmt::format(
      "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-"
      "{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
      b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
      b[15]);
}

}  // namespace keyless::identity::detail
