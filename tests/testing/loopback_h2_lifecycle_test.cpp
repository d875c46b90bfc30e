// loopback_server's HTTP/2 connections over their lifetime: idle closing, stop(), GOAWAY after
// close_after_response(), a throwing handler, a client reset ending a stall. The client is our
// sans-I/O client session over a plain socket, on the server's io_context.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <asio/io_context.hpp>
#include <asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include "http/h2/client_session.hpp"
#include "io_helpers.hpp"
#include "io_thread.hpp"
#include "loopback_server.hpp"
#include "raw_client.hpp"

using keyless::testing::gate;
using keyless::testing::hop;
using keyless::testing::loopback_server;
using keyless::testing::recorded_request;
using keyless::testing::responder;
using keyless::testing::run_sync;
using keyless::testing::run_until_idle;
using keyless::testing::server_options;
namespace h2 = keyless::http::h2;
namespace raw = keyless::testing::raw;

namespace {

struct response {
  int status = 0;
  std::string body;
  bool ended = false;
  std::optional<h2::error_code> reset;
};

// Our client session on a socket: writes what it has, reads until a condition holds.
struct h2_peer final : h2::session_events {
  explicit h2_peer(raw::tcp::socket s) : socket(std::move(s)) { session.start(out); }

  std::uint32_t get(std::string_view path) {
    h2::request_head head;
    head.method = "GET";
    head.scheme = "http";
    head.authority = "127.0.0.1";
    head.path = path;
    return session.open_stream(head, {}, out).value();
  }

  // Writes pending output, then reads and feeds the session until `done()`. False at EOF.
  template <typename Done>
  asio::awaitable<bool> until(Done done) {
    std::array<char, 16 * 1024> buffer;
    for (;;) {
      if (!out.empty()) {
        co_await asio::async_write(socket, asio::buffer(out), raw::use_tuple);
        out.clear();
      }
      if (done()) co_return true;
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), raw::use_tuple);
      if (ec) co_return false;
      session.receive(std::string_view(buffer.data(), n), out, *this);
    }
  }

  void on_response_head(std::uint32_t id, int status, std::span<const h2::field_view>) override {
    responses[id].status = status;
  }
  void on_data(std::uint32_t id, std::string_view data) override {
    responses[id].body += data;
    session.consume(id, data.size(), out);
  }
  void on_end(std::uint32_t id, std::span<const h2::field_view>) override {
    responses[id].ended = true;
  }
  void on_failed(std::uint32_t id, const h2::stream_failure& f) override {
    responses[id].reset = f.h2_code;
  }
  void on_goaway(std::uint32_t last, h2::error_code, std::string_view) override {
    goaway_last_id = last;
  }

  raw::tcp::socket socket;
  h2::client_session session;
  std::string out;
  std::map<std::uint32_t, response> responses;
  std::optional<std::uint32_t> goaway_last_id;
};

struct h2_lifecycle_fixture {
  h2_lifecycle_fixture() {
    server.route("GET", "/held", [this](recorded_request, responder& r) -> asio::awaitable<void> {
      co_await held.wait();
      co_await r.respond(200, "released");
    });
    server.route("GET", "/stall", [this](recorded_request, responder& r) -> asio::awaitable<void> {
      try {
        co_await r.stall();
      } catch (...) {
        stall_ended = true;
        throw;
      }
    });
  }

  // Lets the server run until it has seen `n` requests.
  asio::awaitable<void> wait_for_requests(std::size_t n) {
    while (server.requests_seen() < n) co_await hop(1);
  }

  static server_options h2c() {
    server_options o;
    o.http2 = true;
    return o;
  }

  asio::io_context io;
  loopback_server server{io.get_executor(), h2c()};
  gate held{io.get_executor()};
  bool stall_ended = false;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(loopback_h2_lifecycle)

BOOST_FIXTURE_TEST_CASE(an_h2_connection_is_idle_once_no_stream_is_open, h2_lifecycle_fixture) {
  run_sync(io, [&]() -> asio::awaitable<void> {
    h2_peer peer(co_await raw::connect(server.port()));
    const std::uint32_t id = peer.get("/held");
    co_await peer.until([&] { return true; });  // sends it
    co_await wait_for_requests(1);
    BOOST_TEST(server.close_idle_connections() == 0u);  // stream 1 is open
    held.open();
    BOOST_REQUIRE(co_await peer.until([&] { return peer.responses[id].ended; }));
    BOOST_TEST(peer.responses[id].body == "released");
    co_await hop(2);
    BOOST_TEST(server.close_idle_connections() == 1u);
    BOOST_TEST(!co_await peer.until([] { return false; }));  // EOF
  });
  run_until_idle(io);
  BOOST_TEST(server.open_connections() == 0u);
}

BOOST_FIXTURE_TEST_CASE(stop_ends_a_stalled_stream_and_its_connection, h2_lifecycle_fixture) {
  run_sync(io, [&]() -> asio::awaitable<void> {
    h2_peer peer(co_await raw::connect(server.port()));
    peer.get("/stall");
    co_await peer.until([&] { return true; });
    co_await wait_for_requests(1);
    server.stop();
    BOOST_TEST(!co_await peer.until([] { return false; }));
  });
  run_until_idle(io);
  BOOST_TEST(stall_ended);
  BOOST_TEST(server.open_connections() == 0u);
  BOOST_TEST(server.handler_failures() == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_client_reset_ends_the_stall_and_the_connection_goes_on,
                        h2_lifecycle_fixture) {
  run_sync(io, [&]() -> asio::awaitable<void> {
    h2_peer peer(co_await raw::connect(server.port()));
    const std::uint32_t stalled = peer.get("/stall");
    co_await peer.until([&] { return true; });
    co_await wait_for_requests(1);
    peer.session.cancel(stalled, peer.out);
    co_await peer.until([&] { return true; });
    while (!stall_ended) co_await hop(1);
    const std::uint32_t next = peer.get("/next");
    BOOST_REQUIRE(co_await peer.until([&] { return peer.responses[next].ended; }));
    BOOST_TEST(peer.responses[next].body == "ok");
  });
  BOOST_TEST(server.connections_accepted() == 1u);
  BOOST_TEST(server.handler_failures() == 0u);
}

BOOST_FIXTURE_TEST_CASE(close_after_response_sends_goaway_after_the_response,
                        h2_lifecycle_fixture) {
  server.route("GET", "/last", [](recorded_request, responder& r) -> asio::awaitable<void> {
    r.close_after_response();
    co_await r.respond(200, "last");
  });
  run_sync(io, [&]() -> asio::awaitable<void> {
    h2_peer peer(co_await raw::connect(server.port()));
    const std::uint32_t id = peer.get("/last");
    BOOST_REQUIRE(co_await peer.until([&] { return peer.goaway_last_id.has_value(); }));
    BOOST_TEST(*peer.goaway_last_id == id);
    BOOST_TEST(peer.responses[id].body == "last");
    BOOST_TEST(peer.session.closed());
    BOOST_TEST(!co_await peer.until([] { return false; }));  // the server half-closed
  });
}

BOOST_FIXTURE_TEST_CASE(a_handler_that_throws_resets_only_its_stream, h2_lifecycle_fixture) {
  server.route("GET", "/throws", [](recorded_request, responder&) -> asio::awaitable<void> {
    throw std::runtime_error("handler bug");
    co_return;
  });
  run_sync(io, [&]() -> asio::awaitable<void> {
    h2_peer peer(co_await raw::connect(server.port()));
    const std::uint32_t bad = peer.get("/throws");
    const std::uint32_t good = peer.get("/fine");
    BOOST_REQUIRE(co_await peer.until(
        [&] { return peer.responses[bad].reset.has_value() && peer.responses[good].ended; }));
    BOOST_TEST((*peer.responses[bad].reset == h2::error_code::internal_error));
    BOOST_TEST(peer.responses[good].body == "ok");
  });
  BOOST_TEST(server.handler_failures() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
