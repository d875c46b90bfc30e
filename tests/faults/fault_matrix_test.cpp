// The fault matrix: every way a token endpoint, IMDS, a CLI, Azure OpenAI or a TLS peer can
// misbehave, each run over real loopback sockets or real processes, with manual time for
// retry delays. Each case must end in its exact outcome (a recovered success, or one errc
// with the words that make the message clear) within a wall-clock bound, and leave nothing
// behind: the file descriptors open before and after are the same, and once the fakes stop
// the io_context runs out of work (no coroutine is still parked on a timer or a socket).

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include "fake_managed_identity.hpp"
#include "fake_openai.hpp"
#include "io_helpers.hpp"
#include "keyless/core/clock.hpp"
#include "keyless/core/error.hpp"
#include "keyless/http/client.hpp"
#include "keyless/identity/azure_cli_credential.hpp"
#include "keyless/identity/client_secret_credential.hpp"
#include "keyless/identity/managed_identity_credential.hpp"
#include "keyless/openai/chat_client.hpp"
#include "loopback_client.hpp"
#include "loopback_server.hpp"
#include "test_pki.hpp"

namespace {

using namespace std::chrono_literals;
using keyless::errc;
using keyless::manual_clock;
namespace kt = keyless::testing;
namespace ki = keyless::identity;
namespace ko = keyless::openai;

constexpr std::string_view tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
constexpr std::string_view client_id = "fedcba98-7654-3210-0123-456789abcdef";
constexpr std::string_view scope = "https://cognitiveservices.azure.com/.default";
constexpr std::string_view api_key = "fault-matrix-api-key-0123456789";

// ---------------------------------------------------------------------------------------------
// Driving: real sockets, manual time.

/// What one case ended with.
struct outcome {
  bool success = false;
  std::error_code code;
  std::string message;
  keyless::diagnostics details;
  std::string detail;  ///< a success's own check ("" when fine), e.g. a wrong reply text
  std::chrono::milliseconds manual_elapsed{0};
};

/// One scenario's world: an io_context on this thread and a manual clock.
struct world {
  asio::io_context io;
  std::shared_ptr<manual_clock> clock = std::make_shared<manual_clock>();

  /// Runs `task`, moving the clock forward in `step`s whenever a coroutine sleeps on it and
  /// nothing else is ready. Throws std::runtime_error after `limit` of wall time (a hang).
  template <typename T>
  outcome run(asio::awaitable<T> task, std::function<std::string(const T&)> check = {},
              std::chrono::milliseconds step = 250ms, std::chrono::seconds limit = 60s) {
    struct state {
      bool done = false;
      std::exception_ptr error;
      std::optional<T> value;
    };
    auto s = std::make_shared<state>();
    const auto start = clock->now();
    asio::co_spawn(io, std::move(task), [s](std::exception_ptr e, T value) {
      s->error = e;
      if (!e) s->value.emplace(std::move(value));
      s->done = true;
    });
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!s->done) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error("the scenario did not finish within its bound (a hang)");
      }
      if (io.stopped()) io.restart();
      if (clock->sleepers() > 0) {
        io.poll();
        if (s->done) break;
        if (clock->sleepers() > 0) {
          clock->advance(step);
          continue;
        }
      }
      io.run_one_for(5ms);
    }
    if (io.stopped()) io.restart();
    outcome o;
    o.manual_elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock->now() - start);
    if (s->error) {
      try {
        std::rethrow_exception(s->error);
      } catch (const keyless::error& e) {
        o.code = e.code();
        o.message = e.message();
        o.details = e.details();
      }
      return o;  // anything but keyless::error propagates and fails the case
    }
    o.success = true;
    if (check) o.detail = check(*s->value);
    return o;
  }

  /// After the scenario's objects are gone: the io_context must run out of work on its own.
  bool drains(std::chrono::seconds limit = 10s) {
    io.restart();
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!io.stopped()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      if (clock->sleepers() > 0) clock->advance(1s);
      io.run_for(10ms);
    }
    return true;
  }
};

/// What a case must end with.
struct expected {
  std::optional<errc> code;                         ///< nullopt: a success
  std::vector<std::string> words;                   ///< each must appear in the message (or hint)
  std::optional<int> http_status;                   ///< diagnostics.http_status, when set
  std::chrono::milliseconds min_manual_elapsed{0};  ///< retry delays honoured
};

expected recovers(std::chrono::milliseconds min_manual_elapsed = 0ms) {
  expected e;
  e.min_manual_elapsed = min_manual_elapsed;
  return e;
}

expected fails(errc code, std::vector<std::string> words, std::optional<int> status = {}) {
  expected e;
  e.code = code;
  e.words = std::move(words);
  e.http_status = status;
  return e;
}

kt::server_options tls_server(kt::leaf_kind leaf = kt::leaf_kind::good) {
  kt::server_options o;
  o.tls = true;
  o.leaf = leaf;
  return o;
}

struct fault_case {
  std::string area;
  std::string fault;
  std::function<outcome(world&)> run;
  expected expect;
  std::chrono::seconds bound{20};  ///< wall-clock limit for the whole case
};

std::ostream& operator<<(std::ostream& os, const fault_case& c) {
  return os << c.area << ": " << c.fault;
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// ---------------------------------------------------------------------------------------------
// Token endpoint: a scripted HTTPS server in place of Entra ID, so every byte is ours.

std::string token_body(std::string extra = R"("expires_in":3599)") {
  return R"({"token_type":"Bearer",)" + extra +
         R"(,"access_token":"eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJmYXVsdCJ9.c2ln"})";
}

using step = std::function<asio::awaitable<void>(kt::responder&)>;

/// The token endpoint answers request n with steps[n] (the last one repeats).
outcome token_endpoint(world& w, std::vector<step> steps, ki::retry_options retry = {},
                       std::chrono::milliseconds request_timeout = 10s,
                       std::size_t* requests = nullptr) {
  kt::loopback_server server(w.io.get_executor(), tls_server());
  auto count = std::make_shared<std::size_t>(0);
  server.set_handler(
      [steps, count](kt::recorded_request, kt::responder& out) -> asio::awaitable<void> {
        const std::size_t i = (*count)++;
        co_await steps[i < steps.size() ? i : steps.size() - 1](out);
      });
  ki::entra_options o;
  o.authority_host = server.url("");
  o.http = kt::trusting(kt::test_pki::shared().ca_certificate_pem(), 10s);
  o.http.request_timeout = request_timeout;
  o.retry = retry;
  o.clock = w.clock;
  o.environment = ki::environment_map{};
  outcome r;
  {
    ki::client_secret_credential cred(w.io.get_executor(), std::string(tenant),
                                      std::string(client_id), "fault-matrix-secret", o);
    ki::token_request req{{std::string(scope)}, {}, {}, false};
    r = w.run<ki::access_token>(cred.get_token(std::move(req)), [&](const ki::access_token& t) {
      if (t.token().empty()) return std::string("empty token");
      if (t.expires_on() <= w.clock->now()) return std::string("the token is already expired");
      return std::string();
    });
  }
  if (requests) *requests = *count;
  server.stop();
  return r;
}

step respond(int status, std::string body, kt::header_map headers = {}) {
  return [=](kt::responder& out) -> asio::awaitable<void> {
    co_await out.respond(status, body, headers, "application/json");
  };
}
step ok_token(std::string extra = R"("expires_in":3599)") {
  return respond(200, token_body(std::move(extra)));
}
step raw_then_close(std::string bytes) {
  return [=](kt::responder& out) -> asio::awaitable<void> {
    co_await out.write_raw(bytes);
    out.close();
  };
}
/// Headers, then one body byte every 50 ms, forever (slowloris).
step never_ending_body() {
  return [](kt::responder& out) -> asio::awaitable<void> {
    co_await out.start_chunked(200, {}, "application/json");
    co_await out.write_chunk("{\"access_token\":\"");
    for (;;) {
      co_await out.delay(50ms);
      co_await out.write_chunk("a");
    }
  };
}

ki::retry_options fast_retries(int n = 3) {
  return {n, 1s, 10s, 60s};
}

// ---------------------------------------------------------------------------------------------
// IMDS: the fake managed identity endpoint, or a black hole.

outcome imds(world& w, std::function<void(kt::fake_managed_identity&)> setup,
             std::chrono::milliseconds request_timeout = 10s) {
  kt::fake_managed_identity_options fo;
  fo.kind = kt::fake_mi_kind::imds;
  fo.clock = w.clock;
  kt::fake_managed_identity fake(w.io.get_executor(), fo);
  setup(fake);
  ki::managed_identity_options o;
  o.environment = ki::environment_map{};
  o.imds_endpoint = fake.host();
  o.arc_agent_files = {};
  o.http = kt::trusting("", 10s);
  o.http.request_timeout = request_timeout;
  o.clock = w.clock;
  outcome r;
  {
    ki::managed_identity_credential cred(w.io.get_executor(), o);
    r = w.run<ki::access_token>(cred.get_token({{std::string(scope)}, {}, {}, false}));
  }
  fake.server().stop();
  return r;
}

/// IMDS at an address that accepts TCP connections and never answers: a listener whose
/// backlog nobody accepts from, so the SYN is answered by the kernel and then nothing.
outcome imds_black_hole(world& w) {
  asio::ip::tcp::acceptor hole(w.io, {asio::ip::make_address("127.0.0.1"), 0});
  ki::managed_identity_options o;
  o.environment = ki::environment_map{};
  o.imds_endpoint = "http://127.0.0.1:" + std::to_string(hole.local_endpoint().port());
  o.arc_agent_files = {};
  o.http = kt::trusting("", 10s);
  o.http.request_timeout = 400ms;
  o.retry = {2, 1s, 10s, 60s};
  o.clock = w.clock;
  ki::managed_identity_credential cred(w.io.get_executor(), o);
  return w.run<ki::access_token>(cred.get_token({{std::string(scope)}, {}, {}, false}));
}

// ---------------------------------------------------------------------------------------------
// Azure CLI: the fake az program, told by environment variables how to misbehave.

outcome az(world& w, std::vector<std::pair<std::string, std::string>> env,
           std::chrono::milliseconds timeout = 10s) {
  ki::azure_cli_credential_options o;
  o.executable = std::string(KEYLESS_FAKES_DIR) + "/az";
  o.environment = std::move(env);
  o.process_timeout = timeout;
  ki::azure_cli_credential cred(w.io.get_executor(), o);
  return w.run<ki::access_token>(cred.get_token({{std::string(scope)}, {}, {}, false}));
}

// ---------------------------------------------------------------------------------------------
// Azure OpenAI: the fake, with its faults.

struct openai_call {
  bool stream = false;
  std::chrono::milliseconds idle_timeout{10s};
};

openai_call streaming(std::chrono::milliseconds idle_timeout = 10s) {
  openai_call c;
  c.stream = true;
  c.idle_timeout = idle_timeout;
  return c;
}

outcome openai(world& w, std::vector<kt::openai_fault> faults, openai_call call = {}) {
  kt::fake_openai_options fo;
  fo.api_key = std::string(api_key);
  fo.clock = w.clock;
  kt::fake_openai fake(w.io.get_executor(), fo);
  for (auto& f : faults) fake.enqueue(f);
  ko::chat_client_options o;
  o.endpoint = fake.endpoint();
  o.deployment = "gpt-4o-mini";
  o.auth = ko::api_key{std::string(api_key)};
  o.http = kt::trusting(fake.ca_certificate_pem(), 10s);
  o.stream_idle_timeout = call.idle_timeout;
  o.clock = w.clock;
  o.random = [] {
    return 0.5;
  };
  o.environment = ki::environment_map{};
  outcome r;
  {
    ko::chat_client chat(w.io.get_executor(), o);
    ko::chat_request req;
    req.messages.push_back({"user", "Hello"});
    auto reply_check = [](const std::string& text) {
      return text == "Hello! How can I help you today?" ? std::string()
                                                        : "unexpected reply '" + text + "'";
    };
    if (!call.stream) {
      r = w.run<ko::chat_completion>(chat.complete(std::move(req)),
                                     [&](const ko::chat_completion& c) {
                                       if (c.choices.empty() || !c.choices[0].message.content) {
                                         return std::string("no reply");
                                       }
                                       return reply_check(*c.choices[0].message.content);
                                     });
    } else {
      auto drain = [&chat](ko::chat_request req) -> asio::awaitable<std::string> {
        auto stream = co_await chat.stream(std::move(req));
        while (co_await stream.next()) {
        }
        const auto& c = stream.accumulated();
        if (c.choices.empty() || !c.choices[0].message.content) co_return std::string();
        co_return *c.choices[0].message.content;
      };
      r = w.run<std::string>(drain(std::move(req)), reply_check);
    }
  }
  fake.server().stop();
  return r;
}

/// An RFC 1123 date `ahead` after the manual clock's now.
std::string http_date(const manual_clock& clock, std::chrono::seconds ahead) {
  const std::time_t t = std::chrono::system_clock::to_time_t(clock.now() + ahead);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// TLS: servers with each bad leaf, and one speaking only TLS 1.0.

outcome tls_peer(world& w, kt::server_options so) {
  so.tls = true;
  kt::loopback_server server(w.io.get_executor(), so);
  keyless::http::client_options o = kt::trusting(kt::test_pki::shared().ca_certificate_pem(), 10s);
  outcome r;
  {
    keyless::http::client client(w.io.get_executor(), o);
    keyless::http::request req;
    req.target = keyless::http::url::parse(server.url("/"));
    r = w.run<keyless::http::response>(client.send(std::move(req)));
  }
  server.stop();
  return r;
}

// ---------------------------------------------------------------------------------------------
// The matrix.

std::vector<fault_case> matrix() {
  using kind = kt::openai_fault::kind;
  const std::string partial_token_head =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
      "{\"access_token\":\"eyJ0";
  std::vector<fault_case> m;

  // Token endpoint.
  m.push_back({"token endpoint", "500 once, then a token",
               [](world& w) {
                 return token_endpoint(w, {respond(500, "{}"), ok_token()});
               },
               recovers(1s)});
  m.push_back({"token endpoint", "500 on every attempt",
               [](world& w) { return token_endpoint(w, {respond(500, "{}")}, fast_retries(2)); },
               fails(errc::http_status, {"HTTP 500 after 3 attempts"}, 500)});
  m.push_back({"token endpoint", "503 with Retry-After: 7, then a token",
               [](world& w) {
                 const kt::header_map h{{"Retry-After", "7"}};
                 return token_endpoint(w, {respond(503, "{}", h), ok_token()});
               },
               recovers(7s)});
  m.push_back({"token endpoint", "429, then a token",
               [](world& w) {
                 const kt::header_map h{{"Retry-After", "2"}};
                 return token_endpoint(w, {respond(429, "{}", h), ok_token()});
               },
               recovers(2s)});
  m.push_back(
      {"token endpoint", "connection refused",
       [](world& w) {
         ki::entra_options o;
         o.authority_host = "https://127.0.0.1:" + std::to_string(kt::closed_port());
         o.http = kt::trusting(kt::test_pki::shared().ca_certificate_pem(), 10s);
         o.retry = fast_retries(2);
         o.clock = w.clock;
         o.environment = ki::environment_map{};
         ki::client_secret_credential cred(w.io.get_executor(), std::string(tenant),
                                           std::string(client_id), "s", o);
         return w.run<ki::access_token>(cred.get_token({{std::string(scope)}, {}, {}, false}));
       },
       fails(errc::connection_failed, {"3 attempts", "Connection refused"})});
  m.push_back({"token endpoint", "connection reset after the headers",
               [=](world& w) {
                 return token_endpoint(w, {raw_then_close(partial_token_head)}, fast_retries(1));
               },
               fails(errc::connection_failed,
                     {"connection closed before the end of the body", "2 attempts"})});
  m.push_back({"token endpoint", "reset after the headers once, then a token",
               [=](world& w) {
                 return token_endpoint(w, {raw_then_close(partial_token_head), ok_token()});
               },
               recovers()});
  m.push_back(
      {"token endpoint", "a garbage body",
       [](world& w) { return token_endpoint(w, {respond(200, "<html>gateway says hi</html>")}); },
       fails(errc::malformed_response, {"token response", "not a JSON object"})});
  m.push_back({"token endpoint", "a 10 MB body",
               [](world& w) {
                 return token_endpoint(
                     w, {respond(200, token_body(R"("expires_in":3599,"padding":")" +
                                                 std::string(10 << 20, 'p') + "\""))});
               },
               fails(errc::limit_exceeded, {"ClientSecretCredential", "1048576"})});
  m.push_back(
      {"token endpoint", "a body that never ends",
       [](world& w) { return token_endpoint(w, {never_ending_body()}, fast_retries(1), 600ms); },
       fails(errc::timeout, {"request timeout (600 ms)", "2 attempts"})});
  m.push_back(
      {"token endpoint", "an already expired token",
       [](world& w) { return token_endpoint(w, {ok_token(R"("expires_on":1000000000)")}); },
       fails(errc::malformed_response, {"already expired", "2001-09-09T01:46:40Z", "clock"})});
  m.push_back({"token endpoint", "expires_in 0",
               [](world& w) { return token_endpoint(w, {ok_token(R"("expires_in":0)")}); },
               fails(errc::malformed_response, {"already expired"})});

  // IMDS.
  m.push_back({"IMDS", "410 for 70 s of manual time, then a token",
               [](world& w) {
                 return imds(w, [&](kt::fake_managed_identity& f) {
                   f.fail_until(w.clock->now() + 70s, 410, R"({"error":"gone"})");
                 });
               },
               recovers(70s)});
  m.push_back({"IMDS", "404 once, then a token",
               [](world& w) {
                 return imds(w, [](kt::fake_managed_identity& f) {
                   f.enqueue(kt::scripted_response::json(404, R"({"error":"not_found"})"));
                 });
               },
               recovers(1s)});
  m.push_back(
      {"IMDS", "a black-holed address", [](world& w) { return imds_black_hole(w); },
       fails(errc::timeout, {"IMDS could not be reached (3 attempts)", "request timeout"})});

  // Azure CLI.
  m.push_back({"Azure CLI", "az hangs and is killed at the timeout",
               [](world& w) {
                 return az(w, {{"FAKE_CLI_HANG", "1"}}, 500ms);
               },
               fails(errc::credential_unavailable,
                     {"Azure CLI (az) did not finish within 500 ms", "stopped"})});
  m.push_back(
      {"Azure CLI", "az prints garbage",
       [](world& w) {
         return az(w, {{"FAKE_CLI_STDOUT", "Hello from a broken az\n"}});
       },
       fails(errc::credential_unavailable, {"output keyless cannot use", "not a JSON object"})});
  m.push_back({"Azure CLI", "az exits 1 asking for az login",
               [](world& w) {
                 return az(
                     w, {{"FAKE_CLI_EXIT", "1"},
                         {"FAKE_CLI_STDERR", "ERROR: Please run 'az login' to setup account.\n"}});
               },
               fails(errc::credential_unavailable, {"not logged in", "az login"})});
  m.push_back(
      {"Azure CLI", "az prints a huge stdout",
       [](world& w) {
         return az(w, {{"FAKE_CLI_STDOUT_BYTES", "20000000"}});
       },
       fails(errc::credential_unavailable, {"more than 1048576 bytes to stdout", "stopped"})});

  // Azure OpenAI.
  m.push_back({"Azure OpenAI", "429 with retry-after-ms, then a reply",
               [](world& w) { return openai(w, {kt::openai_fault::rate_limited_ms("1500")}); },
               recovers(1500ms)});
  m.push_back({"Azure OpenAI", "429 with retry-after seconds, then a reply",
               [](world& w) { return openai(w, {kt::openai_fault::rate_limited_after("4")}); },
               recovers(4s)});
  m.push_back({"Azure OpenAI", "429 with retry-after as an HTTP date, then a reply",
               [](world& w) {
                 return openai(w, {kt::openai_fault::rate_limited_after(http_date(*w.clock, 5s))});
               },
               recovers(4s)});
  m.push_back({"Azure OpenAI", "429 with x-ms-retry-after-ms, then a reply",
               [](world& w) {
                 auto f = kt::openai_fault::of(kind::rate_limited);
                 f.headers = kt::header_map{{"x-ms-retry-after-ms", "2500"}};
                 return openai(w, {f});
               },
               recovers(2500ms)});
  m.push_back({"Azure OpenAI", "429 on every attempt",
               [](world& w) {
                 auto f = kt::openai_fault::rate_limited_ms("100");
                 return openai(w, {f, f, f, f});
               },
               fails(errc::http_status, {"HTTP 429", "gave up after 2 retries"}, 429)});
  m.push_back({"Azure OpenAI", "500, then a reply",
               [](world& w) { return openai(w, {kt::openai_fault::of(kind::server_error)}); },
               recovers()});
  m.push_back({"Azure OpenAI", "reset mid-response, then a reply",
               [](world& w) { return openai(w, {kt::openai_fault::of(kind::reset_mid_response)}); },
               recovers()});
  m.push_back(
      {"Azure OpenAI", "stream reset mid-response",
       [](world& w) {
         return openai(w, {kt::openai_fault::of(kind::reset_mid_response)}, streaming());
       },
       fails(errc::connection_failed,
             {"broke after 2 chunks", "connection closed before the end of the chunked body"})});
  m.push_back(
      {"Azure OpenAI", "stream with a truncated chunked body",
       [](world& w) {
         return openai(w, {kt::openai_fault::of(kind::truncated_chunked_body)}, streaming());
       },
       fails(errc::connection_failed,
             {"broke after 2 chunks", "connection closed before the end of the chunked body"})});
  m.push_back({"Azure OpenAI", "stream that stalls",
               [](world& w) {
                 return openai(w, {kt::openai_fault::of(kind::stall_mid_stream)}, streaming(500ms));
               },
               fails(errc::timeout, {"stream", "idle timeout (500 ms)"})});
  m.push_back({"Azure OpenAI", "stream that ends before [DONE]",
               [](world& w) {
                 return openai(w, {kt::openai_fault::of(kind::drop_before_done)}, streaming());
               },
               fails(errc::connection_failed, {"ended without [DONE]", "incomplete"})});
  m.push_back(
      {"Azure OpenAI", "200 with a wrong Content-Type",
       [](world& w) { return openai(w, {kt::openai_fault::of(kind::wrong_content_type)}); },
       fails(errc::malformed_response, {"Content-Type 'text/html' instead of application/json"})});

  // TLS.
  m.push_back({"TLS", "a certificate for another host",
               [](world& w) { return tls_peer(w, tls_server(kt::leaf_kind::wrong_name)); },
               fails(errc::tls_failed, {"certificate verify failed", "IP address mismatch"})});
  m.push_back(
      {"TLS", "a certificate from an untrusted CA",
       [](world& w) { return tls_peer(w, tls_server(kt::leaf_kind::untrusted)); },
       fails(errc::tls_failed, {"certificate verify failed", "unable to get local issuer"})});
  m.push_back({"TLS", "an expired certificate",
               [](world& w) { return tls_peer(w, tls_server(kt::leaf_kind::expired)); },
               fails(errc::tls_failed, {"certificate has expired"})});
  m.push_back({"TLS", "a server speaking only TLS 1.0",
               [](world& w) {
                 kt::server_options so;
                 so.min_tls_version = kt::tls_version::tls1_0;
                 so.max_tls_version = kt::tls_version::tls1_0;
                 return tls_peer(w, so);
               },
               fails(errc::tls_failed, {"TLS handshake", "protocol version"})});
  return m;
}

std::string describe(const outcome& o) {
  if (o.success) return "success" + (o.detail.empty() ? std::string() : " (" + o.detail + ")");
  return o.code.message() + ": " + o.message;
}

/// Warms up what a process opens once and keeps (OpenSSL's random source, the shared test
/// PKI), so the first case's descriptor count is not charged with them.
struct warm_up {
  warm_up() {
    world w;
    (void)token_endpoint(w, {ok_token()});
    (void)kt::test_pki::shared();
  }
};

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(warm_up);

BOOST_AUTO_TEST_SUITE(faults)

BOOST_DATA_TEST_CASE(each_fault_ends_in_its_exact_outcome_without_leaks,
                     boost::unit_test::data::make(matrix()), c) {
  BOOST_TEST_MESSAGE(c.area << ": " << c.fault);
  const std::size_t fds_before = kt::count_open_fds();
  const auto wall_start = std::chrono::steady_clock::now();
  bool drained = false;
  outcome o;
  {
    world w;
    o = c.run(w);
    drained = w.drains();
  }
  const auto wall = std::chrono::steady_clock::now() - wall_start;
  const std::size_t fds_after = kt::count_open_fds();

  BOOST_TEST_MESSAGE("outcome: " << describe(o));
  BOOST_TEST_INFO("outcome: " << describe(o));
  if (!c.expect.code) {
    BOOST_TEST(o.success);
    BOOST_TEST(o.detail.empty());
  } else {
    BOOST_TEST(!o.success);
    BOOST_TEST(o.code == keyless::make_error_code(*c.expect.code));
    for (const auto& word : c.expect.words) {
      BOOST_TEST_INFO("expected word: " << word);
      BOOST_TEST((contains(o.message, word) || contains(o.details.hint, word)));
    }
    if (c.expect.http_status)
      BOOST_TEST(o.details.http_status.value_or(0) == *c.expect.http_status);
  }
  BOOST_TEST(o.manual_elapsed >= c.expect.min_manual_elapsed);
  BOOST_TEST(wall < std::chrono::steady_clock::duration(c.bound));
  BOOST_TEST(drained, "a coroutine was still parked after the scenario ended");
  BOOST_TEST(fds_after == fds_before);
}

BOOST_AUTO_TEST_SUITE_END()
