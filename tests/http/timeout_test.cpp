#include <chrono>
#include <optional>
#include <string>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include "http_test_support.hpp"
#include "keyless/http/client.hpp"

using namespace keyless::http;
using namespace keyless::http::test;
using keyless::errc;
using keyless::testing::count_open_fds;
using keyless::testing::gate;

namespace {

using steady = std::chrono::steady_clock;

asio::awaitable<void> stall(recorded_request, responder& r) {
  co_await r.stall();
}

// Starts a body, then goes silent.
asio::awaitable<void> start_then_stall(recorded_request, responder& r) {
  co_await r.start_chunked(200);
  co_await r.write_chunk("first piece");
  co_await r.stall();
}

// A body that never ends but never pauses for long either.
asio::awaitable<void> trickle(recorded_request, responder& r) {
  co_await r.start_chunked(200);
  for (;;) {
    co_await r.write_chunk(".");
    co_await r.delay(20ms);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(timeout_tests)

BOOST_AUTO_TEST_CASE(the_connect_timeout_fires_against_a_listener_that_never_answers) {
  asio::io_context io;
  full_backlog_listener listener(io);
  client http(io.get_executor(), test_options());
  request req = make_request("http://127.0.0.1:" + std::to_string(listener.port()) + "/");
  req.options.connect_timeout = 200ms;
  auto started = steady::now();
  keyless::error e = expect_error(io, http.send(req));
  BOOST_TEST(e.code() == make_error_code(errc::timeout));
  BOOST_TEST_MESSAGE(e.what());
  BOOST_TEST(contains(e.what(), "connect timeout (200 ms) expired while connecting to 127.0.0.1:"));
  BOOST_TEST((steady::now() - started < 10s));
}

BOOST_AUTO_TEST_CASE(the_tls_handshake_timeout_fires_when_the_server_says_nothing) {
  asio::io_context io;
  silent_server silent(io);
  client http(io.get_executor(), test_options());
  request req = make_request("https://127.0.0.1:" + std::to_string(silent.port()) + "/");
  req.options.tls_timeout = 200ms;
  keyless::error e = expect_error(io, http.send(req));
  BOOST_TEST(e.code() == make_error_code(errc::timeout));
  BOOST_TEST(contains(e.what(), "TLS handshake timeout (200 ms)"));
  BOOST_TEST(run_until(io, [&] { return silent.closed_by_peer() == 1u; }));
}

BOOST_AUTO_TEST_CASE(the_request_timeout_fires_when_no_response_comes) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_server());
  server.set_handler(stall);
  client http(io.get_executor(), test_options());
  request req = make_request(server.url("/stall"));
  req.options.request_timeout = 300ms;
  keyless::error e = expect_error(io, http.send(req));
  BOOST_TEST(e.code() == make_error_code(errc::timeout));
  BOOST_TEST(contains(e.what(), "request timeout (300 ms) expired while waiting for the response"));
  // The connection was closed: the stalled server sees its client go.
  BOOST_TEST(run_until(io, [&] { return server.open_connections() == 0u; }));
}

BOOST_AUTO_TEST_CASE(the_client_default_request_timeout_applies_without_an_override) {
  asio::io_context io;
  loopback_server server(io.get_executor());
  server.set_handler(stall);
  client_options o = test_options();
  o.request_timeout = 250ms;
  client http(io.get_executor(), o);
  keyless::error e = expect_error(io, http.send(make_request(server.url("/"))));
  BOOST_TEST(e.code() == make_error_code(errc::timeout));
  BOOST_TEST(contains(e.what(), "request timeout (250 ms)"));
}

BOOST_AUTO_TEST_CASE(the_idle_timeout_fires_when_the_body_stops_arriving) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_server());
  server.set_handler(start_then_stall);
  client http(io.get_executor(), test_options());
  request req = make_request(server.url("/idle"));
  req.options.idle_timeout = 200ms;
  keyless::error e = expect_error(io, http.send(req));
  BOOST_TEST(e.code() == make_error_code(errc::timeout));
  BOOST_TEST(contains(e.what(), "idle timeout (200 ms) expired while reading the response body"));
  BOOST_TEST(run_until(io, [&] { return server.open_connections() == 0u; }));
}

BOOST_AUTO_TEST_CASE(a_streamed_read_gets_its_pieces_then_the_idle_timeout) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_server());
  server.set_handler(start_then_stall);
  client http(io.get_executor(), test_options());
  request req = make_request(server.url("/idle"));
  req.options.idle_timeout = 200ms;
  response_stream stream = run_sync(io, http.send_streaming(req));
  BOOST_TEST(run_sync(io, stream.async_read_some()).value_or("") == "first piece");
  keyless::error e = expect_error(io, stream.read_some());
  BOOST_TEST(e.code() == make_error_code(errc::timeout));
  BOOST_TEST(contains(e.what(), "idle timeout (200 ms)"));
  BOOST_TEST(stream.done());
  BOOST_TEST(run_until(io, [&] { return server.open_connections() == 0u; }));
}

BOOST_AUTO_TEST_CASE(the_request_timeout_bounds_a_body_that_trickles_forever) {
  asio::io_context io;
  loopback_server server(io.get_executor());
  server.set_handler(trickle);
  client http(io.get_executor(), test_options());
  request req = make_request(server.url("/trickle"));
  req.options.idle_timeout = 5s;
  req.options.request_timeout = 300ms;
  keyless::error e = expect_error(io, http.send(req));
  BOOST_TEST(e.code() == make_error_code(errc::timeout));
  BOOST_TEST(
      contains(e.what(), "request timeout (300 ms) expired while reading the response body"));
}

BOOST_AUTO_TEST_CASE(cancelling_a_request_closes_its_socket_and_leaks_nothing) {
  asio::io_context io;
  silent_server silent(io);
  run_until_idle(io);
  std::size_t fds_before = count_open_fds();
  {
    client http(io.get_executor(), test_options());
    asio::cancellation_signal cancel;
    std::optional<std::error_code> outcome;
    http.async_send(
        make_request("http://127.0.0.1:" + std::to_string(silent.port()) + "/"),
        asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e, response) {
          outcome = keyless::inspect(e).code;
        }));
    BOOST_TEST(run_until(io, [&] { return silent.bytes_received() > 0; }));
    BOOST_TEST(!outcome.has_value());
    cancel.emit(asio::cancellation_type::terminal);
    BOOST_TEST(run_until(io, [&] { return outcome.has_value(); }));
    BOOST_TEST((outcome.value_or(std::error_code{}) == asio::error::operation_aborted));
    // The client closed the socket at once: the server sees its peer go while the client
    // still exists.
    BOOST_TEST(run_until(io, [&] { return silent.closed_by_peer() == 1u; }));
  }
  run_until_idle(io);
  BOOST_TEST(count_open_fds() == fds_before);
}

BOOST_AUTO_TEST_CASE(cancelling_a_streamed_read_closes_the_connection) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_server());
  server.set_handler(start_then_stall);
  client http(io.get_executor(), test_options());
  response_stream stream = run_sync(io, http.send_streaming(make_request(server.url("/s"))));
  BOOST_TEST(run_sync(io, stream.async_read_some()).value_or("") == "first piece");

  asio::cancellation_signal cancel;
  std::optional<std::error_code> outcome;
  stream.async_read_some(asio::bind_cancellation_slot(
      cancel.slot(), [&](std::exception_ptr e, std::optional<std::string>) {
        outcome = keyless::inspect(e).code;
      }));
  run_until_idle(io);
  BOOST_TEST(!outcome.has_value());
  cancel.emit(asio::cancellation_type::terminal);
  BOOST_TEST(run_until(io, [&] { return outcome.has_value(); }));
  BOOST_TEST((outcome.value_or(std::error_code{}) == asio::error::operation_aborted));
  BOOST_TEST(stream.done());
  BOOST_TEST(run_until(io, [&] { return server.open_connections() == 0u; }));
}

BOOST_AUTO_TEST_CASE(a_caller_racing_its_own_timer_cancels_the_request_cleanly) {
  asio::io_context io;
  loopback_server server(io.get_executor());
  server.set_handler(stall);
  client http(io.get_executor(), test_options());
  using namespace keyless::net::awaitable_operators;
  bool timer_won = run_sync(io, [&]() -> asio::awaitable<bool> {
    asio::steady_timer timer(io, 100ms);
    auto result = co_await (http.send(make_request(server.url("/"))) ||
                            timer.async_wait(asio::use_awaitable));
    co_return result.index() == 1;
  });
  BOOST_TEST(timer_won);
  BOOST_TEST(run_until(io, [&] { return server.open_connections() == 0u; }));
}

BOOST_AUTO_TEST_SUITE_END()
