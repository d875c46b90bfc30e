// http_version::automatic: HTTP/2 with a server whose TLS handshake picks "h2", HTTP/1.1 with
// one that picks "http/1.1" or nothing (remembered per origin, the first connection given up
// once), HTTP/1.1 over plain http; checked against the loopback server both ways and nghttpd.

#include <memory>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <boost/test/unit_test.hpp>

#include "http_test_support.hpp"
#include "nghttpd_server.hpp"

namespace keyless::http::test {
namespace {

server_options tls_server_speaking_h2() {
  server_options o = tls_server();
  o.http2 = true;
  return o;
}

// Sends `count` GETs to `address` at once; returns the HTTP major version of each response.
std::vector<int> versions_of_concurrent_gets(asio::io_context& io, const client& c,
                                             const std::string& address, int count) {
  std::vector<int> versions;
  int failures = 0;
  for (int i = 0; i < count; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          try {
            response r = co_await c.send(make_request(address));
            versions.push_back(r.status == 200 ? r.version_major : -r.status);
          } catch (const std::exception& e) {
            BOOST_TEST_MESSAGE("request failed: " << e.what());
            ++failures;
          }
        },
        asio::detached);
  }
  run_until(io, [&] { return static_cast<int>(versions.size()) + failures == count; });
  BOOST_TEST(failures == 0);
  return versions;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(automatic_http_version)

BOOST_AUTO_TEST_CASE(server_picking_h2_gets_http2_on_one_connection) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_server_speaking_h2());
  client c(io.get_executor(), test_options(http_version::automatic));
  for (int i = 0; i < 3; ++i) {
    response r = run_sync(io, c.send(make_request(server.url("/"))));
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.version_major == 2);
  }
  BOOST_TEST(server.connections_accepted() == 1u);
  BOOST_TEST(c.stats().retries == 0u);
}

BOOST_AUTO_TEST_CASE(server_picking_http1_is_remembered_after_one_handshake) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_server());  // no ALPN: HTTP/1.1
  client c(io.get_executor(), test_options(http_version::automatic));
  for (int i = 0; i < 3; ++i) {
    response r = run_sync(io, c.send(make_request(server.url("/"))));
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.version_major == 1);
    BOOST_TEST(r.body == "ok");
  }
  // The handshake that offered h2, then one pooled HTTP/1.1 connection for all three.
  BOOST_TEST(server.connections_accepted() == 2u);
  BOOST_TEST(server.requests_seen() == 3u);
  BOOST_TEST(c.stats().retries == 1u);
}

BOOST_AUTO_TEST_CASE(first_burst_to_an_http1_server_falls_back_together) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_server());
  client_options o = test_options(http_version::automatic);
  client c(io.get_executor(), o);
  std::vector<int> versions = versions_of_concurrent_gets(io, c, server.url("/"), 40);
  BOOST_TEST(versions == std::vector<int>(40, 1), boost::test_tools::per_element());
  // Every request waited on the one connection offering h2, and none opened another.
  BOOST_TEST(c.stats().retries == 40u);
  BOOST_TEST(server.connections_accepted() <= 1 + o.pool.max_connections_per_origin);
  BOOST_TEST(server.requests_seen() == 40u);
}

BOOST_AUTO_TEST_CASE(streamed_response_falls_back_too) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_server());
  const std::vector<std::string> chunks{"first ", "second"};
  server.set_handler([chunks](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.respond_chunked(200, chunks);
  });
  client c(io.get_executor(), test_options(http_version::automatic));
  std::string body = run_sync(io, [&]() -> asio::awaitable<std::string> {
    response_stream s = co_await c.send_streaming(make_request(server.url("/")));
    BOOST_TEST(s.head().version_major == 1);
    co_return co_await s.read_all();
  }());
  BOOST_TEST(body == "first second");
}

BOOST_AUTO_TEST_CASE(plain_http_speaks_http1_even_to_an_h2c_server) {
  asio::io_context io;
  server_options plain;
  plain.http2 = true;  // would take h2c by prior knowledge
  loopback_server server(io.get_executor(), plain);
  client c(io.get_executor(), test_options(http_version::automatic));
  response r = run_sync(io, c.send(make_request(server.url("/"))));
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.version_major == 1);
}

BOOST_AUTO_TEST_CASE(nghttpd_picks_h2) {
  if (!have_nghttpd()) {
    BOOST_TEST_MESSAGE("nghttpd is not installed (package nghttp2-server): skipped");
    return;
  }
  nghttpd_options tls;
  tls.tls = true;
  nghttpd_server server(tls);
  server.file("a.txt", "from nghttpd");
  asio::io_context io;
  client c(io.get_executor(), test_options(http_version::automatic));
  response r = run_sync(io, c.send(make_request(server.url("/a.txt"))));
  BOOST_TEST(r.version_major == 2);
  BOOST_TEST(r.body == "from nghttpd");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace keyless::http::test
