// The client speaking HTTP/2 (client_options::version = http2) to a real HTTP/2 server,
// nghttpd, over h2c and TLS with ALPN: bodies both ways past the flow-control windows, many
// concurrent streams on one connection, streamed responses, and the failures a client meets
// when a server does not speak HTTP/2 or says nothing.

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include "http/h2/frame.hpp"
#include "http_test_support.hpp"
#include "keyless/core/clock.hpp"
#include "loopback_proxy.hpp"
#include "nghttpd_server.hpp"

namespace keyless::http::test {
namespace {

// Bytes that differ from position to position, so a reordered or repeated piece shows.
std::string patterned(std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return out;
}

// Checks the precondition every test here has: the real server is installed.
bool nghttpd_missing() {
  if (have_nghttpd()) return false;
  BOOST_TEST_MESSAGE("nghttpd is not installed (package nghttp2-server): skipped");
  return true;
}

// An h2c server (prior knowledge) on 127.0.0.1 that processes no request: it answers each
// HEADERS frame with RST_STREAM(REFUSED_STREAM), or with GOAWAY(NO_ERROR, last stream id 0).
class refusing_server {
 public:
  enum class how : std::uint8_t { refused_stream, goaway };

  refusing_server(asio::io_context& io, how refusal) : acceptor_(io), refusal_(refusal) {
    testing::listen_on_loopback(acceptor_, false, 0);
    asio::co_spawn(io, accept_loop(), asio::detached);
  }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/";
  }
  int connections() const { return connections_; }
  int requests() const { return requests_; }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(net::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      ++connections_;
      asio::co_spawn(acceptor_.get_executor(), serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> serve(asio::ip::tcp::socket socket) {
    namespace h2 = keyless::http::h2;
    std::string reply;
    h2::write_settings(reply, {});
    std::string in;
    std::size_t next_frame = h2::client_preface.size();
    char buffer[4096];
    for (;;) {
      if (!reply.empty()) {
        auto [ec, n] = co_await asio::async_write(socket, asio::buffer(reply),
                                                  net::as_tuple(asio::use_awaitable));
        if (ec) co_return;
        reply.clear();
      }
      auto [ec, n] =
          co_await socket.async_read_some(asio::buffer(buffer), net::as_tuple(asio::use_awaitable));
      if (ec) co_return;  // the client closed the connection
      in.append(buffer, n);
      while (in.size() >= next_frame + h2::frame_header_size) {
        const h2::frame_header header =
            h2::read_frame_header(std::string_view(in).substr(next_frame));
        if (header.type == h2::frame_type::headers) {
          ++requests_;
          if (refusal_ == how::goaway) {
            h2::write_goaway(reply, 0, h2::error_code::no_error);
          } else {
            h2::write_rst_stream(reply, header.stream_id, h2::error_code::refused_stream);
          }
        }
        next_frame += h2::frame_header_size + header.length;
      }
    }
  }

  asio::ip::tcp::acceptor acceptor_;
  how refusal_;
  int connections_ = 0;
  int requests_ = 0;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(h2_client)

BOOST_AUTO_TEST_CASE(get_over_h2c_with_prior_knowledge) {
  if (nghttpd_missing()) return;
  nghttpd_server server;
  server.file("hello.txt", "hello over h2c");
  asio::io_context io;
  client c(io.get_executor(), test_options(http_version::http2));
  response r = run_sync(io, c.send(make_request(server.url("/hello.txt"))));
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.version_major == 2);
  BOOST_TEST(r.body == "hello over h2c");
  BOOST_TEST(r.headers.find("content-length").value_or("") == "14");
}

BOOST_AUTO_TEST_CASE(get_over_tls_agrees_on_h2_through_alpn) {
  if (nghttpd_missing()) return;
  nghttpd_server server({.tls = true});
  server.file("hello.txt", "hello over TLS");
  asio::io_context io;
  client c(io.get_executor(), test_options(http_version::http2));
  response r = run_sync(io, c.send(make_request(server.url("/hello.txt"))));
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.version_major == 2);
  BOOST_TEST(r.body == "hello over TLS");
}

BOOST_AUTO_TEST_CASE(bodies_past_every_window_go_both_ways) {
  if (nghttpd_missing()) return;
  // nghttpd's windows are 64 KiB until it updates them, ours 1 MiB per stream: 3 MiB up and
  // back needs WINDOW_UPDATEs from both sides, and DATA split at the frame size.
  nghttpd_server server({.tls = true});
  server.file("echo", "");
  asio::io_context io;
  client c(io.get_executor(), test_options(http_version::http2));
  std::string body = patterned(3 * 1024 * 1024 + 17);
  response r = run_sync(io, c.send(make_request(server.url("/echo"), "POST", body)));
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body.size() == body.size());
  BOOST_TEST((r.body == body));
}

BOOST_AUTO_TEST_CASE(concurrent_requests_share_one_connection_past_the_stream_limit) {
  if (nghttpd_missing()) return;
  nghttpd_server server({.tls = true, .max_concurrent_streams = 20});
  const int files = 10;
  for (int i = 0; i < files; ++i) {
    server.file("f" + std::to_string(i), patterned(1000 + 997 * i));
  }
  asio::io_context io;
  client c(io.get_executor(), test_options(http_version::http2));
  const int requests = 300;  // 15 times what the server runs at once: the rest wait for slots
  int ok = 0;
  int failed = 0;
  for (int n = 0; n < requests; ++n) {
    asio::co_spawn(
        io,
        [&, n]() -> asio::awaitable<void> {
          int i = n % files;
          response r = co_await c.send(make_request(server.url("/f" + std::to_string(i))));
          if (r.status == 200 && r.body == patterned(1000 + 997 * i)) {
            ++ok;
          } else {
            ++failed;
          }
        },
        [&](std::exception_ptr e) {
          if (e) ++failed;
        });
  }
  BOOST_REQUIRE(run_until(
      io, [&] { return ok + failed == requests; }, 30s));
  BOOST_TEST(ok == requests);
  BOOST_TEST(c.stats().connections_opened == 1u);
  // Streams opened before the server's SETTINGS arrived may be refused (REFUSED_STREAM) and
  // are sent again: each try counts as a request.
  client_stats stats = c.stats();
  BOOST_TEST(stats.requests == requests + stats.retries);
}

BOOST_AUTO_TEST_CASE(streamed_response_closed_early_leaves_the_connection_usable) {
  if (nghttpd_missing()) return;
  nghttpd_server server;
  server.file("big", patterned(4 * 1024 * 1024));
  server.file("small", "after the reset");
  asio::io_context io;
  client c(io.get_executor(), test_options(http_version::http2));
  std::string first_piece = run_sync(io, [&]() -> asio::awaitable<std::string> {
    response_stream s = co_await c.send_streaming(make_request(server.url("/big")));
    BOOST_TEST(s.status() == 200);
    auto piece = co_await s.read_some();
    std::string copy(piece.value_or(""));
    s.close();  // RST_STREAM(CANCEL) with most of the body unread
    co_return copy;
  });
  BOOST_TEST(!first_piece.empty());
  BOOST_TEST((first_piece == patterned(first_piece.size())));
  response r = run_sync(io, c.send(make_request(server.url("/small"))));
  BOOST_TEST(r.body == "after the reset");
  BOOST_TEST(c.stats().connections_opened == 1u);
}

BOOST_AUTO_TEST_CASE(streamed_response_read_to_its_end) {
  if (nghttpd_missing()) return;
  nghttpd_server server({.tls = true});
  std::string big = patterned(2 * 1024 * 1024 + 3);
  server.file("big", big);
  asio::io_context io;
  client c(io.get_executor(), test_options(http_version::http2));
  auto [pieces, body] = run_sync(io, [&]() -> asio::awaitable<std::pair<int, std::string>> {
    response_stream s = co_await c.send_streaming(make_request(server.url("/big")));
    std::string all;
    int count = 0;
    while (auto piece = co_await s.read_some()) {
      all.append(*piece);
      ++count;
    }
    co_return std::pair{count, all};
  });
  BOOST_TEST(pieces > 1);
  BOOST_TEST(body.size() == big.size());
  BOOST_TEST((body == big));
}

BOOST_AUTO_TEST_CASE(https_through_a_proxy_tunnel_speaks_h2_end_to_end) {
  if (nghttpd_missing()) return;
  nghttpd_server server({.tls = true});
  server.file("hello.txt", "through the tunnel");
  asio::io_context io;
  testing::loopback_proxy proxy(io.get_executor());
  client_options o = test_options(http_version::http2);
  proxy_settings through_proxy;
  through_proxy.https_proxy = proxy.url();
  o.proxy = through_proxy;
  client c(io.get_executor(), o);
  for (int i = 0; i < 3; ++i) {
    response r = run_sync(io, c.send(make_request(server.url("/hello.txt"))));
    BOOST_TEST(r.version_major == 2);
    BOOST_TEST(r.body == "through the tunnel");
  }
  BOOST_TEST(proxy.connect_requests() == 1u);  // one tunnel carries every stream
}

BOOST_AUTO_TEST_CASE(tls_server_without_h2_is_named) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_server());  // HTTP/1.1 only, no ALPN
  client c(io.get_executor(), test_options(http_version::http2));
  keyless::error e = expect_error(io, c.send(make_request(server.url("/"))));
  BOOST_TEST(e.code() == errc::connection_failed);
  BOOST_TEST(contains(e.what(), "does not speak HTTP/2"), e.what());
}

BOOST_AUTO_TEST_CASE(http1_answer_to_prior_knowledge_is_named) {
  // A plain-http server that only knows HTTP/1.1 answers the preface with an error page.
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::ip::tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
        std::string reply = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        co_await asio::async_write(socket, asio::buffer(reply), asio::use_awaitable);
        char byte;
        co_await socket.async_read_some(asio::buffer(&byte, 1), net::as_tuple(asio::use_awaitable));
      },
      asio::detached);
  client c(io.get_executor(), test_options(http_version::http2));
  auto address = "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/";
  keyless::error e = expect_error(io, c.send(make_request(address)));
  BOOST_TEST(e.code() == errc::connection_failed);
  BOOST_TEST(contains(e.what(), "answered in HTTP/1.1"), e.what());
}

BOOST_AUTO_TEST_CASE(silent_server_ends_in_the_request_timeout) {
  asio::io_context io;
  silent_server server(io);
  client_options o = test_options(http_version::http2);
  o.request_timeout = 300ms;
  client c(io.get_executor(), o);
  auto address = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  keyless::error e = expect_error(io, c.send(make_request(address)));
  BOOST_TEST(e.code() == errc::timeout);
  BOOST_TEST(contains(e.what(), "request timeout (300 ms)"), e.what());
  BOOST_TEST(server.bytes_received() > 24u);  // the preface and more were sent
}

BOOST_AUTO_TEST_CASE(an_abandoned_last_stream_leaves_no_pending_work) {
  // The server on its own thread, so that only the client's work is on `io`.
  asio::io_context server_io;
  auto work = asio::make_work_guard(server_io);
  server_options h2c;
  h2c.http2 = true;
  loopback_server server(server_io.get_executor(), h2c);
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.stall();  // never answers
  });
  std::thread server_thread([&] { server_io.run(); });

  asio::io_context io;
  client_options o = test_options(http_version::http2);
  o.request_timeout = 200ms;
  client c(io.get_executor(), o);
  keyless::error e = expect_error(io, c.send(make_request(server.url("/"))));
  BOOST_TEST(e.code() == errc::timeout);
  // The stream was reset and none is left: the client's read must not stay pending (it would
  // keep io.run() from returning until the server spoke again).
  io.restart();
  io.run_for(10s);
  BOOST_TEST(io.stopped());

  server.stop();
  work.reset();
  server_thread.join();
}

BOOST_AUTO_TEST_CASE(a_connection_idle_past_the_pools_idle_expiry_is_replaced) {
  asio::io_context io;
  server_options h2_tls = tls_server();
  h2_tls.http2 = true;
  loopback_server server(io.get_executor(), h2_tls);
  auto clock = std::make_shared<keyless::manual_clock>();
  client_options o = test_options(http_version::http2);
  o.clock = clock;
  o.pool.idle_expiry = 10s;
  client c(io.get_executor(), o);
  auto get = [&] {
    return run_sync(io, c.send(make_request(server.url("/"))));
  };
  BOOST_TEST(get().version_major == 2);
  clock->advance(9s);
  BOOST_TEST(get().version_major == 2);
  BOOST_TEST(server.connections_accepted() == 1u);
  clock->advance(10s);
  BOOST_TEST(get().version_major == 2);
  BOOST_TEST(server.connections_accepted() == 2u);
  // The expired connection was closed, not left open.
  BOOST_TEST(run_until(io, [&] { return server.open_connections() == 1u; }));
}

BOOST_AUTO_TEST_CASE(unprocessed_requests_go_again_then_the_reason_is_named) {
  struct refusal_case {
    refusing_server::how refusal;
    std::string_view reason;
    int connections;  // a refused stream leaves the connection usable; a GOAWAY does not
  };
  const refusal_case cases[] = {
      {refusing_server::how::refused_stream, "reset stream 5 with REFUSED_STREAM", 1},
      {refusing_server::how::goaway, "GOAWAY (NO_ERROR) with last stream id 0", 3},
  };
  for (const refusal_case& each : cases) {
    asio::io_context io;
    refusing_server server(io, each.refusal);
    client c(io.get_executor(), test_options(http_version::http2));
    keyless::error e = expect_error(io, c.send(make_request(server.url())));
    BOOST_TEST(e.code() == errc::connection_failed);
    BOOST_TEST(contains(e.what(), "did not process the request in 3 tries over HTTP/2"), e.what());
    BOOST_TEST(contains(e.what(), each.reason), e.what());
    BOOST_TEST(server.requests() == 3);
    BOOST_TEST(server.connections() == each.connections);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace keyless::http::test
