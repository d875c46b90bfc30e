#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>

#include "fake_managed_identity.hpp"
#include "fake_openai.hpp"
#include "identity/process_runner.hpp"
#include "io_helpers.hpp"

// Runs the example programs as child processes (posix_spawn, an argument vector) against a
// fake Azure OpenAI and a fake App Service managed identity on loopback, configured only
// through environment variables, as the keyless-emulator's env file does: the fake's CA is
// trusted through SSL_CERT_FILE.

namespace keyless::examples_test {
namespace {

using namespace std::chrono_literals;
using identity::detail::process_options;
using identity::detail::process_result;
using variable_change = std::pair<std::string, std::optional<std::string>>;

std::string program(const char* variable) {
  const char* path = std::getenv(variable);
  if (path == nullptr || *path == '\0') {
    throw std::runtime_error(std::string(variable) + " is not set (run through meson test)");
  }
  return path;
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// Variables that would make the child use something else than the fakes.
std::vector<variable_change> cleared_environment() {
  std::vector<variable_change> env;
  for (const char* name : {"HTTPS_PROXY",
                           "https_proxy",
                           "HTTP_PROXY",
                           "http_proxy",
                           "ALL_PROXY",
                           "all_proxy",
                           "NO_PROXY",
                           "no_proxy",
                           "SSL_CERT_FILE",
                           "SSL_CERT_DIR",
                           "AZURE_CLIENT_ID",
                           "AZURE_TENANT_ID",
                           "AZURE_CLIENT_SECRET",
                           "AZURE_CLIENT_CERTIFICATE_PATH",
                           "AZURE_CLIENT_CERTIFICATE_PASSWORD",
                           "AZURE_USERNAME",
                           "AZURE_PASSWORD",
                           "AZURE_FEDERATED_TOKEN_FILE",
                           "AZURE_AUTHORITY_HOST",
                           "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                           "IDENTITY_ENDPOINT",
                           "IDENTITY_HEADER",
                           "IDENTITY_SERVER_THUMBPRINT",
                           "IMDS_ENDPOINT",
                           "MSI_ENDPOINT",
                           "MSI_SECRET",
                           "AZURE_OPENAI_ENDPOINT",
                           "AZURE_OPENAI_API_KEY",
                           "AZURE_OPENAI_DEPLOYMENT",
                           "OPENAI_API_VERSION",
                           "AZURE_TOKEN_CREDENTIALS"}) {
    env.emplace_back(name, std::nullopt);
  }
  return env;
}

struct examples_fixture {
  asio::io_context io;
  testing::fake_openai openai{io.get_executor(), openai_options()};
  testing::fake_managed_identity identity{io.get_executor(), identity_options()};
  std::filesystem::path ca_file;

  examples_fixture() {
    ca_file = std::filesystem::temp_directory_path() /
              ("keyless-examples-ca-" + std::to_string(::getpid()) + ".pem");
    std::ofstream(ca_file) << openai.ca_certificate_pem();
  }
  ~examples_fixture() {
    std::error_code ignored;
    std::filesystem::remove(ca_file, ignored);
  }

  static testing::fake_openai_options openai_options() {
    testing::fake_openai_options o;
    o.api_key = "example-resource-key-0123456789";
    return o;
  }
  static testing::fake_managed_identity_options identity_options() {
    testing::fake_managed_identity_options o;
    o.kind = testing::fake_mi_kind::app_service;
    return o;
  }

  // The environment of a keyless example in an App Service with a managed identity.
  std::vector<variable_change> keyless_environment(bool trust_fake_ca = true) {
    auto env = cleared_environment();
    env.emplace_back("AZURE_OPENAI_ENDPOINT", openai.endpoint());
    env.emplace_back("AZURE_OPENAI_DEPLOYMENT", "gpt-4o-mini");
    env.emplace_back("IDENTITY_ENDPOINT", identity.endpoint());
    env.emplace_back("IDENTITY_HEADER", "fake-identity-secret");
    // Only managed identity: a developer's `az login` must not answer instead.
    env.emplace_back("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential");
    if (trust_fake_ca) env.emplace_back("SSL_CERT_FILE", ca_file.string());
    return env;
  }

  process_result run(const char* variable, std::vector<std::string> arguments,
                     std::vector<variable_change> env) {
    process_options p;
    p.program = program(variable);
    p.arguments = std::move(arguments);
    p.environment = std::move(env);
    p.timeout = 60s;
    p.display_name = variable;
    return testing::run_sync(io, identity::detail::run_process(std::move(p)), 90s);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(example_programs)

BOOST_FIXTURE_TEST_CASE(chat_stream_prints_the_streamed_reply_keyless, examples_fixture) {
  auto r = run("KEYLESS_EXAMPLE_CHAT_STREAM", {"Hello?"}, keyless_environment());
  BOOST_TEST(r.exit_code.value_or(-1) == 0, r.err);
  BOOST_TEST(contains(r.out, "Hello! How can I help you today?"), r.out);
  BOOST_TEST(contains(r.err, "completion tokens, 11 chunks"), r.err);
  BOOST_TEST(identity.tokens_issued() == 1u);
  BOOST_TEST(openai.streams_served() == 1u);
  BOOST_TEST(openai.api_keys().empty());
}

BOOST_FIXTURE_TEST_CASE(chat_stream_reports_a_broken_stream_with_what_arrived, examples_fixture) {
  auto f = testing::openai_fault::of(testing::openai_fault::kind::reset_mid_response);
  f.after_events = 4;
  openai.enqueue(f);
  auto r = run("KEYLESS_EXAMPLE_CHAT_STREAM", {}, keyless_environment());
  BOOST_TEST(r.exit_code.value_or(-1) == 1, r.err);
  BOOST_TEST(contains(r.out, "Hello! How"), r.out);
  BOOST_TEST(contains(r.err, "10 characters had arrived"), r.err);
  BOOST_TEST(contains(r.err, "broke after 4 chunks"), r.err);
}

BOOST_FIXTURE_TEST_CASE(game_loop_streams_and_completes_with_callbacks_between_frames,
                        examples_fixture) {
  auto r = run("KEYLESS_EXAMPLE_GAME_LOOP", {}, keyless_environment());
  BOOST_TEST(r.exit_code.value_or(-1) == 0, r.err);
  BOOST_TEST(contains(r.out, "NPC finished: \"Hello! How can I help you today?\""), r.out);
  BOOST_TEST(contains(r.out, "quest: Hello! How can I help you today?"), r.out);
  BOOST_TEST(contains(r.out, "frames rendered while waiting"), r.out);
  BOOST_TEST(identity.tokens_issued() == 1u);
  BOOST_TEST(openai.streams_served() == 1u);
  BOOST_TEST(openai.completions_served() == 1u);
}

BOOST_FIXTURE_TEST_CASE(many_requests_shares_one_token_among_all_requests, examples_fixture) {
  auto r = run("KEYLESS_EXAMPLE_MANY_REQUESTS", {"300", "2"}, keyless_environment());
  BOOST_TEST(r.exit_code.value_or(-1) == 0, r.err);
  BOOST_TEST(contains(r.out, "300 requests (0 failed)"), r.out);
  BOOST_TEST(contains(r.out, "requests/s"), r.out);
  BOOST_TEST(identity.token_requests() == 1u);
  BOOST_TEST(openai.completions_served() == 300u);
}

BOOST_FIXTURE_TEST_CASE(many_requests_refuses_a_count_that_is_not_a_number, examples_fixture) {
  auto r = run("KEYLESS_EXAMPLE_MANY_REQUESTS", {"lots"}, keyless_environment());
  BOOST_TEST(r.exit_code.value_or(-1) == 2);
  BOOST_TEST(contains(r.err, "must be a number"), r.err);
  BOOST_TEST(openai.requests() == 0u);
}

BOOST_FIXTURE_TEST_CASE(chat_keyless_and_chat_api_key_give_the_same_answer, examples_fixture) {
  auto keyless_run = run("KEYLESS_EXAMPLE_CHAT_KEYLESS", {"Hi"}, keyless_environment());
  auto env = cleared_environment();
  env.emplace_back("AZURE_OPENAI_ENDPOINT", openai.endpoint());
  env.emplace_back("AZURE_OPENAI_DEPLOYMENT", "gpt-4o-mini");
  env.emplace_back("AZURE_OPENAI_API_KEY", "example-resource-key-0123456789");
  env.emplace_back("SSL_CERT_FILE", ca_file.string());
  auto key_run = run("KEYLESS_EXAMPLE_CHAT_API_KEY", {"Hi"}, env);
  BOOST_TEST(keyless_run.exit_code.value_or(-1) == 0, keyless_run.err);
  BOOST_TEST(key_run.exit_code.value_or(-1) == 0, key_run.err);
  BOOST_TEST(keyless_run.out == "Hello! How can I help you today?\n");
  BOOST_TEST(key_run.out == keyless_run.out);
  BOOST_TEST(openai.api_keys().size() == 1u);
  BOOST_TEST(openai.authorization_headers().size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(without_ssl_cert_file_the_fakes_certificate_is_refused, examples_fixture) {
  auto r = run("KEYLESS_EXAMPLE_CHAT_KEYLESS", {}, keyless_environment(false));
  BOOST_TEST(r.exit_code.value_or(-1) == 1);
  BOOST_TEST(contains(r.err, "certificate"), r.err);
  BOOST_TEST(openai.requests() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace keyless::examples_test
