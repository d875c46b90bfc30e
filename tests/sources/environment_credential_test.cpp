#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>
#include <vector>

#include <asio/io_context.hpp>

#include "core/base64.hpp"
#include "fake_entra.hpp"
#include "keyless/core/error.hpp"
#include "keyless/identity/environment_credential.hpp"
#include "keyless/identity/token_claims.hpp"
#include "sources_support.hpp"
#include "test_pki.hpp"

using keyless::errc;
using keyless::identity::entra_options;
using keyless::identity::environment_credential;
using keyless::identity::environment_map;
using keyless::testing::fake_app;
using keyless::testing::fake_entra;
using keyless::testing::fake_entra_options;
using namespace sources_test;

namespace environment_credential_tests {

constexpr const char* tenant = "3c4d5e6f-0000-4000-8000-000000000e11";
constexpr const char* client_id = "9a8b7c6d-0000-4000-8000-000000000e12";
constexpr const char* secret = "env-secret-value-123";
constexpr const char* scope = "https://cognitiveservices.azure.com/.default";

const keyless::testing::rsa_certificate& certificate() {
  static const auto cert = keyless::testing::generate_rsa_certificate("keyless-sources-env");
  return cert;
}

struct fixture {
  asio::io_context io;
  std::shared_ptr<keyless::manual_clock> clock = std::make_shared<keyless::manual_clock>();
  fake_entra entra{io.get_executor(), [this] {
                     fake_entra_options o;
                     o.clock = clock;
                     o.tenants = {tenant, "guest-tenant"};
                     return o;
                   }()};
  temp_dir dir;

  fixture() {
    fake_app app;
    app.client_id = client_id;
    app.secret = secret;
    app.certificate_pem = certificate().certificate_pem;
    entra.add_app(app);
    write_file(dir / "client.pem", certificate().combined_pem());
  }

  environment_map secret_env() {
    return {{"AZURE_TENANT_ID", tenant},
            {"AZURE_CLIENT_ID", client_id},
            {"AZURE_CLIENT_SECRET", secret},
            {"AZURE_AUTHORITY_HOST", entra.authority()}};
  }

  environment_credential make(environment_map env) {
    entra_options o;
    o.http = trusting(entra.ca_certificate_pem());
    o.clock = clock;
    o.environment = std::move(env);
    return environment_credential(io.get_executor(), std::move(o));
  }

  failure fail(environment_credential& c, std::optional<std::string> tenant_id = {}) {
    return expect_failure(io, *clock, c.get_token({{scope}, std::move(tenant_id), {}, false}));
  }
};

}  // namespace environment_credential_tests

BOOST_AUTO_TEST_SUITE(environment_credential_tests)

BOOST_FIXTURE_TEST_CASE(an_empty_environment_is_unavailable_and_names_the_variables, fixture) {
  auto cred = make({{"PATH", "/usr/bin"}, {"AZURE_CLIENT_SECRET", ""}});
  BOOST_TEST(cred.name() == "EnvironmentCredential");
  BOOST_TEST(cred.selected().empty());
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::credential_unavailable);
  BOOST_TEST(contains(f.message, "EnvironmentCredential"));
  BOOST_TEST(contains(f.message, "AZURE_TENANT_ID"));
  BOOST_TEST(contains(f.message, "AZURE_CLIENT_ID"));
  BOOST_TEST(contains(f.message, "AZURE_CLIENT_SECRET"));
  BOOST_TEST(contains(f.message, "AZURE_CLIENT_CERTIFICATE_PATH"));
  BOOST_TEST(!f.details.hint.empty());
  BOOST_TEST(entra.token_requests() == 0u);
}

struct partial_case {
  environment_map env;
  std::string missing;
};

BOOST_FIXTURE_TEST_CASE(a_partial_environment_says_exactly_what_is_missing, fixture) {
  const std::vector<partial_case> cases = {
      {{{"AZURE_TENANT_ID", tenant}, {"AZURE_CLIENT_ID", client_id}},
       "not configured: AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH is missing"},
      {{{"AZURE_CLIENT_ID", client_id}, {"AZURE_CLIENT_SECRET", secret}},
       "not configured: AZURE_TENANT_ID is missing"},
      {{{"AZURE_TENANT_ID", tenant}, {"AZURE_CLIENT_CERTIFICATE_PATH", "/x.pem"}},
       "not configured: AZURE_CLIENT_ID is missing"},
      {{{"AZURE_CLIENT_SECRET", secret}},
       "not configured: AZURE_TENANT_ID, AZURE_CLIENT_ID are missing"},
      {{{"AZURE_TENANT_ID", tenant}, {"AZURE_CLIENT_ID", ""}, {"AZURE_CLIENT_SECRET", secret}},
       "not configured: AZURE_CLIENT_ID is missing"},
  };
  for (const auto& c : cases) {
    auto cred = make(c.env);
    auto f = fail(cred);
    BOOST_TEST(f.code == errc::credential_unavailable);
    BOOST_TEST(contains(f.message, c.missing), f.message);
    BOOST_TEST(!contains(f.message, secret));
  }
}

BOOST_FIXTURE_TEST_CASE(a_client_secret_environment_gets_a_token, fixture) {
  auto cred = make(secret_env());
  BOOST_TEST(cred.selected() == "ClientSecretCredential");
  auto token = run_manual(io, *clock, cred.get_token({{scope}, {}, {}, false}));
  BOOST_TEST(!token.empty());
  auto request = entra.last_request();
  BOOST_TEST(request.target == std::string("/") + tenant + "/oauth2/v2.0/token");
  BOOST_TEST(request.form_param("client_secret").value_or("") == secret);
}

BOOST_FIXTURE_TEST_CASE(a_certificate_environment_gets_a_token_and_can_send_the_chain, fixture) {
  environment_map env{{"AZURE_TENANT_ID", tenant},
                      {"AZURE_CLIENT_ID", client_id},
                      {"AZURE_CLIENT_CERTIFICATE_PATH", (dir / "client.pem").string()},
                      {"AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "True"},
                      {"AZURE_AUTHORITY_HOST", entra.authority()}};
  auto cred = make(env);
  BOOST_TEST(cred.selected() == "ClientCertificateCredential");
  run_manual(io, *clock, cred.get_token({{scope}, {}, {}, false}));
  BOOST_TEST(entra.assertions_verified() == 1u);
  auto assertion = entra.last_request().form_param("client_assertion").value_or("");
  auto header =
      keyless::detail::base64_decode(assertion.substr(0, assertion.find('.'))).value_or("");
  BOOST_TEST(contains(header, "\"x5c\""));
}

BOOST_FIXTURE_TEST_CASE(the_secret_wins_when_both_are_set, fixture) {
  auto env = secret_env();
  env["AZURE_CLIENT_CERTIFICATE_PATH"] = (dir / "client.pem").string();
  auto cred = make(env);
  BOOST_TEST(cred.selected() == "ClientSecretCredential");
}

BOOST_FIXTURE_TEST_CASE(a_refused_secret_is_an_authentication_failure_that_stops_a_chain, fixture) {
  auto env = secret_env();
  env["AZURE_CLIENT_SECRET"] = "wrong-secret-value";
  auto cred = make(env);
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::authentication_failed);
  BOOST_TEST(f.message.rfind("EnvironmentCredential: ClientSecretCredential:", 0) == 0u);
  BOOST_TEST(f.details.service_code == "AADSTS7000215");
  BOOST_TEST(!contains(f.message, "wrong-secret-value"));
}

BOOST_FIXTURE_TEST_CASE(a_configured_but_unusable_environment_fails_at_get_token, fixture) {
  auto bad_tenant = secret_env();
  bad_tenant["AZURE_TENANT_ID"] = "not a tenant";
  auto cred = make(bad_tenant);  // does not throw
  BOOST_TEST(cred.selected().empty());
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::invalid_argument);
  BOOST_TEST(contains(f.message, "EnvironmentCredential"));

  environment_map missing_file{{"AZURE_TENANT_ID", tenant},
                               {"AZURE_CLIENT_ID", client_id},
                               {"AZURE_CLIENT_CERTIFICATE_PATH", (dir / "nope.pem").string()}};
  auto cert = make(missing_file);
  auto g = fail(cert);
  BOOST_TEST(g.code == errc::invalid_argument);
  BOOST_TEST(contains(g.message, "nope.pem"));

  auto plain_authority = secret_env();
  plain_authority["AZURE_AUTHORITY_HOST"] = "http://login.example";
  auto plain = make(plain_authority);
  auto h = fail(plain);
  BOOST_TEST(h.code == errc::invalid_argument);
  BOOST_TEST(contains(h.message, "https"));
  BOOST_TEST(entra.token_requests() == 0u);
}

BOOST_FIXTURE_TEST_CASE(additionally_allowed_tenants_come_from_the_environment, fixture) {
  auto cred = make(secret_env());
  BOOST_TEST(fail(cred, "guest-tenant").code == errc::authentication_failed);

  auto env = secret_env();
  env["AZURE_ADDITIONALLY_ALLOWED_TENANTS"] = "someone-else; guest-tenant";
  auto allowed = make(env);
  auto token = run_manual(io, *clock, allowed.get_token({{scope}, "guest-tenant", {}, false}));
  BOOST_TEST(keyless::identity::read_token_claims(token.token())->tenant_id == "guest-tenant");
}

BOOST_AUTO_TEST_CASE(the_process_environment_snapshot_holds_path) {
  auto env = keyless::identity::process_environment();
  BOOST_TEST(keyless::identity::find_variable(env, "PATH").has_value());
  BOOST_TEST(!keyless::identity::find_variable(env, "KEYLESS_SURELY_UNSET_VARIABLE").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
