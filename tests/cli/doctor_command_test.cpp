// keyless doctor's diagnosis: a healthy setup, a missing role, a wrong scope, no credential.

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "cli_support.hpp"

namespace keyless::cli_test {
namespace {

const std::vector<std::string> chain_sources{"EnvironmentCredential", "WorkloadIdentityCredential",
                                             "ManagedIdentityCredential", "AzureCliCredential",
                                             "AzureDeveloperCliCredential"};

// The doctor's line for `source` (its first line in the chain listing).
std::string line_of(const std::string& out, const std::string& source) {
  const auto at = out.find("  " + source + " ");
  if (at == std::string::npos) return {};
  return out.substr(at, out.find('\n', at) - at);
}

void check_never_prints_tokens(world& w, const program_result& r) {
  for (const auto& header : w.openai().authorization_headers()) {
    BOOST_CHECK_MESSAGE(!contains(r.out + r.err, header.substr(7)),
                        "keyless doctor printed the bearer token");
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(doctor_command)

BOOST_AUTO_TEST_CASE(healthy_setup_shows_the_winner_its_claims_and_a_working_request) {
  world w;
  const auto r = run_keyless({"doctor"}, w.with_openai(w.service_principal()));
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out << r.err);
  for (const auto& source : chain_sources) BOOST_TEST(!line_of(r.out, source).empty(), source);
  BOOST_TEST(contains(line_of(r.out, "EnvironmentCredential"), "available, used"));
  BOOST_TEST(contains(r.out, "Identity: EnvironmentCredential"));
  BOOST_TEST(contains(r.out, std::string(sp_object_id)));
  BOOST_TEST(contains(r.out, std::string(tenant_id)));
  BOOST_TEST(contains(r.out, "audience:  https://cognitiveservices.azure.com"));
  BOOST_TEST(contains(r.out, "fits 127.0.0.1"));
  BOOST_TEST(contains(r.out, "OK in"));
  BOOST_TEST(w.openai().completions_served() == 1u);
  check_never_prints_tokens(w, r);
}

BOOST_AUTO_TEST_CASE(managed_identity_winner_follows_skipped_sources_with_their_reasons) {
  world w;
  const auto r = run_keyless({"doctor"}, w.with_openai(w.managed_identity()));
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out << r.err);
  BOOST_TEST(contains(line_of(r.out, "EnvironmentCredential"), "skipped"));
  BOOST_TEST(contains(line_of(r.out, "WorkloadIdentityCredential"), "skipped"));
  BOOST_TEST(contains(line_of(r.out, "ManagedIdentityCredential"), "available, used"));
  BOOST_TEST(contains(r.out, "AZURE_CLIENT_SECRET"));  // why the environment was skipped
  BOOST_TEST(contains(r.out, "Identity: ManagedIdentityCredential"));
  check_never_prints_tokens(w, r);
}

BOOST_AUTO_TEST_CASE(missing_role_is_explained_with_the_assignment_and_the_delay) {
  testing::fake_openai_options o;
  o.authorized_object_ids = std::vector<std::string>{"99999999-0000-4000-8000-000000000009"};
  world w(o);
  const auto r = run_keyless({"doctor"}, w.with_openai(w.service_principal()));
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(contains(r.out, "fits 127.0.0.1"));  // the token itself is right
  BOOST_TEST(contains(r.out, "FAILED"));
  BOOST_TEST(contains(r.out, "PermissionDenied"));
  BOOST_TEST(contains(r.out, "Cognitive Services OpenAI User"));
  BOOST_TEST(contains(r.out, "az role assignment create --assignee " + std::string(sp_object_id)));
  BOOST_TEST(contains(r.out, "10 minutes"));
  check_never_prints_tokens(w, r);
}

BOOST_AUTO_TEST_CASE(wrong_scope_is_caught_before_and_explained_after_the_401) {
  world w;
  const auto r = run_keyless({"doctor", "--scope", "https://management.azure.com/.default"},
                             w.with_openai(w.service_principal()));
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(contains(r.out, "audience:  https://management.azure.com"));
  BOOST_TEST(contains(r.out, "does NOT fit"));
  BOOST_TEST(contains(r.out, "401"));
  BOOST_TEST(contains(r.out, "request the token for https://cognitiveservices.azure.com/.default"));
  BOOST_TEST(contains(r.out, "this one was requested for https://management.azure.com/.default"));
  check_never_prints_tokens(w, r);
}

BOOST_AUTO_TEST_CASE(no_credential_lists_every_source_skipped_and_what_to_set_instead) {
  world w;
  const auto r = run_keyless({"doctor"}, w.with_openai(w.base()));
  BOOST_TEST(r.exit_code == 1);
  for (const auto& source : chain_sources) {
    BOOST_TEST(contains(line_of(r.out, source), "skipped"), source);
  }
  BOOST_TEST(contains(r.out, "No identity"));
  BOOST_TEST(contains(r.out, "az is not on PATH"));
  BOOST_TEST(contains(r.out, "AZURE_CLIENT_SECRET"));
  BOOST_TEST(contains(r.out, "AZURE_FEDERATED_TOKEN_FILE"));
  BOOST_TEST(contains(r.out, ".azure"));  // what to mount
  BOOST_TEST(w.openai().requests() == 0u);
}

BOOST_AUTO_TEST_CASE(without_an_endpoint_it_still_diagnoses_the_identity) {
  world w;
  const auto r = run_keyless({"doctor"}, w.service_principal());
  BOOST_TEST(r.exit_code == 0, r.out << r.err);
  BOOST_TEST(contains(r.out, "AZURE_OPENAI_ENDPOINT"));
  BOOST_TEST(contains(r.out, "Identity: EnvironmentCredential"));
  BOOST_TEST(contains(r.out, "skipped, no endpoint given"));
  BOOST_TEST(w.openai().requests() == 0u);
}

BOOST_AUTO_TEST_CASE(an_endpoint_that_drops_every_answer_is_explained_as_a_connection_problem) {
  world w;
  w.openai().enqueue(testing::openai_fault::of(testing::openai_fault::kind::reset_mid_response),
                     100);
  const auto r = run_keyless({"doctor"}, w.with_openai(w.service_principal()));
  BOOST_TEST(r.exit_code == 1, r.out << r.err);
  BOOST_TEST(contains(r.out, "FAILED"));
  BOOST_TEST(contains(r.out, "closed the connection before its answer"));
  BOOST_TEST(w.openai().requests() >= 1u);
  check_never_prints_tokens(w, r);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace keyless::cli_test
