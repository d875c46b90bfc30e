#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <string>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

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

namespace imds_source {

constexpr const char* scope = "https://cognitiveservices.azure.com/.default";
constexpr const char* resource = "https://cognitiveservices.azure.com";

const fake_mi_identity user_identity{"0aa1b2c3-0000-4000-8000-0000000000u1",
                                     "0aa1b2c3-0000-4000-8000-0000000000o1",
                                     "/subscriptions/s/resourcegroups/g/providers/"
                                     "Microsoft.ManagedIdentity/userAssignedIdentities/app-id"};

struct fixture {
  asio::io_context io;
  std::shared_ptr<keyless::manual_clock> clock = std::make_shared<keyless::manual_clock>();
  fake_managed_identity imds{io.get_executor(), [this] {
                               fake_managed_identity_options o;
                               o.kind = fake_mi_kind::imds;
                               o.clock = clock;
                               o.user_assigned = {user_identity};
                               return o;
                             }()};

  managed_identity_options options(managed_identity_id id = {}) {
    managed_identity_options o;
    o.identity = std::move(id);
    o.environment = environment_map{};
    o.imds_endpoint = imds.host();
    o.arc_agent_files = {};
    o.http = trusting("");
    o.clock = clock;
    return o;
  }

  access_token get(managed_identity_credential& c, token_request req = {{scope}, {}, {}, false}) {
    return run_manual(io, *clock, c.get_token(std::move(req)));
  }
  failure fail(managed_identity_credential& c, token_request req = {{scope}, {}, {}, false}) {
    return expect_failure(io, *clock, c.get_token(std::move(req)));
  }
  // A probe that found no endpoint: unavailable (so a chain moves on), naming the probe's
  // budget, within `limit` of wall-clock time.
  failure expect_no_endpoint(managed_identity_credential& c, std::string_view budget,
                             std::chrono::seconds limit) {
    const auto wall = std::chrono::steady_clock::now();
    auto f = fail(c);
    BOOST_TEST(f.code == errc::credential_unavailable);
    BOOST_TEST(contains(f.message, "no managed identity endpoint responded"));
    BOOST_TEST(contains(f.message, budget));
    BOOST_TEST((std::chrono::steady_clock::now() - wall < limit));
    return f;
  }
  std::chrono::milliseconds elapsed_since(keyless::clock::time_point start) const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock->now() - start);
  }
};

}  // namespace imds_source

BOOST_AUTO_TEST_SUITE(imds_source)

BOOST_FIXTURE_TEST_CASE(the_system_assigned_request_is_a_get_with_the_metadata_header, fixture) {
  managed_identity_credential cred(io.get_executor(), options());
  BOOST_TEST(cred.name() == "ManagedIdentityCredential");
  BOOST_TEST((cred.source() == managed_identity_source::imds));
  const auto start = clock->now();
  auto token = get(cred);

  BOOST_REQUIRE_EQUAL(imds.token_requests(), 1u);
  auto request = imds.last_request();
  BOOST_TEST(request.method == "GET");
  BOOST_TEST(request.target ==
             "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2F"
             "cognitiveservices.azure.com");
  BOOST_TEST(request.header("Metadata") == "true");
  BOOST_TEST(request.body.empty());
  // Tokens living 2 hours or more refresh at half-life.
  BOOST_TEST((token.expires_on() == start + std::chrono::seconds(86399)));
  BOOST_TEST((token.refresh_on() == start + std::chrono::seconds(43199)));
  auto claims = keyless::identity::read_token_claims(token.token());
  BOOST_REQUIRE(claims.has_value());
  BOOST_TEST(claims->audience == resource);
}

BOOST_FIXTURE_TEST_CASE(short_lived_tokens_keep_refresh_on_at_expiry, fixture) {
  imds.set_expires_in(std::chrono::seconds(3599));
  managed_identity_credential cred(io.get_executor(), options());
  auto token = get(cred);
  BOOST_TEST((token.refresh_on() == token.expires_on()));
}

BOOST_FIXTURE_TEST_CASE(a_user_assigned_identity_is_selected_by_each_id_kind, fixture) {
  struct kind_case {
    managed_identity_id id;
    std::string parameter;
  };
  const kind_case cases[] = {
      {managed_identity_id::from_client_id(user_identity.client_id), "client_id"},
      {managed_identity_id::from_object_id(user_identity.object_id), "object_id"},
      {managed_identity_id::from_resource_id(user_identity.resource_id), "msi_res_id"},
  };
  for (const auto& c : cases) {
    managed_identity_credential cred(io.get_executor(), options(c.id));
    auto token = get(cred);
    auto request = imds.last_request();
    BOOST_TEST(request.query_param(c.parameter).value_or("") == c.id.value);
    BOOST_TEST(request.query_param("resource").value_or("") == resource);
    BOOST_TEST(keyless::identity::read_token_claims(token.token())->object_id ==
               user_identity.object_id);
  }
}

BOOST_FIXTURE_TEST_CASE(the_pod_identity_host_variable_moves_the_endpoint, fixture) {
  auto o = options();
  o.imds_endpoint.clear();
  o.environment = environment_map{{"AZURE_POD_IDENTITY_AUTHORITY_HOST", imds.host() + "/ignored"}};
  managed_identity_credential cred(io.get_executor(), o);
  get(cred);
  BOOST_TEST(imds.last_request().path() == "/metadata/identity/oauth2/token");
}

BOOST_FIXTURE_TEST_CASE(a_gone_imds_is_retried_for_seventy_seconds_of_clock_time, fixture) {
  const auto start = clock->now();
  imds.fail_until(start + std::chrono::seconds(70), 410, R"({"error":"gone"})");
  managed_identity_credential cred(io.get_executor(), options());
  auto token = get(cred);
  BOOST_TEST(!token.empty());
  BOOST_TEST((elapsed_since(start) >= std::chrono::seconds(70)));
  BOOST_TEST((elapsed_since(start) <= std::chrono::seconds(80)));
  // Backoff 1, 2, 4, 8, then every 10 s: attempts at 0, 1, 3, 7, 15, 25, ..., 65, 75.
  BOOST_TEST(imds.token_requests() == 11u);
  BOOST_TEST(imds.tokens_issued() == 1u);
}

BOOST_FIXTURE_TEST_CASE(an_imds_that_stays_gone_fails_after_the_seventy_seconds, fixture) {
  const auto start = clock->now();
  imds.fail_until(start + std::chrono::hours(1), 410);
  managed_identity_credential cred(io.get_executor(), options());
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::http_status);
  BOOST_TEST(f.details.http_status.value_or(0) == 410);
  BOOST_TEST(contains(f.message, "IMDS answered HTTP 410"));
  BOOST_TEST((elapsed_since(start) >= std::chrono::seconds(70)));
  BOOST_TEST(imds.tokens_issued() == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_404_is_retried_with_backoff, fixture) {
  imds.enqueue(scripted_response::json(404, R"({"error":"not_found"})"), 2);
  managed_identity_credential cred(io.get_executor(), options());
  const auto start = clock->now();
  auto token = get(cred);
  BOOST_TEST(!token.empty());
  BOOST_TEST(imds.token_requests() == 3u);
  BOOST_TEST(elapsed_since(start).count() == 3000);
}

BOOST_FIXTURE_TEST_CASE(a_429_waits_for_retry_after, fixture) {
  header_map h{{"Retry-After", "3"}};
  imds.enqueue(scripted_response::json(429, R"({"error":"throttled"})", h));
  managed_identity_credential cred(io.get_executor(), options());
  const auto start = clock->now();
  get(cred);
  BOOST_TEST(elapsed_since(start).count() == 3000);
}

BOOST_FIXTURE_TEST_CASE(server_errors_are_retried_five_times_then_reported, fixture) {
  imds.enqueue(scripted_response::json(503, R"({"error":"unavailable"})"), 10);
  managed_identity_credential cred(io.get_executor(), options());
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::http_status);
  BOOST_TEST(f.details.http_status.value_or(0) == 503);
  BOOST_TEST(contains(f.message, "6 attempts"));
  BOOST_TEST(imds.token_requests() == 6u);
}

BOOST_FIXTURE_TEST_CASE(an_identity_that_is_not_assigned_is_unavailable_with_a_hint, fixture) {
  managed_identity_credential cred(io.get_executor(),
                                   options(managed_identity_id::from_client_id("not-attached")));
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::credential_unavailable);
  BOOST_TEST(f.details.http_status.value_or(0) == 400);
  BOOST_TEST(contains(f.message, "client id 'not-attached'"));
  BOOST_TEST(contains(f.message, "Identity not found"));
  BOOST_TEST(contains(f.details.hint, "attach"));
  BOOST_TEST(imds.token_requests() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_resource_without_system_identity_is_unavailable, fixture) {
  fake_managed_identity_options fo;
  fo.clock = clock;
  fo.system_assigned = false;
  fake_managed_identity bare(io.get_executor(), fo);
  auto o = options();
  o.imds_endpoint = bare.host();
  managed_identity_credential cred(io.get_executor(), o);
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::credential_unavailable);
  BOOST_TEST(contains(f.details.hint, "system-assigned"));
}

BOOST_FIXTURE_TEST_CASE(a_403_unreachable_network_is_unavailable, fixture) {
  imds.enqueue(scripted_response::text(
      403, "A socket operation was attempted to an unreachable network. (169.254.169.254:80)"));
  managed_identity_credential cred(io.get_executor(), options());
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::credential_unavailable);
  BOOST_TEST(contains(f.details.hint, "Docker"));
}

BOOST_FIXTURE_TEST_CASE(other_refusals_are_authentication_failures, fixture) {
  imds.enqueue(scripted_response::json(
      403, R"({"error":"forbidden","error_description":"Access to the identity is denied"})"));
  managed_identity_credential cred(io.get_executor(), options());
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::authentication_failed);
  BOOST_TEST(contains(f.message, "Access to the identity is denied"));
}

BOOST_FIXTURE_TEST_CASE(the_probe_reports_a_closed_port_as_unavailable_quickly, fixture) {
  auto o = options();
  o.imds_endpoint = "http://127.0.0.1:" + std::to_string(closed_port());
  o.probe = true;
  managed_identity_credential cred(io.get_executor(), o);
  auto f = expect_no_endpoint(cred, "1000 ms", std::chrono::seconds(5));
  BOOST_TEST(!f.details.hint.empty());
  BOOST_TEST(clock->sleepers() == 0u);
  // Until an endpoint answers, every call probes again (no retries, no long waits).
  BOOST_TEST(fail(cred).code == errc::credential_unavailable);
}

BOOST_FIXTURE_TEST_CASE(the_probe_reports_an_endpoint_that_never_answers_as_unavailable, fixture) {
  imds.enqueue(scripted_response::stall());  // accepts the connection, then silence
  auto o = options();
  o.probe = true;
  o.probe_timeout = std::chrono::milliseconds(300);
  managed_identity_credential cred(io.get_executor(), o);
  // Bounded by the probe timeout, not the 60 s idle timeout (generous for a loaded machine).
  expect_no_endpoint(cred, "300 ms", std::chrono::seconds(10));
  BOOST_TEST(imds.token_requests() == 1u);
}

BOOST_FIXTURE_TEST_CASE(without_the_probe_a_closed_port_is_retried_then_a_connection_error,
                        fixture) {
  auto o = options();
  o.imds_endpoint = "http://127.0.0.1:" + std::to_string(closed_port());
  managed_identity_credential cred(io.get_executor(), o);
  const auto start = clock->now();
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::connection_failed);
  BOOST_TEST(contains(f.message, "6 attempts"));
  BOOST_TEST(elapsed_since(start).count() == 1000 + 2000 + 4000 + 8000 + 10000);
}

BOOST_FIXTURE_TEST_CASE(after_a_successful_probe_the_credential_behaves_normally, fixture) {
  auto o = options();
  o.probe = true;
  managed_identity_credential cred(io.get_executor(), o);
  imds.enqueue(scripted_response::json(410, "{}"));  // a response: the probe has succeeded
  get(cred);
  BOOST_TEST(imds.token_requests() == 2u);
  imds.server().stop();
  auto f = fail(cred);
  BOOST_TEST(f.code == errc::connection_failed);  // retried, not "unavailable"
}

BOOST_FIXTURE_TEST_CASE(malformed_truncated_and_empty_bodies_are_malformed_responses, fixture) {
  managed_identity_credential cred(io.get_executor(), options());
  const std::string token_text = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ4In0.c2ln";
  const std::string bodies[] = {
      R"({"access_token":")" + token_text + R"(","expires_in":"soon"})",
      R"({"access_token":")" + token_text + R"(","expires_in":"3599")",
      "",
      "<html>not json</html>",
      R"({"expires_in":"3599"})",
  };
  for (const auto& body : bodies) {
    imds.enqueue(scripted_response::json(200, body));
    auto f = fail(cred);
    BOOST_TEST(f.code == errc::malformed_response);
    BOOST_TEST(contains(f.message, "ManagedIdentityCredential: IMDS token response"));
    BOOST_TEST(!contains(f.message, token_text));
  }
}

BOOST_FIXTURE_TEST_CASE(exactly_one_scope_is_required, fixture) {
  managed_identity_credential cred(io.get_executor(), options());
  BOOST_TEST(fail(cred, {}).code == errc::invalid_argument);
  auto f = fail(cred, {{scope, "https://management.azure.com/.default"}, {}, {}, false});
  BOOST_TEST(f.code == errc::invalid_argument);
  BOOST_TEST(contains(f.message, "exactly one scope"));
  BOOST_TEST(imds.token_requests() == 0u);
}

BOOST_FIXTURE_TEST_CASE(identity_requests_never_go_through_a_proxy, fixture) {
  auto o = options();
  keyless::http::proxy_settings proxy;
  proxy.http_proxy = "http://127.0.0.1:" + std::to_string(closed_port());
  proxy.https_proxy = proxy.http_proxy;
  o.http.proxy = proxy;
  managed_identity_credential cred(io.get_executor(), o);
  auto token = get(cred);
  BOOST_TEST(!token.empty());
  BOOST_TEST(imds.last_request().target.rfind("/metadata/", 0) == 0u);  // origin-form, direct
}

BOOST_FIXTURE_TEST_CASE(a_requested_tenant_is_ignored, fixture) {
  managed_identity_credential cred(io.get_executor(), options());
  auto token = get(cred, {{scope}, std::string("another-tenant"), {}, false});
  BOOST_TEST(!token.empty());
  BOOST_TEST(!imds.last_request().query_param("tenant").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
