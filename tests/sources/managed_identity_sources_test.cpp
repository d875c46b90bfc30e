#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <asio/io_context.hpp>

#include "fake_managed_identity.hpp"
#include "keyless/core/error.hpp"
#include "keyless/identity/managed_identity_credential.hpp"
#include "keyless/identity/token_claims.hpp"
#include "sources_support.hpp"

using keyless::errc;
using keyless::identity::access_token;
using keyless::identity::environment_map;
using keyless::identity::managed_identity_credential;
using keyless::identity::managed_identity_id;
using keyless::identity::managed_identity_options;
using keyless::identity::managed_identity_source;
using keyless::identity::token_request;
using keyless::testing::fake_managed_identity;
using keyless::testing::fake_managed_identity_options;
using keyless::testing::fake_mi_identity;
using keyless::testing::fake_mi_kind;
using keyless::testing::header_map;
using keyless::testing::scripted_response;
using namespace sources_test;

namespace managed_identity_sources {

constexpr const char* scope = "https://cognitiveservices.azure.com/.default";
constexpr const char* resource = "https://cognitiveservices.azure.com";
constexpr const char* identity_secret = "identity-header-secret-9f8e7d";

const fake_mi_identity user_identity{"1bb2c3d4-0000-4000-8000-0000000000u2",
                                     "1bb2c3d4-0000-4000-8000-0000000000o2",
                                     "/subscriptions/s/resourcegroups/g/providers/"
                                     "Microsoft.ManagedIdentity/userAssignedIdentities/web"};

struct fixture {
  asio::io_context io;
  std::shared_ptr<keyless::manual_clock> clock = std::make_shared<keyless::manual_clock>();

  std::unique_ptr<fake_managed_identity> fake(fake_mi_kind kind,
                                              std::string secret = identity_secret) {
    fake_managed_identity_options o;
    o.kind = kind;
    o.clock = clock;
    o.secret = std::move(secret);
    o.user_assigned = {user_identity};
    return std::make_unique<fake_managed_identity>(io.get_executor(), o);
  }

  managed_identity_options options(environment_map env, managed_identity_id id = {}) {
    managed_identity_options o;
    o.identity = std::move(id);
    o.environment = std::move(env);
    o.arc_agent_files = {};
    o.http = trusting(keyless::testing::test_pki::shared().ca_certificate_pem());
    o.clock = clock;
    return o;
  }

  access_token get(managed_identity_credential& c) {
    return run_manual(io, *clock, c.get_token({{scope}, {}, {}, false}));
  }
  failure fail(managed_identity_credential& c) {
    return expect_failure(io, *clock, c.get_token({{scope}, {}, {}, false}));
  }
};

}  // namespace managed_identity_sources

BOOST_AUTO_TEST_SUITE(managed_identity_sources)

// ---- detection ----

BOOST_AUTO_TEST_CASE(the_environment_selects_the_source_in_a_fixed_order) {
  struct detection_case {
    environment_map env;
    managed_identity_source expected;
  };
  const std::vector<detection_case> cases = {
      {{}, managed_identity_source::imds},
      {{{"IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token"}, {"IDENTITY_HEADER", "h"}},
       managed_identity_source::app_service},
      {{{"IDENTITY_ENDPOINT", "https://127.0.0.1:2377/x"},
        {"IDENTITY_HEADER", "h"},
        {"IDENTITY_SERVER_THUMBPRINT", "ABCDEF"}},
       managed_identity_source::service_fabric},
      {{{"IDENTITY_ENDPOINT", "http://localhost:40342/metadata/identity/oauth2/token"},
        {"IMDS_ENDPOINT", "http://localhost:40342"}},
       managed_identity_source::azure_arc},
      {{{"MSI_ENDPOINT", "http://127.0.0.1:3/msi"}, {"MSI_SECRET", "s"}},
       managed_identity_source::azure_ml},
      {{{"MSI_ENDPOINT", "http://127.0.0.1:3/oauth2/token"}}, managed_identity_source::cloud_shell},
      // App Service sets MSI_* too on older stacks; the 2019 variables win.
      {{{"IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token"},
        {"IDENTITY_HEADER", "h"},
        {"MSI_ENDPOINT", "http://127.0.0.1:1/msi/token"},
        {"MSI_SECRET", "s"}},
       managed_identity_source::app_service},
      // IDENTITY_ENDPOINT alone is not enough for anything: IMDS.
      {{{"IDENTITY_ENDPOINT", "http://127.0.0.1:1/x"}}, managed_identity_source::imds},
      // Empty values count as unset.
      {{{"MSI_ENDPOINT", ""}}, managed_identity_source::imds},
  };
  managed_identity_options o;
  o.arc_agent_files = {};
  for (const auto& c : cases) {
    BOOST_TEST(to_string(keyless::identity::detect_managed_identity_source(c.env, o)) ==
               to_string(c.expected));
  }
}

BOOST_AUTO_TEST_CASE(the_arc_agent_file_selects_arc_after_the_variables) {
  temp_dir dir;
  write_file(dir / "himds", "");
  managed_identity_options o;
  o.arc_agent_files = {dir / "absent", dir / "himds"};
  BOOST_TEST(to_string(keyless::identity::detect_managed_identity_source({}, o)) == "azure_arc");
  environment_map cloud_shell{{"MSI_ENDPOINT", "http://127.0.0.1:3/oauth2/token"}};
  BOOST_TEST(to_string(keyless::identity::detect_managed_identity_source(cloud_shell, o)) ==
             "cloud_shell");
  o.arc_agent_files = {dir / "absent"};
  BOOST_TEST(to_string(keyless::identity::detect_managed_identity_source({}, o)) == "imds");
}

BOOST_FIXTURE_TEST_CASE(unsupported_user_assigned_kinds_are_refused_at_construction, fixture) {
  struct refusal_case {
    environment_map env;
    managed_identity_id id;
  };
  const std::vector<refusal_case> cases = {
      {{{"MSI_ENDPOINT", "http://127.0.0.1:3/oauth2/token"}},
       managed_identity_id::from_client_id("c")},
      {{{"IDENTITY_ENDPOINT", "http://127.0.0.1:4/t"}, {"IMDS_ENDPOINT", "http://127.0.0.1:4"}},
       managed_identity_id::from_client_id("c")},
      {{{"IDENTITY_ENDPOINT", "https://127.0.0.1:5/t"},
        {"IDENTITY_HEADER", "h"},
        {"IDENTITY_SERVER_THUMBPRINT", "AB"}},
       managed_identity_id::from_resource_id("r")},
      {{{"MSI_ENDPOINT", "http://127.0.0.1:3/msi"}, {"MSI_SECRET", "s"}},
       managed_identity_id::from_object_id("o")},
  };
  for (const auto& c : cases) {
    auto e = construction_error(
        [&] { managed_identity_credential(io.get_executor(), options(c.env, c.id)); });
    BOOST_TEST(e.code() == errc::invalid_argument);
    BOOST_TEST(contains(e.message(), "does not support"));
    BOOST_TEST(!e.details().hint.empty());
  }
  // Azure ML takes a client id.
  managed_identity_credential ml(
      io.get_executor(), options({{"MSI_ENDPOINT", "http://127.0.0.1:3/msi"}, {"MSI_SECRET", "s"}},
                                 managed_identity_id::from_client_id("c")));
  BOOST_TEST(to_string(ml.source()) == "azure_ml");
  BOOST_TEST(construction_error([&] {
               managed_identity_credential(io.get_executor(),
                                           options({}, managed_identity_id::from_client_id("")));
             }).code() == errc::invalid_argument);
}

BOOST_FIXTURE_TEST_CASE(an_endpoint_variable_that_is_not_a_url_is_named, fixture) {
  auto e = construction_error([&] {
    managed_identity_credential(
        io.get_executor(), options({{"IDENTITY_ENDPOINT", "not a url"}, {"IDENTITY_HEADER", "h"}}));
  });
  BOOST_TEST(e.code() == errc::invalid_argument);
  BOOST_TEST(contains(e.message(), "IDENTITY_ENDPOINT"));
  BOOST_TEST(!contains(e.message(), "IDENTITY_HEADER=h"));

  auto o = options({});
  o.source = managed_identity_source::app_service;
  auto forced = construction_error([&] { managed_identity_credential(io.get_executor(), o); });
  BOOST_TEST(contains(forced.message(), "IDENTITY_ENDPOINT, which is not set"));
}

// ---- App Service ----

BOOST_FIXTURE_TEST_CASE(app_service_sends_the_identity_header_and_parses_expires_on, fixture) {
  auto service = fake(fake_mi_kind::app_service);
  managed_identity_credential cred(
      io.get_executor(),
      options({{"IDENTITY_ENDPOINT", service->endpoint()}, {"IDENTITY_HEADER", identity_secret}}));
  BOOST_TEST(to_string(cred.source()) == "app_service");
  const auto start = clock->now();
  auto token = get(cred);
  auto request = service->last_request();
  BOOST_TEST(request.method == "GET");
  BOOST_TEST(
      request.target ==
      "/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fcognitiveservices.azure.com");
  BOOST_TEST(request.header("X-IDENTITY-HEADER") == identity_secret);
  BOOST_TEST(!request.headers.contains("Metadata"));
  BOOST_TEST((token.expires_on() == start + std::chrono::seconds(86399)));
  BOOST_TEST((token.refresh_on() == start + std::chrono::seconds(43199)));
}

BOOST_FIXTURE_TEST_CASE(app_service_selects_user_assigned_identities_by_each_kind, fixture) {
  auto service = fake(fake_mi_kind::app_service);
  environment_map env{{"IDENTITY_ENDPOINT", service->endpoint()},
                      {"IDENTITY_HEADER", identity_secret}};
  struct kind_case {
    managed_identity_id id;
    std::string parameter;
  };
  const kind_case cases[] = {
      {managed_identity_id::from_client_id(user_identity.client_id), "client_id"},
      {managed_identity_id::from_object_id(user_identity.object_id), "principal_id"},
      {managed_identity_id::from_resource_id(user_identity.resource_id), "mi_res_id"},
  };
  for (const auto& c : cases) {
    managed_identity_credential cred(io.get_executor(), options(env, c.id));
    auto token = get(cred);
    BOOST_TEST(service->last_request().query_param(c.parameter).value_or("") == c.id.value);
    BOOST_TEST(keyless::identity::read_token_claims(token.token())->object_id ==
               user_identity.object_id);
  }
}

BOOST_FIXTURE_TEST_CASE(a_refused_identity_header_is_an_authentication_failure, fixture) {
  auto service = fake(fake_mi_kind::app_service);
  managed_identity_credential cred(io.get_executor(),
                                   options({{"IDENTITY_ENDPOINT", service->endpoint()},
                                            {"IDENTITY_HEADER", "stale-header-value-0000"}}));
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::authentication_failed);
  BOOST_TEST(f.details.http_status.value_or(0) == 401);
  BOOST_TEST(contains(f.message, "App Service refused"));
  BOOST_TEST(contains(f.details.hint, "IDENTITY_HEADER"));
  BOOST_TEST(!contains(f.message, "stale-header-value-0000"));

  managed_identity_credential unknown(
      io.get_executor(),
      options({{"IDENTITY_ENDPOINT", service->endpoint()}, {"IDENTITY_HEADER", identity_secret}},
              managed_identity_id::from_client_id("unknown")));
  auto g = fail(unknown);
  BOOST_TEST(g.code == errc::authentication_failed);
  BOOST_TEST(contains(g.message, "Unable to load the proper Managed Identity."));
}

BOOST_FIXTURE_TEST_CASE(app_service_server_errors_are_retried, fixture) {
  auto service = fake(fake_mi_kind::app_service);
  service->enqueue(scripted_response::json(500, R"({"statusCode":500,"message":"oops"})"));
  managed_identity_credential cred(
      io.get_executor(),
      options({{"IDENTITY_ENDPOINT", service->endpoint()}, {"IDENTITY_HEADER", identity_secret}}));
  get(cred);
  BOOST_TEST(service->token_requests() == 2u);

  service->enqueue(scripted_response::json(404, R"({"statusCode":404,"message":"no"})"));
  auto f = fail(cred);  // only IMDS retries 404
  BOOST_TEST(f.code == errc::http_status);
  BOOST_TEST(contains(f.message, "oops") == false);
  BOOST_TEST(contains(f.message, ": no"));
}

// ---- App Service 2017 and Azure ML ----

BOOST_FIXTURE_TEST_CASE(app_service_2017_dates_are_parsed, fixture) {
  auto legacy = fake(fake_mi_kind::app_service_2017);
  managed_identity_credential cred(io.get_executor(), options({{"MSI_ENDPOINT", legacy->endpoint()},
                                                               {"MSI_SECRET", identity_secret}}));
  const auto start = clock->now();
  auto token = get(cred);
  auto request = legacy->last_request();
  BOOST_TEST(request.query_param("api-version").value_or("") == "2017-09-01");
  BOOST_TEST(request.query_param("resource").value_or("") == resource);
  BOOST_TEST(!request.query_param("clientid").has_value());
  BOOST_TEST(request.header("secret") == identity_secret);
  BOOST_TEST((token.expires_on() == start + std::chrono::seconds(86399)));
}

BOOST_FIXTURE_TEST_CASE(azure_ml_sends_the_default_client_id_or_the_users, fixture) {
  auto ml = fake(fake_mi_kind::azure_ml);
  const std::string system_client = "5be7e0c4-0000-4000-8000-00000000c11d";
  environment_map env{{"MSI_ENDPOINT", ml->endpoint()},
                      {"MSI_SECRET", identity_secret},
                      {"DEFAULT_IDENTITY_CLIENT_ID", system_client}};
  managed_identity_credential system(io.get_executor(), options(env));
  get(system);
  BOOST_TEST(ml->last_request().query_param("clientid").value_or("") == system_client);
  BOOST_TEST(ml->last_request().header("secret") == identity_secret);
  BOOST_TEST(ml->last_request().header("Metadata") == "true");

  managed_identity_credential user(
      io.get_executor(),
      options(env, managed_identity_id::from_client_id(user_identity.client_id)));
  auto token = get(user);
  BOOST_TEST(ml->last_request().query_param("clientid").value_or("") == user_identity.client_id);
  BOOST_TEST(keyless::identity::read_token_claims(token.token())->object_id ==
             user_identity.object_id);
}

// ---- Cloud Shell ----

BOOST_FIXTURE_TEST_CASE(cloud_shell_posts_the_resource_as_a_form, fixture) {
  auto shell = fake(fake_mi_kind::cloud_shell);
  managed_identity_credential cred(io.get_executor(),
                                   options({{"MSI_ENDPOINT", shell->endpoint()}}));
  BOOST_TEST(to_string(cred.source()) == "cloud_shell");
  auto token = get(cred);
  auto request = shell->last_request();
  BOOST_TEST(request.method == "POST");
  BOOST_TEST(request.target == "/oauth2/token");
  BOOST_TEST(request.header("Metadata") == "true");
  BOOST_TEST(request.header("Content-Type") == "application/x-www-form-urlencoded");
  BOOST_TEST(request.body == "resource=https%3A%2F%2Fcognitiveservices.azure.com");
  BOOST_TEST(!token.empty());
}

// ---- Service Fabric ----

BOOST_FIXTURE_TEST_CASE(service_fabric_uses_tls_and_the_secret_header, fixture) {
  auto fabric = fake(fake_mi_kind::service_fabric);
  BOOST_TEST(contains(fabric->endpoint(), "https://"));
  environment_map env{{"IDENTITY_ENDPOINT", fabric->endpoint()},
                      {"IDENTITY_HEADER", identity_secret},
                      {"IDENTITY_SERVER_THUMBPRINT", "0123456789ABCDEF0123456789ABCDEF01234567"}};
  managed_identity_credential cred(io.get_executor(), options(env));
  BOOST_TEST(to_string(cred.source()) == "service_fabric");
  const auto start = clock->now();
  auto token = get(cred);
  auto request = fabric->last_request();
  BOOST_TEST(request.query_param("api-version").value_or("") == "2019-07-01-preview");
  BOOST_TEST(request.query_param("resource").value_or("") == resource);
  BOOST_TEST(request.header("Secret") == identity_secret);
  BOOST_TEST((token.expires_on() == start + std::chrono::seconds(86399)));

  env["IDENTITY_HEADER"] = "wrong-fabric-secret";
  managed_identity_credential wrong(io.get_executor(), options(env));
  auto f = fail(wrong);
  BOOST_TEST(f.code == errc::authentication_failed);
  BOOST_TEST(f.details.service_code == "SecretHeaderNotFound");
  BOOST_TEST(!contains(f.message, "wrong-fabric-secret"));
}

BOOST_FIXTURE_TEST_CASE(service_fabric_without_a_trusted_certificate_fails_tls, fixture) {
  auto fabric = fake(fake_mi_kind::service_fabric);
  environment_map env{{"IDENTITY_ENDPOINT", fabric->endpoint()},
                      {"IDENTITY_HEADER", identity_secret},
                      {"IDENTITY_SERVER_THUMBPRINT", "00"}};
  auto o = options(env);
  o.http.tls.ca_pem.clear();
  managed_identity_credential cred(io.get_executor(), o);
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::tls_failed);
  BOOST_TEST(fabric->tokens_issued() == 0u);
}

// ---- Azure Arc ----

struct arc_fixture : fixture {
  temp_dir dir;
  std::filesystem::path key_dir = dir / "tokens";
  std::string key = "arc-key-material-0123456789abcdef";

  arc_fixture() { std::filesystem::create_directory(key_dir); }

  std::unique_ptr<fake_managed_identity> arc(const std::string& realm) {
    fake_managed_identity_options o;
    o.kind = fake_mi_kind::azure_arc;
    o.clock = clock;
    o.secret = key;
    o.arc_realm = realm;
    return std::make_unique<fake_managed_identity>(io.get_executor(), o);
  }

  managed_identity_credential credential(const fake_managed_identity& agent) {
    auto o = options({{"IDENTITY_ENDPOINT", agent.endpoint()}, {"IMDS_ENDPOINT", agent.host()}});
    o.arc_key_directory = key_dir;
    return managed_identity_credential(io.get_executor(), o);
  }
};

BOOST_FIXTURE_TEST_CASE(arc_answers_the_challenge_with_the_key_file, arc_fixture) {
  write_file(key_dir / "abc.key", key);
  auto agent = arc((key_dir / "abc.key").string());
  auto cred = credential(*agent);
  BOOST_TEST(to_string(cred.source()) == "azure_arc");
  auto token = get(cred);
  BOOST_TEST(!token.empty());
  BOOST_TEST(agent->challenges() == 1u);
  auto requests = agent->requests();
  BOOST_REQUIRE_EQUAL(requests.size(), 2u);
  for (const auto& r : requests) {
    BOOST_TEST(r.method == "GET");
    BOOST_TEST(r.target ==
               "/metadata/identity/oauth2/token?api-version=2020-06-01&resource=https%3A%2F%2F"
               "cognitiveservices.azure.com");
    BOOST_TEST(r.header("Metadata") == "true");
  }
  BOOST_TEST(!requests[0].headers.contains("Authorization"));
  BOOST_TEST(requests[1].header("Authorization") == "Basic " + key);
}

BOOST_FIXTURE_TEST_CASE(arc_refuses_key_files_outside_the_directory, arc_fixture) {
  write_file(dir / "outside.key", key);
  std::filesystem::create_directory(key_dir / "nested");
  write_file(key_dir / "nested" / "deep.key", key);
  const std::string realms[] = {
      (dir / "outside.key").string(),
      key_dir.string() + "/../outside.key",
      (key_dir / "nested" / "deep.key").string(),
      "tokens/abc.key",
  };
  for (const auto& realm : realms) {
    auto agent = arc(realm);
    auto cred = credential(*agent);
    auto f = fail(cred);
    BOOST_TEST(f.code == errc::authentication_failed);
    BOOST_TEST(contains(f.message, "Azure Arc"));
    BOOST_TEST((contains(f.message, "not inside") || contains(f.message, "relative")), f.message);
    BOOST_TEST(!contains(f.message, key));
    BOOST_TEST(agent->token_requests() == 1u);  // the key was never sent
  }
}

BOOST_FIXTURE_TEST_CASE(arc_refuses_the_wrong_extension_a_large_file_and_a_symlink, arc_fixture) {
  write_file(key_dir / "abc.txt", key);
  write_file(key_dir / "big.key", std::string(4097, 'k'));
  write_file(key_dir / "limit.key", std::string(4096, 'k'));
  write_file(dir / "elsewhere.key", key);
  std::filesystem::create_symlink(dir / "elsewhere.key", key_dir / "link.key");
  struct refusal {
    std::string file;
    std::string why;
  };
  const refusal cases[] = {
      {"abc.txt", "not a .key file"},
      {"big.key", "larger than 4096 bytes"},
      {"link.key", "not a regular file"},
      {"missing.key", "does not exist"},
  };
  for (const auto& c : cases) {
    auto agent = arc((key_dir / c.file).string());
    auto cred = credential(*agent);
    auto f = fail(cred);
    BOOST_TEST(f.code == errc::authentication_failed);
    BOOST_TEST(contains(f.message, c.why), f.message);
    BOOST_TEST(agent->token_requests() == 1u);
  }
  // Exactly 4096 bytes is allowed (the agent then refuses the wrong key).
  auto agent = arc((key_dir / "limit.key").string());
  auto cred = credential(*agent);
  auto f = fail(cred);
  BOOST_TEST(agent->token_requests() == 2u);
  BOOST_TEST(f.code == errc::authentication_failed);
  BOOST_TEST(contains(f.message, "Azure Arc refused"));
}

BOOST_FIXTURE_TEST_CASE(arc_refuses_a_challenge_without_a_basic_realm, arc_fixture) {
  write_file(key_dir / "abc.key", key);
  auto agent = arc((key_dir / "abc.key").string());
  auto cred = credential(*agent);
  agent->enqueue(scripted_response::json(401, R"({"error":"unauthorized"})"));
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::authentication_failed);
  BOOST_TEST(contains(f.message, "no WWW-Authenticate header"));

  header_map bearer{{"WWW-Authenticate", "Bearer realm=x"}};
  agent->enqueue(scripted_response::json(401, "{}", bearer));
  auto g = fail(cred);
  BOOST_TEST(contains(g.message, "Basic realm="));
}

BOOST_AUTO_TEST_SUITE_END()
