#include <boost/test/unit_test.hpp>

#include <atomic>
#include <future>
#include <thread>

#include <asio/strand.hpp>
#include <asio/use_future.hpp>

#include "chat_test_support.hpp"

namespace keyless::chat_test {
namespace {

// A random (version 4, RFC 4122 variant) UUID in lowercase 8-4-4-4-12 form.
bool is_uuid_v4(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (std::string_view("0123456789abcdef").find(s[i]) == std::string_view::npos) {
      return false;
    }
  }
  return s[14] == '4' && std::string_view("89ab").find(s[19]) != std::string_view::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(chat_client)

BOOST_FIXTURE_TEST_CASE(complete_with_an_api_key_posts_the_dated_url_with_the_key_header,
                        chat_fixture) {
  openai::chat_client chat(io.get_executor(), key_options());
  auto reply = testing::run_sync(io, chat.complete(hello_request()));

  BOOST_TEST(reply.choices.size() == 1u);
  BOOST_TEST(reply.choices[0].message.content.value_or("") == "Hello! How can I help you today?");
  BOOST_TEST(reply.choices[0].finish_reason == "stop");
  BOOST_TEST(reply.object == "chat.completion");
  BOOST_REQUIRE(reply.usage.has_value());
  BOOST_TEST(reply.usage->completion_tokens == 7);  // one per word
  BOOST_TEST(reply.prompt_filter_results.size() == 1u);

  auto r = fake.last_request();
  BOOST_TEST(r.method == "POST");
  BOOST_TEST(r.target == "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21");
  BOOST_TEST(r.body == R"({"messages":[{"role":"user","content":"Hello"}]})");
  BOOST_TEST(r.header("content-type") == "application/json");
  BOOST_TEST(r.header("accept") == "application/json");
  BOOST_TEST(is_uuid_v4(r.header("x-ms-client-request-id")));
  BOOST_TEST(!r.headers.contains("authorization"));
  const bool key_sent = r.header("api-key") == "test-resource-key-0123456789";
  BOOST_TEST(key_sent);
  BOOST_TEST(chat.url() ==
             fake.endpoint() +
                 "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21");
  BOOST_TEST(chat.scope().empty());
}

BOOST_FIXTURE_TEST_CASE(complete_with_a_token_provider_sends_a_bearer_token_and_no_key,
                        chat_fixture) {
  openai::chat_client chat(io.get_executor(), token_options());
  auto reply = testing::run_sync(io, chat.complete(hello_request()));
  BOOST_TEST(reply.choices[0].message.content.value_or("") == "Hello! How can I help you today?");

  auto r = fake.last_request();
  BOOST_TEST(!r.headers.contains("api-key"));
  BOOST_REQUIRE(credential->issued().size() == 1u);
  const bool bearer_sent = r.header("authorization") == "Bearer " + credential->issued()[0];
  BOOST_TEST(bearer_sent);
  BOOST_REQUIRE(credential->requests().size() == 1u);
  BOOST_TEST(credential->requests()[0].scopes ==
             std::vector<std::string>{std::string(cognitive_scope)});
  BOOST_TEST(chat.scope() == cognitive_scope);
}

BOOST_FIXTURE_TEST_CASE(a_token_credential_as_auth_gets_the_scope_derived_from_the_endpoint,
                        chat_fixture) {
  auto o = options();
  o.auth = std::shared_ptr<identity::token_credential>(credential);
  openai::chat_client chat(io.get_executor(), std::move(o));
  testing::run_sync(io, chat.complete(hello_request()));
  BOOST_REQUIRE(credential->requests().size() == 1u);
  // 127.0.0.1 is no Azure host: the public-cloud Cognitive Services scope is the guess.
  BOOST_TEST(credential->requests()[0].scopes ==
             std::vector<std::string>{std::string(cognitive_scope)});
  BOOST_TEST(chat.scope() == cognitive_scope);
}

BOOST_FIXTURE_TEST_CASE(a_cached_token_is_reused_without_asking_the_credential_again,
                        chat_fixture) {
  openai::chat_client chat(io.get_executor(), token_options());
  for (int i = 0; i < 5; ++i) testing::run_sync(io, chat.complete(hello_request()));
  BOOST_TEST(credential->calls() == 1);
  BOOST_TEST(chat.stats().token_waits == 1u);
  BOOST_TEST(chat.stats().calls == 5u);
  BOOST_TEST(chat.stats().attempts == 5u);
  auto headers = fake.authorization_headers();
  BOOST_REQUIRE(headers.size() == 5u);
  bool all_same = true;
  for (const auto& h : headers) all_same = all_same && h == headers.front();
  BOOST_TEST(all_same);
}

BOOST_FIXTURE_TEST_CASE(the_v1_surface_posts_to_openai_v1_with_the_deployment_as_model,
                        chat_fixture) {
  auto o = key_options();
  o.surface = openai::api_surface::v1;
  openai::chat_client chat(io.get_executor(), std::move(o));
  auto reply = testing::run_sync(io, chat.complete(hello_request()));
  BOOST_TEST(reply.choices.size() == 1u);
  auto r = fake.last_request();
  BOOST_TEST(r.target == "/openai/v1/chat/completions");
  BOOST_TEST(r.body == R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]})");
  BOOST_TEST(chat.api_version().empty());
}

BOOST_FIXTURE_TEST_CASE(environment_variables_fill_endpoint_key_and_api_version, chat_fixture) {
  openai::chat_client_options o = options();
  o.endpoint.clear();
  o.environment =
      identity::environment_map{{"AZURE_OPENAI_ENDPOINT", fake.endpoint() + "/"},
                                {"AZURE_OPENAI_API_KEY", "test-resource-key-0123456789"},
                                {"OPENAI_API_VERSION", "2025-01-01-preview"}};
  openai::chat_client chat(io.get_executor(), std::move(o));
  testing::run_sync(io, chat.complete(hello_request()));
  auto r = fake.last_request();
  BOOST_TEST(r.target ==
             "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2025-01-01-preview");
  const bool key_sent = r.header("api-key") == "test-resource-key-0123456789";
  BOOST_TEST(key_sent);
}

BOOST_FIXTURE_TEST_CASE(explicit_options_win_over_the_environment, chat_fixture) {
  openai::chat_client_options o = token_options();
  o.api_version = "2024-06-01";
  o.environment = identity::environment_map{{"AZURE_OPENAI_ENDPOINT", "https://elsewhere.invalid"},
                                            {"AZURE_OPENAI_API_KEY", "not-this-key"},
                                            {"OPENAI_API_VERSION", "2023-05-15"}};
  openai::chat_client chat(io.get_executor(), std::move(o));
  testing::run_sync(io, chat.complete(hello_request()));
  auto r = fake.last_request();
  BOOST_TEST(r.query_param("api-version").value_or("") == "2024-06-01");
  BOOST_TEST(!r.headers.contains("api-key"));
  BOOST_TEST(r.headers.contains("authorization"));
}

BOOST_FIXTURE_TEST_CASE(unusable_options_are_refused_with_a_message_naming_the_problem,
                        chat_fixture) {
  auto expect_invalid = [&](openai::chat_client_options o, std::string_view part) {
    try {
      openai::chat_client chat(io.get_executor(), std::move(o));
      BOOST_ERROR("accepted options that should fail with: " << part);
    } catch (const keyless::error& e) {
      BOOST_TEST(e.code() == make_error_code(errc::invalid_argument));
      BOOST_TEST(contains(e.what(), part), e.what());
    }
  };
  auto o = key_options();
  o.endpoint.clear();
  expect_invalid(o, "AZURE_OPENAI_ENDPOINT");
  o = key_options();
  o.deployment.clear();
  expect_invalid(o, "deployment");
  o = options();  // no auth, no AZURE_OPENAI_API_KEY
  expect_invalid(o, "bearer_token_provider");
  o = key_options();
  o.endpoint = "http://my-resource.openai.azure.com";
  expect_invalid(o, "https");
  o = key_options();
  o.endpoint = fake.endpoint() + "/openai/deployments/gpt-4o-mini";
  expect_invalid(o, "resource URL");
  o = key_options();
  o.auth = openai::api_key{"line\nbreak"};
  expect_invalid(o, "control characters");
  o = key_options();
  o.auth = std::shared_ptr<identity::token_credential>();
  expect_invalid(o, "null");
  o = key_options();
  o.max_retries = -1;
  expect_invalid(o, "max_retries");
}

BOOST_FIXTURE_TEST_CASE(an_unknown_deployment_fails_with_404_and_the_deployment_hint,
                        chat_fixture) {
  auto o = key_options();
  o.deployment = "gpt-4o";
  openai::chat_client chat(io.get_executor(), std::move(o));
  auto e = failure_of(io, chat.complete(hello_request()));
  BOOST_TEST(e.code() == make_error_code(errc::http_status));
  BOOST_TEST(e.details().http_status.value_or(0) == 404);
  BOOST_TEST(e.details().service_code == "DeploymentNotFound");
  BOOST_TEST(contains(e.details().hint, "\"gpt-4o\""), e.details().hint);
  BOOST_TEST(!e.details().request_id.empty());
  BOOST_TEST(fake.requests() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_request_that_cannot_be_written_fails_before_anything_is_sent,
                        chat_fixture) {
  openai::chat_client chat(io.get_executor(), token_options());
  auto e = failure_of(io, chat.complete(openai::chat_request{}));
  BOOST_TEST(e.code() == make_error_code(errc::invalid_argument));
  BOOST_TEST(fake.requests() == 0u);
  BOOST_TEST(credential->calls() == 0);
}

BOOST_FIXTURE_TEST_CASE(a_reply_that_is_not_json_is_a_clear_malformed_response, chat_fixture) {
  fake.enqueue(testing::openai_fault::of(testing::openai_fault::kind::wrong_content_type));
  openai::chat_client chat(io.get_executor(), key_options());
  auto e = failure_of(io, chat.complete(hello_request()));
  BOOST_TEST(e.code() == make_error_code(errc::malformed_response));
  BOOST_TEST(contains(e.what(), "Content-Type 'text/html'"), e.what());
  BOOST_TEST(contains(e.what(), "Welcome to the gateway"), e.what());
  BOOST_TEST(fake.requests() == 1u);
}

BOOST_FIXTURE_TEST_CASE(callbacks_and_futures_receive_results_through_completion_tokens,
                        chat_fixture) {
  openai::chat_client chat(io.get_executor(), key_options());
  std::optional<std::string> content;
  std::exception_ptr failure;
  chat.complete(hello_request(), [&](std::exception_ptr e, openai::chat_completion c) {
    failure = e;
    if (!e) content = c.choices.at(0).message.content.value_or("");
  });
  run_until(io, [&] { return content.has_value() || failure != nullptr; });
  BOOST_TEST(!failure);
  BOOST_TEST(content.value_or("") == "Hello! How can I help you today?");

  // A blocking caller: the future completes while another thread runs the io_context.
  auto future = chat.async_complete(hello_request(), asio::use_future);
  io.restart();
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  const auto status = future.wait_for(std::chrono::seconds(30));
  work.reset();
  io.stop();
  runner.join();
  BOOST_REQUIRE(status == std::future_status::ready);
  BOOST_TEST(future.get().choices.at(0).finish_reason == "stop");
}

BOOST_FIXTURE_TEST_CASE(the_readme_snippet_compiles_as_written_and_runs, chat_fixture) {
  // Stands in for keyless::default_azure_credential(...); on the system clock, like the
  // provider's private cache below.
  auto credential = std::make_shared<jwt_credential>(io.get_executor(), keyless::clock::system());
  auto tokens =
      keyless::bearer_token_provider(credential, "https://cognitiveservices.azure.com/.default");
  keyless::openai::chat_client chat(io.get_executor(), {
                                                           .endpoint = fake.endpoint(),
                                                           .deployment = "gpt-4o-mini",
                                                           .auth = tokens,
                                                           .http = options().http,
                                                       });
  keyless::openai::chat_client with_key(
      io.get_executor(), {
                             .endpoint = fake.endpoint(),
                             .deployment = "gpt-4o-mini",
                             .auth = keyless::api_key{"test-resource-key-0123456789"},
                             .http = options().http,
                         });
  auto run = [&]() -> asio::awaitable<std::string> {
    // The README writes the request inside the co_await operand, which clang accepts; g++ 12
    // rejects any braced std::initializer_list there ("array used as initializer"), so the
    // request is built in a named local first.
    keyless::openai::chat_request hello{.messages = {{"user", "Hello"}}};
    auto reply = co_await chat.complete(hello);
    auto keyed = co_await with_key.complete(hello);
    co_return reply.choices.at(0).message.content.value_or("") + "|" +
        keyed.choices.at(0).message.content.value_or("");
  };
  BOOST_TEST(testing::run_sync(io, run) ==
             "Hello! How can I help you today?|Hello! How can I help you today?");
}

BOOST_AUTO_TEST_CASE(concurrent_calls_on_four_threads_share_one_client_and_one_token) {
  asio::io_context io;
  auto clock = std::make_shared<manual_clock>();
  testing::fake_openai_options fo;
  fo.clock = clock;
  // The fake's sockets stay on one strand; the client runs on all four threads.
  testing::fake_openai fake(asio::make_strand(io), fo);
  auto credential = std::make_shared<jwt_credential>(io.get_executor(), clock);
  identity::token_cache_options cache;
  cache.clock = clock;
  auto tokens = identity::bearer_token_provider(
      std::make_shared<identity::token_cache>(credential, cache), std::string(cognitive_scope));

  openai::chat_client_options o = client_options(fake, clock);
  o.auth = tokens;
  openai::chat_client chat(io.get_executor(), std::move(o));

  constexpr int calls = 200;
  std::atomic<int> succeeded{0};
  std::atomic<int> finished{0};
  std::promise<void> all_done;
  for (int i = 0; i < calls; ++i) {
    chat.async_complete(hello_request(), [&](std::exception_ptr e, openai::chat_completion c) {
      if (!e && c.choices.size() == 1) succeeded.fetch_add(1);
      if (finished.fetch_add(1) + 1 == calls) all_done.set_value();
    });
  }
  auto work = asio::make_work_guard(io);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&] { io.run(); });
  const auto status = all_done.get_future().wait_for(std::chrono::seconds(60));
  work.reset();
  fake.server().stop();
  io.stop();
  for (auto& t : threads) t.join();
  BOOST_REQUIRE(status == std::future_status::ready);
  BOOST_TEST(succeeded.load() == calls);
  BOOST_TEST(credential->calls() == 1);
  BOOST_TEST(fake.completions_served() == static_cast<std::size_t>(calls));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace keyless::chat_test
