// loopback_server over HTTP/2 with real peers: curl (h2c with prior knowledge, and h2 over TLS
// chosen by ALPN), nghttp and h2load run as child processes; plus connection lifecycle
// (close_idle_connections, stop) driven by our own client session over a socket.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include "child_process.hpp"
#include "http/h2/client_session.hpp"
#include "io_helpers.hpp"
#include "io_thread.hpp"
#include "loopback_server.hpp"
#include "raw_client.hpp"
#include "temp_dir.hpp"
#include "test_pki.hpp"

using namespace std::chrono_literals;
using keyless::testing::header_map;
using keyless::testing::io_thread;
using keyless::testing::loopback_server;
using keyless::testing::recorded_request;
using keyless::testing::responder;
using keyless::testing::run_program;
using keyless::testing::run_result;
using keyless::testing::server_options;
using keyless::testing::temp_dir;
using keyless::testing::test_pki;
namespace h2 = keyless::http::h2;
namespace raw = keyless::testing::raw;

namespace {

constexpr std::string_view curl = "/usr/bin/curl";
constexpr std::string_view nghttp = "/usr/bin/nghttp";
constexpr std::string_view h2load = "/usr/bin/h2load";

bool have(std::string_view tool) {
  if (std::filesystem::exists(tool)) return true;
  BOOST_TEST_MESSAGE(tool << " is not installed: skipped (CI installs it)");
  return false;
}

// A server on a thread of its own, so the test thread can wait for a child process.
struct threaded_server {
  explicit threaded_server(server_options options) : server(thread.io.get_executor(), options) {
    server.route("POST", "/echo", echo);
    server.route("GET", "/stream", stream);
    server.route("GET", "/large", large);
  }

  static asio::awaitable<void> echo(recorded_request request, responder& r) {
    header_map headers{{"x-echo-length", std::to_string(request.body.size())}};
    co_await r.respond(200, "echo:" + request.body, std::move(headers));
  }

  static asio::awaitable<void> stream(recorded_request, responder& r) {
    co_await r.start_chunked(200, {}, "text/event-stream");
    for (int i = 0; i < 3; ++i) co_await r.write_chunk("data: " + std::to_string(i) + "\n\n");
    co_await r.finish_chunked();
  }

  static asio::awaitable<void> large(recorded_request, responder& r) {
    co_await r.respond(200, large_body());
  }

  static std::string large_body() {
    std::string body(3'000'000, '\0');
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 23);
    return body;
  }

  io_thread thread;  // declared first: outlives the server, whose destructor stops it
  loopback_server server;
};

server_options h2c() {
  server_options o;
  o.http2 = true;
  return o;
}

server_options h2_over_tls() {
  server_options o = h2c();
  o.tls = true;
  return o;
}

// curl with no configuration file and no environment: nothing of the machine leaks in.
run_result run_curl(std::vector<std::string> args) {
  std::vector<std::string> argv{std::string(curl), "-q", "-sS"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, {});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(loopback_h2)

BOOST_AUTO_TEST_CASE(curl_with_prior_knowledge_speaks_h2c_and_the_request_is_recorded) {
  if (!have(curl)) return;
  threaded_server s(h2c());
  const auto result =
      run_curl({"--http2-prior-knowledge", "-H", "X-Test: yes", "-H",
                "Authorization: Bearer " + std::string(2'000, 't'), "--data-binary", "hello h2",
                "-w", "\n%{http_version} %{http_code}", s.server.url("/echo?q=1")});
  BOOST_TEST_INFO("stderr: " << result.err);
  BOOST_REQUIRE(result.exit_code == 0);
  BOOST_TEST(result.out == "echo:hello h2\n2 200");
  BOOST_REQUIRE(s.server.requests_seen() == 1u);
  const recorded_request request = s.server.last_request();
  BOOST_TEST(request.version == "HTTP/2");
  BOOST_TEST(request.method == "POST");
  BOOST_TEST(request.target == "/echo?q=1");
  BOOST_TEST(request.path() == "/echo");
  BOOST_TEST(request.header("host") == s.server.authority());
  BOOST_TEST(request.header("x-test") == "yes");
  BOOST_TEST(request.header("authorization").size() == 2'007u);
  BOOST_TEST(request.header("content-length") == "8");
  BOOST_TEST(request.body == "hello h2");
  BOOST_TEST(s.server.connections_accepted() == 1u);
}

BOOST_AUTO_TEST_CASE(the_same_port_still_speaks_http1) {
  if (!have(curl)) return;
  threaded_server s(h2c());
  const auto result = run_curl({"--http1.1", "--data-binary", "one", "-w",
                                "\n%{http_version} %{http_code}", s.server.url("/echo")});
  BOOST_REQUIRE(result.exit_code == 0);
  BOOST_TEST(result.out == "echo:one\n1.1 200");
  BOOST_TEST(s.server.last_request().version == "HTTP/1.1");
}

BOOST_AUTO_TEST_CASE(curl_over_tls_gets_h2_through_alpn) {
  if (!have(curl)) return;
  threaded_server s(h2_over_tls());
  temp_dir dir;
  const std::string ca = test_pki::shared().write_ca_file(dir.path()).string();
  const auto result = run_curl({"--http2", "--cacert", ca, "--data-binary", "over tls", "-w",
                                "\n%{http_version} %{http_code}", s.server.url("/echo")});
  BOOST_TEST_INFO("stderr: " << result.err);
  BOOST_REQUIRE(result.exit_code == 0);
  BOOST_TEST(result.out == "echo:over tls\n2 200");
  const recorded_request request = s.server.last_request();
  BOOST_TEST(request.version == "HTTP/2");
  BOOST_TEST(request.body == "over tls");
  BOOST_TEST(request.tls_server_name.empty());  // no SNI for an IP address
  BOOST_TEST(!request.tls_protocol.empty());
  // A client that offers only http/1.1 gets it.
  const auto http1 = run_curl(
      {"--http1.1", "--cacert", ca, "-w", "\n%{http_version} %{http_code}", s.server.url("/")});
  BOOST_REQUIRE(http1.exit_code == 0);
  BOOST_TEST(http1.out == "ok\n1.1 200");
}

BOOST_AUTO_TEST_CASE(large_bodies_and_streamed_responses_cross_the_flow_control_windows) {
  if (!have(curl)) return;
  threaded_server s(h2c());
  temp_dir dir;
  const std::string upload(5'000'000, 'u');  // over our 1 MiB stream window
  const std::string upload_file = dir.write("upload", upload);
  const auto posted = run_curl({"--http2-prior-knowledge", "--data-binary", "@" + upload_file, "-D",
                                "-", "-o", (dir / "posted").string(), s.server.url("/echo")});
  BOOST_TEST_INFO("stderr: " << posted.err);
  BOOST_REQUIRE(posted.exit_code == 0);
  BOOST_TEST(posted.out.find("x-echo-length: 5000000") != std::string::npos);
  BOOST_TEST(s.server.last_request().body.size() == upload.size());

  const auto large = run_curl({"--http2-prior-knowledge", "-o", (dir / "large").string(), "-w",
                               "%{size_download}", s.server.url("/large")});
  BOOST_REQUIRE(large.exit_code == 0);
  BOOST_TEST(large.out == "3000000");
  const auto stream = run_curl({"--http2-prior-knowledge", s.server.url("/stream")});
  BOOST_REQUIRE(stream.exit_code == 0);
  BOOST_TEST(stream.out == "data: 0\n\ndata: 1\n\ndata: 2\n\n");
}

BOOST_AUTO_TEST_CASE(nghttp_sees_our_settings_and_a_streamed_body) {
  if (!have(nghttp)) return;
  threaded_server s(h2c());
  const auto verbose = run_program({std::string(nghttp), "-v", s.server.url("/stream")}, {});
  BOOST_TEST_INFO("stderr: " << verbose.err);
  BOOST_REQUIRE(verbose.exit_code == 0);
  BOOST_TEST(verbose.out.find("[SETTINGS_MAX_CONCURRENT_STREAMS(0x03):1000]") != std::string::npos);
  BOOST_TEST(verbose.out.find("data: 2") != std::string::npos);
  BOOST_TEST(verbose.out.find("recv RST_STREAM") == std::string::npos);
  BOOST_TEST(verbose.out.find("recv GOAWAY") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(h2load_runs_many_concurrent_streams) {
  if (!have(h2load)) return;
  threaded_server s(h2c());
  const auto result =
      run_program({std::string(h2load), "-n", "200", "-c", "2", "-m", "20", s.server.url("/")}, {});
  BOOST_TEST_INFO("stdout: " << result.out << "\nstderr: " << result.err);
  BOOST_REQUIRE(result.exit_code == 0);
  BOOST_TEST(result.out.find("200 succeeded, 0 failed, 0 errored") != std::string::npos);
  BOOST_TEST(s.server.requests_seen() == 200u);
  BOOST_TEST(s.server.connections_accepted() == 2u);
  BOOST_TEST(s.server.handler_failures() == 0u);
}

BOOST_AUTO_TEST_CASE(h2load_over_tls) {
  if (!have(h2load)) return;
  threaded_server s(h2_over_tls());
  temp_dir dir;
  const std::string body = dir.write("body", "{\"n\":1}");
  const auto result = run_program(
      {std::string(h2load), "-n", "100", "-c", "1", "-m", "10", "-d", body, s.server.url("/echo")},
      {});
  BOOST_TEST_INFO("stdout: " << result.out << "\nstderr: " << result.err);
  BOOST_REQUIRE(result.exit_code == 0);
  BOOST_TEST(result.out.find("Application protocol: h2") != std::string::npos);
  BOOST_TEST(result.out.find("100 succeeded, 0 failed, 0 errored") != std::string::npos);
  BOOST_TEST(s.server.requests_seen() == 100u);
  BOOST_TEST(s.server.last_request().body == "{\"n\":1}");
}

BOOST_AUTO_TEST_SUITE_END()
