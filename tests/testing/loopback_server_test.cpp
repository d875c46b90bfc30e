#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>
#include <boost/test/unit_test.hpp>

#include "io_helpers.hpp"
#include "loopback_server.hpp"
#include "raw_client.hpp"

using namespace std::chrono_literals;
using keyless::testing::gate;
using keyless::testing::header_map;
using keyless::testing::loopback_server;
using keyless::testing::recorded_request;
using keyless::testing::responder;
using keyless::testing::run_sync;
using keyless::testing::server_options;
namespace raw = keyless::testing::raw;
using raw::tcp;

namespace {

struct fixture {
  asio::io_context io;
  loopback_server server{io.get_executor()};
};

// A handler that answers with the request's body (or "empty"), for echo-style checks.
asio::awaitable<void> echo(recorded_request request, responder& r) {
  // A named local: g++ 12 mishandles a conditional-expression temporary inside co_await.
  std::string body = request.body.empty() ? std::string("empty") : request.body;
  co_await r.respond(200, std::move(body));
}

asio::awaitable<void> stall_forever(recorded_request, responder& r) {
  co_await r.stall();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(loopback_server_tests)

BOOST_FIXTURE_TEST_CASE(the_default_handler_answers_ok_and_the_request_is_recorded, fixture) {
  BOOST_TEST(server.port() != 0);
  BOOST_TEST(server.url("/x?y=1") ==
             "http://127.0.0.1:" + std::to_string(server.port()) + "/x?y=1");
  BOOST_TEST(server.url("rel") == "http://127.0.0.1:" + std::to_string(server.port()) + "/rel");
  BOOST_TEST(!server.tls());
  auto response = run_sync(io, [&]() -> asio::awaitable<raw::response> {
    auto socket = co_await raw::connect(server.port());
    co_return co_await raw::exchange(socket, raw::get("/hello?a=b", "X-Test: 1\r\n"));
  });
  BOOST_TEST(response.status == 200);
  BOOST_TEST(response.body == "ok");
  BOOST_TEST(response.headers.find("content-length").value_or("") == "2");
  BOOST_REQUIRE_EQUAL(server.requests_seen(), 1u);
  auto request = server.last_request();
  BOOST_TEST(request.method == "GET");
  BOOST_TEST(request.target == "/hello?a=b");
  BOOST_TEST(request.header("x-test") == "1");
  BOOST_TEST(request.connection == 0u);
  BOOST_TEST(request.sequence == 0u);
  BOOST_TEST(server.requests_seen("/hello") == 1u);
  BOOST_TEST(server.requests_seen("/other") == 0u);
}

BOOST_FIXTURE_TEST_CASE(keep_alive_reuses_one_connection_and_counts_it_once, fixture) {
  server.set_handler(echo);
  run_sync(io, [&]() -> asio::awaitable<void> {
    auto first = co_await raw::connect(server.port());
    std::string pending;
    for (int i = 0; i < 3; ++i) {
      std::string body = "body" + std::to_string(i);
      co_await raw::send(first, "POST /k HTTP/1.1\r\nHost: h\r\nContent-Length: " +
                                    std::to_string(body.size()) + "\r\n\r\n" + body);
      auto response = co_await raw::read_response(first, pending);
      BOOST_TEST(response.body == body);
      BOOST_TEST(!response.headers.contains("connection"));
    }
    auto second = co_await raw::connect(server.port());
    auto response = co_await raw::exchange(second, raw::get("/k"));
    BOOST_TEST(response.body == "empty");
    BOOST_TEST(co_await raw::eventually([&] { return server.open_connections() == 2u; }));
  });
  BOOST_TEST(server.connections_accepted() == 2u);
  BOOST_TEST(server.requests_seen() == 4u);
  auto requests = server.requests();
  BOOST_REQUIRE_EQUAL(requests.size(), 4u);
  BOOST_TEST(requests[2].connection == 0u);
  BOOST_TEST(requests[3].connection == 1u);
  BOOST_TEST(requests[3].sequence == 3u);
}

BOOST_FIXTURE_TEST_CASE(pipelined_requests_are_answered_in_order, fixture) {
  server.set_handler(echo);
  run_sync(io, [&]() -> asio::awaitable<void> {
    auto socket = co_await raw::connect(server.port());
    co_await raw::send(socket,
                       "POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\na"
                       "POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nb");
    std::string pending;
    auto a = co_await raw::read_response(socket, pending);
    auto b = co_await raw::read_response(socket, pending);
    BOOST_TEST(a.body == "a");
    BOOST_TEST(b.body == "b");
  });
  BOOST_TEST(server.connections_accepted() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_client_asking_to_close_gets_connection_close_and_eof, fixture) {
  run_sync(io, [&]() -> asio::awaitable<void> {
    auto socket = co_await raw::connect(server.port());
    std::string pending;
    co_await raw::send(socket, raw::get("/", "Connection: close\r\n"));
    auto response = co_await raw::read_response(socket, pending);
    BOOST_TEST(response.headers.find("connection").value_or("") == "close");
    BOOST_TEST(pending.empty());
    BOOST_TEST((co_await raw::read_until_closed(socket)).empty());
  });
}

BOOST_AUTO_TEST_CASE(http_1_0_requests_are_closed_unless_they_ask_for_keep_alive) {
  asio::io_context io;
  loopback_server server(io.get_executor());
  run_sync(io, [&]() -> asio::awaitable<void> {
    auto plain10 = co_await raw::connect(server.port());
    std::string pending;
    co_await raw::send(plain10, "GET / HTTP/1.0\r\n\r\n");
    auto r1 = co_await raw::read_response(plain10, pending);
    BOOST_TEST(r1.headers.find("connection").value_or("") == "close");
    BOOST_TEST((co_await raw::read_until_closed(plain10)).empty());

    auto keep10 = co_await raw::connect(server.port());
    co_await raw::send(keep10, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    auto r2 = co_await raw::read_response(keep10, pending);
    BOOST_TEST(r2.headers.find("connection").value_or("") == "keep-alive");
    auto r3 = co_await raw::exchange(keep10, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    BOOST_TEST(r3.body == "ok");
  });
  BOOST_TEST(server.connections_accepted() == 2u);
}

BOOST_AUTO_TEST_CASE(the_keep_alive_option_off_closes_after_every_response) {
  asio::io_context io;
  server_options options;
  options.keep_alive = false;
  loopback_server server(io.get_executor(), options);
  run_sync(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 2; ++i) {
      auto socket = co_await raw::connect(server.port());
      std::string pending;
      co_await raw::send(socket, raw::get("/"));
      auto response = co_await raw::read_response(socket, pending);
      BOOST_TEST(response.headers.find("connection").value_or("") == "close");
      BOOST_TEST((co_await raw::read_until_closed(socket)).empty());
    }
  });
  BOOST_TEST(server.connections_accepted() == 2u);
}

BOOST_FIXTURE_TEST_CASE(chunked_request_bodies_arrive_dechunked, fixture) {
  server.set_handler(echo);
  auto response = run_sync(io, [&]() -> asio::awaitable<raw::response> {
    auto socket = co_await raw::connect(server.port());
    // Sent in several writes so the server sees the chunks split across reads.
    co_await raw::send(socket, "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    co_await raw::send(socket, "4\r\nabc");
    co_await raw::send(socket, "d\r\n3;x=y\r\nefg\r\n");
    std::string pending;
    co_await raw::send(socket, "0\r\n\r\n");
    co_return co_await raw::read_response(socket, pending);
  });
  BOOST_TEST(response.body == "abcdefg");
  BOOST_TEST(server.last_request().chunked);
  BOOST_TEST(server.last_request().body == "abcdefg");
}

BOOST_FIXTURE_TEST_CASE(routes_match_method_and_path_and_fall_back_to_the_handler, fixture) {
  server.route("GET", "/a", [](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.respond(200, "get a");
  });
  server.route("POST", "/a", [](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.respond(201, "post a");
  });
  server.route("", "/any", [](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.respond(202, "first");
  });
  // Replaces the previous "/any" route.
  server.route("", "/any", [](recorded_request req, responder& r) -> asio::awaitable<void> {
    co_await r.respond(202, "any " + req.method);
  });
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.respond(404, "no route");
  });
  run_sync(io, [&]() -> asio::awaitable<void> {
    auto socket = co_await raw::connect(server.port());
    std::string pending;
    auto check = [&](std::string text, int status, std::string body) -> asio::awaitable<void> {
      co_await raw::send(socket, std::move(text));
      auto response = co_await raw::read_response(socket, pending);
      BOOST_TEST(response.status == status);
      BOOST_TEST(response.body == body);
    };
    co_await check(raw::get("/a?q=1"), 200, "get a");
    co_await check("POST /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 201, "post a");
    co_await check("DELETE /any HTTP/1.1\r\n\r\n", 202, "any DELETE");
    co_await check(raw::get("/b"), 404, "no route");
  });
  BOOST_TEST(server.requests_seen("/a") == 2u);
}

BOOST_FIXTURE_TEST_CASE(responses_carry_extra_headers_and_content_type, fixture) {
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    header_map extra{{"Retry-After", "3"}, {"x-ms-request-id", "abc"}};
    co_await r.respond_json(429, R"({"error":"busy"})", extra);
  });
  auto response = run_sync(io, [&]() -> asio::awaitable<raw::response> {
    auto socket = co_await raw::connect(server.port());
    co_return co_await raw::exchange(socket, raw::get("/"));
  });
  BOOST_TEST(response.status == 429);
  BOOST_TEST(response.body == R"({"error":"busy"})");
  BOOST_TEST(response.headers.find("content-type").value_or("") == "application/json");
  BOOST_TEST(response.headers.find("retry-after").value_or("") == "3");
  BOOST_TEST(response.headers.find("x-ms-request-id").value_or("") == "abc");
}

BOOST_FIXTURE_TEST_CASE(head_requests_get_the_length_but_no_body, fixture) {
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.respond(200, "twelve bytes");
  });
  run_sync(io, [&]() -> asio::awaitable<void> {
    auto socket = co_await raw::connect(server.port());
    std::string pending;
    co_await raw::send(socket, "HEAD / HTTP/1.1\r\n\r\n");
    auto head = co_await raw::read_response(socket, pending, true);
    BOOST_TEST(head.headers.find("content-length").value_or("") == "12");
    // The next response must start right away: no body bytes were sent.
    co_await raw::send(socket, raw::get("/"));
    auto get = co_await raw::read_response(socket, pending);
    BOOST_TEST(get.body == "twelve bytes");
  });
}

BOOST_FIXTURE_TEST_CASE(chunked_responses_are_framed_correctly, fixture) {
  server.route("GET", "/all", [](recorded_request, responder& r) -> asio::awaitable<void> {
    std::vector<std::string> chunks{"data: 1\n\n", "", "data: [DONE]\n\n"};
    co_await r.respond_chunked(200, chunks, {}, "text/event-stream");
  });
  server.route("GET", "/steps", [](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.start_chunked(200);
    co_await r.write_chunk("one ");
    co_await r.delay(1ms);
    co_await r.write_chunk("");
    co_await r.write_chunk("two");
    co_await r.finish_chunked();
  });
  run_sync(io, [&]() -> asio::awaitable<void> {
    auto socket = co_await raw::connect(server.port());
    std::string pending;
    co_await raw::send(socket, raw::get("/all"));
    auto all = co_await raw::read_response(socket, pending);
    BOOST_TEST(all.chunked);
    BOOST_TEST(all.body == "data: 1\n\ndata: [DONE]\n\n");
    BOOST_TEST(all.headers.find("content-type").value_or("") == "text/event-stream");
    co_await raw::send(socket, raw::get("/steps"));
    auto steps = co_await raw::read_response(socket, pending);
    BOOST_TEST(steps.chunked);
    BOOST_TEST(steps.body == "one two");
  });
  BOOST_TEST(server.connections_accepted() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_scripted_close_cuts_the_body_short, fixture) {
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.write_raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
    r.close();
  });
  auto received = run_sync(io, [&]() -> asio::awaitable<std::string> {
    auto socket = co_await raw::connect(server.port());
    co_await raw::send(socket, raw::get("/"));
    co_return co_await raw::read_until_closed(socket);
  });
  BOOST_TEST(received == "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
  BOOST_TEST(server.handler_failures() == 0u);
}

BOOST_FIXTURE_TEST_CASE(write_raw_sends_bytes_verbatim_and_keeps_the_connection, fixture) {
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.write_raw("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nraw");
  });
  run_sync(io, [&]() -> asio::awaitable<void> {
    auto socket = co_await raw::connect(server.port());
    std::string pending;
    for (int i = 0; i < 2; ++i) {
      co_await raw::send(socket, raw::get("/"));
      auto response = co_await raw::read_response(socket, pending);
      BOOST_TEST(response.body == "raw");
    }
  });
  BOOST_TEST(server.connections_accepted() == 1u);
}

BOOST_FIXTURE_TEST_CASE(close_after_response_answers_then_closes, fixture) {
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    r.close_after_response();
    co_await r.respond(200, "last");
  });
  run_sync(io, [&]() -> asio::awaitable<void> {
    auto socket = co_await raw::connect(server.port());
    std::string pending;
    co_await raw::send(socket, raw::get("/"));
    auto response = co_await raw::read_response(socket, pending);
    BOOST_TEST(response.body == "last");
    BOOST_TEST(response.headers.find("connection").value_or("") == "close");
    BOOST_TEST((co_await raw::read_until_closed(socket)).empty());
  });
}

BOOST_FIXTURE_TEST_CASE(a_handler_that_sends_nothing_yields_a_500, fixture) {
  server.set_handler([](recorded_request, responder&) -> asio::awaitable<void> { co_return; });
  auto response = run_sync(io, [&]() -> asio::awaitable<raw::response> {
    auto socket = co_await raw::connect(server.port());
    co_return co_await raw::exchange(socket, raw::get("/"));
  });
  BOOST_TEST(response.status == 500);
  BOOST_TEST(response.body == "handler sent no response\n");
}

BOOST_FIXTURE_TEST_CASE(a_throwing_handler_drops_the_connection_and_is_counted, fixture) {
  server.route("GET", "/throw", [](recorded_request, responder&) -> asio::awaitable<void> {
    throw std::runtime_error("scripted handler failure (expected in this test)");
    co_return;
  });
  run_sync(io, [&]() -> asio::awaitable<void> {
    auto socket = co_await raw::connect(server.port());
    co_await raw::send(socket, raw::get("/throw"));
    BOOST_TEST((co_await raw::read_until_closed(socket)).empty());
    // The server itself carries on.
    auto next = co_await raw::connect(server.port());
    auto response = co_await raw::exchange(next, raw::get("/"));
    BOOST_TEST(response.body == "ok");
  });
  BOOST_TEST(server.handler_failures() == 1u);
}

BOOST_FIXTURE_TEST_CASE(malformed_and_oversized_requests_get_400_and_413, fixture) {
  run_sync(io, [&]() -> asio::awaitable<void> {
    auto bad = co_await raw::connect(server.port());
    std::string pending;
    co_await raw::send(bad, "GET / HTTP/1.1\r\nNo colon\r\n\r\n");
    auto r400 = co_await raw::read_response(bad, pending);
    BOOST_TEST(r400.status == 400);
    BOOST_TEST(r400.body == "malformed header line\n");
    BOOST_TEST(r400.headers.find("connection").value_or("") == "close");
  });
  asio::io_context io2;
  server_options options;
  options.limits.max_body_bytes = 8;
  loopback_server small(io2.get_executor(), options);
  run_sync(io2, [&]() -> asio::awaitable<void> {
    auto big = co_await raw::connect(small.port());
    std::string pending;
    co_await raw::send(big, "POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n");
    auto r413 = co_await raw::read_response(big, pending);
    BOOST_TEST(r413.status == 413);
  });
  BOOST_TEST(server.requests_seen() == 0u);
  BOOST_TEST(small.requests_seen() == 0u);
}

BOOST_FIXTURE_TEST_CASE(delay_holds_the_response_back_on_a_real_timer, fixture) {
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.delay(50ms);
    co_await r.respond(200, "late");
  });
  auto start = std::chrono::steady_clock::now();
  auto response = run_sync(io, [&]() -> asio::awaitable<raw::response> {
    auto socket = co_await raw::connect(server.port());
    co_return co_await raw::exchange(socket, raw::get("/"));
  });
  // A timer never fires early, so this lower bound is safe on a loaded machine.
  BOOST_TEST((std::chrono::steady_clock::now() - start >= 50ms));
  BOOST_TEST(response.body == "late");
}

BOOST_FIXTURE_TEST_CASE(a_client_leaving_a_stalled_request_frees_the_connection, fixture) {
  server.set_handler(stall_forever);
  run_sync(io, [&]() -> asio::awaitable<void> {
    {
      auto socket = co_await raw::connect(server.port());
      co_await raw::send(socket, raw::get("/"));
      BOOST_TEST(co_await raw::eventually([&] { return server.requests_seen() == 1u; }));
      BOOST_TEST(server.open_connections() == 1u);
    }  // the client closes its socket here
    BOOST_TEST(co_await raw::eventually([&] { return server.open_connections() == 0u; }));
  });
  BOOST_TEST(server.handler_failures() == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_client_vanishing_mid_request_is_harmless, fixture) {
  run_sync(io, [&]() -> asio::awaitable<void> {
    {
      auto socket = co_await raw::connect(server.port());
      co_await raw::send(socket, "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\npartial");
      BOOST_TEST(co_await raw::eventually([&] { return server.open_connections() == 1u; }));
    }
    BOOST_TEST(co_await raw::eventually([&] { return server.open_connections() == 0u; }));
    auto socket = co_await raw::connect(server.port());
    auto response = co_await raw::exchange(socket, raw::get("/"));
    BOOST_TEST(response.body == "ok");
  });
  BOOST_TEST(server.requests_seen() == 1u);
}

BOOST_FIXTURE_TEST_CASE(close_idle_connections_closes_only_idle_ones, fixture) {
  gate parked(io.get_executor());
  server.route("GET", "/park", [&](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await parked.wait();
    co_await r.respond(200, "released");
  });
  run_sync(io, [&]() -> asio::awaitable<void> {
    auto idle1 = co_await raw::connect(server.port());
    auto idle2 = co_await raw::connect(server.port());
    auto fresh = co_await raw::connect(server.port());  // never sent anything: idle too
    auto busy = co_await raw::connect(server.port());
    std::string p1, p2, p3;
    co_await raw::send(idle1, raw::get("/"));
    co_await raw::read_response(idle1, p1);
    co_await raw::send(idle2, raw::get("/"));
    co_await raw::read_response(idle2, p2);
    co_await raw::send(busy, raw::get("/park"));
    BOOST_TEST(co_await raw::eventually([&] { return parked.waiters() == 1u; }));
    BOOST_TEST(server.open_connections() == 4u);

    // Called on the executor's thread, so it takes effect at once.
    BOOST_TEST(server.close_idle_connections() == 3u);
    BOOST_TEST((co_await raw::read_until_closed(idle1)).empty());
    BOOST_TEST((co_await raw::read_until_closed(idle2)).empty());
    BOOST_TEST((co_await raw::read_until_closed(fresh)).empty());
    parked.open();
    auto response = co_await raw::read_response(busy, p3);
    BOOST_TEST(response.body == "released");
    BOOST_TEST(co_await raw::eventually([&] { return server.open_connections() == 1u; }));
  });
  BOOST_TEST(server.connections_accepted() == 4u);
}

BOOST_AUTO_TEST_CASE(stop_ends_every_coroutine_so_run_returns) {
  asio::io_context io;
  loopback_server server(io.get_executor());
  server.route("GET", "/stall", stall_forever);
  server.route("GET", "/slow", [](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.delay(1h);
    co_await r.respond(200, "never");
  });
  std::vector<std::string> seen;
  auto client = [&](std::string target) -> asio::awaitable<void> {
    auto socket = co_await raw::connect(server.port());
    if (!target.empty()) co_await raw::send(socket, raw::get(target));
    seen.push_back(co_await raw::read_until_closed(socket));
  };
  asio::co_spawn(
      io, [&] { return client("/stall"); }, asio::detached);
  asio::co_spawn(
      io, [&] { return client("/slow"); }, asio::detached);
  asio::co_spawn(
      io, [&] { return client(""); }, asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await raw::eventually(
            [&] { return server.requests_seen() == 2u && server.open_connections() == 3u; });
        server.stop();
        server.stop();  // idempotent
      },
      asio::detached);
  io.run_for(20s);
  BOOST_TEST(io.stopped());  // ran out of work rather than timing out
  BOOST_TEST(seen.size() == 3u);
  for (const auto& s : seen) BOOST_TEST(s.empty());
  BOOST_TEST(server.open_connections() == 0u);
  BOOST_TEST(server.handler_failures() == 0u);

  // The port is closed now.
  io.restart();
  BOOST_CHECK_THROW(
      run_sync(io, [&]() -> asio::awaitable<void> { co_await raw::connect(server.port()); }),
      std::system_error);
}

BOOST_AUTO_TEST_CASE(destroying_the_server_outside_the_executor_still_ends_its_coroutines) {
  asio::io_context io;
  std::optional<tcp::socket> client;  // stays connected after the server is gone
  {
    loopback_server server(io.get_executor());
    server.set_handler(stall_forever);
    run_sync(io, [&]() -> asio::awaitable<void> {
      client.emplace(co_await raw::connect(server.port()));
      co_await raw::send(*client, raw::get("/"));
      BOOST_TEST(co_await raw::eventually([&] { return server.requests_seen() == 1u; }));
    });
  }
  io.run_for(20s);
  BOOST_TEST(io.stopped());  // the stalled handler, its connection and the acceptor all ended
  BOOST_TEST(client->is_open());
}

BOOST_AUTO_TEST_CASE(an_ipv6_server_listens_on_the_ipv6_loopback) {
  asio::io_context io;
  server_options options;
  options.ipv6 = true;
  loopback_server server(io.get_executor(), options);
  BOOST_TEST(server.url() == "http://[::1]:" + std::to_string(server.port()) + "/");
  BOOST_TEST(server.authority() == "[::1]:" + std::to_string(server.port()));
  auto response = run_sync(io, [&]() -> asio::awaitable<raw::response> {
    auto socket = co_await raw::connect(server.port(), true);
    co_return co_await raw::exchange(socket, raw::get("/"));
  });
  BOOST_TEST(response.body == "ok");
}

BOOST_AUTO_TEST_CASE(a_server_on_a_strand_serves_a_thread_pool) {
  asio::thread_pool pool(4);
  auto strand = asio::make_strand(pool.get_executor());
  loopback_server server(strand);
  server.set_handler(echo);
  constexpr int clients = 16;
  constexpr int requests_each = 10;
  std::atomic<int> ok{0};
  for (int c = 0; c < clients; ++c) {
    asio::co_spawn(
        pool,
        [&, c]() -> asio::awaitable<void> {
          auto socket = co_await raw::connect(server.port());
          std::string pending;
          for (int i = 0; i < requests_each; ++i) {
            std::string body = std::to_string(c) + "/" + std::to_string(i);
            co_await raw::send(socket, "POST / HTTP/1.1\r\nContent-Length: " +
                                           std::to_string(body.size()) + "\r\n\r\n" + body);
            auto response = co_await raw::read_response(socket, pending);
            if (response.body == body) ++ok;
          }
        },
        asio::detached);
  }
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (ok.load() < clients * requests_each && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  BOOST_TEST(ok.load() == clients * requests_each);
  BOOST_TEST(server.requests_seen() == std::size_t(clients * requests_each));
  BOOST_TEST(server.connections_accepted() == std::size_t(clients));
  server.stop();
  pool.join();
}

BOOST_AUTO_TEST_SUITE_END()
