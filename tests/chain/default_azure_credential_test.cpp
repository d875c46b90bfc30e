#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include "io_helpers.hpp"
#include "keyless/identity/default_azure_credential.hpp"
#include "loopback_client.hpp"
#include "loopback_server.hpp"
#include "temp_dir.hpp"
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

using keyless::testing::closed_port;
using keyless::testing::temp_dir;

struct dac_fixture {
  asio::io_context io;
  temp_dir record;

  // Options for a machine with no service principal, no workload identity, a managed
  // identity endpoint that refuses connections, and an `az` that is logged in.
  default_azure_credential_options laptop() {
    default_azure_credential_options o;
    o.environment = environment_map{
        {"AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:" + std::to_string(closed_port())}};
    o.azure_cli_path = std::string(KEYLESS_FAKES_DIR) + "/az";
    o.azure_developer_cli_path = std::string(KEYLESS_FAKES_DIR) + "/azd";
    o.cli_environment = {{"FAKE_CLI_RECORD_DIR", record.path().string()},
                         {"FAKE_CLI_STDOUT",
                          R"({"accessToken":"cli-token","expiresOn":"2099-01-01 00:00:00.000000",)"
                          R"("expires_on":4070908800,"tenant":"t","tokenType":"Bearer"})"}};
    o.http.tls.ca_pem = keyless::testing::test_pki::shared().ca_certificate_pem();
    return o;
  }

  bool cli_ran() const { return std::filesystem::exists(record.path() / "argv"); }

  // How many times the fake az was started (the fake logs each start's first argument:
  // "account" for az, "auth" for azd).
  int az_starts() const {
    std::ifstream in(record.path() / "starts");
    int starts = 0;
    for (std::string line; std::getline(in, line);) starts += line == "account" ? 1 : 0;
    return starts;
  }

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
  BOOST_TEST(az_starts() == 1);
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
  chain->forget_winner();  // a second full walk: az still stays unstarted
  BOOST_TEST(get(*chain).token() == "mi-token");
  keyless::testing::run_until_idle(io);
  BOOST_TEST(imds.requests_seen() >= 1u);
  BOOST_TEST(az_starts() == 0);
  BOOST_TEST(!cli_ran());
}

BOOST_AUTO_TEST_CASE(a_black_holed_managed_identity_does_not_hold_back_the_cli_token) {
  // The endpoint accepts the connection and never answers; its timeout is 10 s, so
  // a token in well under that came from the CLI without waiting for it.
  keyless::testing::loopback_server imds(io.get_executor());
  imds.set_handler(
      [](keyless::testing::recorded_request,
         keyless::testing::responder& r) -> asio::awaitable<void> { co_await r.stall(); });
  auto options = laptop();
  (*options.environment)["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = imds.url("");
  options.managed_identity_probe_timeout = 10s;
  options.http.request_timeout = 10s;
  options.http.idle_timeout = 10s;
  options.cli_environment.emplace_back("FAKE_CLI_DELAY_MS", "300");
  auto chain = default_azure_credential(io.get_executor(), options);
  const auto started = std::chrono::steady_clock::now();
  const auto token = get(*chain);
  const auto took = std::chrono::steady_clock::now() - started;
  BOOST_TEST(token.token() == "cli-token");
  BOOST_TEST(imds.connections_accepted() >= 1u);  // black-holed, not refused
  BOOST_TEST(az_starts() == 1);
  // At least the CLI's 300 ms; about 300 ms + the 200 ms hedge + a process spawn,
  // with a wide margin for loaded CI machines, and far from the 10 s timeout.
  BOOST_TEST(took >= 300ms);
  BOOST_TEST(
      took < 4s,
      "took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  auto report = chain->last_report();
  BOOST_REQUIRE(report.winner);
  BOOST_TEST(*report.winner == "AzureCliCredential");
  BOOST_REQUIRE(report.attempts.size() == 5u);
  BOOST_TEST(report.attempts[2].source == "ManagedIdentityCredential");
  BOOST_TEST(report.attempts[2].message.find("taken as absent") != std::string::npos);
  // The loser was cancelled: its connection to the endpoint is closed.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (imds.open_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(50ms);
  }
  io.restart();
  BOOST_TEST(imds.open_connections() == 0u);
}

BOOST_AUTO_TEST_CASE(concurrent_first_callers_start_az_once) {
  auto options = laptop();
  options.cli_environment.emplace_back("FAKE_CLI_DELAY_MS", "100");
  auto chain = default_azure_credential(io.get_executor(), options);
  constexpr int callers = 4;
  int tokens = 0;
  for (int i = 0; i < callers; ++i) {
    token_request req;
    req.scopes.push_back("https://cognitiveservices.azure.com/.default");
    chain->async_get_token(req, [&tokens](std::exception_ptr e, keyless::identity::access_token t) {
      if (!e && t.token() == "cli-token") ++tokens;
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (tokens < callers && std::chrono::steady_clock::now() < deadline) io.run_one_for(50ms);
  io.restart();
  BOOST_TEST(tokens == callers);
  BOOST_TEST(az_starts() == 1);
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
