// keyless token against each fake source, compared field by field with the shape of
// `az account get-access-token --output json`. Outputs carry tokens: assertions compare them
// and never print them.

#include <boost/test/unit_test.hpp>

#include <time.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include "cli_support.hpp"
#include "keyless/identity/token_claims.hpp"

namespace keyless::cli_test {
namespace {

// What az prints, as keys in knack's sorted order, plus keyless's `source`. az 2.45 also
// prints `subscription`, except with --tenant; keyless has no subscription to name.
const std::vector<std::string> az_keys{"accessToken", "expiresOn", "expires_on",
                                       "source",      "tenant",    "tokenType"};

struct az_token {
  std::vector<std::string> keys;  // in output order
  std::string access_token;
  std::string expires_on_text;
  std::int64_t expires_on = 0;
  std::string source;
  std::string tenant;
  std::string token_type;
};

az_token parse(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::object object;
  if (parser.parse(padded).get_object().get(object)) {
    BOOST_FAIL("keyless token did not print a JSON object");
  }
  az_token t;
  for (auto field : object) {
    const std::string key(field.key);
    t.keys.push_back(key);
    std::string_view text;
    if (key == "expires_on") {
      // az prints an integer here, not a string.
      BOOST_TEST_REQUIRE(field.value.is_int64());
      t.expires_on = field.value.get_int64().value();
      continue;
    }
    BOOST_TEST_REQUIRE(field.value.is_string(), key << " is not a string");
    text = field.value.get_string().value();
    if (key == "accessToken") t.access_token = text;
    if (key == "expiresOn") t.expires_on_text = text;
    if (key == "source") t.source = text;
    if (key == "tenant") t.tenant = text;
    if (key == "tokenType") t.token_type = text;
  }
  return t;
}

// az's expiresOn for `epoch` in a zone `offset` east of UTC, computed independently of keyless.
std::string local_text(std::int64_t epoch, std::chrono::seconds offset) {
  const time_t shifted = static_cast<time_t>(epoch + offset.count());
  struct tm utc {};
  gmtime_r(&shifted, &utc);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.000000", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
}

std::string percent_decoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::int64_t now_epoch() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void check_az_shape(const az_token& t) {
  BOOST_TEST(t.keys == az_keys, boost::test_tools::per_element());
  BOOST_TEST(t.token_type == "Bearer");
  BOOST_TEST(!t.access_token.empty());
  BOOST_TEST(t.expires_on_text == local_text(t.expires_on, std::chrono::seconds(0)));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(token_command)

BOOST_AUTO_TEST_CASE(environment_service_principal_token_has_the_az_shape_in_local_time) {
  world w;
  auto env = w.service_principal();
  env["TZ"] = "IST-5:30";  // POSIX form: needs no zoneinfo files
  const auto before = now_epoch();
  const auto r = run_keyless({"token"}, env);
  const auto after = now_epoch();
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  BOOST_TEST(r.err.empty());
  const auto t = parse(r.out);
  BOOST_TEST(t.keys == az_keys, boost::test_tools::per_element());
  BOOST_TEST(t.token_type == "Bearer");
  BOOST_TEST(t.source == "EnvironmentCredential");
  BOOST_TEST(t.tenant == tenant_id);
  BOOST_TEST(t.expires_on >= before + 3599 - 1);
  BOOST_TEST(t.expires_on <= after + 3599 + 1);
  BOOST_TEST(t.expires_on_text ==
             local_text(t.expires_on, std::chrono::hours(5) + std::chrono::minutes(30)));
  const auto claims = identity::read_token_claims(t.access_token);
  BOOST_TEST_REQUIRE(claims.has_value());
  BOOST_TEST(claims->audience == "https://cognitiveservices.azure.com");
  BOOST_TEST(claims->object_id == sp_object_id);
  BOOST_TEST(w.entra().tokens_issued() == 1u);
  // Two-space indent, one key per line, as az prints it.
  BOOST_TEST(r.out.starts_with("{\n  \"accessToken\": \""));
  BOOST_TEST(r.out.ends_with("\"\n}\n"));
}

BOOST_AUTO_TEST_CASE(workload_identity_token_comes_from_the_federated_token_file) {
  world w;
  const auto r = run_keyless({"token", "--credential", "workload"}, w.workload_identity());
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  const auto t = parse(r.out);
  check_az_shape(t);
  BOOST_TEST(t.source == "WorkloadIdentityCredential");
  BOOST_TEST(t.tenant == tenant_id);
  const auto claims = identity::read_token_claims(t.access_token);
  BOOST_TEST_REQUIRE(claims.has_value());
  BOOST_TEST(claims->object_id == wi_object_id);
  BOOST_TEST(contains(w.entra().last_request().body, "client_assertion="));
}

BOOST_AUTO_TEST_CASE(managed_identity_token_for_a_resource_uses_resource_slash_default) {
  world w;
  const auto r =
      run_keyless({"token", "--resource", "https://management.azure.com/"}, w.managed_identity());
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  const auto t = parse(r.out);
  check_az_shape(t);
  BOOST_TEST(t.source == "ManagedIdentityCredential");
  BOOST_TEST(t.tenant == tenant_id);
  BOOST_TEST(w.imds().tokens_issued() == 1u);
  // R → scope R/.default → IMDS resource R again, trailing slash kept (as az does).
  const auto target = percent_decoded(w.imds().last_request().target) + "&";
  BOOST_TEST(contains(target, "resource=https://management.azure.com/&"), target);
  const auto claims = identity::read_token_claims(t.access_token);
  BOOST_TEST_REQUIRE(claims.has_value());
  BOOST_TEST(claims->audience.starts_with("https://management.azure.com"));
}

BOOST_AUTO_TEST_CASE(named_credential_wins_over_a_configured_environment) {
  world w;
  auto env = w.service_principal();
  env["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = w.imds().host();
  const auto r = run_keyless({"token", "--credential", "managed"}, env);
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  const auto t = parse(r.out);
  BOOST_TEST(t.source == "ManagedIdentityCredential");
  BOOST_TEST(w.entra().token_requests() == 0u);
  // AZURE_CLIENT_ID names the user-assigned identity, as in the chain.
  const auto claims = identity::read_token_claims(t.access_token);
  BOOST_TEST_REQUIRE(claims.has_value());
  BOOST_TEST(claims->object_id == ua_object_id);
}

BOOST_AUTO_TEST_CASE(azure_cli_token_keeps_az_expiry_and_runs_az_with_the_resource) {
  world w;
  temp_dir record;
  const auto token = make_token("https://cognitiveservices.azure.com", sp_object_id);
  auto env = w.fake_cli();
  env["FAKE_CLI_RECORD_DIR"] = record.path().string();
  env["FAKE_CLI_STDOUT"] = fmt::format(
      R"({{"accessToken": "{}", "expiresOn": "2030-01-01 00:00:00.000000", "expires_on": 1893456000, "subscription": "sub", "tenant": "{}", "tokenType": "Bearer"}})",
      token, tenant_id);
  const auto r = run_keyless({"token", "--credential", "cli"}, env);
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  const auto t = parse(r.out);
  check_az_shape(t);
  BOOST_TEST(t.source == "AzureCliCredential");
  BOOST_CHECK_MESSAGE(t.access_token == token, "the token differs from the one az printed");
  BOOST_TEST(t.expires_on == 1893456000);
  BOOST_TEST(t.expires_on_text == "2030-01-01 00:00:00.000000");
  BOOST_TEST(t.tenant == tenant_id);
  std::ifstream argv_file(record.path() / "argv", std::ios::binary);
  const std::string argv((std::istreambuf_iterator<char>(argv_file)),
                         std::istreambuf_iterator<char>());
  BOOST_TEST(contains(
      argv, std::string("--resource") + '\0' + "https://cognitiveservices.azure.com" + '\0'));
}

BOOST_AUTO_TEST_CASE(azure_developer_cli_token_reads_utc_expiry) {
  world w;
  const auto token = make_token("https://cognitiveservices.azure.com", sp_object_id);
  auto env = w.fake_cli();
  env["FAKE_CLI_STDOUT"] =
      fmt::format(R"({{"token": "{}", "expiresOn": "2030-01-01T00:00:00Z"}})", token);
  const auto r = run_keyless({"token", "--credential", "azd"}, env);
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  const auto t = parse(r.out);
  check_az_shape(t);
  BOOST_TEST(t.source == "AzureDeveloperCliCredential");
  BOOST_TEST(t.expires_on == 1893456000);
  BOOST_TEST(t.tenant == tenant_id);
}

BOOST_AUTO_TEST_CASE(tenant_flag_asks_that_tenant_when_the_service_principal_allows_it) {
  world w;
  const std::string other = "0d0d0d0d-1111-4222-8333-444444444444";
  auto env = w.service_principal();
  const auto refused = run_keyless({"token", "--tenant", other}, env);
  BOOST_TEST(refused.exit_code == 1);
  BOOST_TEST(contains(refused.err, other), refused.err);
  BOOST_TEST(w.entra().token_requests() == 0u);

  env["AZURE_ADDITIONALLY_ALLOWED_TENANTS"] = other;
  const auto r = run_keyless({"token", "--tenant", other}, env);
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  const auto t = parse(r.out);
  check_az_shape(t);
  BOOST_TEST(t.tenant == other);
  BOOST_TEST(contains(w.entra().last_request().target, other));
}

BOOST_AUTO_TEST_CASE(tsv_output_prints_the_values_in_key_order_on_one_line) {
  world w;
  const auto r = run_keyless({"token", "--output", "tsv"}, w.service_principal());
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  BOOST_TEST_REQUIRE(r.out.ends_with("\n"));
  std::vector<std::string> columns;
  std::string line = r.out.substr(0, r.out.size() - 1);
  BOOST_TEST(!contains(line, "\n"));
  std::size_t start = 0;
  for (;;) {
    const auto tab = line.find('\t', start);
    columns.push_back(line.substr(start, tab - start));
    if (tab == std::string::npos) break;
    start = tab + 1;
  }
  BOOST_TEST_REQUIRE(columns.size() == 6u);
  BOOST_TEST(columns[1] == local_text(std::stoll(columns[2]), std::chrono::seconds(0)));
  BOOST_TEST(columns[3] == "EnvironmentCredential");
  BOOST_TEST(columns[4] == tenant_id);
  BOOST_TEST(columns[5] == "Bearer");
  BOOST_TEST(identity::read_token_claims(columns[0]).has_value());
}

BOOST_AUTO_TEST_CASE(no_credential_fails_with_every_source_explained_on_stderr) {
  world w;
  const auto r = run_keyless({"token"}, w.base());
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.out.empty());
  for (const char* source :
       {"EnvironmentCredential", "WorkloadIdentityCredential", "ManagedIdentityCredential",
        "AzureCliCredential", "AzureDeveloperCliCredential"}) {
    BOOST_TEST(contains(r.err, source), source);
  }
  BOOST_TEST(contains(r.err, "Most likely fix"));
}

BOOST_AUTO_TEST_CASE(a_refused_secret_stops_the_chain_and_is_not_printed) {
  world w;
  auto env = w.service_principal();
  env["AZURE_CLIENT_SECRET"] = "wrong-secret-do-not-print";
  const auto r = run_keyless({"token"}, env);
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.out.empty());
  BOOST_TEST(contains(r.err, "AADSTS7000215"));
  BOOST_TEST(contains(r.err, "EnvironmentCredential"));
  BOOST_TEST(!contains(r.err, "wrong-secret-do-not-print"));
}

BOOST_AUTO_TEST_CASE(a_single_named_source_that_is_unavailable_fails) {
  world w;
  const auto r = run_keyless({"token", "--credential", "environment"}, w.managed_identity());
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(contains(r.err, "EnvironmentCredential"));
  BOOST_TEST(!contains(r.err, "ManagedIdentityCredential"));
  BOOST_TEST(w.imds().token_requests() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace keyless::cli_test
