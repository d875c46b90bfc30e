// keyless-emulator as users run it: a separate process, its environment file sourced by a real
// /bin/sh, and the library talking to it with only what that file says.

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include "child_process.hpp"
#include "io_helpers.hpp"
#include "keyless/core/error.hpp"
#include "keyless/identity/bearer_token_provider.hpp"
#include "keyless/identity/default_azure_credential.hpp"
#include "keyless/identity/token_claims.hpp"
#include "keyless/openai/chat_client.hpp"

namespace {

using namespace std::chrono_literals;
using keyless::identity::environment_map;
using keyless::testing::child_process;
using keyless::testing::parse_env_output;
using keyless::testing::run_program;

constexpr std::string_view cognitive_scope = "https://cognitiveservices.azure.com/.default";
constexpr std::string_view emulated_reply = "The emulator answers this.";

std::string program_path(const char* variable) {
  const char* path = std::getenv(variable);
  if (path == nullptr || *path == '\0') {
    throw std::runtime_error(std::string(variable) + " is not set (meson test sets it)");
  }
  return path;
}

std::string emulator_path() {
  return program_path("KEYLESS_EMULATOR");
}

std::string temporary_root() {
  const char* tmp = std::getenv("TMPDIR");
  return tmp && *tmp ? tmp : "/tmp";
}

// What the emulator inherits: a PATH and a TMPDIR, plus the sanitizer settings meson gives
// tests, so that a sanitizer build checks the emulator process as strictly as the suite.
std::vector<std::string> emulator_environment() {
  std::vector<std::string> env{"PATH=/usr/bin:/bin", "TMPDIR=" + temporary_root()};
  for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "MSAN_OPTIONS"}) {
    if (const char* value = std::getenv(name)) env.push_back(std::string(name) + "=" + value);
  }
  return env;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string value_of(const environment_map& env, std::string_view name) {
  const auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

// A started emulator, its env file, and the variables a shell has after sourcing it.
struct running_emulator {
  explicit running_emulator(std::vector<std::string> flags) {
    std::vector<std::string> argv{emulator_path()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    process = std::make_unique<child_process>(argv, emulator_environment());
    const std::string out = process->read_until_line("ready", 30s);
    constexpr std::string_view prefix = "env file: ";
    const auto at = out.find(prefix);
    BOOST_REQUIRE(at != std::string::npos);
    env_file = out.substr(at + prefix.size(), out.find('\n', at) - at - prefix.size());
    // A shell that had other credentials and a corporate proxy bypass list before.
    shell_env = {
        "PATH=/usr/bin:/bin",
        "AZURE_CLIENT_SECRET=left-over-secret",
        "AZURE_CLIENT_ID=00000000-0000-0000-0000-00000000dead",
        "AZURE_TOKEN_CREDENTIALS=dev",
        "NO_PROXY=corp.example",
    };
    const auto sourced =
        run_program({"/bin/sh", "-c", ". \"$1\" && env", "sh", env_file}, shell_env);
    BOOST_REQUIRE_MESSAGE(sourced.exit_code == 0, "sh failed: " << sourced.err);
    for (auto& [name, value] : parse_env_output(sourced.out)) env[name] = value;
  }

  ~running_emulator() {
    process->signal(SIGTERM);
    process->wait(10s);
  }

  // TLS settings that trust exactly what SSL_CERT_FILE names (not the system store).
  keyless::http::tls_options tls() const {
    keyless::http::tls_options t;
    t.use_system_trust_store = false;
    t.ca_file = value_of(env, "SSL_CERT_FILE");
    return t;
  }

  std::shared_ptr<keyless::identity::chained_token_credential> credential(
      asio::io_context& io) const {
    keyless::identity::default_azure_credential_options o;
    o.environment = env;
    // The emulator stands in for Azure; a real az or azd on the test machine must not answer.
    o.exclude_azure_cli_credential = true;
    o.exclude_azure_developer_cli_credential = true;
    o.http.tls = tls();
    return keyless::default_azure_credential(io.get_executor(), o);
  }

  keyless::openai::chat_client chat(asio::io_context& io, keyless::openai::chat_auth auth,
                                    int max_retries = 2) const {
    keyless::openai::chat_client_options o;
    o.endpoint = value_of(env, "AZURE_OPENAI_ENDPOINT");
    o.deployment = value_of(env, "AZURE_OPENAI_DEPLOYMENT");
    o.auth = std::move(auth);
    o.http.tls = tls();
    o.environment = env;
    o.max_retries = max_retries;
    return keyless::openai::chat_client(io.get_executor(), o);
  }

  // Runs `program` with `argument` from /bin/sh after sourcing the env file (and running
  // `extra`, more shell commands, after that).
  keyless::testing::run_result run_from_shell(const std::string& program,
                                              const std::string& argument,
                                              const std::string& extra = ":") const {
    return run_program({"/bin/sh", "-c", ". \"$1\" && " + extra + " && exec \"$2\" \"$3\"", "sh",
                        env_file, program, argument},
                       shell_env);
  }

  std::unique_ptr<child_process> process;
  std::string env_file;
  std::vector<std::string> shell_env;
  environment_map env;
};

std::string ask(asio::io_context& io, const keyless::openai::chat_client& chat) {
  keyless::openai::chat_request request{.messages = {{"user", "Are you there?"}}};
  const auto reply = keyless::testing::run_sync(io, chat.complete(std::move(request)));
  BOOST_REQUIRE_EQUAL(reply.choices.size(), 1u);
  return reply.choices.front().message.content.value_or("");
}

// The HTTP status a chat call fails with (0 when it succeeds).
int status_of_failed_ask(asio::io_context& io, const keyless::openai::chat_client& chat,
                         std::string* service_code = nullptr) {
  try {
    ask(io, chat);
    return 0;
  } catch (const keyless::error& e) {
    if (service_code) *service_code = e.details().service_code;
    return e.details().http_status.value_or(-1);
  }
}

keyless::identity::bearer_token_provider tokens(
    const std::shared_ptr<keyless::identity::chained_token_credential>& credential) {
  return keyless::identity::bearer_token_provider(credential, cognitive_scope);
}

// A loopback port nobody listens on right now (the socket is closed again).
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(emulator)

BOOST_AUTO_TEST_CASE(sourcing_the_env_file_in_sh_sets_the_app_service_identity_and_endpoints) {
  running_emulator emu({"--deployment", "it's-$HOME-`id`"});
  const auto& env = emu.env;
  BOOST_TEST(value_of(env, "AZURE_OPENAI_ENDPOINT").starts_with("https://127.0.0.1:"));
  // Quoting: the shell kept quotes, dollars and backquotes literally.
  BOOST_TEST(value_of(env, "AZURE_OPENAI_DEPLOYMENT") == "it's-$HOME-`id`");
  BOOST_TEST(value_of(env, "AZURE_OPENAI_API_KEY").size() == 64u);
  BOOST_TEST(value_of(env, "IDENTITY_ENDPOINT").starts_with("http://127.0.0.1:"));
  BOOST_TEST(value_of(env, "IDENTITY_ENDPOINT").ends_with("/msi/token"));
  BOOST_TEST(value_of(env, "IDENTITY_HEADER").size() == 32u);
  BOOST_TEST(value_of(env, "AZURE_AUTHORITY_HOST").starts_with("https://127.0.0.1:"));
  BOOST_TEST(!env.contains("AZURE_POD_IDENTITY_AUTHORITY_HOST"));
  // What would have steered the chain away from the emulated identity is gone.
  BOOST_TEST(!env.contains("AZURE_CLIENT_SECRET"));
  BOOST_TEST(!env.contains("AZURE_CLIENT_ID"));
  BOOST_TEST(!env.contains("AZURE_TOKEN_CREDENTIALS"));
  BOOST_TEST(value_of(env, "NO_PROXY") == "127.0.0.1,corp.example");
  BOOST_TEST(value_of(env, "no_proxy") == "127.0.0.1");

  // SSL_CERT_FILE starts with the emulator's CA, which is also on its own in KEYLESS_EMULATOR_CA.
  const std::string ca = read_file(value_of(env, "KEYLESS_EMULATOR_CA"));
  BOOST_TEST(ca.starts_with("-----BEGIN CERTIFICATE-----"));
  BOOST_TEST(read_file(value_of(env, "SSL_CERT_FILE")).starts_with(ca));

  // Only the owner can read the file holding the key and the identity header.
  struct stat info {};
  BOOST_REQUIRE(::stat(emu.env_file.c_str(), &info) == 0);
  BOOST_TEST((info.st_mode & 0777) == 0600u);
}

BOOST_AUTO_TEST_CASE(the_example_programs_work_from_a_shell_that_sourced_the_env_file) {
  running_emulator emu({"--reply", std::string(emulated_reply)});
  // Nothing but the sourced variables configures them: endpoint, managed identity, API key,
  // and trust in the emulator's CA through SSL_CERT_FILE.
  for (const char* program : {"KEYLESS_CHAT_KEYLESS", "KEYLESS_CHAT_API_KEY"}) {
    BOOST_TEST_CONTEXT(program) {
      const auto result = emu.run_from_shell(program_path(program), "Are you there?");
      BOOST_TEST(result.exit_code == 0, result.err);
      BOOST_TEST(result.out == std::string(emulated_reply) + "\n");
    }
  }
  // Without SSL_CERT_FILE the emulator's certificate is not trusted: that variable is what
  // made the difference.
  const auto untrusted =
      emu.run_from_shell(program_path("KEYLESS_CHAT_API_KEY"), "Hi", "unset SSL_CERT_FILE");
  BOOST_TEST(untrusted.exit_code == 1);
  BOOST_TEST(untrusted.err.find("certificate verify failed") != std::string::npos, untrusted.err);
}

BOOST_AUTO_TEST_CASE(the_default_chain_gets_a_managed_identity_token_and_a_chat_answer) {
  running_emulator emu({"--reply", std::string(emulated_reply)});
  asio::io_context io;
  auto credential = emu.credential(io);
  keyless::identity::token_request request;
  request.scopes = {std::string(cognitive_scope)};
  const auto token = keyless::testing::run_sync(io, credential->async_get_token(request));
  BOOST_TEST(credential->last_report().winner.value_or("") == "ManagedIdentityCredential");
  const auto claims = keyless::identity::read_token_claims(token.token());
  BOOST_REQUIRE(claims.has_value());
  BOOST_TEST(claims->audience == "https://cognitiveservices.azure.com");

  const auto chat = emu.chat(io, tokens(credential));
  BOOST_TEST(ask(io, chat) == emulated_reply);
}

BOOST_AUTO_TEST_CASE(imds_mode_serves_the_chain_through_azure_pod_identity_authority_host) {
  running_emulator emu({"--identity", "imds", "--reply", std::string(emulated_reply)});
  BOOST_TEST(
      value_of(emu.env, "AZURE_POD_IDENTITY_AUTHORITY_HOST").starts_with("http://127.0.0.1:"));
  BOOST_TEST(!emu.env.contains("IDENTITY_ENDPOINT"));
  asio::io_context io;
  auto credential = emu.credential(io);
  const auto chat = emu.chat(io, tokens(credential));
  BOOST_TEST(ask(io, chat) == emulated_reply);
  BOOST_TEST(credential->last_report().winner.value_or("") == "ManagedIdentityCredential");
}

BOOST_AUTO_TEST_CASE(service_principal_mode_signs_in_at_the_fake_entra_id_over_its_tls) {
  running_emulator emu({"--identity", "service-principal", "--reply", std::string(emulated_reply)});
  BOOST_TEST(!value_of(emu.env, "AZURE_CLIENT_SECRET").empty());
  BOOST_TEST(!value_of(emu.env, "AZURE_TENANT_ID").empty());
  asio::io_context io;
  auto credential = emu.credential(io);
  const auto chat = emu.chat(io, tokens(credential));
  BOOST_TEST(ask(io, chat) == emulated_reply);
  BOOST_TEST(credential->last_report().winner.value_or("") == "EnvironmentCredential");
}

BOOST_AUTO_TEST_CASE(the_api_key_from_the_env_file_works_and_another_key_gets_401) {
  running_emulator emu({"--reply", std::string(emulated_reply)});
  asio::io_context io;
  const auto chat =
      emu.chat(io, keyless::openai::api_key{value_of(emu.env, "AZURE_OPENAI_API_KEY")});
  BOOST_TEST(ask(io, chat) == emulated_reply);
  const auto wrong = emu.chat(io, keyless::openai::api_key{"0123456789abcdef"});
  BOOST_TEST(status_of_failed_ask(io, wrong) == 401);
}

BOOST_AUTO_TEST_CASE(given_ports_are_where_the_emulator_listens) {
  const std::uint16_t openai_port = free_port();
  const std::uint16_t identity_port = free_port();
  running_emulator emu({"--openai-port", std::to_string(openai_port), "--identity-port",
                        std::to_string(identity_port), "--reply", std::string(emulated_reply)});
  BOOST_TEST(value_of(emu.env, "AZURE_OPENAI_ENDPOINT") ==
             "https://127.0.0.1:" + std::to_string(openai_port));
  BOOST_TEST(value_of(emu.env, "IDENTITY_ENDPOINT") ==
             "http://127.0.0.1:" + std::to_string(identity_port) + "/msi/token");
  asio::io_context io;
  auto credential = emu.credential(io);
  const auto chat = emu.chat(io, tokens(credential));
  BOOST_TEST(ask(io, chat) == emulated_reply);
}

BOOST_AUTO_TEST_CASE(pitfall_wrong_audience_answers_bearer_calls_401_but_not_api_key_calls) {
  running_emulator emu({"--pitfall", "wrong-audience"});
  asio::io_context io;
  const auto keyless_chat = emu.chat(io, tokens(emu.credential(io)));
  BOOST_TEST(status_of_failed_ask(io, keyless_chat) == 401);
  const auto key_chat =
      emu.chat(io, keyless::openai::api_key{value_of(emu.env, "AZURE_OPENAI_API_KEY")});
  BOOST_TEST(status_of_failed_ask(io, key_chat) == 0);
}

BOOST_AUTO_TEST_CASE(pitfall_missing_role_answers_403_until_the_role_is_granted) {
  // Granted after 2 s of real time: the only way to observe a real process's timer.
  running_emulator emu({"--pitfall=missing-role=2", "--reply", std::string(emulated_reply)});
  asio::io_context io;
  auto credential = emu.credential(io);
  const auto chat = emu.chat(io, tokens(credential));
  std::string code;
  BOOST_TEST(status_of_failed_ask(io, chat, &code) == 403);
  BOOST_TEST(code == "PermissionDenied");

  // A client that waits out role propagation gets its answer once the role is granted.
  keyless::openai::chat_client_options o;
  o.endpoint = value_of(emu.env, "AZURE_OPENAI_ENDPOINT");
  o.deployment = value_of(emu.env, "AZURE_OPENAI_DEPLOYMENT");
  o.auth = tokens(credential);
  o.http.tls = emu.tls();
  o.environment = emu.env;
  o.permission_grace = 30s;
  const keyless::openai::chat_client patient(io.get_executor(), o);
  BOOST_TEST(ask(io, patient) == emulated_reply);
}

BOOST_AUTO_TEST_CASE(pitfall_throttle_answers_429_with_retry_after_ms_for_n_requests) {
  running_emulator emu({"--pitfall", "throttle=2", "--reply", std::string(emulated_reply)});
  asio::io_context io;
  const auto chat =
      emu.chat(io, keyless::openai::api_key{value_of(emu.env, "AZURE_OPENAI_API_KEY")},
               /*max_retries=*/0);
  try {
    ask(io, chat);
    BOOST_FAIL("the first request was not throttled");
  } catch (const keyless::error& e) {
    BOOST_TEST(e.details().http_status.value_or(0) == 429);
    BOOST_TEST(e.details().retry_after.value_or(0ms) == 1000ms);
  }
  BOOST_TEST(status_of_failed_ask(io, chat) == 429);
  BOOST_TEST(ask(io, chat) == emulated_reply);
}

BOOST_AUTO_TEST_CASE(pitfall_server_error_answers_500_for_n_requests) {
  running_emulator emu({"--pitfall", "server-error=1", "--reply", std::string(emulated_reply)});
  asio::io_context io;
  const auto chat =
      emu.chat(io, keyless::openai::api_key{value_of(emu.env, "AZURE_OPENAI_API_KEY")},
               /*max_retries=*/0);
  BOOST_TEST(status_of_failed_ask(io, chat) == 500);
  BOOST_TEST(ask(io, chat) == emulated_reply);
}

BOOST_AUTO_TEST_CASE(pitfall_no_identity_makes_the_managed_identity_fail) {
  running_emulator emu({"--pitfall", "no-identity,throttle=1"});
  asio::io_context io;
  auto credential = emu.credential(io);
  keyless::identity::token_request request;
  request.scopes = {std::string(cognitive_scope)};
  BOOST_CHECK_THROW(keyless::testing::run_sync(io, credential->async_get_token(request)),
                    keyless::error);
  BOOST_TEST(!credential->last_report().winner.has_value());
}

BOOST_AUTO_TEST_CASE(sigterm_and_sigint_stop_it_cleanly_and_remove_its_files) {
  for (int signal_number : {SIGTERM, SIGINT}) {
    BOOST_TEST_CONTEXT("signal " << signal_number) {
      child_process process({emulator_path()}, emulator_environment());
      const std::string out = process.read_until_line("ready", 30s);
      const auto at = out.find("env file: ");
      BOOST_REQUIRE(at != std::string::npos);
      const std::string env_file = out.substr(at + 10, out.find('\n', at) - at - 10);
      BOOST_TEST(std::filesystem::exists(env_file));
      process.signal(signal_number);
      const auto code = process.wait(10s);
      BOOST_TEST(code.has_value());
      BOOST_TEST(code.value_or(-1) == 0);
      BOOST_TEST(process.err().find("stopping") != std::string::npos);
      BOOST_TEST(!std::filesystem::exists(std::filesystem::path(env_file).parent_path()));
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_flags_exit_2_with_a_message_naming_the_problem) {
  struct bad_case {
    std::vector<std::string> flags;
    std::string expected;
  };
  const std::vector<bad_case> cases{
      {{"--bogus"}, "unknown option '--bogus'"},
      {{"--pitfall", "nope"}, "unknown pitfall 'nope'"},
      {{"--pitfall"}, "'--pitfall' needs a value"},
      {{"--pitfall", "throttle=many"}, "throttle takes a whole number"},
      {{"--pitfall", "wrong-audience=3"}, "wrong-audience takes no value"},
      {{"--openai-port", "70000"}, "--openai-port must be a whole number from 0 to 65535"},
      {{"--identity", "vm"}, "--identity must be app-service, imds or service-principal"},
      {{"--deployment", "a/b"}, "--deployment must be"},
      {{"stray"}, "unexpected argument 'stray'"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.flags.front()) {
      std::vector<std::string> argv{emulator_path()};
      argv.insert(argv.end(), c.flags.begin(), c.flags.end());
      const auto result = run_program(argv, emulator_environment());
      BOOST_TEST(result.exit_code == 2);
      BOOST_TEST(result.err.find(c.expected) != std::string::npos, result.err);
      BOOST_TEST(result.out.find("ready") == std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_port_in_use_is_reported_and_exits_1) {
  // Hold a loopback port, then ask the emulator for it.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  BOOST_REQUIRE(::listen(fd, 1) == 0);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const std::string port = std::to_string(ntohs(address.sin_port));
  const auto result = run_program({emulator_path(), "--openai-port", port}, emulator_environment());
  ::close(fd);
  BOOST_TEST(result.exit_code == 1);
  BOOST_TEST(result.err.find("cannot listen on 127.0.0.1:" + port + " for Azure OpenAI") !=
                 std::string::npos,
             result.err);
}

BOOST_AUTO_TEST_CASE(help_describes_every_option_and_exits_0) {
  const auto result = run_program({emulator_path(), "--help"}, emulator_environment());
  BOOST_TEST(result.exit_code == 0);
  BOOST_TEST(result.out.starts_with("usage: keyless-emulator"));
  for (std::string_view option : {"--identity", "--openai-port", "--pitfall", "--dir", "--env-file",
                                  "wrong-audience", "missing-role", "throttle"}) {
    BOOST_TEST(result.out.find(option) != std::string::npos, option);
  }
}

BOOST_AUTO_TEST_SUITE_END()
