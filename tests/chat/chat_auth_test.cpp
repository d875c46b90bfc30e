#include <boost/test/unit_test.hpp>

#include <sstream>

#include "chat_test_support.hpp"
#include "keyless/identity/client_secret_credential.hpp"

namespace keyless::chat_test {
namespace {

using fault = testing::openai_fault;

}  // namespace

BOOST_AUTO_TEST_SUITE(chat_auth)

BOOST_FIXTURE_TEST_CASE(a_401_invalidates_the_token_once_and_retries_once_with_a_fresh_one,
                        chat_fixture) {
  openai::chat_client chat(io.get_executor(), token_options());
  testing::run_sync(io, chat.complete(hello_request()));
  BOOST_REQUIRE(credential->issued().size() == 1u);
  fake.revoke_token(credential->issued()[0]);

  auto reply = testing::run_sync(io, chat.complete(hello_request()));
  BOOST_TEST(reply.choices.size() == 1u);
  BOOST_TEST(credential->calls() == 2);
  BOOST_TEST(fake.requests() == 3u);
  BOOST_TEST(chat.stats().auth_retries == 1u);
  BOOST_TEST(clock->sleepers() == 0u);  // no backoff before an auth retry
  auto seen = fake.authorization_headers();
  auto issued = credential->issued();
  BOOST_REQUIRE(seen.size() == 3u);
  BOOST_REQUIRE(issued.size() == 2u);
  const bool refused_then_fresh =
      seen[1] == "Bearer " + issued[0] && seen[2] == "Bearer " + issued[1];
  BOOST_TEST(refused_then_fresh);
}

BOOST_FIXTURE_TEST_CASE(a_persistent_401_is_reported_after_one_retry_naming_the_wrong_scope,
                        chat_fixture) {
  // The classic mistake: a token for Azure Resource Manager instead of Cognitive Services.
  auto o = options();
  o.auth = provider("https://management.azure.com/.default");
  openai::chat_client chat(io.get_executor(), std::move(o));
  auto e = failure_of(io, chat.complete(hello_request()));
  BOOST_TEST(e.code() == make_error_code(errc::http_status));
  BOOST_TEST(e.details().http_status.value_or(0) == 401);
  BOOST_TEST(contains(e.details().hint, "https://management.azure.com/.default"), e.details().hint);
  BOOST_TEST(contains(e.details().hint, "https://cognitiveservices.azure.com/.default"),
             e.details().hint);
  BOOST_TEST(fake.requests() == 2u);
  BOOST_TEST(credential->calls() == 2);
  BOOST_TEST(chat.stats().auth_retries == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_token_with_the_wrong_audience_gets_the_audience_hint, chat_fixture) {
  credential->set_audience("api://some-other-app");
  openai::chat_client chat(io.get_executor(), token_options());
  auto e = failure_of(io, chat.complete(hello_request()));
  BOOST_TEST(e.details().http_status.value_or(0) == 401);
  BOOST_TEST(contains(e.what(), "audience is incorrect"), e.what());
  BOOST_TEST(contains(e.details().hint, "https://cognitiveservices.azure.com/.default"),
             e.details().hint);
  BOOST_TEST(fake.requests() == 2u);
}

BOOST_FIXTURE_TEST_CASE(a_hundred_concurrent_401s_cause_one_token_refresh, chat_fixture) {
  openai::chat_client chat(io.get_executor(), token_options());
  testing::run_sync(io, chat.complete(hello_request()));
  fake.revoke_token(credential->issued().at(0));

  std::vector<std::shared_ptr<call_result<openai::chat_completion>>> calls;
  for (int i = 0; i < 100; ++i) calls.push_back(spawn_call(io, chat.complete(hello_request())));
  run_until(io, [&] {
    for (const auto& c : calls)
      if (!c->done) return false;
    return true;
  });
  std::size_t failures = 0;
  for (const auto& c : calls) failures += c->failure ? 1 : 0;
  BOOST_TEST(failures == 0u);
  BOOST_TEST(credential->calls() == 2);
  BOOST_TEST(chat.stats().auth_retries == 100u);
  BOOST_TEST(fake.requests() == 201u);
}

BOOST_FIXTURE_TEST_CASE(a_missing_role_is_a_403_naming_the_role_and_the_principal, chat_fixture) {
  fake.set_authorized_object_ids(std::vector<std::string>{"someone-else"});
  openai::chat_client chat(io.get_executor(), token_options());
  auto e = failure_of(io, chat.complete(hello_request()));
  BOOST_TEST(e.details().http_status.value_or(0) == 403);
  BOOST_TEST(e.details().service_code == "PermissionDenied");
  BOOST_TEST(contains(e.details().hint, "Cognitive Services OpenAI User"), e.details().hint);
  BOOST_TEST(contains(e.details().hint, default_object_id), e.details().hint);
  BOOST_TEST(fake.requests() == 1u);
}

BOOST_FIXTURE_TEST_CASE(permission_grace_waits_for_a_role_assignment_to_apply, chat_fixture) {
  fake.enqueue(fault::of(fault::kind::permission_denied), 3);
  auto o = token_options();
  o.permission_grace = 10min;
  openai::chat_client chat(io.get_executor(), std::move(o));
  auto call = spawn_call(io, chat.complete(hello_request()));
  std::uint64_t attempt = 0;
  for (auto delay : {500ms, 1000ms, 2000ms}) wake_after(io, *clock, chat, ++attempt, delay);
  run_until(io, [&] { return call->done; });
  BOOST_TEST(!call->failure);
  BOOST_TEST(fake.requests() == 4u);
}

BOOST_FIXTURE_TEST_CASE(permission_grace_ends_with_the_permission_error, chat_fixture) {
  fake.enqueue(fault::of(fault::kind::permission_denied), 100);
  auto o = token_options();
  o.permission_grace = 20s;
  openai::chat_client chat(io.get_executor(), std::move(o));
  auto call = spawn_call(io, chat.complete(hello_request()));
  // Backoff 0.5, 1, 2, 4, 8, 8 s: the attempt after 23.5 s is past the grace period.
  std::uint64_t attempt = 0;
  for (auto delay : {500ms, 1000ms, 2000ms, 4000ms, 8000ms, 8000ms}) {
    wake_after(io, *clock, chat, ++attempt, delay);
  }
  run_until(io, [&] { return call->done; });
  auto e = call->error();
  BOOST_TEST(e.details().service_code == "PermissionDenied");
  BOOST_TEST(contains(e.details().hint, "10 minutes"), e.details().hint);
  BOOST_TEST(fake.requests() == 7u);
}

BOOST_FIXTURE_TEST_CASE(a_cae_challenge_gets_a_token_carrying_its_claims, chat_fixture) {
  auto f = fault::of(fault::kind::cae_challenge);
  fake.enqueue(f);
  openai::chat_client chat(io.get_executor(), token_options());
  auto reply = testing::run_sync(io, chat.complete(hello_request()));
  BOOST_TEST(reply.choices.size() == 1u);
  // The credential was asked once without claims and once with the decoded claims JSON.
  auto requests = credential->requests();
  BOOST_REQUIRE(requests.size() == 2u);
  BOOST_TEST(!requests[0].claims.has_value());
  BOOST_TEST(requests[1].claims.value_or("") == f.claims);
  BOOST_TEST(requests[1].scopes.at(0) == cognitive_scope);
  // The challenged token went first, the claims token on the single retry, at once.
  auto seen = fake.authorization_headers();
  auto issued = credential->issued();
  BOOST_REQUIRE(seen.size() == 2u);
  BOOST_REQUIRE(issued.size() == 2u);
  const bool challenged_then_claims_token =
      seen[0] == "Bearer " + issued[0] && seen[1] == "Bearer " + issued[1];
  BOOST_TEST(challenged_then_claims_token);
  BOOST_TEST(fake.requests() == 2u);
  BOOST_TEST(chat.stats().auth_retries == 1u);
  BOOST_TEST(clock->sleepers() == 0u);

  // The claims token replaced the cached one: the next call uses it without a fetch.
  testing::run_sync(io, chat.complete(hello_request()));
  BOOST_TEST(credential->calls() == 2);
  seen = fake.authorization_headers();
  BOOST_REQUIRE(seen.size() == 3u);
  const bool next_call_uses_claims_token = seen[2] == "Bearer " + issued[1];
  BOOST_TEST(next_call_uses_claims_token);
}

BOOST_FIXTURE_TEST_CASE(a_second_cae_challenge_is_reported_without_another_retry, chat_fixture) {
  fake.enqueue(fault::of(fault::kind::cae_challenge), 2);
  openai::chat_client chat(io.get_executor(), token_options());
  auto e = failure_of(io, chat.complete(hello_request()));
  BOOST_TEST(e.code() == make_error_code(errc::http_status));
  BOOST_TEST(e.details().http_status.value_or(0) == 401);
  BOOST_TEST(fake.requests() == 2u);
  BOOST_TEST(credential->calls() == 2);
  BOOST_TEST(chat.stats().auth_retries == 1u);
  for (const auto& t : credential->issued()) {
    const bool leaked = contains(e.what(), t) || contains(e.details().hint, t);
    BOOST_TEST(!leaked);
  }
}

BOOST_FIXTURE_TEST_CASE(a_cae_challenge_before_a_stream_is_answered_with_a_claims_token,
                        chat_fixture) {
  auto f = fault::of(fault::kind::cae_challenge);
  f.claims = R"({"access_token":{"xms_cc":{"values":["cp1"]}}})";
  fake.enqueue(f);
  openai::chat_client chat(io.get_executor(), token_options());
  openai::chat_stream s = testing::run_sync(io, chat.stream(hello_request()));
  while (testing::run_sync(io, s.next())) {
  }
  BOOST_TEST(s.accumulated().choices.at(0).message.content.value_or("") ==
             "Hello! How can I help you today?");
  auto requests = credential->requests();
  BOOST_REQUIRE(requests.size() == 2u);
  BOOST_TEST(requests[1].claims.value_or("") == f.claims);
  BOOST_TEST(fake.requests() == 2u);
}

BOOST_FIXTURE_TEST_CASE(an_undecodable_claims_challenge_is_handled_as_a_plain_401, chat_fixture) {
  auto f = fault::of(fault::kind::wrong_audience);
  f.headers.set("WWW-Authenticate", R"(Bearer error="insufficient_claims", claims="%%%")");
  fake.enqueue(f);
  openai::chat_client chat(io.get_executor(), token_options());
  testing::run_sync(io, chat.complete(hello_request()));
  auto requests = credential->requests();
  BOOST_REQUIRE(requests.size() == 2u);
  BOOST_TEST(!requests[1].claims.has_value());  // a fresh token, no claims
  BOOST_TEST(fake.requests() == 2u);
}

BOOST_FIXTURE_TEST_CASE(a_cae_challenge_to_an_api_key_is_not_retried, chat_fixture) {
  fake.enqueue(fault::of(fault::kind::cae_challenge));
  openai::chat_client chat(io.get_executor(), key_options());
  auto e = failure_of(io, chat.complete(hello_request()));
  BOOST_TEST(e.details().http_status.value_or(0) == 401);
  BOOST_TEST(fake.requests() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_refused_api_key_is_not_retried_and_the_hint_names_the_key, chat_fixture) {
  auto o = options();
  o.auth = openai::api_key{"a-key-of-another-resource"};
  openai::chat_client chat(io.get_executor(), std::move(o));
  auto e = failure_of(io, chat.complete(hello_request()));
  BOOST_TEST(e.details().http_status.value_or(0) == 401);
  BOOST_TEST(contains(e.details().hint, "api-key"), e.details().hint);
  BOOST_TEST(fake.requests() == 1u);
}

BOOST_FIXTURE_TEST_CASE(errors_never_contain_the_token_or_the_key, chat_fixture) {
  auto o = options();
  o.auth = openai::api_key{"a-key-of-another-resource"};
  openai::chat_client keyed(io.get_executor(), std::move(o));
  auto e1 = failure_of(io, keyed.complete(hello_request()));
  BOOST_TEST(!contains(e1.what(), "a-key-of-another-resource"));
  BOOST_TEST(!contains(e1.details().hint, "a-key-of-another-resource"));

  credential->set_audience("api://some-other-app");
  openai::chat_client tokened(io.get_executor(), token_options());
  auto e2 = failure_of(io, tokened.complete(hello_request()));
  for (const auto& t : credential->issued()) {
    const bool leaked = contains(e2.what(), t) || contains(e2.details().hint, t);
    BOOST_TEST(!leaked);
  }

  std::ostringstream printed;
  printed << openai::api_key{"printable-secret"};
  BOOST_TEST(printed.str() == "api_key(<redacted>)");
}

BOOST_AUTO_TEST_CASE(tokens_from_the_fake_entra_id_are_accepted_end_to_end) {
  asio::io_context io;
  auto clock = std::make_shared<manual_clock>();
  testing::fake_entra_options eo;
  eo.clock = clock;
  testing::fake_entra entra(io.get_executor(), eo);
  testing::fake_app app;
  app.client_id = "aaaaaaaa-0000-0000-0000-000000000002";
  app.secret = "not-a-real-secret";
  entra.add_app(app);
  testing::fake_openai_options fo;
  fo.clock = clock;
  fo.authorized_object_ids = std::vector<std::string>{app.object_id};
  testing::fake_openai openai_fake(io.get_executor(), fo);

  identity::entra_options options;
  options.authority_host = entra.authority();
  options.environment = identity::environment_map{};
  options.http.tls.use_system_trust_store = false;
  options.http.tls.ca_pem = entra.ca_certificate_pem();
  options.http.proxy = http::proxy_settings{};
  options.clock = clock;
  auto credential = std::make_shared<identity::client_secret_credential>(
      io.get_executor(), "11111111-2222-3333-4444-555555555555", app.client_id, *app.secret,
      options);

  openai::chat_client_options co;
  co.endpoint = openai_fake.endpoint();
  co.deployment = "gpt-4o-mini";
  co.auth = std::shared_ptr<identity::token_credential>(credential);
  co.http.tls.use_system_trust_store = false;
  co.http.tls.ca_pem = openai_fake.ca_certificate_pem();
  co.http.proxy = http::proxy_settings{};
  co.clock = clock;
  co.environment = identity::environment_map{};
  openai::chat_client chat(io.get_executor(), co);
  auto reply = testing::run_sync(io, chat.complete(hello_request()));
  BOOST_TEST(reply.choices.at(0).message.content.value_or("") ==
             "Hello! How can I help you today?");
  BOOST_TEST(entra.tokens_issued() == 1u);
  BOOST_TEST(openai_fake.completions_served() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace keyless::chat_test
