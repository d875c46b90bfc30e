#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include "io_helpers.hpp"
#include "keyless/identity/default_azure_credential.hpp"
#include "loopback_server.hpp"
#include "test_pki.hpp"

#ifndef KEYLESS_FAKES_DIR
#error "KEYLESS_FAKES_DIR must name tests/fakes"
#endif

namespace {

using namespace std::chrono_literals;
using keyless::errc;
using keyless::identity::default_azure_credential;
using keyless::identity::default_azure_credential_options;
using keyless::identity::environment_map;
using keyless::identity::token_request;

// A loopback port with nothing listening: connecting is refused at once.
std::uint16_t closed_port(asio::io_context& io) {
  asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "keyless-dac-XXXXXX").string();
    path = mkdtemp(pattern.data());
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

struct dac_fixture {
  asio::io_context io;
  temp_dir record;

  // Options for a machine with no service principal, no workload identity, a managed
  // identity endpoint that refuses connections, and an `az` that is logged in.
  default_azure_credential_options laptop() {
    default_azure_credential_options o;
    o.environment = environment_map{{"AZURE_POD_IDENTITY_AUTHORITY_HOST",
                                     "http://127.0.0.1:" + std::to_string(closed_port(io))}};
    o.azure_cli_path = std::string(KEYLESS_FAKES_DIR) + "/az";
    o.azure_developer_cli_path = std::string(KEYLESS_FAKES_DIR) + "/azd";
    o.cli_environment = {{"FAKE_CLI_RECORD_DIR", record.path.string()},
                         {"FAKE_CLI_STDOUT",
                          R"({"accessToken":"cli-token","expiresOn":"2099-01-01 00:00:00.000000",)"
                          R"("expires_on":4070908800,"tenant":"t","tokenType":"Bearer"})"}};
    o.http.tls.ca_pem = keyless::testing::test_pki::shared().ca_certificate_pem();
    return o;
  }

  bool cli_ran() const { return std::filesystem::exists(record.path / "argv"); }

  keyless::identity::access_token get(keyless::identity::token_credential& credential) {
    token_request req;
    req.scopes.push_back("https://cognitiveservices.azure.com/.default");
    return keyless::testing::run_sync(io, credential.get_token(req));
  }
};

std::exception_ptr failure_of(const std::function<void()>& f) {
  try {
    f();
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(default_azure_credential_suite, dac_fixture)

BOOST_AUTO_TEST_CASE(on_a_laptop_the_azure_cli_answers_after_the_others_are_unavailable) {
  auto chain = default_azure_credential(io.get_executor(), laptop());
  auto token = get(*chain);
  BOOST_TEST(token.token() == "cli-token");
  auto report = chain->last_report();
  BOOST_REQUIRE(report.winner);
  BOOST_TEST(*report.winner == "AzureCliCredential");
  BOOST_REQUIRE(report.attempts.size() == 5u);
  for (std::size_t i = 0; i < 3; ++i) {
    BOOST_TEST((report.attempts[i].code == errc::credential_unavailable),
               report.attempts[i].source);
  }
}

BOOST_AUTO_TEST_CASE(when_managed_identity_answers_az_is_never_started) {
  keyless::testing::loopback_server imds(io.get_executor());
  imds.route("GET", "/metadata/identity/oauth2/token",
             [](keyless::testing::recorded_request,
                keyless::testing::responder& r) -> asio::awaitable<void> {
               co_await r.respond_json(200, R"({"access_token":"mi-token","expires_in":"3600",)"
                                            R"("resource":"https://cognitiveservices.azure.com",)"
                                            R"("token_type":"Bearer"})");
             });
  auto options = laptop();
  (*options.environment)["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = imds.url("");
  options.hedge_delay = 1h;  // az may start only once managed identity has failed
  auto chain = default_azure_credential(io.get_executor(), options);
  BOOST_TEST(get(*chain).token() == "mi-token");
  BOOST_TEST(*chain->last_report().winner == "ManagedIdentityCredential");
  keyless::testing::run_until_idle(io);
  BOOST_TEST(!cli_ran());
}

BOOST_AUTO_TEST_CASE(a_refused_service_principal_stops_the_chain_instead_of_falling_back) {
  keyless::testing::server_options tls;
  tls.tls = true;
  keyless::testing::loopback_server entra(io.get_executor(), tls);
  entra.set_handler([](keyless::testing::recorded_request,
                       keyless::testing::responder& r) -> asio::awaitable<void> {
    co_await r.respond_json(
        401,
        R"({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.",)"
        R"("error_codes":[7000215]})");
  });
  auto options = laptop();
  auto& env = *options.environment;
  env["AZURE_TENANT_ID"] = "tenant-1";
  env["AZURE_CLIENT_ID"] = "client-1";
  env["AZURE_CLIENT_SECRET"] = "very-secret-value";
  env["AZURE_AUTHORITY_HOST"] = entra.url("");
  auto chain = default_azure_credential(io.get_executor(), options);
  auto failure = failure_of([&] { get(*chain); });
  BOOST_REQUIRE(failure);
  auto seen = keyless::inspect(failure);
  BOOST_TEST((seen.code == errc::authentication_failed));
  BOOST_TEST(seen.message.find("EnvironmentCredential") != std::string::npos);
  BOOST_TEST(seen.message.find("very-secret-value") == std::string::npos);
  BOOST_TEST(seen.details.service_code.find("7000215") != std::string::npos);
  keyless::testing::run_until_idle(io);
  BOOST_TEST(!cli_ran());
}

BOOST_AUTO_TEST_CASE(prod_with_nothing_configured_explains_every_source) {
  auto options = laptop();
  (*options.environment)["AZURE_TOKEN_CREDENTIALS"] = "prod";
  auto chain = default_azure_credential(io.get_executor(), options);
  auto failure = failure_of([&] { get(*chain); });
  BOOST_REQUIRE(failure);
  auto seen = keyless::inspect(failure);
  BOOST_TEST((seen.code == errc::credential_unavailable));
  BOOST_TEST(seen.details.sources.size() == 3u);
  BOOST_TEST(seen.message.find("EnvironmentCredential: unavailable") != std::string::npos);
  BOOST_TEST(seen.message.find("ManagedIdentityCredential: unavailable") != std::string::npos);
  BOOST_TEST(seen.message.find("Most likely fix:") != std::string::npos);
  BOOST_TEST(!cli_ran());
}

BOOST_AUTO_TEST_CASE(an_invalid_azure_token_credentials_is_refused_at_construction) {
  auto options = laptop();
  (*options.environment)["AZURE_TOKEN_CREDENTIALS"] = "production";
  auto failure = failure_of([&] { default_azure_credential(io.get_executor(), options); });
  BOOST_REQUIRE(failure);
  BOOST_TEST((keyless::inspect(failure).code == errc::invalid_argument));
}

BOOST_AUTO_TEST_CASE(excluding_every_source_is_refused_at_construction) {
  auto options = laptop();
  (*options.environment)["AZURE_TOKEN_CREDENTIALS"] = "dev";
  options.exclude_azure_cli_credential = true;
  options.exclude_azure_developer_cli_credential = true;
  auto failure = failure_of([&] { default_azure_credential(io.get_executor(), options); });
  BOOST_REQUIRE(failure);
  BOOST_TEST(keyless::inspect(failure).message.find("every credential source is excluded") !=
             std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
