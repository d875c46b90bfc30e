#include <boost/test/unit_test.hpp>

#include <ctime>

#include <asio/post.hpp>

#include "cli_test_support.hpp"
#include "core/base64.hpp"
#include "keyless/core/error.hpp"
#include "keyless/identity/azure_cli_credential.hpp"
#include "keyless/json/writer.hpp"
#include "token_epochs.hpp"

using namespace keyless_test;
using namespace std::chrono_literals;
using keyless::identity::access_token;
using keyless::identity::azure_cli_credential;
using keyless::identity::azure_cli_credential_options;
using keyless::identity::token_request;

namespace azure_cli_credential_tests {

const std::string scope = "https://cognitiveservices.azure.com/.default";
const std::string resource = "https://cognitiveservices.azure.com";
const std::string token_value =
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2NvZ25pdGl2ZXNlcnZpY2VzIn0."
    "RkFLRS1BWi1TSUdOQVRVUkUtRkFLRS1BWi1TSUdOQVRVUkU";

// What az prints, built with keyless's own JSON writer.
std::string az_output(const std::string& token, std::optional<long long> epoch,
                      const std::string& local = "2024-05-06 09:08:09.000000") {
  keyless::json::writer w;
  w.begin_object().member("accessToken", token).member("expiresOn", local);
  if (epoch) w.member("expires_on", *epoch);
  w.member("subscription", "00000000-0000-0000-0000-000000000001")
      .member("tenant", "00000000-0000-0000-0000-000000000002")
      .member("tokenType", "Bearer")
      .end_object();
  return w.release();
}

struct fixture {
  temp_dir record;
  azure_cli_credential_options options;

  fixture() {
    options.executable = fakes_dir() + "/az";
    options.environment.emplace_back("FAKE_CLI_RECORD_DIR", record.path());
  }

  void fake(const std::string& name, const std::string& value) {
    options.environment.emplace_back(name, value);
  }

  outcome<access_token> get(token_request request = req({scope})) {
    asio::io_context io;
    azure_cli_credential credential(io.get_executor(), options);
    return run_on<access_token>(io, [&] { return credential.get_token(request); });
  }

  bool ran() const { return std::filesystem::exists(record / "argv"); }
};

}  // namespace azure_cli_credential_tests

BOOST_FIXTURE_TEST_SUITE(azure_cli_credential_tests, fixture)

BOOST_AUTO_TEST_CASE(gets_a_token_with_the_exact_argument_vector_directory_and_environment) {
  fake("FAKE_CLI_STDOUT", az_output(token_value, 1714979289));
  auto r = get();
  BOOST_TEST_REQUIRE(!r.error, inspect(r).message);
  BOOST_TEST(r.value->token() == token_value);
  BOOST_TEST(expires_epoch(*r.value) == 1714979289);
  const std::vector<std::string> expected{"account", "get-access-token", "--output",
                                          "json",    "--resource",       resource};
  BOOST_TEST(recorded_argv(record) == expected, boost::test_tools::per_element());
  BOOST_TEST(*read_file(record / "cwd") == "/\n");
  BOOST_TEST(read_file(record / "env")->find("\nAZURE_CORE_NO_COLOR=true\n") != std::string::npos);
  BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(without_expires_on_the_local_expires_on_is_read_in_a_non_utc_zone) {
  // az 2.45 prints only expiresOn, in the local time of the az process,
  // which inherits our TZ.
  scoped_env tz("TZ", "CET-1CEST,M3.5.0,M10.5.0/3");
  ::tzset();
  fake("FAKE_CLI_STDOUT", az_output(token_value, std::nullopt, "2024-05-06 09:08:09.000000"));
  auto r = get();
  ::unsetenv("TZ");
  ::tzset();
  BOOST_TEST_REQUIRE(!r.error, inspect(r).message);
  BOOST_TEST(expires_epoch(*r.value) == 1714979289);  // 07:08:09 UTC
  BOOST_TEST(read_file(record / "env")->find("\nTZ=CET-1CEST") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(tenant_and_subscription_options_become_arguments) {
  fake("FAKE_CLI_STDOUT", az_output(token_value, 1714979289));
  options.subscription = "My Subscription";
  BOOST_TEST_REQUIRE(!get().error);
  const std::vector<std::string> with_subscription{"account",        "get-access-token", "--output",
                                                   "json",           "--resource",       resource,
                                                   "--subscription", "My Subscription"};
  BOOST_TEST(recorded_argv(record) == with_subscription, boost::test_tools::per_element());

  options.subscription.clear();
  options.tenant_id = "contoso.onmicrosoft.com";
  BOOST_TEST_REQUIRE(!get().error);
  const std::vector<std::string> with_tenant{
      "account",    "get-access-token", "--output", "json",
      "--resource", resource,           "--tenant", "contoso.onmicrosoft.com"};
  BOOST_TEST(recorded_argv(record) == with_tenant, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_requested_tenant_must_be_allowed) {
  fake("FAKE_CLI_STDOUT", az_output(token_value, 1714979289));
  options.tenant_id = "home-tenant";
  token_request other = req({scope}, "other-tenant");
  auto refused = get(other);
  BOOST_TEST(inspect(refused).code == keyless::errc::authentication_failed);
  BOOST_TEST(!ran());

  options.additionally_allowed_tenants = {"other-tenant"};
  BOOST_TEST_REQUIRE(!get(other).error);
  const auto argv = recorded_argv(record);
  BOOST_TEST(argv.at(argv.size() - 2) == "--tenant");
  BOOST_TEST(argv.back() == "other-tenant");

  // The subscription only implies a tenant; an allowed request overrides it.
  options.tenant_id.clear();
  options.subscription = "sub";
  options.additionally_allowed_tenants = {"*"};
  BOOST_TEST_REQUIRE(!get(other).error);
  BOOST_TEST(recorded_argv(record).back() == "other-tenant");
}

BOOST_AUTO_TEST_CASE(disabling_multitenant_auth_ignores_requested_tenants) {
  scoped_env disable("AZURE_IDENTITY_DISABLE_MULTITENANTAUTH", "true");
  fake("FAKE_CLI_STDOUT", az_output(token_value, 1714979289));
  auto r = get(req({scope}, "other-tenant"));
  BOOST_TEST_REQUIRE(!r.error, inspect(r).message);
  BOOST_TEST(recorded_argv(record).size() == 6u);  // no --tenant
}

BOOST_AUTO_TEST_CASE(not_logged_in_is_unavailable_with_the_az_login_hint) {
  fake("FAKE_CLI_STDERR", "ERROR: Please run 'az login' to setup account.\n");
  fake("FAKE_CLI_EXIT", "1");
  auto r = get();
  const auto seen = inspect(r);
  BOOST_TEST(seen.code == keyless::errc::credential_unavailable);
  BOOST_TEST(seen.message.find("AzureCliCredential: Azure CLI (az) is not logged in") == 0u);
  BOOST_TEST(seen.details.hint == "Run 'az login' and try again.");
}

BOOST_AUTO_TEST_CASE(an_aadsts_error_is_an_authentication_failure_with_its_code) {
  fake("FAKE_CLI_STDERR",
       "ERROR: AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in "
       "the request is the client secret value.\r\nTrace ID: 0a1b2c3d-0000-4000-8000-000000000001"
       "\r\nTimestamp: 2024-05-06 07:08:09Z\nInteractive authentication is needed. Please run:\n"
       "az login\n");
  fake("FAKE_CLI_EXIT", "1");
  auto r = get();
  const auto seen = inspect(r);
  BOOST_TEST(seen.code == keyless::errc::authentication_failed);
  BOOST_TEST(seen.details.service_code == "AADSTS7000215");
  BOOST_TEST(seen.message.find("exited with status 1: AADSTS7000215: Invalid client secret "
                               "provided.") != std::string::npos);
  BOOST_TEST(seen.message.find("Trace ID") == std::string::npos);  // first line only
}

BOOST_AUTO_TEST_CASE(a_token_on_stderr_is_redacted_from_the_message) {
  fake("FAKE_CLI_STDERR", R"(ERROR: unexpected {"accessToken": ")" + token_value +
                              R"(", "other": )" + token_value + "}\n");
  fake("FAKE_CLI_EXIT", "2");
  const auto seen = inspect(get());
  BOOST_TEST(seen.code == keyless::errc::credential_unavailable);
  BOOST_TEST(seen.message.find("exited with status 2") != std::string::npos);
  BOOST_TEST(seen.message.find(token_value.substr(0, 20)) == std::string::npos);
  BOOST_TEST(seen.message.find("****") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(az_missing_from_path_is_unavailable_with_an_install_hint) {
  options.executable = "az";
  options.environment.emplace_back("PATH", "/nonexistent-keyless-dir");
  const auto seen = inspect(get());
  BOOST_TEST(seen.code == keyless::errc::credential_unavailable);
  BOOST_TEST(seen.message ==
             "AzureCliCredential: Azure CLI (az) was not found on PATH. Install it from "
             "https://aka.ms/azure-cli and run 'az login'.");

  options.executable = "/nonexistent-keyless-dir/az";
  const auto at_path = inspect(get());
  BOOST_TEST(at_path.code == keyless::errc::credential_unavailable);
  BOOST_TEST(at_path.message.find("was not found at '/nonexistent-keyless-dir/az'") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(az_is_found_on_the_path_given_to_it) {
  temp_dir bin;
  std::filesystem::create_symlink(fakes_dir() + "/az", bin / "az");
  options.executable = "az";
  options.environment.emplace_back("PATH", bin.path().string() + ":/usr/bin:/bin");
  fake("FAKE_CLI_STDOUT", az_output(token_value, 1714979289));
  auto r = get();
  BOOST_TEST_REQUIRE(!r.error, inspect(r).message);
  BOOST_TEST(r.value->token() == token_value);
}

BOOST_AUTO_TEST_CASE(a_hung_az_is_killed_at_the_timeout_and_reported_unavailable) {
  fake("FAKE_CLI_HANG", "1");
  options.process_timeout = 300ms;
  auto r = get();
  const auto seen = inspect(r);
  BOOST_TEST(seen.code == keyless::errc::credential_unavailable);
  BOOST_TEST(seen.message ==
             "AzureCliCredential: Azure CLI (az) did not finish within 300 ms; it was stopped");
  const auto pid = recorded_pid(record);
  BOOST_TEST_REQUIRE(pid.has_value());
  BOOST_TEST(process_gone(*pid));
  BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(cancelling_the_request_kills_az) {
  fake("FAKE_CLI_HANG", "1");
  asio::io_context io;
  azure_cli_credential credential(io.get_executor(), options);
  asio::cancellation_signal signal;
  asio::steady_timer poll(io);
  std::function<void(std::error_code)> wait_for_start = [&](std::error_code) {
    if (recorded_pid(record, "grandchild")) {
      signal.emit(asio::cancellation_type::terminal);
      return;
    }
    poll.expires_after(10ms);
    poll.async_wait(wait_for_start);
  };
  wait_for_start({});
  std::exception_ptr error;
  bool done = false;
  credential.async_get_token(
      req({scope}),
      asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e, access_token) {
        error = e;
        done = true;
      }));
  io.run_for(60s);
  BOOST_TEST_REQUIRE(done);
  BOOST_TEST((keyless::inspect(error).code == asio::error::operation_aborted));
  BOOST_TEST(process_gone(*recorded_pid(record)));
  BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(garbage_output_is_unavailable_with_a_redacted_excerpt) {
  fake("FAKE_CLI_STDOUT", "Traceback (most recent call last): token=" + token_value + " end\n");
  const auto seen = inspect(get());
  BOOST_TEST(seen.code == keyless::errc::credential_unavailable);
  BOOST_TEST(seen.message ==
             "AzureCliCredential: Azure CLI (az) printed output keyless cannot use: az output: "
             "the body is not a JSON object (it began: 'Traceback (most recent call last): "
             "<redacted> end')");
}

BOOST_AUTO_TEST_CASE(json_with_a_bad_expiry_never_quotes_the_output) {
  fake("FAKE_CLI_STDOUT", az_output(token_value, std::nullopt, "next tuesday"));
  const auto seen = inspect(get());
  BOOST_TEST(seen.code == keyless::errc::credential_unavailable);
  BOOST_TEST(seen.message.find("'expiresOn' is not a local time") != std::string::npos);
  BOOST_TEST(seen.message.find(token_value.substr(0, 12)) == std::string::npos);
  BOOST_TEST(seen.message.find("next tuesday") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(huge_output_is_cut_off_and_reported_unavailable) {
  fake("FAKE_CLI_STDOUT_BYTES", "20000000");
  fake("FAKE_CLI_HANG", "1");
  const auto seen = inspect(get());
  BOOST_TEST(seen.code == keyless::errc::credential_unavailable);
  BOOST_TEST(seen.message.find("wrote more than") != std::string::npos);
  BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(exit_status_127_means_installed_but_broken) {
  fake("FAKE_CLI_STDERR", "/usr/bin/az: 3: python3: not found\n");
  fake("FAKE_CLI_EXIT", "127");
  const auto seen = inspect(get());
  BOOST_TEST(seen.code == keyless::errc::credential_unavailable);
  BOOST_TEST(seen.message.find("is installed but could not run (exited with status 127)") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_claims_challenge_is_unavailable_with_a_login_command) {
  fake("FAKE_CLI_STDOUT", az_output(token_value, 1714979289));
  const std::string claims = R"({"access_token":{"nbf":{"essential":true,"value":"1"}}})";
  options.tenant_id = "contoso";
  const auto seen = inspect(get(req({scope}, std::nullopt, claims)));
  BOOST_TEST(seen.code == keyless::errc::credential_unavailable);
  const std::string command = "az login --claims-challenge " +
                              keyless::detail::base64_encode(claims) +
                              " --tenant contoso --scope " + scope;
  BOOST_TEST(seen.details.hint == "Run: " + command);
  BOOST_TEST(seen.message.find(command) != std::string::npos);
  BOOST_TEST(!ran());
}

BOOST_AUTO_TEST_CASE(bad_requests_are_refused_before_az_runs) {
  fake("FAKE_CLI_STDOUT", az_output(token_value, 1714979289));
  BOOST_TEST(inspect(get(req({"--debug"}))).code == keyless::errc::invalid_argument);
  BOOST_TEST(inspect(get(req({"https://x/.default; rm -rf ~"}))).code ==
             keyless::errc::invalid_argument);
  BOOST_TEST(inspect(get(req({scope, scope}))).code == keyless::errc::invalid_argument);
  BOOST_TEST(inspect(get(req({}))).code == keyless::errc::invalid_argument);
  BOOST_TEST(inspect(get(req({scope}, "bad tenant"))).code == keyless::errc::invalid_argument);
  BOOST_TEST(!ran());
}

BOOST_AUTO_TEST_CASE(bad_options_are_refused_at_construction) {
  asio::io_context io;
  const auto refused = [&](auto change) {
    azure_cli_credential_options o;
    change(o);
    try {
      azure_cli_credential credential(io.get_executor(), o);
    } catch (const keyless::error& e) {
      return e.code() == keyless::errc::invalid_argument;
    }
    return false;
  };
  using opts = azure_cli_credential_options;
  BOOST_TEST(refused([](opts& o) { o.tenant_id = "-evil"; }));
  BOOST_TEST(refused([](opts& o) { o.additionally_allowed_tenants = {"ok", "not ok"}; }));
  BOOST_TEST(refused([](opts& o) { o.subscription = "--all"; }));
  BOOST_TEST(refused([](opts& o) {
    o.tenant_id = "t";
    o.subscription = "s";
  }));
  BOOST_TEST(refused([](opts& o) { o.process_timeout = 0ms; }));
  BOOST_TEST(refused([](opts& o) { o.executable.clear(); }));
  BOOST_TEST(!refused([](opts& o) {
    o.tenant_id = "t";
    o.additionally_allowed_tenants = {"*"};
  }));
}

BOOST_AUTO_TEST_CASE(the_credential_names_itself) {
  asio::io_context io;
  azure_cli_credential credential(io.get_executor());
  BOOST_TEST(credential.name() == "AzureCliCredential");
  BOOST_TEST((credential.get_executor() == asio::any_io_executor(io.get_executor())));
}

BOOST_AUTO_TEST_SUITE_END()
