// keyless chat against the fake Azure OpenAI: keyless through the default chain, with an API
// key, streamed; and its errors. Keys and tokens are compared, never printed.

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "cli_support.hpp"

namespace keyless::cli_test {
namespace {

constexpr std::string_view reply = "Hello! How can I help you today?";
constexpr std::string_view test_key = "cli-test-api-key-0123456789";

}  // namespace

BOOST_AUTO_TEST_SUITE(chat_command)

BOOST_AUTO_TEST_CASE(keyless_chat_sends_a_bearer_token_and_prints_the_reply) {
  world w;
  const auto r = run_keyless({"chat", "Say", "hello"}, w.with_openai(w.service_principal()));
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  BOOST_TEST(r.out == std::string(reply) + "\n");
  const auto bearer = w.openai().authorization_headers();
  BOOST_TEST_REQUIRE(bearer.size() == 1u);
  BOOST_TEST(bearer[0].starts_with("Bearer "));
  BOOST_TEST(w.openai().api_keys().empty());
  BOOST_TEST(contains(w.openai().last_request().body, "Say hello"));
  BOOST_TEST(!contains(r.out + r.err, bearer[0].substr(7)));
}

BOOST_AUTO_TEST_CASE(keyless_is_the_default_even_when_an_api_key_variable_is_set) {
  testing::fake_openai_options o;
  o.api_key = std::string(test_key);
  world w(o);
  auto env = w.with_openai(w.managed_identity());
  env["AZURE_OPENAI_API_KEY"] = test_key;
  const auto r = run_keyless({"chat", "hi"}, env);
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  BOOST_TEST(w.openai().api_keys().empty());
  BOOST_TEST(w.openai().authorization_headers().size() == 1u);
  BOOST_TEST(w.imds().tokens_issued() == 1u);
}

BOOST_AUTO_TEST_CASE(api_key_from_the_named_variable_is_sent_as_api_key) {
  testing::fake_openai_options o;
  o.api_key = std::string(test_key);
  world w(o);
  auto env = w.base();  // no identity at all: the key alone must do
  env["MY_OPENAI_KEY"] = test_key;
  const auto r = run_keyless({"chat", "--endpoint", w.openai().endpoint(), "--deployment",
                              "gpt-4o-mini", "--api-key-env", "MY_OPENAI_KEY", "hi"},
                             env);
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  BOOST_TEST(r.out == std::string(reply) + "\n");
  const auto keys = w.openai().api_keys();
  BOOST_TEST_REQUIRE(keys.size() == 1u);
  BOOST_CHECK_MESSAGE(keys[0] == test_key, "the fake did not receive the key from the variable");
  BOOST_TEST(w.openai().authorization_headers().empty());
  BOOST_TEST(!contains(r.out + r.err, test_key));
}

BOOST_AUTO_TEST_CASE(a_refused_api_key_is_explained_without_the_key) {
  testing::fake_openai_options o;
  o.api_key = std::string(test_key);
  world w(o);
  auto env = w.with_openai(w.base());
  env["MY_OPENAI_KEY"] = "not-the-right-key-42";
  const auto r = run_keyless({"chat", "--api-key-env", "MY_OPENAI_KEY", "hi"}, env);
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(contains(r.err, "401"));
  BOOST_TEST(contains(r.err, "api-key"));
  BOOST_TEST(!contains(r.out + r.err, "not-the-right-key-42"));
}

BOOST_AUTO_TEST_CASE(stream_prints_the_deltas_and_ends_the_line) {
  world w;
  const auto r = run_keyless({"chat", "--stream", "hi"}, w.with_openai(w.service_principal()));
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  BOOST_TEST(r.out == std::string(reply) + "\n");
  BOOST_TEST(w.openai().streams_served() == 1u);
  BOOST_TEST(w.openai().completions_served() == 0u);
  BOOST_TEST(contains(w.openai().last_request().body, "\"stream\":true"));
}

BOOST_AUTO_TEST_CASE(a_stream_that_breaks_keeps_the_printed_part_and_fails) {
  world w;
  auto fault = testing::openai_fault::of(testing::openai_fault::kind::error_event);
  fault.after_events = 4;  // Azure's filter chunk, the role chunk, then two words
  fault.code = "server_error";
  w.openai().enqueue(fault);
  const auto r = run_keyless({"chat", "--stream", "hi"}, w.with_openai(w.service_principal()));
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(!r.out.empty());
  BOOST_TEST(r.out.ends_with("\n"));
  BOOST_TEST(std::string(reply).starts_with(r.out.substr(0, r.out.size() - 1)), r.out);
  BOOST_TEST(r.out.size() < reply.size());
  BOOST_TEST(contains(r.err, "mid-stream"), r.err);
}

BOOST_AUTO_TEST_CASE(system_message_is_sent_before_the_prompt) {
  world w;
  const auto r = run_keyless({"chat", "--system", "Answer in one word.", "hi"},
                             w.with_openai(w.service_principal()));
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  const auto body = w.openai().last_request().body;
  const auto system = body.find("Answer in one word.");
  const auto user = body.find("\"hi\"");
  BOOST_TEST_REQUIRE(system != std::string::npos);
  BOOST_TEST_REQUIRE(user != std::string::npos);
  BOOST_TEST(system < user);
  BOOST_TEST(contains(body, "\"role\":\"system\""));
}

BOOST_AUTO_TEST_CASE(api_version_flag_is_sent) {
  world w;
  const auto r = run_keyless({"chat", "--api-version", "2024-06-01", "hi"},
                             w.with_openai(w.service_principal()));
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  BOOST_TEST(contains(w.openai().last_request().target, "api-version=2024-06-01"));
}

BOOST_AUTO_TEST_CASE(missing_role_fails_with_the_role_to_assign) {
  testing::fake_openai_options o;
  o.authorized_object_ids = std::vector<std::string>{"99999999-0000-4000-8000-000000000009"};
  world w(o);
  const auto r = run_keyless({"chat", "hi"}, w.with_openai(w.service_principal()));
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.out.empty());
  BOOST_TEST(contains(r.err, "403"));
  BOOST_TEST(contains(r.err, "Cognitive Services OpenAI User"));
}

BOOST_AUTO_TEST_CASE(unknown_deployment_is_named) {
  world w;
  const auto r = run_keyless({"chat", "--deployment", "no-such-deployment", "hi"},
                             w.with_openai(w.service_principal()));
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(contains(r.err, "DeploymentNotFound"));
  BOOST_TEST(contains(r.err, "no-such-deployment"));
}

BOOST_AUTO_TEST_CASE(missing_endpoint_deployment_key_or_prompt_is_a_usage_error) {
  world w;
  struct usage_case {
    std::vector<std::string> args;
    environment env;
    std::string mentions;
  };
  auto no_deployment = w.with_openai(w.base());
  no_deployment.erase("AZURE_OPENAI_DEPLOYMENT");
  const std::vector<usage_case> cases{
      {{"chat", "hi"}, w.base(), "AZURE_OPENAI_ENDPOINT"},
      {{"chat", "hi"}, no_deployment, "AZURE_OPENAI_DEPLOYMENT"},
      {{"chat", "--api-key-env", "UNSET_VARIABLE", "hi"},
       w.with_openai(w.base()),
       "UNSET_VARIABLE"},
      {{"chat"}, w.with_openai(w.base()), "prompt"},
      {{"chat", "--endpoint", "not a url", "--deployment", "d", "hi"}, w.base(), "endpoint"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.args.back()) {
      const auto r = run_keyless(c.args, c.env);
      BOOST_TEST(r.exit_code == 2);
      BOOST_TEST(r.out.empty());
      BOOST_TEST(contains(r.err, c.mentions), r.err);
    }
  }
  BOOST_TEST(w.openai().requests() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace keyless::cli_test
