#include <chrono>
#include <string>

#include <asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include "io_helpers.hpp"
#include "loopback_proxy.hpp"
#include "loopback_server.hpp"
#include "raw_client.hpp"

using namespace std::chrono_literals;
using keyless::testing::count_open_fds;
using keyless::testing::leaf_kind;
using keyless::testing::loopback_proxy;
using keyless::testing::loopback_server;
using keyless::testing::recorded_request;
using keyless::testing::responder;
using keyless::testing::run_sync;
using keyless::testing::server_options;
using keyless::testing::test_pki;
namespace raw = keyless::testing::raw;

namespace {

// Every fault the fakes offer, once each, against plain, TLS and proxied connections.
asio::awaitable<void> exercise(loopback_server& plain, loopback_server& tls, loopback_server& bad,
                               loopback_proxy& proxy, asio::ssl::context& ctx) {
  {
    auto socket = co_await raw::connect(plain.port());
    std::string pending;
    for (int i = 0; i < 3; ++i) {
      co_await raw::send(socket, raw::get("/"));
      co_await raw::read_response(socket, pending);
    }
  }
  {
    auto socket = co_await raw::connect(plain.port());
    co_await raw::send(socket, raw::get("/cut"));
    co_await raw::read_until_closed(socket);
  }
  {
    auto socket = co_await raw::connect(plain.port());
    co_await raw::send(socket, raw::get("/throw"));
    co_await raw::read_until_closed(socket);
  }
  {
    auto socket = co_await raw::connect(plain.port());
    co_await raw::send(socket, raw::get("/stall"));
    co_await raw::eventually([&] { return plain.requests_seen("/stall") == 1u; });
  }
  {
    auto idle = co_await raw::connect(plain.port());
    std::string pending;
    co_await raw::send(idle, raw::get("/"));
    co_await raw::read_response(idle, pending);
    plain.close_idle_connections();
    co_await raw::read_until_closed(idle);
  }
  {
    raw::tls_stream stream(co_await asio::this_coro::executor, ctx);
    auto ec = co_await raw::connect_tls(stream, tls.port());
    BOOST_TEST(!ec);
    co_await raw::exchange(stream, raw::get("/"));
  }
  {
    raw::tls_stream stream(co_await asio::this_coro::executor, ctx);
    auto ec = co_await raw::connect_tls(stream, bad.port());
    BOOST_TEST(bool(ec));
  }
  {
    auto socket = co_await raw::connect(proxy.port());
    std::string pending;
    co_await raw::send(socket, "CONNECT " + plain.authority() + " HTTP/1.1\r\n\r\n");
    co_await raw::read_response(socket, pending, true);
    co_await raw::exchange(socket, raw::get("/tunnelled"));
  }
  BOOST_TEST(co_await raw::eventually([&] {
    return plain.open_connections() == 0u && tls.open_connections() == 0u &&
           bad.open_connections() == 0u && proxy.open_connections() == 0u;
  }));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fd_leaks)

BOOST_AUTO_TEST_CASE(the_descriptor_count_is_flat_after_servers_and_faults_are_gone) {
  test_pki::shared();  // generated before counting
  asio::io_context io;
  // The first socket makes Asio create its reactor descriptors; count after that.
  raw::tcp::socket warm_up(io);
  warm_up.open(raw::tcp::v4());
  const std::size_t before = count_open_fds();
  for (int round = 0; round < 2; ++round) {
    loopback_server plain(io.get_executor());
    plain.route("GET", "/cut", [](recorded_request, responder& r) -> asio::awaitable<void> {
      co_await r.write_raw("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\npart");
      r.close();
    });
    plain.route("GET", "/throw", [](recorded_request, responder&) -> asio::awaitable<void> {
      throw std::runtime_error("scripted handler failure (expected in this test)");
      co_return;
    });
    plain.route("GET", "/stall", [](recorded_request, responder& r) -> asio::awaitable<void> {
      co_await r.stall();
    });
    server_options tls_opts;
    tls_opts.tls = true;
    loopback_server tls(io.get_executor(), tls_opts);
    tls_opts.leaf = leaf_kind::expired;
    loopback_server bad(io.get_executor(), tls_opts);
    loopback_proxy proxy(io.get_executor());
    auto ctx = raw::client_context();
    run_sync(io, exercise(plain, tls, bad, proxy, ctx));
    BOOST_TEST(count_open_fds() > before);
  }
  // Destroyed from outside the executor: the stops are queued; let them and the coroutines run.
  io.run_for(20s);
  BOOST_TEST(io.stopped());
  BOOST_TEST(count_open_fds() == before);
}

BOOST_AUTO_TEST_SUITE_END()
