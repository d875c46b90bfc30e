#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>

#include <asio/io_context.hpp>

#include "fake_entra.hpp"
#include "keyless/core/error.hpp"
#include "keyless/identity/workload_identity_credential.hpp"
#include "sources_support.hpp"

using keyless::errc;
using keyless::identity::environment_map;
using keyless::identity::workload_identity_credential;
using keyless::identity::workload_identity_options;
using keyless::testing::fake_app;
using keyless::testing::fake_entra;
using keyless::testing::fake_entra_options;
using namespace sources_test;

namespace workload_identity_credential_tests {

constexpr const char* tenant = "5d6e7f80-0000-4000-8000-000000000f01";
constexpr const char* client_id = "6e7f8091-0000-4000-8000-000000000f02";
constexpr const char* scope = "https://cognitiveservices.azure.com/.default";
// Shaped like a projected service account token; the fake compares it verbatim.
constexpr const char* first_token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJmaXJzdCJ9.c2lnbmF0dXJlLTE";
constexpr const char* second_token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNvbmQifQ.c2lnbmF0dXJlLTI";

struct fixture {
  asio::io_context io;
  std::shared_ptr<keyless::manual_clock> clock = std::make_shared<keyless::manual_clock>();
  fake_entra entra{io.get_executor(), [this] {
                     fake_entra_options o;
                     o.clock = clock;
                     return o;
                   }()};
  temp_dir dir;
  std::filesystem::path token_file = dir / "azure-identity-token";

  fixture() {
    accept(first_token);
    write_file(token_file, std::string(first_token) + "\n");
  }

  void accept(const std::string& token) {
    fake_app app;
    app.client_id = client_id;
    app.home_tenant = tenant;
    app.federated_token = token;
    entra.add_app(app);  // the latest registration wins
  }

  environment_map env() {
    return {{"AZURE_TENANT_ID", tenant},
            {"AZURE_CLIENT_ID", client_id},
            {"AZURE_FEDERATED_TOKEN_FILE", token_file.string()},
            {"AZURE_AUTHORITY_HOST", entra.authority()}};
  }

  workload_identity_options options(environment_map e) {
    workload_identity_options o;
    o.http = trusting(entra.ca_certificate_pem());
    o.clock = clock;
    o.environment = std::move(e);
    return o;
  }

  workload_identity_credential make(environment_map e) {
    return workload_identity_credential(io.get_executor(), options(std::move(e)));
  }

  keyless::identity::access_token get(workload_identity_credential& c) {
    return run_manual(io, *clock, c.get_token({{scope}, {}, {}, false}));
  }
  failure fail(workload_identity_credential& c) {
    return expect_failure(io, *clock, c.get_token({{scope}, {}, {}, false}));
  }
};

}  // namespace workload_identity_credential_tests

BOOST_AUTO_TEST_SUITE(workload_identity_credential_tests)

BOOST_FIXTURE_TEST_CASE(the_federated_token_is_sent_as_client_assertion, fixture) {
  auto cred = make(env());
  BOOST_TEST(cred.name() == "WorkloadIdentityCredential");
  auto token = get(cred);
  BOOST_TEST(!token.empty());
  auto request = entra.last_request();
  BOOST_TEST(request.method == "POST");
  BOOST_TEST(request.target == std::string("/") + tenant + "/oauth2/v2.0/token");
  BOOST_TEST(request.body ==
             std::string("grant_type=client_credentials&client_id=") + client_id +
                 "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-"
                 "bearer&client_assertion=" +
                 first_token + "&scope=https%3A%2F%2Fcognitiveservices.azure.com%2F.default");
}

BOOST_FIXTURE_TEST_CASE(a_rotated_token_file_is_read_on_the_next_fetch, fixture) {
  auto cred = make(env());
  get(cred);
  // The kubelet rotates the projected token; the next cache miss must send the new one.
  write_file(token_file, second_token);
  accept(second_token);
  clock->advance(std::chrono::minutes(50));
  get(cred);
  auto requests = entra.requests();
  BOOST_REQUIRE_EQUAL(requests.size(), 2u);
  BOOST_TEST(requests[0].form_param("client_assertion").value_or("") == first_token);
  BOOST_TEST(requests[1].form_param("client_assertion").value_or("") == second_token);
  BOOST_TEST(entra.tokens_issued() == 2u);
}

BOOST_FIXTURE_TEST_CASE(a_rotation_by_symlink_swap_is_followed, fixture) {
  // The kubelet's layout: token -> ..data/token, ..data -> ..<timestamp> directory.
  std::filesystem::create_directory(dir / "v1");
  std::filesystem::create_directory(dir / "v2");
  write_file(dir / "v1" / "token", first_token);
  write_file(dir / "v2" / "token", second_token);
  std::filesystem::create_directory_symlink("v1", dir / "data");
  std::filesystem::create_symlink(dir / "data" / "token", dir / "token");
  auto e = env();
  e["AZURE_FEDERATED_TOKEN_FILE"] = (dir / "token").string();
  auto cred = make(e);
  get(cred);
  std::filesystem::create_directory_symlink("v2", dir / "data.new");
  std::filesystem::rename(dir / "data.new", dir / "data");
  accept(second_token);
  get(cred);
  auto requests = entra.requests();
  BOOST_REQUIRE_EQUAL(requests.size(), 2u);
  BOOST_TEST(requests[1].form_param("client_assertion").value_or("") == second_token);
}

BOOST_FIXTURE_TEST_CASE(an_empty_or_missing_file_is_a_clear_failure, fixture) {
  auto cred = make(env());
  write_file(token_file, " \n");
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::authentication_failed);
  BOOST_TEST(contains(f.message, "is empty"));
  BOOST_TEST(contains(f.message, token_file.string()));
  BOOST_TEST(contains(f.details.hint, "AZURE_FEDERATED_TOKEN_FILE"));

  std::filesystem::remove(token_file);
  auto g = fail(cred);
  BOOST_TEST(g.code == errc::authentication_failed);
  BOOST_TEST(contains(g.message, "does not exist"));

  write_file(token_file, std::string(70 * 1024, 'a'));
  auto h = fail(cred);
  BOOST_TEST(h.code == errc::limit_exceeded);
  BOOST_TEST(entra.token_requests() == 0u);
}

BOOST_FIXTURE_TEST_CASE(an_unknown_federated_token_is_refused_with_a_hint, fixture) {
  write_file(token_file, second_token);  // not registered
  auto cred = make(env());
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::authentication_failed);
  BOOST_TEST(f.details.service_code == "AADSTS70021");
  BOOST_TEST(contains(f.details.hint, "federated"));
  BOOST_TEST(!contains(f.message, second_token));
  BOOST_TEST(!contains(f.details.hint, second_token));
}

BOOST_FIXTURE_TEST_CASE(missing_settings_make_it_unavailable, fixture) {
  auto cred = make({{"AZURE_TENANT_ID", tenant}});
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::credential_unavailable);
  BOOST_TEST(contains(f.message, "AZURE_CLIENT_ID"));
  BOOST_TEST(contains(f.message, "AZURE_FEDERATED_TOKEN_FILE"));
  BOOST_TEST(!contains(f.message, "AZURE_TENANT_ID)"));

  auto nothing = make({});
  BOOST_TEST(fail(nothing).code == errc::credential_unavailable);
  BOOST_TEST(entra.token_requests() == 0u);
}

BOOST_FIXTURE_TEST_CASE(options_override_the_environment, fixture) {
  auto o = options({{"AZURE_TENANT_ID", "wrong-tenant"},
                    {"AZURE_CLIENT_ID", "wrong-client"},
                    {"AZURE_FEDERATED_TOKEN_FILE", "/nonexistent"}});
  o.tenant_id = tenant;
  o.client_id = client_id;
  o.token_file_path = token_file;
  o.authority_host = entra.authority();
  workload_identity_credential cred(io.get_executor(), o);
  get(cred);
  BOOST_TEST(entra.last_request().form_param("client_id").value_or("") == client_id);
}

BOOST_FIXTURE_TEST_CASE(a_malformed_tenant_is_refused_at_construction, fixture) {
  auto e = env();
  e["AZURE_TENANT_ID"] = "tenant/../x";
  BOOST_CHECK_THROW(make(e), keyless::error);
}

BOOST_AUTO_TEST_SUITE_END()
