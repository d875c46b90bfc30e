// The secret-leak scan: runs the library's scenarios (each credential succeeding and
// failing, a chain's aggregate error, chat 401/403/429/stream errors, CLI errors) with a log
// sink at the most verbose level and recognisable secrets: client secret, client assertion,
// federated token, managed identity header, API key, and every access token issued. It fails
// when any of them appears in a log line, an exception message, a hint or any diagnostics
// field. A scan that saw nothing proves nothing, so each case also checks that it ran the
// paths it claims (errors were raised, log lines were written, tokens were issued).

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>
#include <asio/io_context.hpp>

#include "fake_entra.hpp"
#include "fake_managed_identity.hpp"
#include "fake_openai.hpp"
#include "keyless/core/clock.hpp"
#include "keyless/core/error.hpp"
#include "keyless/core/log.hpp"
#include "keyless/identity/azure_cli_credential.hpp"
#include "keyless/identity/azure_developer_cli_credential.hpp"
#include "keyless/identity/bearer_token_provider.hpp"
#include "keyless/identity/chained_token_credential.hpp"
#include "keyless/identity/client_certificate_credential.hpp"
#include "keyless/identity/client_secret_credential.hpp"
#include "keyless/identity/managed_identity_credential.hpp"
#include "keyless/identity/workload_identity_credential.hpp"
#include "keyless/openai/chat_client.hpp"
#include "loopback_client.hpp"
#include "loopback_server.hpp"
#include "temp_dir.hpp"
#include "test_pki.hpp"

namespace {

using namespace std::chrono_literals;
using keyless::errc;
namespace kt = keyless::testing;
namespace ki = keyless::identity;
namespace ko = keyless::openai;

// Recognisable values: long, unique, and nothing the library would write by itself.
constexpr std::string_view client_secret = "SECRETxCLIENTxSECRETx7Qz~9v.Kp_2Lm-8Rw";
constexpr std::string_view wrong_secret = "SECRETxWRONGxSECRETx4Hj~1c.Tt_6Nb-3Xy";
constexpr std::string_view federated =
    "eyJhbGciOiJSUzI1NiJ9.FEDERATEDxASSERTIONxMARKER.c2lnbmF0dXJl";
constexpr std::string_view identity_header = "SECRETxIDENTITYxHEADERx5d8e2f0a1b";
constexpr std::string_view resource_key = "APIKEYxRESOURCExKEYx0123456789abcdef";
constexpr std::string_view wrong_key = "APIKEYxWRONGxKEYxfedcba9876543210aa";
constexpr std::string_view planted_token =
    "eyJ0eXAiOiJKV1QifQ.eyJQTEFOVEVEIjoiVE9LRU4ifQ.PLANTEDxTOKENxSIGNATURExMARKER";

constexpr std::string_view tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
constexpr std::string_view client_id = "fedcba98-7654-3210-0123-456789abcdef";
constexpr std::string_view federated_client_id = "0f3d1b2c-0000-4000-8000-0000000f3d1b";
constexpr std::string_view scope = "https://cognitiveservices.azure.com/.default";

/// Everything a scenario said: log lines, error texts, diagnostics.
class transcript {
 public:
  void add(std::string where, std::string text) {
    std::lock_guard lock(mutex_);
    texts_.push_back({std::move(where), std::move(text)});
  }
  void add_error(const keyless::error& e) {
    ++errors_;
    add("what()", e.what());
    add("message", e.message());
    add_diagnostics(e.details());
  }
  void add_diagnostics(const keyless::diagnostics& d) {
    add("hint", d.hint);
    add("service_code", d.service_code);
    add("request_id", d.request_id);
    for (const auto& s : d.sources) {
      add("source " + s.source, s.message);
      add("source name", s.source);
    }
  }
  void add_secret(std::string_view s) {
    if (s.size() >= 16) secrets_.emplace_back(s);
  }
  std::size_t log_lines() const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& t : texts_) n += t.first == "log" ? 1 : 0;
    return n;
  }
  std::size_t errors() const { return errors_; }

  /// Each secret, and its first and last 16 characters (a truncated excerpt is a leak too).
  void check() const {
    std::lock_guard lock(mutex_);
    for (const auto& secret : secrets_) {
      const std::string pieces[] = {secret, secret.substr(0, 16),
                                    secret.substr(secret.size() - 16)};
      for (const auto& [where, text] : texts_) {
        for (const auto& piece : pieces) {
          // Only say where: printing the text would print the secret.
          BOOST_TEST_INFO("secret (" << secret.size() << " chars) found in " << where);
          BOOST_TEST(text.find(piece) == std::string::npos);
        }
      }
    }
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> texts_;
  std::vector<std::string> secrets_;
  std::size_t errors_ = 0;
};

/// Installs a verbose log sink feeding `t`; removes it on destruction.
struct log_capture {
  explicit log_capture(transcript& t) {
    keyless::set_log_sink(
        [&t](keyless::log_level, std::string_view line) { t.add("log", std::string(line)); },
        keyless::log_level::verbose);
  }
  ~log_capture() { keyless::set_log_sink({}); }
};

void write_file(const std::filesystem::path& p, std::string_view text) {
  std::ofstream(p, std::ios::binary) << text;
}

/// Base: an io_context, a manual clock, a transcript with the fixed secrets registered.
struct fixture {
  asio::io_context io;
  std::shared_ptr<keyless::manual_clock> clock = std::make_shared<keyless::manual_clock>();
  transcript t;
  log_capture capture{t};

  fixture() {
    for (auto s : {client_secret, wrong_secret, federated, identity_header, resource_key, wrong_key,
                   planted_token}) {
      t.add_secret(s);
    }
  }
  ~fixture() { t.check(); }

  /// Runs `task` with manual time; records a failure, or registers a token as a secret.
  template <typename T>
  std::optional<T> run(asio::awaitable<T> task) {
    struct state {
      bool done = false;
      std::exception_ptr error;
      std::optional<T> value;
    };
    auto s = std::make_shared<state>();
    asio::co_spawn(io, std::move(task), [s](std::exception_ptr e, T v) {
      s->error = e;
      if (!e) s->value.emplace(std::move(v));
      s->done = true;
    });
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!s->done) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("scenario hung");
      if (io.stopped()) io.restart();
      if (clock->sleepers() > 0) {
        io.poll();
        if (!s->done && clock->sleepers() > 0) clock->advance(250ms);
        continue;
      }
      io.run_one_for(5ms);
    }
    if (io.stopped()) io.restart();
    if (s->error) {
      try {
        std::rethrow_exception(s->error);
      } catch (const keyless::error& e) {
        t.add_error(e);
      }
      return std::nullopt;
    }
    return std::move(s->value);
  }

  std::optional<ki::access_token> token(ki::token_credential& c) {
    auto tok = run(c.get_token({{std::string(scope)}, {}, {}, false}));
    if (tok) t.add_secret(tok->token());
    return tok;
  }
};

/// A fake Entra ID knowing one app with the secret, the certificate and the federated token.
struct entra_fixture : fixture {
  kt::fake_entra entra{io.get_executor(), [this] {
                         kt::fake_entra_options o;
                         o.clock = clock;
                         return o;
                       }()};
  const kt::rsa_certificate& cert = kt::shared_rsa_certificate();

  entra_fixture() {
    kt::fake_app app;
    app.client_id = std::string(client_id);
    app.secret = std::string(client_secret);
    app.certificate_pem = cert.certificate_pem;
    entra.add_app(app);
    // Workload identity: an app that only federates (no secret or certificate to try).
    kt::fake_app federating;
    federating.client_id = std::string(federated_client_id);
    federating.federated_token = std::string(federated);
    entra.add_app(federating);
  }
  template <typename Options>
  Options options() {
    Options o;
    o.authority_host = entra.authority();
    o.http = kt::trusting(entra.ca_certificate_pem(), 10s);
    o.clock = clock;
    o.environment = ki::environment_map{};
    o.retry.max_retries = 1;
    return o;
  }
  /// Client assertions the fake received are secrets too.
  void register_assertions() {
    for (const auto& r : entra.requests()) {
      const auto at = r.body.find("client_assertion=");
      if (at == std::string::npos) continue;
      auto end = r.body.find('&', at);
      t.add_secret(r.body.substr(at + 17, end == std::string::npos ? end : end - at - 17));
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(secrets)

BOOST_FIXTURE_TEST_CASE(client_secret_success_and_refusal_never_show_the_secret, entra_fixture) {
  ki::client_secret_credential good(io.get_executor(), std::string(tenant), std::string(client_id),
                                    std::string(client_secret), options<ki::entra_options>());
  BOOST_TEST(token(good).has_value());
  ki::client_secret_credential bad(io.get_executor(), std::string(tenant), std::string(client_id),
                                   std::string(wrong_secret), options<ki::entra_options>());
  BOOST_TEST(!token(bad).has_value());
  BOOST_TEST(t.errors() == 1u);
  BOOST_TEST(entra.last_error_code() == "AADSTS7000215");
}

BOOST_FIXTURE_TEST_CASE(client_certificate_assertions_never_appear, entra_fixture) {
  auto good = ki::client_certificate_credential::from_pem(
      io.get_executor(), std::string(tenant), std::string(client_id), cert.combined_pem(),
      options<ki::client_certificate_options>());
  BOOST_TEST(token(*good).has_value());
  // Another certificate: Entra refuses the assertion (AADSTS700027).
  auto other = kt::generate_rsa_certificate("not-registered");
  auto bad = ki::client_certificate_credential::from_pem(
      io.get_executor(), std::string(tenant), std::string(client_id), other.combined_pem(),
      options<ki::client_certificate_options>());
  BOOST_TEST(!token(*bad).has_value());
  register_assertions();
  BOOST_TEST(t.errors() == 1u);
  // The private keys are secrets too.
  t.add_secret(cert.private_key_pem.substr(40, 64));
  t.add_secret(other.private_key_pem.substr(40, 64));
}

BOOST_FIXTURE_TEST_CASE(workload_identity_never_shows_the_federated_token, entra_fixture) {
  kt::temp_dir dir("keyless-secrets");
  write_file(dir / "token", federated);
  auto o = options<ki::workload_identity_options>();
  o.tenant_id = std::string(tenant);
  o.client_id = std::string(federated_client_id);
  o.token_file_path = dir / "token";
  ki::workload_identity_credential good(io.get_executor(), o);
  BOOST_TEST(token(good).has_value());
  // A federated token Entra does not know (AADSTS70021).
  const std::string unknown = std::string(federated) + "x";
  write_file(dir / "token", unknown);
  t.add_secret(unknown);
  ki::workload_identity_credential bad(io.get_executor(), o);
  BOOST_TEST(!token(bad).has_value());
  BOOST_TEST(t.errors() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_token_endpoint_echoing_tokens_in_bad_bodies_is_not_repeated, fixture) {
  // A 200 whose body is unusable, and a 400 whose description quotes the token and secret.
  kt::server_options so;
  so.tls = true;
  kt::loopback_server server(io.get_executor(), so);
  int n = 0;
  server.set_handler([&n](kt::recorded_request, kt::responder& out) -> asio::awaitable<void> {
    if (n++ % 2 == 0) {
      co_await out.respond_json(
          200, R"({"access_token":")" + std::string(planted_token) + R"(","expires_in":"soon"})");
    } else {
      co_await out.respond_json(
          400, R"({"error":"invalid_request","error_description":"AADSTS90014: bad token )" +
                   std::string(planted_token) + " for secret " + std::string(client_secret) +
                   R"(","error_codes":[90014]})");
    }
  });
  ki::entra_options o;
  o.authority_host = server.url("");
  o.http = kt::trusting(kt::test_pki::shared().ca_certificate_pem(), 10s);
  o.clock = clock;
  o.environment = ki::environment_map{};
  ki::client_secret_credential cred(io.get_executor(), std::string(tenant), std::string(client_id),
                                    std::string(client_secret), o);
  BOOST_TEST(!token(cred).has_value());
  BOOST_TEST(!token(cred).has_value());
  BOOST_TEST(t.errors() == 2u);
  server.stop();
}

BOOST_FIXTURE_TEST_CASE(managed_identity_never_shows_its_header_secret_or_token, fixture) {
  kt::fake_managed_identity_options fo;
  fo.kind = kt::fake_mi_kind::app_service;
  fo.clock = clock;
  fo.secret = std::string(identity_header);
  kt::fake_managed_identity fake(io.get_executor(), fo);
  ki::managed_identity_options o;
  o.environment = ki::environment_map{{"IDENTITY_ENDPOINT", fake.endpoint()},
                                      {"IDENTITY_HEADER", std::string(identity_header)}};
  o.arc_agent_files = {};
  o.http = kt::trusting("", 10s);
  o.clock = clock;
  o.retry.max_retries = 1;
  ki::managed_identity_credential good(io.get_executor(), o);
  BOOST_TEST(token(good).has_value());
  // Wrong header: the endpoint refuses; a 500 body quoting the header is not repeated.
  const std::string wrong = std::string(identity_header) + "-wrong";
  t.add_secret(wrong);
  o.environment =
      ki::environment_map{{"IDENTITY_ENDPOINT", fake.endpoint()}, {"IDENTITY_HEADER", wrong}};
  ki::managed_identity_credential bad(io.get_executor(), o);
  BOOST_TEST(!token(bad).has_value());
  fake.enqueue(kt::scripted_response::json(
      400, R"({"error":"invalid_request","error_description":"header )" + wrong + R"( refused"})"));
  BOOST_TEST(!token(bad).has_value());
  BOOST_TEST(t.errors() == 2u);
  fake.server().stop();
}

BOOST_FIXTURE_TEST_CASE(the_chain_aggregate_error_holds_no_secret, entra_fixture) {
  kt::temp_dir dir("keyless-secrets");
  std::vector<ki::chain_source> sources;
  sources.push_back({std::make_shared<ki::client_secret_credential>(
      io.get_executor(), std::string(tenant), std::string(client_id), std::string(wrong_secret),
      options<ki::entra_options>())});
  ki::azure_cli_credential_options az;
  az.executable = std::string(KEYLESS_FAKES_DIR) + "/az";
  az.environment = {
      {"FAKE_CLI_EXIT", "1"},
      {"FAKE_CLI_STDERR", "ERROR: token " + std::string(planted_token) + " expired\n"}};
  // Unavailable first so the chain goes on to the refused secret.
  std::vector<ki::chain_source> ordered;
  ordered.push_back({std::make_shared<ki::azure_cli_credential>(io.get_executor(), az), true});
  ordered.push_back(std::move(sources.front()));
  auto chain =
      std::make_shared<ki::chained_token_credential>(io.get_executor(), std::move(ordered));
  BOOST_TEST(!token(*chain).has_value());
  BOOST_TEST(t.errors() == 1u);
  keyless::diagnostics report;
  report.sources = chain->last_report().attempts;
  t.add_diagnostics(report);
}

BOOST_FIXTURE_TEST_CASE(cli_errors_never_repeat_tokens, fixture) {
  const std::string az = std::string(KEYLESS_FAKES_DIR) + "/az";
  const std::string azd = std::string(KEYLESS_FAKES_DIR) + "/azd";
  const std::string token_json = R"({"accessToken":")" + std::string(planted_token) +
                                 R"(","expiresOn":"not a time","tokenType":"Bearer"})";
  const std::vector<std::vector<std::pair<std::string, std::string>>> az_runs = {
      {{"FAKE_CLI_STDOUT", token_json}},  // unusable expiry next to a token
      {{"FAKE_CLI_STDOUT", token_json}, {"FAKE_CLI_EXIT", "1"}},
      {{"FAKE_CLI_STDERR", "ERROR: AADSTS50173: grant revoked for " + std::string(planted_token)},
       {"FAKE_CLI_EXIT", "1"}},
      {{"FAKE_CLI_STDOUT", std::string(planted_token)}},  // a bare token, not JSON
  };
  for (const auto& env : az_runs) {
    ki::azure_cli_credential_options o;
    o.executable = az;
    o.environment = env;
    ki::azure_cli_credential cred(io.get_executor(), o);
    BOOST_TEST(!token(cred).has_value());
  }
  ki::azure_developer_cli_credential_options o;
  o.executable = azd;
  o.environment = {{"FAKE_CLI_STDOUT", R"({"token":")" + std::string(planted_token) +
                                           R"(","expiresOn":"yesterday"})"}};
  ki::azure_developer_cli_credential bad_azd(io.get_executor(), o);
  BOOST_TEST(!token(bad_azd).has_value());
  o.environment = {{"FAKE_CLI_STDOUT", R"({"token":")" + std::string(planted_token) +
                                           R"(","expiresOn":"2099-01-01T00:00:00Z"})"}};
  ki::azure_developer_cli_credential good_azd(io.get_executor(), o);
  BOOST_TEST(token(good_azd).has_value());
  BOOST_TEST(t.errors() == az_runs.size() + 1);
}

BOOST_FIXTURE_TEST_CASE(chat_errors_never_show_the_api_key_or_the_bearer_token, fixture) {
  using kind = kt::openai_fault::kind;
  kt::fake_openai_options fo;
  fo.api_key = std::string(resource_key);
  fo.clock = clock;
  kt::fake_openai fake(io.get_executor(), fo);
  auto chat_with = [&](ko::chat_auth auth) {
    ko::chat_client_options o;
    o.endpoint = fake.endpoint();
    o.deployment = "gpt-4o-mini";
    o.auth = std::move(auth);
    o.http = kt::trusting(fake.ca_certificate_pem(), 10s);
    o.clock = clock;
    o.max_retries = 1;
    o.stream_idle_timeout = 2s;
    o.environment = ki::environment_map{};
    return std::make_unique<ko::chat_client>(io.get_executor(), o);
  };
  auto hello = [] {
    ko::chat_request r;
    r.messages.push_back({"user", "Hello"});
    return r;
  };
  auto complete = [&](ko::chat_client& c) {
    return run(c.complete(hello())).has_value();
  };
  auto stream = [&](ko::chat_client& c) {
    auto drain = [&c, &hello]() -> asio::awaitable<int> {
      auto s = co_await c.stream(hello());
      while (co_await s.next()) {
      }
      co_return 0;
    };
    return run(drain()).has_value();
  };

  auto keyed = chat_with(ko::api_key{std::string(resource_key)});
  BOOST_TEST(complete(*keyed));
  auto wrong = chat_with(ko::api_key{std::string(wrong_key)});
  BOOST_TEST(!complete(*wrong));  // 401
  fake.enqueue(kt::openai_fault::of(kind::permission_denied), 2);
  BOOST_TEST(!complete(*keyed));  // 403
  fake.enqueue(kt::openai_fault::rate_limited_ms("100"), 2);
  BOOST_TEST(!complete(*keyed));  // 429 twice
  fake.enqueue(kt::openai_fault::of(kind::error_event));
  BOOST_TEST(!stream(*keyed));
  fake.enqueue(kt::openai_fault::of(kind::stall_mid_stream));
  BOOST_TEST(!stream(*keyed));

  // Bearer: a token the service refuses (revoked), with the token registered as a secret.
  // Real time here: the provider's token cache reads the system clock.
  kt::fake_entra entra(io.get_executor());
  kt::fake_app app;
  app.client_id = std::string(client_id);
  app.secret = std::string(client_secret);
  entra.add_app(app);
  ki::entra_options eo;
  eo.authority_host = entra.authority();
  eo.http = kt::trusting(entra.ca_certificate_pem(), 10s);
  eo.environment = ki::environment_map{};
  auto cred = std::make_shared<ki::client_secret_credential>(io.get_executor(), std::string(tenant),
                                                             std::string(client_id),
                                                             std::string(client_secret), eo);
  auto issued = token(*cred);
  BOOST_REQUIRE(issued.has_value());
  auto bearer = chat_with(ki::bearer_token_provider(cred, std::string(scope)));
  BOOST_TEST(complete(*bearer));
  for (const auto& h : fake.authorization_headers()) t.add_secret(h.substr(7));
  fake.enqueue(kt::openai_fault::of(kind::wrong_audience), 4);
  BOOST_TEST(!complete(*bearer));  // 401 wrong audience, refreshed, refused again
  for (const auto& h : fake.authorization_headers()) t.add_secret(h.substr(7));
  BOOST_TEST(t.errors() >= 6u);
  BOOST_TEST(t.log_lines() > 0u);
  fake.server().stop();
  entra.server().stop();
}

BOOST_AUTO_TEST_SUITE_END()
