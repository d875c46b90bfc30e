#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <boost/test/unit_test.hpp>

#include "test_pki.hpp"

using keyless::testing::certified_key;
using keyless::testing::leaf_kind;
using keyless::testing::test_pki;

namespace {

struct x509_free {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
struct pkey_free {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
using x509_ptr = std::unique_ptr<X509, x509_free>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

x509_ptr load_cert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  x509_ptr cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  BOOST_REQUIRE(cert);
  return cert;
}

pkey_ptr load_key(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  pkey_ptr key(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  BOOST_REQUIRE(key);
  return key;
}

// Verifies `leaf` against `ca_pem` the way a TLS client would (purpose sslserver, host check
// for `ip`), returning OpenSSL's verify result (X509_V_OK on success).
int verify(const std::string& leaf_pem, const std::string& ca_pem, const std::string& ip) {
  auto ca = load_cert(ca_pem);
  auto leaf = load_cert(leaf_pem);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf.get(), nullptr);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  if (ip.find_first_not_of("0123456789.:") == std::string::npos)
    X509_VERIFY_PARAM_set1_ip_asc(param, ip.c_str());
  else
    X509_VERIFY_PARAM_set1_host(param, ip.c_str(), ip.size());
  int ok = X509_verify_cert(ctx);
  int result = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return result;
}

std::string hex(const unsigned char* data, unsigned size) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned i = 0; i < size; ++i) {
    out.push_back(digits[data[i] >> 4]);
    out.push_back(digits[data[i] & 0xf]);
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_pki_tests)

BOOST_AUTO_TEST_CASE(the_good_leaf_verifies_for_every_loopback_name) {
  const auto& pki = test_pki::shared();
  for (std::string name : {"127.0.0.1", "::1", "localhost"}) {
    BOOST_TEST_INFO("name " << name);
    BOOST_TEST(verify(pki.good().certificate_pem, pki.ca_certificate_pem(), name) == X509_V_OK);
  }
}

BOOST_AUTO_TEST_CASE(each_bad_leaf_fails_for_its_own_reason) {
  const auto& pki = test_pki::shared();
  BOOST_TEST(verify(pki.wrong_name().certificate_pem, pki.ca_certificate_pem(), "127.0.0.1") ==
             X509_V_ERR_IP_ADDRESS_MISMATCH);
  // The wrong-name leaf is otherwise fine: it verifies for the one name it carries.
  BOOST_TEST(verify(pki.wrong_name().certificate_pem, pki.ca_certificate_pem(),
                    std::string(test_pki::wrong_host)) == X509_V_OK);
  BOOST_TEST(verify(pki.expired().certificate_pem, pki.ca_certificate_pem(), "127.0.0.1") ==
             X509_V_ERR_CERT_HAS_EXPIRED);
  BOOST_TEST(verify(pki.untrusted().certificate_pem, pki.ca_certificate_pem(), "127.0.0.1") ==
             X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  BOOST_TEST(verify(pki.untrusted().certificate_pem, pki.untrusted_ca_certificate_pem(),
                    "127.0.0.1") == X509_V_OK);
}

BOOST_AUTO_TEST_CASE(every_leaf_key_matches_its_certificate) {
  const auto& pki = test_pki::shared();
  for (auto kind :
       {leaf_kind::good, leaf_kind::wrong_name, leaf_kind::expired, leaf_kind::untrusted}) {
    BOOST_TEST_INFO("leaf " << keyless::testing::to_string(kind));
    const certified_key& leaf = pki.leaf(kind);
    auto cert = load_cert(leaf.certificate_pem);
    auto key = load_key(leaf.private_key_pem);
    BOOST_TEST(X509_check_private_key(cert.get(), key.get()) == 1);
    BOOST_TEST(leaf.combined_pem().find("PRIVATE KEY") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(shared_is_generated_once_even_when_raced) {
  std::vector<const test_pki*> seen(8, nullptr);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < seen.size(); ++i)
    threads.emplace_back([&seen, i] { seen[i] = &test_pki::shared(); });
  for (auto& t : threads) t.join();
  for (auto* p : seen) BOOST_TEST(p == &test_pki::shared());
}

BOOST_AUTO_TEST_CASE(two_generated_pkis_do_not_trust_each_other) {
  auto other = test_pki::generate();
  const auto& pki = test_pki::shared();
  BOOST_TEST(other.ca_certificate_pem() != pki.ca_certificate_pem());
  BOOST_TEST(verify(other.good().certificate_pem, pki.ca_certificate_pem(), "127.0.0.1") !=
             X509_V_OK);
  BOOST_TEST(verify(other.good().certificate_pem, other.ca_certificate_pem(), "127.0.0.1") ==
             X509_V_OK);
}

BOOST_AUTO_TEST_CASE(the_ca_file_holds_exactly_the_ca_certificate) {
  auto dir =
      std::filesystem::temp_directory_path() / ("keyless-pki-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = test_pki::shared().write_ca_file(dir);
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  BOOST_TEST(text.str() == test_pki::shared().ca_certificate_pem());
  std::filesystem::remove_all(dir);
  BOOST_CHECK_THROW(test_pki::shared().write_ca_file(dir / "missing" / "deeper"),
                    std::runtime_error);
}

BOOST_AUTO_TEST_CASE(rsa_certificates_carry_matching_thumbprints) {
  const auto& rsa = keyless::testing::shared_rsa_certificate();
  BOOST_TEST(&rsa == &keyless::testing::shared_rsa_certificate());
  auto cert = load_cert(rsa.certificate_pem);
  auto key = load_key(rsa.private_key_pem);
  BOOST_TEST(X509_check_private_key(cert.get(), key.get()) == 1);
  BOOST_TEST(EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_RSA);
  BOOST_TEST(EVP_PKEY_get_bits(key.get()) == 2048);

  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned size = 0;
  BOOST_REQUIRE(X509_digest(cert.get(), EVP_sha1(), digest, &size) == 1);
  BOOST_TEST(rsa.sha1_thumbprint == hex(digest, size));
  BOOST_TEST(rsa.sha1_thumbprint.size() == 40u);
  BOOST_REQUIRE(X509_digest(cert.get(), EVP_sha256(), digest, &size) == 1);
  BOOST_TEST(rsa.sha256_thumbprint == hex(digest, size));
  BOOST_TEST(rsa.sha256_thumbprint.size() == 64u);

  const auto* der = reinterpret_cast<const unsigned char*>(rsa.certificate_der.data());
  x509_ptr from_der(d2i_X509(nullptr, &der, static_cast<long>(rsa.certificate_der.size())));
  BOOST_REQUIRE(from_der);
  BOOST_TEST(X509_cmp(from_der.get(), cert.get()) == 0);

  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn);
  BOOST_TEST(std::string(cn) == "keyless-test-client");
  // Self-signed: it verifies against itself.
  BOOST_TEST(X509_verify(cert.get(), key.get()) == 1);
}

BOOST_AUTO_TEST_SUITE_END()
