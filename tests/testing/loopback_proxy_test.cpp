#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include "io_helpers.hpp"
#include "loopback_client.hpp"
#include "loopback_proxy.hpp"
#include "loopback_server.hpp"
#include "raw_client.hpp"

using namespace std::chrono_literals;
using keyless::testing::leaf_kind;
using keyless::testing::loopback_proxy;
using keyless::testing::loopback_server;
using keyless::testing::proxy_options;
using keyless::testing::recorded_request;
using keyless::testing::responder;
using keyless::testing::run_sync;
using keyless::testing::server_options;
namespace raw = keyless::testing::raw;
using raw::tcp;

namespace {

// Sends a CONNECT for `target` and reads the proxy's answer head (the tunnel starts after it).
asio::awaitable<raw::response> open_tunnel(tcp::socket& socket, std::string target,
                                           std::string extra = {}) {
  std::string pending;
  co_await raw::send(
      socket, "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n" + extra + "\r\n");
  // 200 to CONNECT has no body; treat it like a response to HEAD.
  auto response = co_await raw::read_response(socket, pending, true);
  // Nothing may follow a 200: the next bytes belong to the tunnel. (Refusals carry a body.)
  if (response.status == 200) BOOST_TEST(pending.empty());
  co_return response;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(loopback_proxy_tests)

BOOST_AUTO_TEST_CASE(connect_tunnels_plain_http_both_ways) {
  asio::io_context io;
  loopback_server origin(io.get_executor());
  loopback_proxy proxy(io.get_executor());
  BOOST_TEST(proxy.url() == "http://127.0.0.1:" + std::to_string(proxy.port()));
  run_sync(io, [&]() -> asio::awaitable<void> {
    auto socket = co_await raw::connect(proxy.port());
    auto established = co_await open_tunnel(socket, origin.authority());
    BOOST_TEST(established.status == 200);
    std::string pending;
    for (int i = 0; i < 2; ++i) {
      co_await raw::send(socket, raw::get("/through"));
      auto response = co_await raw::read_response(socket, pending);
      BOOST_TEST(response.body == "ok");
    }
  });
  BOOST_TEST(proxy.connect_requests() == 1u);
  BOOST_TEST(proxy.connect_targets() == std::vector<std::string>{origin.authority()});
  BOOST_TEST(origin.requests_seen("/through") == 2u);
  BOOST_TEST(origin.connections_accepted() == 1u);
}

BOOST_AUTO_TEST_CASE(connect_tunnels_a_verified_tls_session) {
  asio::io_context io;
  server_options options;
  options.tls = true;
  loopback_server origin(io.get_executor(), options);
  loopback_proxy proxy(io.get_executor());
  auto ctx = raw::client_context();
  auto body = run_sync(io, [&]() -> asio::awaitable<std::string> {
    raw::tls_stream stream(co_await asio::this_coro::executor, ctx);
    stream.next_layer() = co_await raw::connect(proxy.port());
    auto established = co_await open_tunnel(stream.next_layer(), origin.authority());
    BOOST_REQUIRE_EQUAL(established.status, 200);
    stream.set_verify_callback(asio::ssl::host_name_verification("127.0.0.1"));
    co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
    co_return (co_await raw::exchange(stream, raw::get("/secure"))).body;
  });
  BOOST_TEST(body == "ok");
  BOOST_TEST(origin.requests_seen("/secure") == 1u);
}

BOOST_AUTO_TEST_CASE(connect_to_an_ipv6_loopback_target_works) {
  asio::io_context io;
  server_options options;
  options.ipv6 = true;
  loopback_server origin(io.get_executor(), options);
  proxy_options popts;
  popts.ipv6 = true;
  loopback_proxy proxy(io.get_executor(), popts);
  BOOST_TEST(proxy.url() == "http://[::1]:" + std::to_string(proxy.port()));
  run_sync(io, [&]() -> asio::awaitable<void> {
    auto socket = co_await raw::connect(proxy.port(), true);
    auto established = co_await open_tunnel(socket, origin.authority());
    BOOST_TEST(established.status == 200);
    auto response = co_await raw::exchange(socket, raw::get("/"));
    BOOST_TEST(response.body == "ok");
  });
}

BOOST_AUTO_TEST_CASE(targets_off_loopback_are_refused_without_dialling) {
  asio::io_context io;
  loopback_proxy proxy(io.get_executor());
  // TEST-NET and a public name: never dialled, so the test cannot leave the machine.
  for (std::string target : {"192.0.2.1:443", "example.com:443", "127.0.0.2:80"}) {
    auto response = run_sync(io, [&]() -> asio::awaitable<raw::response> {
      auto socket = co_await raw::connect(proxy.port());
      std::string pending;
      co_await raw::send(socket, "CONNECT " + target + " HTTP/1.1\r\n\r\n");
      co_return co_await raw::read_response(socket, pending);
    });
    BOOST_TEST_INFO("target " << target);
    BOOST_TEST(response.status == 403);
  }
  auto forwarded = run_sync(io, [&]() -> asio::awaitable<raw::response> {
    auto socket = co_await raw::connect(proxy.port());
    co_return co_await raw::exchange(socket, raw::get("http://192.0.2.1/x"));
  });
  BOOST_TEST(forwarded.status == 403);
  BOOST_TEST(proxy.refused_requests() == 4u);
  BOOST_TEST(proxy.connect_requests() == 3u);
  BOOST_TEST(proxy.forwarded_requests() == 1u);
}

BOOST_AUTO_TEST_CASE(an_unreachable_target_gets_502_and_garbage_gets_400) {
  asio::io_context io;
  loopback_proxy proxy(io.get_executor());
  auto port = keyless::testing::closed_port();
  run_sync(io, [&]() -> asio::awaitable<void> {
    auto socket = co_await raw::connect(proxy.port());
    std::string pending;
    co_await raw::send(socket, "CONNECT 127.0.0.1:" + std::to_string(port) + " HTTP/1.1\r\n\r\n");
    BOOST_TEST((co_await raw::read_response(socket, pending)).status == 502);

    auto garbage = co_await raw::connect(proxy.port());
    pending.clear();
    co_await raw::send(garbage, "NOT HTTP\r\n\r\n");
    BOOST_TEST((co_await raw::read_response(garbage, pending)).status == 400);

    auto origin_form = co_await raw::connect(proxy.port());
    pending.clear();
    co_await raw::send(origin_form, raw::get("/relative"));
    BOOST_TEST((co_await raw::read_response(origin_form, pending)).status == 400);

    auto no_port = co_await raw::connect(proxy.port());
    pending.clear();
    co_await raw::send(no_port, "CONNECT 127.0.0.1 HTTP/1.1\r\n\r\n");
    BOOST_TEST((co_await raw::read_response(no_port, pending)).status == 400);
  });
}

BOOST_AUTO_TEST_CASE(absolute_form_requests_are_forwarded_in_origin_form) {
  asio::io_context io;
  loopback_server origin(io.get_executor());
  origin.set_handler([](recorded_request request, responder& r) -> asio::awaitable<void> {
    co_await r.respond(200, request.method + " " + request.target + " " + request.body);
  });
  proxy_options popts;
  popts.required_authorization = "Basic dXNlcjpwYXNz";
  loopback_proxy proxy(io.get_executor(), popts);
  run_sync(io, [&]() -> asio::awaitable<void> {
    auto get = co_await raw::connect(proxy.port());
    auto response = co_await raw::exchange(
        get, raw::get(origin.url("/x?y=1"), "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"));
    BOOST_TEST(response.status == 200);
    BOOST_TEST(response.body == "GET /x?y=1 ");

    auto post = co_await raw::connect(proxy.port());
    response = co_await raw::exchange(
        post, "POST " + origin.url("/p") +
                  " HTTP/1.1\r\nHost: 127.0.0.1\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    BOOST_TEST(response.body == "POST /p abc");
  });
  auto requests = origin.requests();
  BOOST_REQUIRE_EQUAL(requests.size(), 2u);
  for (const auto& r : requests) {
    BOOST_TEST(!r.headers.contains("proxy-authorization"));
    BOOST_TEST(r.header("connection") == "close");
  }
  BOOST_TEST(requests[1].header("content-length") == "3");
  BOOST_TEST(proxy.forwarded_requests() == 2u);
  BOOST_TEST(proxy.forwarded_targets()[0] == origin.url("/x?y=1"));
}

BOOST_AUTO_TEST_CASE(a_required_authorization_is_enforced_with_407) {
  asio::io_context io;
  loopback_server origin(io.get_executor());
  proxy_options popts;
  popts.required_authorization = "Basic dXNlcjpwYXNz";
  loopback_proxy proxy(io.get_executor(), popts);
  run_sync(io, [&]() -> asio::awaitable<void> {
    auto missing = co_await raw::connect(proxy.port());
    std::string pending;
    co_await raw::send(missing, "CONNECT " + origin.authority() + " HTTP/1.1\r\n\r\n");
    auto refused = co_await raw::read_response(missing, pending);
    BOOST_TEST(refused.status == 407);
    BOOST_TEST(refused.headers.contains("proxy-authenticate"));

    auto wrong = co_await raw::connect(proxy.port());
    auto wrong_answer =
        co_await open_tunnel(wrong, origin.authority(), "Proxy-Authorization: Basic bm8=\r\n");
    BOOST_TEST(wrong_answer.status == 407);

    auto right = co_await raw::connect(proxy.port());
    auto accepted = co_await open_tunnel(right, origin.authority(),
                                         "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n");
    BOOST_TEST(accepted.status == 200);
    BOOST_TEST((co_await raw::exchange(right, raw::get("/"))).body == "ok");
  });
  BOOST_TEST(proxy.refused_requests() == 2u);
  auto seen = proxy.authorizations();
  BOOST_TEST((seen == std::vector<std::string>{"", "Basic bm8=", "Basic dXNlcjpwYXNz"}));
  BOOST_TEST(origin.connections_accepted() == 1u);
}

BOOST_AUTO_TEST_CASE(stop_closes_open_tunnels_so_run_returns) {
  asio::io_context io;
  loopback_server origin(io.get_executor());
  loopback_proxy proxy(io.get_executor());
  bool client_saw_close = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto socket = co_await raw::connect(proxy.port());
        co_await open_tunnel(socket, origin.authority());
        BOOST_TEST(co_await raw::eventually([&] { return origin.open_connections() == 1u; }));
        proxy.stop();
        proxy.stop();
        origin.stop();
        client_saw_close = (co_await raw::read_until_closed(socket)).empty();
      },
      asio::detached);
  io.run_for(20s);
  BOOST_TEST(io.stopped());
  BOOST_TEST(client_saw_close);
  BOOST_TEST(proxy.open_connections() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
