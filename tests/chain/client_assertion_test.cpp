#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <simdjson.h>

#include "core/base64.hpp"
#include "identity/client_assertion.hpp"
#include "keyless/core/error.hpp"
#include "test_pki.hpp"

namespace {

using keyless::identity::detail::client_certificate;

const keyless::testing::rsa_certificate& test_certificate() {
  static const auto cert = keyless::testing::generate_rsa_certificate("keyless-test-client");
  return cert;
}

struct jwt_parts {
  std::string header, payload, signature, signing_input;
};

jwt_parts split(const std::string& jwt) {
  auto a = jwt.find('.');
  auto b = jwt.find('.', a + 1);
  return {*keyless::detail::base64_decode(jwt.substr(0, a)),
          *keyless::detail::base64_decode(jwt.substr(a + 1, b - a - 1)),
          *keyless::detail::base64_decode(jwt.substr(b + 1)), jwt.substr(0, b)};
}

bool verify_ps256(const std::string& cert_pem, const jwt_parts& jwt) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(cert_pem.data(), int(cert_pem.size())), &BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(X509_get_pubkey(cert.get()),
                                                          &EVP_PKEY_free);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key.get());
  EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(jwt.signature.data()),
                          jwt.signature.size(),
                          reinterpret_cast<const unsigned char*>(jwt.signing_input.data()),
                          jwt.signing_input.size()) == 1;
}

std::string encrypted_key_pem(const std::string& key_pem, const std::string& password) {
  std::unique_ptr<BIO, decltype(&BIO_free)> in(BIO_new_mem_buf(key_pem.data(), int(key_pem.size())),
                                               &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_PKCS8PrivateKey(out.get(), key.get(), EVP_aes_256_cbc(), password.data(),
                                int(password.size()), nullptr, nullptr);
  char* data = nullptr;
  long length = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

const auto now = std::chrono::system_clock::time_point{std::chrono::seconds(1'700'000'000)};
const std::string endpoint = "https://127.0.0.1:8443/tenant-1/oauth2/v2.0/token";

}  // namespace

BOOST_AUTO_TEST_SUITE(client_assertion)

BOOST_AUTO_TEST_CASE(assertion_is_a_ps256_jwt_that_the_certificate_key_verifies) {
  const auto& cert = test_certificate();
  auto loaded = client_certificate::load(cert.combined_pem());
  BOOST_TEST(loaded.sha1_thumbprint() == cert.sha1_thumbprint);
  auto jwt = split(loaded.make_assertion("client-1", endpoint, now, false));
  BOOST_TEST(verify_ps256(cert.certificate_pem, jwt));

  simdjson::dom::parser parser;
  auto header = parser.parse(jwt.header);
  BOOST_TEST(std::string_view(header["alg"]) == "PS256");
  BOOST_TEST(std::string_view(header["typ"]) == "JWT");
  const auto sha256 =
      keyless::detail::base64_decode(std::string(std::string_view(header["x5t#S256"])));
  std::string hex;
  for (unsigned char c : *sha256) hex += fmt::format("{:02X}", c);
  BOOST_TEST(hex == cert.sha256_thumbprint);
  BOOST_TEST(header["x5c"].error() == simdjson::NO_SUCH_FIELD);
}

BOOST_AUTO_TEST_CASE(payload_names_the_client_the_endpoint_and_a_ten_minute_window) {
  auto loaded = client_certificate::load(test_certificate().combined_pem());
  auto first = split(loaded.make_assertion("client-1", endpoint, now, false));
  auto second = split(loaded.make_assertion("client-1", endpoint, now, false));
  simdjson::dom::parser parser;
  auto payload = parser.parse(first.payload);
  BOOST_TEST(std::string_view(payload["aud"]) == endpoint);
  BOOST_TEST(std::string_view(payload["iss"]) == "client-1");
  BOOST_TEST(std::string_view(payload["sub"]) == "client-1");
  BOOST_TEST(int64_t(payload["nbf"]) == 1'700'000'000);
  BOOST_TEST(int64_t(payload["exp"]) == 1'700'000'600);
  const std::string jti{std::string_view(payload["jti"])};
  simdjson::dom::parser other;
  BOOST_TEST(jti != std::string(std::string_view(other.parse(second.payload)["jti"])));
  BOOST_TEST(jti.size() == 36u);
}

BOOST_AUTO_TEST_CASE(send_chain_puts_the_certificate_in_x5c) {
  const auto& cert = test_certificate();
  auto jwt = split(client_certificate::load(cert.private_key_pem + cert.certificate_pem)
                       .make_assertion("client-1", endpoint, now, true));
  simdjson::dom::parser parser;
  auto x5c = parser.parse(jwt.header)["x5c"].get_array();
  BOOST_REQUIRE(x5c.size() == 1u);
  BOOST_TEST(*keyless::detail::base64_decode(std::string(std::string_view(x5c.at(0)))) ==
             cert.certificate_der);
}

BOOST_AUTO_TEST_CASE(an_encrypted_key_loads_with_its_password_only) {
  const auto& cert = test_certificate();
  const auto pem = cert.certificate_pem + encrypted_key_pem(cert.private_key_pem, "pa55word");
  BOOST_CHECK_NO_THROW(client_certificate::load(pem, std::string("pa55word")));
  try {
    client_certificate::load(pem, std::string("wrong"));
    BOOST_FAIL("a wrong password was accepted");
  } catch (const keyless::error& e) {
    BOOST_TEST(e.message().find("password is wrong") != std::string::npos);
    BOOST_TEST(std::string(e.what()).find("wrong\"") == std::string::npos);
  }
  try {
    client_certificate::load(pem);
    BOOST_FAIL("an encrypted key loaded without a password");
  } catch (const keyless::error& e) {
    BOOST_TEST(e.message().find("no password was given") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(unusable_pem_is_refused_with_a_reason) {
  const auto& cert = test_certificate();
  const auto& ec = keyless::testing::test_pki::shared().good();
  auto reason = [](const std::string& pem) {
    try {
      client_certificate::load(pem);
    } catch (const keyless::error& e) {
      BOOST_TEST((e.code() == keyless::errc::invalid_argument));
      return e.message();
    }
    return std::string("accepted");
  };
  BOOST_TEST(reason(cert.certificate_pem).find("no private key") != std::string::npos);
  BOOST_TEST(reason(cert.private_key_pem).find("holds no certificate") != std::string::npos);
  BOOST_TEST(reason(ec.combined_pem()).find("not RSA") != std::string::npos);
  BOOST_TEST(reason(ec.certificate_pem + cert.private_key_pem).find("matches its private key") !=
             std::string::npos);
  BOOST_TEST(reason("garbage").find("no private key") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
