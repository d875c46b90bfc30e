#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include "http_test_support.hpp"
#include "keyless/core/clock.hpp"
#include "keyless/http/client.hpp"

using namespace keyless::http;
using namespace keyless::http::test;
using keyless::errc;
using keyless::testing::gate;
using keyless::testing::header_map;

namespace {

struct fixture {
  asio::io_context io;
  loopback_server server{io.get_executor(), tls_server()};

  response send(client& http, const std::string& path, std::string method = "GET") {
    return run_sync(io, http.send(make_request(server.url(path), std::move(method))));
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(pool_tests)

BOOST_FIXTURE_TEST_CASE(a_stale_pooled_connection_is_retried_once_on_a_fresh_one, fixture) {
  client http(io.get_executor(), test_options());
  // The second request reaches the kept-alive connection, which the server then drops without
  // a byte of answer: what a connection the server timed out looks like.
  server.set_handler([](recorded_request req, responder& r) -> asio::awaitable<void> {
    if (req.sequence == 1) {
      r.close();
      co_return;
    }
    co_await r.respond(200, "answer " + std::to_string(req.sequence));
  });
  BOOST_TEST(send(http, "/first").body == "answer 0");
  BOOST_TEST(send(http, "/second").body == "answer 2");
  BOOST_TEST(server.requests_seen() == 3u);
  BOOST_TEST(server.connections_accepted() == 2u);
  std::vector<recorded_request> seen = server.requests();
  BOOST_TEST(seen[1].connection == 0u);
  BOOST_TEST(seen[2].connection == 1u);
  BOOST_TEST(http.stats().retries == 1u);
}

BOOST_FIXTURE_TEST_CASE(connections_the_server_closed_while_idle_are_not_used, fixture) {
  client http(io.get_executor(), test_options());
  BOOST_TEST(send(http, "/a").body == "ok");
  std::size_t closed = run_sync(
      io, [&]() -> asio::awaitable<std::size_t> { co_return server.close_idle_connections(); });
  BOOST_TEST(closed == 1u);
  BOOST_TEST(send(http, "/b").body == "ok");
  BOOST_TEST(server.connections_accepted() == 2u);
  // Either the client saw the close before sending (no retry) or retried once.
  BOOST_TEST(http.stats().retries <= 1u);
}

BOOST_FIXTURE_TEST_CASE(a_retry_that_fails_again_is_not_retried_a_second_time, fixture) {
  client http(io.get_executor(), test_options());
  server.set_handler([](recorded_request req, responder& r) -> asio::awaitable<void> {
    if (req.sequence >= 1) {
      r.close();
      co_return;
    }
    co_await r.respond(200, "ok");
  });
  BOOST_TEST(send(http, "/first").body == "ok");
  keyless::error e = expect_error(io, http.send(make_request(server.url("/second"))));
  BOOST_TEST(e.code() == make_error_code(errc::connection_failed));
  BOOST_TEST(contains(e.what(), "closed the connection before responding"));
  BOOST_TEST(server.requests_seen() == 3u);  // the first, then the second twice
  BOOST_TEST(server.connections_accepted() == 2u);
  BOOST_TEST(http.stats().retries == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_post_whose_bytes_were_written_is_not_retried, fixture) {
  client http(io.get_executor(), test_options());
  // The POST arrived in full; the server may have acted on it before dying, so resending it
  // could do it twice.
  server.set_handler([](recorded_request req, responder& r) -> asio::awaitable<void> {
    if (req.method == "POST") {
      r.close();
      co_return;
    }
    co_await r.respond(200, "ok");
  });
  BOOST_TEST(send(http, "/warm").body == "ok");
  keyless::error e =
      expect_error(io, http.send(make_request(server.url("/charge"), "POST", "amount=1")));
  BOOST_TEST(e.code() == make_error_code(errc::connection_failed));
  BOOST_TEST(server.requests_seen("/charge") == 1u);
  BOOST_TEST(server.connections_accepted() == 1u);
  BOOST_TEST(http.stats().retries == 0u);
}

BOOST_FIXTURE_TEST_CASE(an_idempotent_put_is_retried_like_a_get, fixture) {
  client http(io.get_executor(), test_options());
  server.set_handler([](recorded_request req, responder& r) -> asio::awaitable<void> {
    if (req.sequence == 1) {
      r.close();
      co_return;
    }
    co_await r.respond(200, req.method);
  });
  BOOST_TEST(send(http, "/warm").body == "GET");
  BOOST_TEST(send(http, "/put", "PUT").body == "PUT");
  BOOST_TEST(server.requests_seen("/put") == 2u);
  BOOST_TEST(http.stats().retries == 1u);
}

BOOST_FIXTURE_TEST_CASE(callers_beyond_the_cap_wait_and_are_served_in_order, fixture) {
  client_options o = test_options();
  o.pool.max_connections_per_origin = 1;
  client http(io.get_executor(), o);
  gate release(io.get_executor());
  server.set_handler([&release](recorded_request req, responder& r) -> asio::awaitable<void> {
    if (req.sequence == 0) co_await release.wait();
    co_await r.respond(200, req.header("x-index"));
  });

  std::vector<std::string> finished;
  for (int i = 0; i < 6; ++i) {
    request req = make_request(server.url("/queued"));
    req.headers.add("X-Index", std::to_string(i));
    http.async_send(std::move(req), [&finished](std::exception_ptr e, response res) {
      finished.push_back(e ? std::string("error") : res.body);
    });
  }
  BOOST_TEST(run_until(io, [&] { return release.waiters() == 1u; }));
  run_until_idle(io);
  // One connection, one request in flight, five callers waiting rather than failing.
  BOOST_TEST(server.connections_accepted() == 1u);
  BOOST_TEST(server.requests_seen() == 1u);
  BOOST_TEST(finished.empty());

  release.open();
  BOOST_TEST(run_until(io, [&] { return finished.size() == 6u; }));
  std::vector<std::string> expected{"0", "1", "2", "3", "4", "5"};
  BOOST_TEST(finished == expected, boost::test_tools::per_element());
  BOOST_TEST(server.connections_accepted() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_waiter_times_out_when_no_connection_frees_up, fixture) {
  client_options o = test_options();
  o.pool.max_connections_per_origin = 1;
  client http(io.get_executor(), o);
  gate release(io.get_executor());
  server.route("GET", "/busy", [&release](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await release.wait();
    co_await r.respond(200, "finally");
  });
  std::optional<std::string> busy;
  http.async_send(make_request(server.url("/busy")), [&busy](std::exception_ptr e, response res) {
    busy = e ? std::string("error") : res.body;
  });
  BOOST_TEST(run_until(io, [&] { return release.waiters() == 1u; }));

  request waiting = make_request(server.url("/waiting"));
  waiting.options.request_timeout = 150ms;
  keyless::error e = expect_error(io, http.send(waiting));
  BOOST_TEST(e.code() == make_error_code(errc::timeout));
  BOOST_TEST(contains(e.what(), "request timeout (150 ms)"));
  BOOST_TEST(contains(e.what(), "waiting for"));

  release.open();
  BOOST_TEST(run_until(io, [&] { return busy.has_value(); }));
  BOOST_TEST(busy.value_or("") == "finally");
  BOOST_TEST(send(http, "/after").body == "ok");
  BOOST_TEST(server.connections_accepted() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_cancelled_waiter_leaves_the_queue, fixture) {
  client_options o = test_options();
  o.pool.max_connections_per_origin = 1;
  client http(io.get_executor(), o);
  gate release(io.get_executor());
  server.route("GET", "/busy", [&release](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await release.wait();
    co_await r.respond(200, "busy done");
  });
  std::vector<std::string> results;
  auto record = [&results](std::exception_ptr e, response res) {
    results.push_back(e ? keyless::inspect(e).code.message() : res.body);
  };
  http.async_send(make_request(server.url("/busy")), record);
  BOOST_TEST(run_until(io, [&] { return release.waiters() == 1u; }));

  asio::cancellation_signal cancel;
  http.async_send(make_request(server.url("/cancelled")),
                  asio::bind_cancellation_slot(cancel.slot(), record));
  http.async_send(make_request(server.url("/third")), record);
  run_until_idle(io);
  cancel.emit(asio::cancellation_type::terminal);
  BOOST_TEST(run_until(io, [&] { return results.size() == 1u; }));
  BOOST_TEST(results[0] == asio::error_code(asio::error::operation_aborted).message());

  release.open();
  BOOST_TEST(run_until(io, [&] { return results.size() == 3u; }));
  BOOST_TEST(results[1] == "busy done");
  BOOST_TEST(results[2] == "ok");
  BOOST_TEST(server.requests_seen("/cancelled") == 0u);
  BOOST_TEST(server.connections_accepted() == 1u);
}

BOOST_FIXTURE_TEST_CASE(the_servers_keep_alive_timeout_limits_reuse, fixture) {
  auto clock = std::make_shared<keyless::manual_clock>();
  client_options o = test_options();
  o.clock = clock;
  client http(io.get_executor(), o);
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    header_map extra{{"Keep-Alive", "timeout=5, max=100"}};
    co_await r.respond(200, "ok", extra);
  });
  BOOST_TEST(send(http, "/1").body == "ok");
  clock->advance(3s);
  BOOST_TEST(send(http, "/2").body == "ok");
  BOOST_TEST(server.connections_accepted() == 1u);
  // 5 s advertised, kept 4 s (a margin for the race with the server's own close).
  clock->advance(4s + 100ms);
  BOOST_TEST(send(http, "/3").body == "ok");
  BOOST_TEST(server.connections_accepted() == 2u);
  // The expired connection was closed, not left open.
  BOOST_TEST(run_until(io, [&] { return server.open_connections() == 1u; }));
}

BOOST_FIXTURE_TEST_CASE(idle_connections_expire_after_the_pools_idle_expiry, fixture) {
  auto clock = std::make_shared<keyless::manual_clock>();
  client_options o = test_options();
  o.clock = clock;
  o.pool.idle_expiry = 10s;
  client http(io.get_executor(), o);
  BOOST_TEST(send(http, "/1").body == "ok");
  clock->advance(9s);
  BOOST_TEST(send(http, "/2").body == "ok");
  BOOST_TEST(server.connections_accepted() == 1u);
  clock->advance(10s);
  BOOST_TEST(send(http, "/3").body == "ok");
  BOOST_TEST(server.connections_accepted() == 2u);
}

BOOST_FIXTURE_TEST_CASE(destroying_the_client_closes_its_idle_connections, fixture) {
  {
    client http(io.get_executor(), test_options());
    BOOST_TEST(send(http, "/1").body == "ok");
    BOOST_TEST(server.open_connections() == 1u);
  }
  BOOST_TEST(run_until(io, [&] { return server.open_connections() == 0u; }));
}

BOOST_FIXTURE_TEST_CASE(different_origins_get_different_connections, fixture) {
  loopback_server other(io.get_executor(), tls_server());
  client http(io.get_executor(), test_options());
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(send(http, "/a").body == "ok");
    BOOST_TEST(run_sync(io, http.send(make_request(other.url("/b")))).body == "ok");
  }
  BOOST_TEST(server.connections_accepted() == 1u);
  BOOST_TEST(other.connections_accepted() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
