#include <boost/test/unit_test.hpp>

#include <ctime>

#include "cli_test_support.hpp"
#include "keyless/core/error.hpp"
#include "keyless/identity/azure_developer_cli_credential.hpp"
#include "keyless/json/writer.hpp"
#include "token_epochs.hpp"

using namespace keyless_test;
using namespace std::chrono_literals;
using keyless::identity::access_token;
using keyless::identity::azure_developer_cli_credential;
using keyless::identity::azure_developer_cli_credential_options;
using keyless::identity::token_request;

namespace azure_developer_cli_credential_tests {

const std::string scope = "https://cognitiveservices.azure.com/.default";
const std::string token_value =
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJzb3VyY2UiOiJhemQtZmFrZSJ9."
    "RkFLRS1BWkQtU0lHTkFUVVJFLUZBS0UtQVpELVNJR05BVFVSRQ";

std::string azd_output(const std::string& token, const std::string& expires_on) {
  keyless::json::writer w;
  w.begin_object().member("token", token).member("expiresOn", expires_on).end_object();
  return w.release();
}

// azd's JSON-lines error format on stderr.
std::string azd_error(const std::string& message) {
  keyless::json::writer w;
  w.begin_object()
      .member("type", "consoleMessage")
      .member("timestamp", "2024-05-06T07:08:09.000000000Z")
      .key("data")
      .begin_object()
      .member("message", message)
      .end_object()
      .end_object();
  return w.release() + "\n";
}

struct fixture {
  temp_dir record;
  azure_developer_cli_credential_options options;

  fixture() {
    options.executable = fakes_dir() + "/azd";
    options.environment.emplace_back("FAKE_CLI_RECORD_DIR", record.path());
  }

  void fake(const std::string& name, const std::string& value) {
    options.environment.emplace_back(name, value);
  }

  outcome<access_token> get(token_request request = req({scope})) {
    asio::io_context io;
    azure_developer_cli_credential credential(io.get_executor(), options);
    return run_on<access_token>(io, [&] { return credential.get_token(request); });
  }

  bool ran() const { return std::filesystem::exists(record / "argv"); }
};

}  // namespace azure_developer_cli_credential_tests

BOOST_FIXTURE_TEST_SUITE(azure_developer_cli_credential_tests, fixture)

BOOST_AUTO_TEST_CASE(gets_a_token_for_several_scopes_with_the_exact_argument_vector) {
  // azd reports UTC; read in a zone far from it, the answer must not move.
  scoped_env tz("TZ", "PST8PDT,M3.2.0,M11.1.0");
  ::tzset();
  fake("FAKE_CLI_STDOUT", azd_output(token_value, "2024-01-01T00:00:00Z"));
  options.tenant_id = "contoso";
  auto r = get(req({scope, "api://other/.default"}));
  ::unsetenv("TZ");
  ::tzset();
  BOOST_TEST_REQUIRE(!r.error, inspect(r).message);
  BOOST_TEST(r.value->token() == token_value);
  BOOST_TEST(expires_epoch(*r.value) == 1704067200);
  const std::vector<std::string> expected{"auth",        "token",       "--output",
                                          "json",        "--no-prompt", "--scope",
                                          scope,         "--scope",     "api://other/.default",
                                          "--tenant-id", "contoso"};
  BOOST_TEST(recorded_argv(record) == expected, boost::test_tools::per_element());
  BOOST_TEST(*read_file(record / "cwd") == "/\n");
  BOOST_TEST(read_file(record / "env")->find("\nNO_COLOR=true\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(not_logged_in_is_unavailable_with_the_azd_login_hint) {
  fake("FAKE_CLI_STDERR", azd_error("\nERROR: not logged in, run `azd auth login` to login\n"));
  fake("FAKE_CLI_EXIT", "1");
  const auto seen = inspect(get());
  BOOST_TEST(seen.code == keyless::errc::credential_unavailable);
  BOOST_TEST(seen.message.find("Azure Developer CLI (azd) is not logged in") != std::string::npos);
  BOOST_TEST(seen.details.hint == "Run 'azd auth login' and try again.");
}

BOOST_AUTO_TEST_CASE(an_aadsts_error_in_json_lines_is_an_authentication_failure) {
  fake("FAKE_CLI_STDERR",
       azd_error("\nERROR: fetching token: AADSTS700082: The refresh token has expired due to "
                 "inactivity.\n"));
  fake("FAKE_CLI_EXIT", "1");
  const auto seen = inspect(get());
  BOOST_TEST(seen.code == keyless::errc::authentication_failed);
  BOOST_TEST(seen.details.service_code == "AADSTS700082");
  BOOST_TEST(seen.message.find("fetching token: AADSTS700082: The refresh token has expired") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(reauthentication_asks_for_a_login_with_the_scopes) {
  fake("FAKE_CLI_STDERR", azd_error("ERROR: reauthentication required, run `azd auth login`"));
  fake("FAKE_CLI_EXIT", "1");
  const auto seen = inspect(get());
  BOOST_TEST(seen.code == keyless::errc::credential_unavailable);
  BOOST_TEST(seen.details.hint == "Run 'azd auth login --scope " + scope + "' and try again.");
}

BOOST_AUTO_TEST_CASE(azd_missing_from_path_is_unavailable) {
  options.executable = "azd";
  options.environment.emplace_back("PATH", "/nonexistent-keyless-dir");
  const auto seen = inspect(get());
  BOOST_TEST(seen.code == keyless::errc::credential_unavailable);
  BOOST_TEST(seen.message ==
             "AzureDeveloperCliCredential: Azure Developer CLI (azd) was not found on PATH. "
             "Install it from https://aka.ms/azd-install and run 'azd auth login'.");
}

BOOST_AUTO_TEST_CASE(a_hung_azd_is_killed_at_the_timeout) {
  fake("FAKE_CLI_HANG", "1");
  options.process_timeout = 250ms;
  const auto seen = inspect(get());
  BOOST_TEST(seen.code == keyless::errc::credential_unavailable);
  BOOST_TEST(seen.message.find("did not finish within 250 ms") != std::string::npos);
  BOOST_TEST(process_gone(*recorded_pid(record)));
  BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(unusable_output_is_unavailable_and_never_quotes_a_token) {
  fake("FAKE_CLI_STDOUT", azd_output(token_value, "tomorrow"));
  const auto seen = inspect(get());
  BOOST_TEST(seen.code == keyless::errc::credential_unavailable);
  BOOST_TEST(seen.message.find("'expiresOn' is not an RFC 3339 time") != std::string::npos);
  BOOST_TEST(seen.message.find(token_value.substr(0, 12)) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_claims_challenge_is_unavailable_with_a_login_command) {
  const auto seen = inspect(get(req({scope}, std::nullopt, "{}")));
  BOOST_TEST(seen.code == keyless::errc::credential_unavailable);
  BOOST_TEST(seen.details.hint == "Run: azd auth login --scope " + scope);
  BOOST_TEST(!ran());
}

BOOST_AUTO_TEST_CASE(bad_requests_are_refused_before_azd_runs) {
  BOOST_TEST(inspect(get(req({}))).code == keyless::errc::invalid_argument);
  BOOST_TEST(inspect(get(req({scope, "-x"}))).code == keyless::errc::invalid_argument);
  options.tenant_id = "home";
  BOOST_TEST(inspect(get(req({scope}, "elsewhere"))).code == keyless::errc::authentication_failed);
  BOOST_TEST(!ran());
}

BOOST_AUTO_TEST_SUITE_END()
