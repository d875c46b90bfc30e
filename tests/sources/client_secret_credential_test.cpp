#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>

#include <asio/io_context.hpp>

#include "fake_entra.hpp"
#include "keyless/core/error.hpp"
#include "keyless/identity/client_secret_credential.hpp"
#include "keyless/identity/token_claims.hpp"
#include "sources_support.hpp"

using keyless::errc;
using keyless::identity::access_token;
using keyless::identity::client_secret_credential;
using keyless::identity::entra_options;
using keyless::identity::environment_map;
using keyless::identity::token_request;
using keyless::testing::fake_app;
using keyless::testing::fake_entra;
using keyless::testing::fake_entra_options;
using keyless::testing::header_map;
using keyless::testing::scripted_response;
using namespace sources_test;

namespace client_secret_credential_tests {

constexpr const char* tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
constexpr const char* client_id = "fedcba98-7654-3210-0123-456789abcdef";
// Characters that need form encoding, so the test sees the encoding on the wire.
constexpr const char* secret = "Sx8Q~secret+value/with=specials&more";
constexpr const char* scope = "https://cognitiveservices.azure.com/.default";

fake_entra_options entra_options_for(std::shared_ptr<keyless::manual_clock> clock) {
  fake_entra_options o;
  o.clock = std::move(clock);
  o.tenants = {tenant, "other-tenant"};
  return o;
}

struct fixture {
  asio::io_context io;
  std::shared_ptr<keyless::manual_clock> clock = std::make_shared<keyless::manual_clock>();
  fake_entra entra{io.get_executor(), entra_options_for(clock)};

  fixture() {
    fake_app app;
    app.client_id = client_id;
    app.object_id = "0b5e1c6a-0000-4000-8000-00000000aaaa";
    app.secret = secret;
    entra.add_app(app);
  }

  entra_options options(environment_map env = {}) {
    entra_options o;
    o.authority_host = entra.authority();
    o.http = trusting(entra.ca_certificate_pem());
    o.clock = clock;
    o.environment = std::move(env);
    return o;
  }

  client_secret_credential make(entra_options o, std::string secret_value = secret,
                                std::string tenant_id = tenant) {
    return client_secret_credential(io.get_executor(), tenant_id, client_id, secret_value,
                                    std::move(o));
  }

  access_token get(client_secret_credential& c, token_request req = {{scope}, {}, {}, false}) {
    return run_manual(io, *clock, c.get_token(std::move(req)));
  }
  failure fail(client_secret_credential& c, token_request req = {{scope}, {}, {}, false}) {
    return expect_failure(io, *clock, c.get_token(std::move(req)));
  }
};

bool mentions_secret(const failure& f) {
  return contains(f.message, secret) || contains(f.details.hint, secret);
}

}  // namespace client_secret_credential_tests

BOOST_AUTO_TEST_SUITE(client_secret_credential_tests)

BOOST_FIXTURE_TEST_CASE(a_token_is_requested_with_the_client_credentials_form, fixture) {
  auto cred = make(options());
  BOOST_TEST(cred.name() == "ClientSecretCredential");
  const auto start = clock->now();
  auto token = get(cred);

  BOOST_REQUIRE_EQUAL(entra.token_requests(), 1u);
  auto request = entra.last_request();
  BOOST_TEST(request.method == "POST");
  BOOST_TEST(request.target == std::string("/") + tenant + "/oauth2/v2.0/token");
  BOOST_TEST(request.header("Content-Type") == "application/x-www-form-urlencoded");
  BOOST_TEST(request.header("Accept") == "application/json");
  BOOST_TEST(request.body ==
             "grant_type=client_credentials&client_id=fedcba98-7654-3210-0123-456789abcdef"
             "&client_secret=Sx8Q~secret%2Bvalue%2Fwith%3Dspecials%26more"
             "&scope=https%3A%2F%2Fcognitiveservices.azure.com%2F.default");
  BOOST_TEST(request.tls_server_name.empty());  // an IP literal gets no SNI

  BOOST_TEST(!token.empty());
  BOOST_TEST((token.expires_on() == start + std::chrono::seconds(3599)));
  BOOST_TEST((token.refresh_on() == token.expires_on()));  // no hint from Entra
  auto claims = keyless::identity::read_token_claims(token.token());
  BOOST_REQUIRE(claims.has_value());
  BOOST_TEST(claims->tenant_id == tenant);
  BOOST_TEST(claims->audience == "https://cognitiveservices.azure.com");
  BOOST_TEST(claims->app_id == client_id);
}

BOOST_FIXTURE_TEST_CASE(refresh_in_from_entra_sets_refresh_on, fixture) {
  entra.set_expires_in(std::chrono::seconds(86399));
  entra.set_refresh_in(std::chrono::seconds(43200));
  auto cred = make(options());
  const auto start = clock->now();
  auto token = get(cred);
  BOOST_TEST((token.expires_on() == start + std::chrono::seconds(86399)));
  BOOST_TEST((token.refresh_on() == start + std::chrono::seconds(43200)));
}

BOOST_FIXTURE_TEST_CASE(a_wrong_secret_is_an_authentication_failure_with_the_aadsts_hint, fixture) {
  auto cred = make(options(), "the-wrong-secret-value");
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::authentication_failed);
  BOOST_TEST(f.details.service_code == "AADSTS7000215");
  BOOST_TEST(f.details.http_status.value_or(0) == 401);
  BOOST_TEST(contains(f.details.hint, "client secret is wrong or expired"));
  BOOST_TEST(contains(f.message, "ClientSecretCredential"));
  BOOST_TEST(contains(f.message, client_id));
  BOOST_TEST(contains(f.message, tenant));
  BOOST_TEST(contains(f.message, "invalid_client"));
  BOOST_TEST(contains(f.message, "AADSTS7000215: Invalid client secret provided."));
  BOOST_TEST(!contains(f.message, "Trace ID"));  // first line only
  BOOST_TEST(!f.details.request_id.empty());
  BOOST_TEST(!contains(f.message, "the-wrong-secret-value"));
  BOOST_TEST(entra.token_requests() == 1u);  // refusals are not retried
}

BOOST_FIXTURE_TEST_CASE(an_unknown_application_and_an_unknown_tenant_get_their_hints, fixture) {
  auto unknown_app = client_secret_credential(
      io.get_executor(), tenant, "11111111-2222-3333-4444-555555555555", secret, options());
  auto f = expect_failure(io, *clock, unknown_app.get_token({{scope}, {}, {}, false}));
  BOOST_TEST(f.code == errc::authentication_failed);
  BOOST_TEST(f.details.service_code == "AADSTS700016");
  BOOST_TEST(contains(f.details.hint, "was not found in tenant"));
  BOOST_TEST(contains(f.details.hint, "AZURE_CLIENT_ID"));

  auto cred = make(options(), secret, "no-such-tenant.onmicrosoft.com");
  auto g = fail(cred);
  BOOST_TEST(g.code == errc::authentication_failed);
  BOOST_TEST(g.details.service_code == "AADSTS90002");
  BOOST_TEST(contains(g.details.hint, "tenant 'no-such-tenant.onmicrosoft.com' was not found"));
  BOOST_TEST(!mentions_secret(f));
  BOOST_TEST(!mentions_secret(g));
}

BOOST_FIXTURE_TEST_CASE(a_secret_echoed_by_the_service_is_redacted, fixture) {
  entra.enqueue(scripted_response::json(
      400, std::string(R"({"error":"invalid_request","error_description":"AADSTS900023: bad )") +
               R"(value Sx8Q~secret+value/with=specials&more here","error_codes":[900023]})"));
  auto cred = make(options());
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::authentication_failed);
  BOOST_TEST(!mentions_secret(f));
  BOOST_TEST(contains(f.message, "<redacted>"));
}

BOOST_FIXTURE_TEST_CASE(transient_statuses_are_retried_with_exponential_backoff, fixture) {
  entra.enqueue(scripted_response::json(503, R"({"error":"temporarily_unavailable"})"), 2);
  auto cred = make(options());
  const auto start = clock->now();
  auto token = get(cred);
  BOOST_TEST(!token.empty());
  BOOST_TEST(entra.token_requests() == 3u);
  BOOST_TEST(entra.tokens_issued() == 1u);
  // 1 s, then 2 s of backoff on the credential's clock.
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(clock->now() - start).count() ==
             3000);
}

BOOST_FIXTURE_TEST_CASE(retry_after_is_honoured, fixture) {
  header_map h{{"Retry-After", "7"}};
  entra.enqueue(scripted_response::json(429, R"({"error":"throttled"})", h));
  auto cred = make(options());
  const auto start = clock->now();
  get(cred);
  BOOST_TEST(entra.token_requests() == 2u);
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(clock->now() - start).count() ==
             7000);
}

BOOST_FIXTURE_TEST_CASE(a_retry_after_beyond_the_limit_is_reported_not_waited_for, fixture) {
  header_map h{{"Retry-After", "120"}};
  entra.enqueue(scripted_response::json(429, R"({"error":"throttled"})", h));
  auto cred = make(options());
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::http_status);
  BOOST_TEST(f.details.http_status.value_or(0) == 429);
  BOOST_TEST(f.details.retry_after.value_or(std::chrono::milliseconds(0)).count() == 120000);
  BOOST_TEST(entra.token_requests() == 1u);
}

BOOST_FIXTURE_TEST_CASE(retries_end_after_max_retries_with_the_last_status, fixture) {
  entra.enqueue(scripted_response::json(500, R"({"error":"server_error"})"), 10);
  auto cred = make(options());
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::http_status);
  BOOST_TEST(f.details.http_status.value_or(0) == 500);
  BOOST_TEST(contains(f.message, "after 4 attempts"));
  BOOST_TEST(entra.token_requests() == 4u);
}

BOOST_FIXTURE_TEST_CASE(a_dropped_connection_is_retried, fixture) {
  entra.enqueue(scripted_response::drop());
  auto cred = make(options());
  auto token = get(cred);
  BOOST_TEST(!token.empty());
  BOOST_TEST(entra.token_requests() == 2u);
}

BOOST_FIXTURE_TEST_CASE(an_unparseable_success_body_is_a_malformed_response, fixture) {
  entra.enqueue(scripted_response::json(200, R"({"token_type":"Bearer","access_token":"abc)"));
  auto cred = make(options());
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::malformed_response);
  BOOST_TEST(contains(f.message, "ClientSecretCredential"));
  BOOST_TEST(!contains(f.message, "abc"));

  entra.enqueue(scripted_response::json(200, R"({"token_type":"Bearer","access_token":"x"})"));
  auto g = fail(cred);
  BOOST_TEST(g.code == errc::malformed_response, g.message);  // no expiry

  entra.enqueue(scripted_response::garbage());
  auto h = fail(cred);  // garbage is not retried: the server answered, just not in HTTP
  BOOST_TEST(h.code == errc::malformed_response, h.message);
}

BOOST_FIXTURE_TEST_CASE(another_tenant_is_refused_unless_allowed, fixture) {
  {
    auto cred = make(options());
    auto f = fail(cred, {{scope}, std::string("other-tenant"), {}, false});
    BOOST_TEST(f.code == errc::authentication_failed);
    BOOST_TEST(contains(f.details.hint, "additionally_allowed_tenants"));
    BOOST_TEST(entra.token_requests() == 0u);
  }
  auto o = options();
  o.additionally_allowed_tenants = {"Other-Tenant"};
  auto cred = make(std::move(o));
  auto token = get(cred, {{scope}, std::string("other-tenant"), {}, false});
  BOOST_TEST(entra.last_request().target == "/other-tenant/oauth2/v2.0/token");
  BOOST_TEST(keyless::identity::read_token_claims(token.token())->tenant_id == "other-tenant");
}

BOOST_FIXTURE_TEST_CASE(disabling_multitenant_auth_keeps_the_configured_tenant, fixture) {
  auto cred = make(options({{"AZURE_IDENTITY_DISABLE_MULTITENANTAUTH", "true"}}));
  get(cred, {{scope}, std::string("other-tenant"), {}, false});
  BOOST_TEST(entra.last_request().target == std::string("/") + tenant + "/oauth2/v2.0/token");

  auto enabled = make(options({{"AZURE_IDENTITY_DISABLE_MULTITENANTAUTH", "false"}}));
  BOOST_TEST(fail(enabled, {{scope}, std::string("other-tenant"), {}, false}).code ==
             errc::authentication_failed);
}

BOOST_FIXTURE_TEST_CASE(the_authority_host_comes_from_the_environment_when_not_given, fixture) {
  auto o = options({{"AZURE_AUTHORITY_HOST", entra.authority() + "/"}});
  o.authority_host.clear();
  auto cred = make(std::move(o));
  get(cred);
  BOOST_TEST(entra.tokens_issued() == 1u);
}

BOOST_FIXTURE_TEST_CASE(bad_configuration_is_refused_at_construction, fixture) {
  auto plain = options();
  plain.authority_host = "http://127.0.0.1:1";
  BOOST_CHECK_THROW(make(plain), keyless::error);
  try {
    make(options(), secret, "bad/tenant");
    BOOST_FAIL("expected an error");
  } catch (const keyless::error& e) {
    BOOST_TEST(e.code() == errc::invalid_argument);
    BOOST_TEST(contains(e.message(), "tenant id"));
  }
  try {
    make(options(), "");
    BOOST_FAIL("expected an error");
  } catch (const keyless::error& e) {
    BOOST_TEST(e.code() == errc::invalid_argument);
    BOOST_TEST(contains(e.message(), "secret is empty"));
  }
  auto env_plain = options({{"AZURE_AUTHORITY_HOST", "http://login.example"}});
  env_plain.authority_host.clear();
  BOOST_CHECK_THROW(make(env_plain), keyless::error);
}

BOOST_FIXTURE_TEST_CASE(adfs_uses_its_own_endpoint_and_resource_form_scopes, fixture) {
  fake_app app;
  app.client_id = "adfs-client";
  app.secret = secret;
  entra.add_app(app);
  auto cred = client_secret_credential(io.get_executor(), "adfs", "adfs-client", secret, options());
  get(cred);
  auto request = entra.last_request();
  BOOST_TEST(request.target == "/adfs/oauth2/token");
  BOOST_TEST(request.form_param("scope").value_or("") == "https://cognitiveservices.azure.com");
}

BOOST_FIXTURE_TEST_CASE(claims_and_cae_are_sent_in_the_claims_field, fixture) {
  auto cred = make(options());
  token_request req{
      {scope}, {}, std::string(R"({"access_token":{"nbf":{"essential":true}}})"), true};
  get(cred, req);
  BOOST_TEST(entra.last_request().form_param("claims").value_or("") ==
             R"({"access_token":{"nbf":{"essential":true},"xms_cc":{"values":["CP1"]}}})");
}

BOOST_FIXTURE_TEST_CASE(a_request_without_scopes_is_an_invalid_argument, fixture) {
  auto cred = make(options());
  auto f = fail(cred, {});
  BOOST_TEST(f.code == errc::invalid_argument);
  BOOST_TEST(entra.token_requests() == 0u);
}

BOOST_FIXTURE_TEST_CASE(two_scopes_are_joined_with_a_space, fixture) {
  auto cred = make(options());
  get(cred, {{scope, "https://management.azure.com/.default"}, {}, {}, false});
  BOOST_TEST(entra.last_request().form_param("scope").value_or("") ==
             std::string(scope) + " https://management.azure.com/.default");
}

BOOST_AUTO_TEST_SUITE_END()
