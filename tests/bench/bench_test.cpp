#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <simdjson.h>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include "child_process.hpp"
#include "clean_environment.hpp"
#include "fake_managed_identity.hpp"
#include "fake_openai.hpp"
#include "io_helpers.hpp"
#include "keyless/openai/chat_client.hpp"
#include "test_pki.hpp"

namespace keyless::bench_test {
namespace {

using namespace std::chrono_literals;
using keyless::testing::child_process;
using keyless::testing::run_program;
using keyless::testing::run_result;

// Generous: a sanitizer build on a loaded 2-core machine; a run normally takes well under 2 s.
constexpr auto child_limit = std::chrono::seconds(60);
constexpr std::string_view deployment = "gpt-4o-mini";
// Test-only value, never a real key; still, the bench must never print it.
constexpr std::string_view resource_key = "bench-test-resource-key-0123456789";

std::string keyless_path() {
  const char* p = std::getenv("KEYLESS_EXE");
  if (!p || !*p) throw std::runtime_error("KEYLESS_EXE is not set (meson sets it)");
  return p;
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// Fakes on loopback, served by a thread of this process; the bench runs as a child process.
struct bench_fixture {
  explicit bench_fixture(testing::fake_openai_options openai_options = default_openai_options())
      : openai(io.get_executor(), std::move(openai_options)),
        identity(io.get_executor(), identity_options()),
        directory(make_directory()),
        ca_file(testing::test_pki::shared().write_ca_file(directory)) {
    thread = std::thread([this] { io.run(); });
  }
  ~bench_fixture() {
    io.stop();
    thread.join();
    std::error_code ignored;
    std::filesystem::remove_all(directory, ignored);
  }
  bench_fixture(const bench_fixture&) = delete;
  bench_fixture& operator=(const bench_fixture&) = delete;

  static testing::fake_openai_options default_openai_options() {
    testing::fake_openai_options o;
    o.api_key = std::string(resource_key);
    o.record_credentials = false;
    return o;
  }
  static testing::fake_managed_identity_options identity_options() {
    testing::fake_managed_identity_options o;
    o.kind = testing::fake_mi_kind::app_service;
    return o;
  }
  static std::filesystem::path make_directory() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "keyless-bench-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    return pattern;
  }

  // What the child needs: trust in the fakes' CA (the HTTP client honours SSL_CERT_FILE
  // through OpenSSL's default verify paths), App Service managed identity pointing at the
  // fake, only that credential in the chain, and the key in a variable of our choosing.
  std::vector<std::string> environment() const {
    return clean_environment({
        "SSL_CERT_FILE=" + ca_file.string(),
        "IDENTITY_ENDPOINT=" + identity.endpoint(),
        "IDENTITY_HEADER=fake-identity-secret",
        "AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential",
        "BENCH_TEST_KEY=" + std::string(resource_key),
    });
  }

  std::vector<std::string> command(std::vector<std::string> flags) const {
    std::vector<std::string> argv{keyless_path(),    "bench",         "--endpoint",
                                  openai.endpoint(), "--deployment",  std::string(deployment),
                                  "--api-key-env",   "BENCH_TEST_KEY"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return argv;
  }

  run_result run(std::vector<std::string> flags) const {
    return run_program(command(std::move(flags)), environment(), child_limit);
  }

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  testing::fake_openai openai;
  testing::fake_managed_identity identity;
  std::filesystem::path directory;
  std::filesystem::path ca_file;
  std::thread thread;
};

// The parsed JSON report, kept with its parser (elements point into it).
struct json_report {
  explicit json_report(const std::string& text) : padded(text) { root = parser.parse(padded); }

  simdjson::dom::element at(std::string_view pointer) const {
    auto e = root.at_pointer(pointer);
    if (e.error()) throw std::runtime_error("no " + std::string(pointer) + " in the report");
    return e.value_unsafe();
  }
  std::uint64_t count(std::string_view pointer) const { return std::uint64_t(at(pointer)); }
  double number(std::string_view pointer) const { return double(at(pointer)); }
  bool is_null(std::string_view pointer) const { return at(pointer).is_null(); }

  simdjson::padded_string padded;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
};

// The figures every mode reports (docs/BENCHMARKS.md lists the same names).
constexpr std::string_view figure_fields[] = {
    "rounds",           "requests",         "succeeded",
    "failed",           "http_requests",    "retries",
    "auth_retries",     "wall_s",           "requests_per_s",
    "latency_ms",       "errors_by_status", "errors_by_kind",
    "cpu_user_s",       "cpu_system_s",     "cpu_us_per_request",
    "peak_rss_kib",     "token_fetches",    "token_fetch_failures",
    "token_fetch_ms",   "token_waits",      "token_wait_s",
    "token_wait_share", "first_chunk_ms",   "chunks",
    "chunks_per_s",
};

std::uint64_t probe_requests(const json_report& r) {
  std::uint64_t n = 0;
  for (auto [key, value] : r.at("/probes").get_object()) n += std::uint64_t(value["http_requests"]);
  return n;
}

std::uint64_t measured_requests(const json_report& r) {
  std::uint64_t n = 0;
  for (auto [key, value] : r.at("/results").get_object())
    n += std::uint64_t(value["http_requests"]);
  return n;
}

std::string describe(const run_result& r) {
  return "exit " + std::to_string(r.exit_code) + " signal " + std::to_string(r.signal) +
         (r.timed_out ? " (timed out)" : "") + "\nstderr: " + r.err;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bench)

BOOST_FIXTURE_TEST_CASE(both_modes_count_every_request_and_report_every_documented_figure,
                        bench_fixture) {
  const auto r = run({"--mode", "both", "--requests", "24", "--concurrency", "4", "--threads", "2",
                      "--output", "json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, describe(r));
  BOOST_TEST_MESSAGE(r.out);  // --log_level=message shows the report
  json_report report(r.out);

  BOOST_TEST(std::string_view(report.at("/mode")) == "both");
  BOOST_TEST(report.count("/concurrency") == 4u);
  BOOST_TEST(report.count("/threads") == 2u);
  BOOST_TEST(report.count("/requests_per_mode") == 24u);
  BOOST_TEST(bool(report.at("/interrupted")) == false);
  for (std::string mode : {"api_key", "keyless"}) {
    for (auto field : figure_fields) {
      BOOST_TEST(!report.root.at_pointer("/results/" + mode + "/" + std::string(field)).error(),
                 mode << " lacks " << field);
    }
    BOOST_TEST(report.count("/results/" + mode + "/requests") == 24u);
    BOOST_TEST(report.count("/results/" + mode + "/succeeded") == 24u);
    BOOST_TEST(report.count("/results/" + mode + "/failed") == 0u);
    BOOST_TEST(report.count("/results/" + mode + "/http_requests") == 24u);
    // 24 requests at concurrency 4: room for the maximum of 5 alternating rounds each.
    BOOST_TEST(report.count("/results/" + mode + "/rounds") == 5u);
    BOOST_TEST(report.number("/results/" + mode + "/requests_per_s") > 0.0);
    const double p50 = report.number("/results/" + mode + "/latency_ms/p50");
    const double p99 = report.number("/results/" + mode + "/latency_ms/p99");
    const double max = report.number("/results/" + mode + "/latency_ms/max");
    BOOST_TEST(p50 > 0.0);
    BOOST_TEST(p50 <= p99);
    BOOST_TEST(p99 <= max);
    BOOST_TEST(report.number("/results/" + mode + "/cpu_us_per_request") > 0.0);
    BOOST_TEST(report.count("/results/" + mode + "/peak_rss_kib") > 0u);
  }
  // Every request the fake saw is in the report, probes included.
  BOOST_TEST(openai.requests() == measured_requests(report) + probe_requests(report));
  BOOST_TEST(probe_requests(report) == 2u);

  // One token for the whole run, fetched by the keyless probe; the rounds never waited.
  BOOST_TEST(identity.tokens_issued() == 1u);
  BOOST_TEST(report.count("/probes/keyless/token_fetches") == 1u);
  BOOST_TEST(report.is_null("/probes/api_key/token_fetches"));
  BOOST_TEST(report.count("/results/keyless/token_fetches") == 0u);
  BOOST_TEST(report.number("/results/keyless/token_wait_share") == 0.0);
  BOOST_TEST(report.is_null("/results/api_key/token_fetches"));
  BOOST_TEST(report.is_null("/results/keyless/first_chunk_ms"));

  const double rps_ratio = report.number("/keyless_vs_api_key/requests_per_s");
  const double expected = report.number("/results/keyless/requests_per_s") /
                          report.number("/results/api_key/requests_per_s");
  BOOST_TEST(rps_ratio == expected, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(report.is_null("/keyless_vs_api_key/chunks_per_s"));

  BOOST_TEST(!contains(r.out, resource_key));
  BOOST_TEST(!contains(r.err, resource_key));
}

// A fake that keeps every request, to see which HTTP version each came in.
struct recording_bench_fixture : bench_fixture {
  static testing::fake_openai_options recording() {
    auto o = default_openai_options();
    o.record_credentials = true;
    return o;
  }
  recording_bench_fixture() : bench_fixture(recording()) {}
};

BOOST_FIXTURE_TEST_CASE(http2_sends_every_request_as_a_stream, recording_bench_fixture) {
  const auto r = run({"--mode", "both", "--http", "2", "--requests", "24", "--concurrency", "4",
                      "--threads", "2", "--output", "json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, describe(r));
  json_report report(r.out);
  BOOST_TEST(std::string_view(report.at("/http")) == "2");
  for (std::string mode : {"api_key", "keyless"}) {
    BOOST_TEST(report.count("/results/" + mode + "/succeeded") == 24u);
    BOOST_TEST(report.count("/results/" + mode + "/failed") == 0u);
  }
  const auto seen = openai.server().requests();
  BOOST_TEST(seen.size() == measured_requests(report) + probe_requests(report));
  for (const auto& request : seen) BOOST_TEST(request.version == "HTTP/2");
  // One connection per thread and mode, plus the probes': not one per request in flight.
  BOOST_TEST(openai.server().connections_accepted() <= 6u);
}

BOOST_FIXTURE_TEST_CASE(http_auto_uses_http2_where_the_endpoint_picks_it, recording_bench_fixture) {
  const auto r =
      run({"--mode", "keyless", "--http", "auto", "--requests", "8", "--output", "json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, describe(r));
  json_report report(r.out);
  BOOST_TEST(std::string_view(report.at("/http")) == "auto");
  BOOST_TEST(report.count("/results/keyless/succeeded") == 8u);
  const auto seen = openai.server().requests();
  BOOST_TEST(seen.size() == measured_requests(report) + probe_requests(report));
  for (const auto& request : seen) BOOST_TEST(request.version == "HTTP/2");  // the fake offers h2
}

BOOST_FIXTURE_TEST_CASE(streaming_counts_every_chunk_and_times_the_first_one, bench_fixture) {
  // How many chunks the fake sends for one reply, seen through the library in this process.
  asio::io_context client_io;
  openai::chat_client_options o;
  o.endpoint = openai.endpoint();
  o.deployment = std::string(deployment);
  o.auth = api_key{std::string(resource_key)};
  o.http.tls.ca_pem = openai.ca_certificate_pem();
  openai::chat_client client(client_io.get_executor(), std::move(o));
  openai::chat_request request;
  request.messages.push_back({"user", "hello"});
  auto count_chunks = [](openai::chat_client c,
                         openai::chat_request req) -> asio::awaitable<std::size_t> {
    auto s = co_await c.stream(std::move(req));
    std::size_t n = 0;
    while (co_await s.next()) ++n;
    co_return n;
  };
  const std::size_t per_reply = testing::run_sync(client_io, count_chunks(client, request));
  BOOST_REQUIRE(per_reply > 1u);
  const std::size_t before = openai.requests();

  const auto r = run({"--mode", "keyless", "--stream", "--requests", "12", "--concurrency", "3",
                      "--output", "json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, describe(r));
  json_report report(r.out);
  BOOST_TEST(report.count("/results/keyless/succeeded") == 12u);
  BOOST_TEST(report.count("/results/keyless/chunks") == 12u * per_reply);
  BOOST_TEST(report.number("/results/keyless/chunks_per_s") > 0.0);
  const double first = report.number("/results/keyless/first_chunk_ms/p50");
  BOOST_TEST(first > 0.0);
  BOOST_TEST(first <= report.number("/results/keyless/latency_ms/max"));
  BOOST_TEST(openai.streams_served() == 12u + 1u + 1u);  // the run, its probe, our count
  BOOST_TEST(openai.requests() - before == measured_requests(report) + probe_requests(report));
  BOOST_TEST(report.is_null("/keyless_vs_api_key"));
}

BOOST_FIXTURE_TEST_CASE(a_duration_run_on_two_threads_lasts_that_long_and_counts_everything,
                        bench_fixture) {
  const auto r =
      run({"--duration", "0.4", "--concurrency", "4", "--threads", "2", "--output", "json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, describe(r));
  json_report report(r.out);
  BOOST_TEST(report.is_null("/requests_per_mode"));
  BOOST_TEST(report.number("/duration_per_mode_s") == 0.4, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(report.number("/results/keyless/wall_s") >= 0.4);
  const auto requests = report.count("/results/keyless/requests");
  BOOST_TEST(requests > 0u);
  BOOST_TEST(report.count("/results/keyless/failed") == 0u);
  BOOST_TEST(openai.requests() == requests + probe_requests(report));
  BOOST_TEST(identity.tokens_issued() == 1u);  // two threads, one shared provider
}

BOOST_FIXTURE_TEST_CASE(the_text_report_has_no_progress_line_when_stdout_is_not_a_terminal,
                        bench_fixture) {
  const auto r = run({"--mode", "both", "--requests", "8", "--concurrency", "2"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, describe(r));
  BOOST_TEST_MESSAGE(r.out);
  BOOST_TEST(!contains(r.out, "\r"));
  BOOST_TEST(!contains(r.out, "\033["));
  BOOST_TEST(contains(r.out, "requests/s"), r.out);
  BOOST_TEST(contains(r.out, "keyless/api-key"), r.out);
  BOOST_TEST(contains(r.out, "latency p99 (ms)"), r.out);
  BOOST_TEST(contains(r.out, "waiting for tokens"), r.out);
  BOOST_TEST(!contains(r.out, resource_key));
  BOOST_TEST(openai.requests() == 8u + 8u + 2u);
}

BOOST_FIXTURE_TEST_CASE(ctrl_c_stops_the_run_and_still_reports_what_ran, bench_fixture) {
  child_process child(command({"--duration", "120", "--concurrency", "2", "--output", "json"}),
                      environment());
  // Wait (bounded) until the run is under way, then interrupt it.
  const auto give_up = std::chrono::steady_clock::now() + child_limit;
  while (openai.requests() < 20 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(5ms);
  }
  BOOST_REQUIRE(openai.requests() >= 20u);
  child.signal(SIGINT);
  const auto r = child.finish(child_limit);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 130, describe(r));
  json_report report(r.out);
  BOOST_TEST(bool(report.at("/interrupted")) == true);
  const auto requests = report.count("/results/keyless/requests");
  BOOST_TEST(requests >= 19u);
  BOOST_TEST(report.number("/results/keyless/wall_s") < 120.0);
  BOOST_TEST(openai.requests() == requests + probe_requests(report));
}

BOOST_FIXTURE_TEST_CASE(errors_during_the_run_are_counted_by_status_and_kind_not_retried,
                        bench_fixture) {
  using fault = testing::openai_fault;
  // The probe gets a plain completion; the first five requests of the run fail.
  fault ok = fault::of(fault::kind::scripted);
  ok.response = testing::scripted_response::json(
      200, R"({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,)"
           R"("message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]})");
  openai.enqueue(ok);
  openai.enqueue(fault::of(fault::kind::server_error), 3);
  openai.enqueue(fault::rate_limited_ms("10"), 2);

  const auto r = run({"--mode", "api-key", "--requests", "10", "--output", "json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, describe(r));
  json_report report(r.out);
  BOOST_TEST(report.count("/results/api_key/requests") == 10u);
  BOOST_TEST(report.count("/results/api_key/succeeded") == 5u);
  BOOST_TEST(report.count("/results/api_key/failed") == 5u);
  BOOST_TEST(report.count("/results/api_key/retries") == 0u);
  BOOST_TEST(report.count("/results/api_key/errors_by_status/500") == 3u);
  BOOST_TEST(report.count("/results/api_key/errors_by_status/429") == 2u);
  BOOST_TEST(report.count("/results/api_key/errors_by_kind/http_status") == 5u);
  BOOST_TEST(openai.requests() == 11u);
  BOOST_TEST(openai.requests() == measured_requests(report) + probe_requests(report));

  // The text report lists them too, with one message per kind.
  openai.enqueue(ok);
  openai.enqueue(fault::of(fault::kind::server_error));
  const auto text = run({"--mode", "api-key", "--requests", "2"});
  BOOST_REQUIRE_MESSAGE(text.exit_code == 0, describe(text));
  BOOST_TEST_MESSAGE(text.out);
  BOOST_TEST(contains(text.out, "api-key errors by status: 500 x1"), text.out);
  BOOST_TEST(contains(text.out, "http_status x1: "), text.out);
}

BOOST_FIXTURE_TEST_CASE(a_wrong_key_fails_the_probe_with_401_before_the_run, bench_fixture) {
  auto env = environment();
  env.push_back("WRONG_KEY=not-the-resource-key-42");
  const auto r = run_program(
      command({"--mode", "api-key", "--api-key-env", "WRONG_KEY", "--requests", "1000"}), env,
      child_limit);
  BOOST_TEST(r.exit_code == 1, describe(r));
  BOOST_TEST_MESSAGE(r.err);
  BOOST_TEST(contains(r.err, "api-key probe request"), r.err);
  BOOST_TEST(contains(r.err, "401"), r.err);
  BOOST_TEST(r.out.empty());
  BOOST_TEST(openai.requests() == 1u);
  BOOST_TEST(!contains(r.err, "not-the-resource-key-42"));
}

BOOST_AUTO_TEST_CASE(a_token_the_resource_refuses_fails_the_keyless_probe_with_401) {
  auto o = bench_fixture::default_openai_options();
  o.audiences = {"api://another-resource"};
  bench_fixture f(std::move(o));
  const auto r = f.run({"--requests", "1000"});
  BOOST_TEST(r.exit_code == 1, describe(r));
  BOOST_TEST_MESSAGE(r.err);
  BOOST_TEST(contains(r.err, "keyless probe request"), r.err);
  BOOST_TEST(contains(r.err, "401"), r.err);
  BOOST_TEST(r.out.empty());
  // The probe and the chat client's one retry with a fresh token; no run.
  BOOST_TEST(f.openai.requests() == 2u);
}

BOOST_FIXTURE_TEST_CASE(an_unreachable_endpoint_fails_fast_with_a_clear_message, bench_fixture) {
  std::uint16_t port = 0;
  {
    // A port nobody listens on: bound a moment ago, now closed.
    asio::io_context scratch;
    asio::ip::tcp::acceptor a(scratch, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  std::vector<std::string> argv{
      keyless_path(), "bench",       "--endpoint", "https://127.0.0.1:" + std::to_string(port),
      "--deployment", "gpt-4o-mini", "--requests", "1000"};
  const auto started = std::chrono::steady_clock::now();
  const auto r = run_program(argv, environment(), child_limit);
  BOOST_TEST(r.exit_code == 1, describe(r));
  BOOST_TEST_MESSAGE(r.err);
  BOOST_TEST(contains(r.err, "probe request"), r.err);
  BOOST_TEST(contains(r.err, "127.0.0.1:" + std::to_string(port)), r.err);
  const bool fast = std::chrono::steady_clock::now() - started < std::chrono::seconds(30);
  BOOST_TEST(fast);
}

BOOST_FIXTURE_TEST_CASE(bad_flags_exit_2_naming_the_problem_before_any_request, bench_fixture) {
  struct bad_case {
    std::vector<std::string> flags;
    std::string_view says;
  };
  const bad_case cases[] = {
      {{"--bogus"}, "--bogus"},
      {{"--concurrency", "0"}, "--concurrency"},
      {{"--concurrency", "many"}, "--concurrency"},
      {{"--requests", "5", "--duration", "1"}, "not both"},
      {{"--duration", "-1"}, "--duration"},
      {{"--threads", "4", "--concurrency", "2"}, "--threads"},
      {{"--mode", "sideways"}, "--mode"},
      {{"--output", "xml"}, "--output"},
      {{"--http", "3"}, "--http must be 1.1, 2 or auto"},
      {{"--mode", "api-key", "--api-key-env", "NO_SUCH_VARIABLE_HERE"}, "NO_SUCH_VARIABLE_HERE"},
      {{"stray"}, "stray"},
  };
  for (const auto& c : cases) {
    const auto r = run(c.flags);
    BOOST_TEST(r.exit_code == 2, c.says << ": " << describe(r));
    BOOST_TEST(contains(r.err, c.says), r.err);
    BOOST_TEST(r.out.empty());
  }
  // Without an endpoint anywhere.
  const auto r =
      run_program({keyless_path(), "bench", "--deployment", "d"}, environment(), child_limit);
  BOOST_TEST(r.exit_code == 2, describe(r));
  BOOST_TEST(contains(r.err, "AZURE_OPENAI_ENDPOINT"), r.err);
  BOOST_TEST(openai.requests() == 0u);
}

BOOST_AUTO_TEST_CASE(help_lists_every_flag) {
  const auto r =
      run_program({keyless_path(), "bench", "--help"}, clean_environment({}), child_limit);
  BOOST_TEST(r.exit_code == 0, describe(r));
  for (std::string_view flag : {"--endpoint", "--deployment", "--api-version", "--api-key-env",
                                "--mode", "--concurrency", "--requests", "--duration", "--stream",
                                "--max-tokens", "--prompt", "--threads", "--output", "--http"}) {
    BOOST_TEST(contains(r.out, flag), flag);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace keyless::bench_test
