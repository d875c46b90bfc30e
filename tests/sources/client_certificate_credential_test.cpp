#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <asio/io_context.hpp>

#include "core/base64.hpp"
#include "fake_entra.hpp"
#include "keyless/core/error.hpp"
#include "keyless/identity/client_certificate_credential.hpp"
#include "keyless/identity/token_claims.hpp"
#include "sources_support.hpp"
#include "test_pki.hpp"

using keyless::errc;
using keyless::identity::client_certificate_credential;
using keyless::identity::client_certificate_options;
using keyless::identity::token_request;
using keyless::testing::fake_app;
using keyless::testing::fake_entra;
using keyless::testing::fake_entra_options;
using keyless::testing::scripted_response;
using keyless::testing::verify_client_assertion;
using namespace sources_test;

namespace client_certificate_credential_tests {

constexpr const char* tenant = "contoso.onmicrosoft.com";
constexpr const char* client_id = "2c1b8a35-0000-4000-8000-0000000000c3";
constexpr const char* scope = "https://cognitiveservices.azure.com/.default";

const keyless::testing::rsa_certificate& registered() {
  static const auto cert = keyless::testing::generate_rsa_certificate("keyless-sources-client");
  return cert;
}

const keyless::testing::rsa_certificate& unregistered() {
  static const auto cert = keyless::testing::generate_rsa_certificate("keyless-sources-other");
  return cert;
}

std::string encrypted_key_pem(const std::string& key_pem, const std::string& password) {
  std::unique_ptr<BIO, decltype(&BIO_free)> in(
      BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_PKCS8PrivateKey(out.get(), key.get(), EVP_aes_256_cbc(), password.data(),
                                static_cast<int>(password.size()), nullptr, nullptr);
  char* data = nullptr;
  long length = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

std::string jwt_header(const std::string& jwt) {
  return keyless::detail::base64_decode(jwt.substr(0, jwt.find('.'))).value_or("");
}

struct fixture {
  asio::io_context io;
  std::shared_ptr<keyless::manual_clock> clock = std::make_shared<keyless::manual_clock>();
  fake_entra entra{io.get_executor(), [this] {
                     fake_entra_options o;
                     o.clock = clock;
                     return o;
                   }()};
  temp_dir dir;

  fixture() {
    fake_app app;
    app.client_id = client_id;
    app.home_tenant = tenant;
    app.certificate_pem = registered().certificate_pem;
    entra.add_app(app);
  }

  client_certificate_options options() {
    client_certificate_options o;
    o.authority_host = entra.authority();
    o.http = trusting(entra.ca_certificate_pem());
    o.clock = clock;
    o.environment = keyless::identity::environment_map{};
    return o;
  }

  std::unique_ptr<client_certificate_credential> from_pem(const std::string& pem,
                                                          client_certificate_options o) {
    return client_certificate_credential::from_pem(io.get_executor(), tenant, client_id, pem,
                                                   std::move(o));
  }

  keyless::identity::access_token get(client_certificate_credential& c) {
    return run_manual(io, *clock, c.get_token({{scope}, {}, {}, false}));
  }
};

}  // namespace client_certificate_credential_tests

BOOST_AUTO_TEST_SUITE(client_certificate_credential_tests)

BOOST_FIXTURE_TEST_CASE(the_assertion_verifies_with_the_certificates_public_key, fixture) {
  auto cred = from_pem(registered().combined_pem(), options());
  BOOST_TEST(cred->name() == "ClientCertificateCredential");
  BOOST_TEST(cred->thumbprint() == registered().sha1_thumbprint);
  auto token = get(*cred);
  BOOST_TEST(!token.empty());
  BOOST_TEST(entra.assertions_verified() == 1u);
  BOOST_TEST(entra.last_assertion_problem().empty());

  auto request = entra.last_request();
  BOOST_TEST(request.method == "POST");
  BOOST_TEST(request.target == std::string("/") + tenant + "/oauth2/v2.0/token");
  BOOST_TEST(request.form_param("grant_type").value_or("") == "client_credentials");
  BOOST_TEST(request.form_param("client_id").value_or("") == client_id);
  BOOST_TEST(request.form_param("client_assertion_type").value_or("") ==
             "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
  BOOST_TEST(request.form_param("scope").value_or("") == scope);
  BOOST_TEST(!request.form_param("client_secret").has_value());
  const std::string assertion = request.form_param("client_assertion").value_or("");
  // Verified here too, independently of the fake's own check.
  BOOST_TEST(verify_client_assertion(assertion, registered().certificate_pem, client_id,
                                     entra.token_endpoint(tenant), clock->now()) == "");
  BOOST_TEST(verify_client_assertion(assertion, unregistered().certificate_pem, client_id,
                                     entra.token_endpoint(tenant), clock->now()) != "");
  const std::string header = jwt_header(assertion);
  BOOST_TEST(contains(header, R"("alg":"PS256")"));
  BOOST_TEST(contains(header, "x5t#S256"));
  BOOST_TEST(!contains(header, "x5c"));
}

BOOST_FIXTURE_TEST_CASE(the_chain_is_sent_when_asked, fixture) {
  auto o = options();
  o.send_certificate_chain = true;
  auto cred = from_pem(registered().combined_pem(), std::move(o));
  get(*cred);
  const std::string header =
      jwt_header(entra.last_request().form_param("client_assertion").value_or(""));
  BOOST_TEST(contains(
      header,
      "\"x5c\":[\"" + keyless::detail::base64_encode(registered().certificate_der) + "\"]"));
}

BOOST_FIXTURE_TEST_CASE(every_attempt_gets_a_fresh_assertion, fixture) {
  entra.enqueue(scripted_response::json(503, R"({"error":"temporarily_unavailable"})"));
  auto cred = from_pem(registered().combined_pem(), options());
  get(*cred);
  get(*cred);
  auto requests = entra.requests();
  BOOST_REQUIRE_EQUAL(requests.size(), 3u);
  const auto a = requests[0].form_param("client_assertion").value_or("");
  const auto b = requests[1].form_param("client_assertion").value_or("");
  const auto c = requests[2].form_param("client_assertion").value_or("");
  BOOST_TEST(a != b);
  BOOST_TEST(b != c);
  BOOST_TEST(entra.assertions_verified() == 2u);
}

BOOST_FIXTURE_TEST_CASE(an_unregistered_certificate_is_refused_with_a_hint, fixture) {
  auto cred = from_pem(unregistered().combined_pem(), options());
  auto f = expect_failure(io, *clock, cred->get_token({{scope}, {}, {}, false}));
  BOOST_TEST(f.code == errc::authentication_failed);
  BOOST_TEST(f.details.service_code == "AADSTS700027");
  BOOST_TEST(contains(f.details.hint, "certificate"));
  BOOST_TEST(contains(entra.last_assertion_problem(), "thumbprint"));
  const auto assertion = entra.last_request().form_param("client_assertion").value_or("");
  BOOST_TEST(!assertion.empty());
  BOOST_TEST(!contains(f.message, assertion));
  BOOST_TEST(!contains(f.message, "PRIVATE KEY"));
}

BOOST_FIXTURE_TEST_CASE(the_certificate_is_read_from_a_pem_file, fixture) {
  const auto path = dir / "client.pem";
  write_file(path, registered().combined_pem());
  client_certificate_credential cred(io.get_executor(), tenant, client_id, path, options());
  get(cred);
  BOOST_TEST(entra.assertions_verified() == 1u);
}

BOOST_FIXTURE_TEST_CASE(an_encrypted_key_needs_its_password, fixture) {
  const std::string pem =
      registered().certificate_pem + encrypted_key_pem(registered().private_key_pem, "pa55word");
  auto o = options();
  o.password = "pa55word";
  auto cred = from_pem(pem, o);
  get(*cred);
  BOOST_TEST(entra.assertions_verified() == 1u);

  auto wrong = options();
  wrong.password = "not-it";
  auto e = construction_error([&] { from_pem(pem, wrong); });
  BOOST_TEST(e.code() == errc::invalid_argument);
  BOOST_TEST(contains(e.message(), "ClientCertificateCredential"));
  BOOST_TEST(!contains(e.message(), "not-it"));
  BOOST_TEST(construction_error([&] { from_pem(pem, options()); }).code() ==
             errc::invalid_argument);
}

BOOST_FIXTURE_TEST_CASE(unusable_certificate_files_are_named_in_the_error, fixture) {
  auto missing = construction_error([&] {
    client_certificate_credential(io.get_executor(), tenant, client_id, dir / "absent.pem",
                                  options());
  });
  BOOST_TEST(missing.code() == errc::invalid_argument);
  BOOST_TEST(contains(missing.message(), "absent.pem"));
  BOOST_TEST(contains(missing.message(), "does not exist"));

  const auto pfx = dir / "client.pfx";
  write_file(pfx, std::string("\x30\x82\x0a\x0b binary pkcs12", 18));
  auto binary = construction_error(
      [&] { client_certificate_credential(io.get_executor(), tenant, client_id, pfx, options()); });
  BOOST_TEST(binary.code() == errc::invalid_argument);
  BOOST_TEST(contains(binary.message(), "not PEM"));
  BOOST_TEST(contains(binary.details().hint, "openssl pkcs12"));

  auto no_key = construction_error([&] { from_pem(registered().certificate_pem, options()); });
  BOOST_TEST(no_key.code() == errc::invalid_argument);

  auto directory = construction_error([&] {
    client_certificate_credential(io.get_executor(), tenant, client_id, dir.path(), options());
  });
  BOOST_TEST(contains(directory.message(), "not a regular file"));
}

BOOST_AUTO_TEST_SUITE_END()
