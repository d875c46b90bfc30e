#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include "http_test_support.hpp"
#include "keyless/http/client.hpp"

using namespace keyless::http;
using namespace keyless::http::test;
using keyless::errc;
using keyless::testing::gate;
using keyless::testing::header_map;

namespace {

struct https_fixture {
  asio::io_context io;
  loopback_server server{io.get_executor(), tls_server()};
  client http{io.get_executor(), test_options()};

  response get(const std::string& path = "/") {
    return run_sync(io, http.send(make_request(server.url(path))));
  }
};

struct http_fixture {
  asio::io_context io;
  loopback_server server{io.get_executor()};
  client http{io.get_executor(), test_options()};
};

}  // namespace

BOOST_AUTO_TEST_SUITE(client_tests)

BOOST_FIXTURE_TEST_CASE(a_content_length_body_is_read_whole_over_https, https_fixture) {
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    header_map extra{{"X-Test", "yes"}};
    co_await r.respond(200, "hello world", extra);
  });
  response res = get("/hello?x=1");
  BOOST_TEST(res.status == 200);
  BOOST_TEST(res.reason == "OK");
  BOOST_TEST(res.body == "hello world");
  BOOST_TEST(res.headers.find("x-test").value_or("") == "yes");
  recorded_request seen = server.last_request();
  BOOST_TEST(seen.target == "/hello?x=1");
  BOOST_TEST(seen.header("host") == "127.0.0.1:" + std::to_string(server.port()));
  BOOST_TEST(contains(seen.header("user-agent"), "keyless/"));
}

BOOST_FIXTURE_TEST_CASE(a_chunked_body_is_reassembled, https_fixture) {
  std::vector<std::string> chunks;
  std::string expected;
  for (int i = 0; i < 200; ++i) {
    chunks.push_back(
        std::string(static_cast<std::size_t>(97 * i % 3000 + 1), static_cast<char>('a' + i % 26)));
    expected += chunks.back();
  }
  server.set_handler([chunks](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.respond_chunked(200, chunks);
  });
  response res = get();
  BOOST_TEST(res.status == 200);
  BOOST_TEST(res.body.size() == expected.size());
  BOOST_TEST((res.body == expected));
}

BOOST_FIXTURE_TEST_CASE(a_large_content_length_body_arrives_intact, https_fixture) {
  std::string big(3 * 1024 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('0' + i % 43);
  server.set_handler([big](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.respond(200, big);
  });
  response res = get();
  BOOST_TEST(res.body.size() == big.size());
  BOOST_TEST((res.body == big));
}

BOOST_FIXTURE_TEST_CASE(a_request_body_is_sent_with_its_length, https_fixture) {
  server.set_handler([](recorded_request req, responder& r) -> asio::awaitable<void> {
    co_await r.respond(201, "got " + req.body);
  });
  response res = run_sync(io, http.send(make_request(server.url("/post"), "POST", "a=1&b=2")));
  BOOST_TEST(res.status == 201);
  BOOST_TEST(res.body == "got a=1&b=2");
  BOOST_TEST(server.last_request().header("content-length") == "7");
}

BOOST_FIXTURE_TEST_CASE(sequential_requests_reuse_one_kept_alive_connection, https_fixture) {
  for (int i = 0; i < 5; ++i) BOOST_TEST(get("/n").body == "ok");
  BOOST_TEST(server.connections_accepted() == 1u);
  BOOST_TEST(server.requests_seen() == 5u);
  client_stats stats = http.stats();
  BOOST_TEST(stats.connections_opened == 1u);
  BOOST_TEST(stats.reused_connections == 4u);
  BOOST_TEST(stats.retries == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_non_2xx_status_is_a_response_not_an_error, https_fixture) {
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.respond(503, "busy");
  });
  response res = get();
  BOOST_TEST(res.status == 503);
  BOOST_TEST(res.body == "busy");
}

BOOST_FIXTURE_TEST_CASE(plain_http_works_and_is_refused_when_https_is_required, http_fixture) {
  response res = run_sync(io, http.send(make_request(server.url("/plain"))));
  BOOST_TEST(res.body == "ok");

  request strict = make_request(server.url("/strict"));
  strict.options.require_https = true;
  keyless::error e = expect_error(io, http.send(strict));
  BOOST_TEST(e.code() == make_error_code(errc::invalid_argument));
  BOOST_TEST(contains(e.what(), "requires https"));
  BOOST_TEST(server.requests_seen("/strict") == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_streamed_body_arrives_piece_by_piece, https_fixture) {
  gate release(io.get_executor());
  server.route("GET", "/sse", [&release](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.start_chunked(200, {}, "text/event-stream");
    co_await r.write_chunk("data: one\n\n");
    co_await release.wait();
    co_await r.write_chunk("data: two\n\n");
    co_await r.finish_chunked();
  });

  response_stream stream = run_sync(io, http.send_streaming(make_request(server.url("/sse"))));
  BOOST_TEST(stream.status() == 200);
  BOOST_TEST(stream.headers().find("content-type").value_or("") == "text/event-stream");
  BOOST_TEST(!stream.done());

  std::string first = run_sync(io, [&]() -> asio::awaitable<std::string> {
    auto piece = co_await stream.read_some();
    co_return piece ? std::string(*piece) : std::string("<end>");
  });
  // The server is still parked before its second chunk: the client saw the first piece
  // before the body was complete.
  BOOST_TEST(first == "data: one\n\n");
  BOOST_TEST(release.waiters() == 1u);

  release.open();
  std::string rest = run_sync(io, stream.read_all());
  BOOST_TEST(rest == "data: two\n\n");
  BOOST_TEST(stream.done());
  std::optional<std::string> after =
      run_sync(io, [&]() -> asio::awaitable<std::optional<std::string>> {
        auto piece = co_await stream.read_some();
        co_return piece ? std::optional<std::string>(std::string(*piece)) : std::nullopt;
      });
  BOOST_TEST(!after.has_value());

  // The finished stream gave its connection back.
  BOOST_TEST(get("/after").body == "ok");
  BOOST_TEST(server.connections_accepted() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_stream_keeps_its_connection_until_its_body_ends, https_fixture) {
  gate release(io.get_executor());
  server.route("GET", "/slow", [&release](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.start_chunked(200);
    co_await r.write_chunk("part");
    co_await release.wait();
    co_await r.finish_chunked();
  });
  response_stream stream = run_sync(io, http.send_streaming(make_request(server.url("/slow"))));
  // The stream's connection is busy, so this request needs a second one.
  BOOST_TEST(get("/other").body == "ok");
  BOOST_TEST(server.connections_accepted() == 2u);

  release.open();
  BOOST_TEST(run_sync(io, stream.read_all()) == "part");
  // Both connections are idle now; neither is closed.
  BOOST_TEST(get("/third").body == "ok");
  BOOST_TEST(get("/fourth").body == "ok");
  BOOST_TEST(server.connections_accepted() == 2u);
}

BOOST_FIXTURE_TEST_CASE(a_stream_destroyed_before_its_end_closes_its_connection, https_fixture) {
  // stall() also reads, so the server notices when its client hangs up.
  server.route("GET", "/slow", [](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.start_chunked(200);
    co_await r.write_chunk("part");
    co_await r.stall();
  });
  {
    response_stream stream = run_sync(io, http.send_streaming(make_request(server.url("/slow"))));
    BOOST_TEST(run_sync(io, stream.async_read_some()).value_or("") == "part");
    run_until_idle(io);
    BOOST_TEST(server.open_connections() == 1u);
  }
  BOOST_TEST(run_until(io, [&] { return server.open_connections() == 0u; }));
  BOOST_TEST(get("/next").body == "ok");
  BOOST_TEST(server.connections_accepted() == 2u);
}

BOOST_FIXTURE_TEST_CASE(one_thousand_concurrent_requests_share_a_sixteen_connection_pool,
                        https_fixture) {
  client_options o = test_options();
  o.pool.max_connections_per_origin = 16;
  client pooled(io.get_executor(), o);
  server.set_handler([](recorded_request req, responder& r) -> asio::awaitable<void> {
    co_await r.respond(200, req.header("x-index"));
  });

  constexpr int count = 1000;
  int succeeded = 0;
  int failed = 0;
  for (int i = 0; i < count; ++i) {
    request req = make_request(server.url("/many"));
    req.headers.add("X-Index", std::to_string(i));
    pooled.async_send(std::move(req), [&, i](std::exception_ptr e, response res) {
      if (!e && res.status == 200 && res.body == std::to_string(i)) {
        ++succeeded;
      } else {
        ++failed;
      }
    });
  }
  BOOST_TEST(run_until(
      io, [&] { return succeeded + failed == count; }, 120s));
  BOOST_TEST(succeeded == count);
  BOOST_TEST(failed == 0);
  BOOST_TEST(server.requests_seen() == static_cast<std::size_t>(count));
  BOOST_TEST(server.connections_accepted() <= 16u);
  BOOST_TEST(pooled.stats().connections_opened <= 16u);
}

// A peer closing before the end of a response is a failed connection (what arrived parsed),
// and the message says where the response was cut.
BOOST_FIXTURE_TEST_CASE(the_server_closing_inside_the_head_is_a_failed_connection, http_fixture) {
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.write_raw("HTTP/1.1 200 OK\r\nContent-Len");
    r.close();
  });
  keyless::error e = expect_error(io, http.send(make_request(server.url("/cut"))));
  BOOST_TEST(e.code() == make_error_code(errc::connection_failed), e.what());
  BOOST_TEST(contains(e.what(), "GET http://127.0.0.1"), e.what());
  BOOST_TEST(
      contains(e.what(), "connection closed before the end of the response head (after 28 bytes)"),
      e.what());
  BOOST_TEST(!contains(e.what(), "malformed"), e.what());
  BOOST_TEST(server.requests_seen() == 1u);  // begun answering: not a stale connection to retry
}

BOOST_FIXTURE_TEST_CASE(the_server_closing_mid_body_is_a_failed_connection, https_fixture) {
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.write_raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part");
    r.close();  // no TLS close_notify either
  });
  keyless::error e = expect_error(io, http.send(make_request(server.url("/cut"))));
  BOOST_TEST(e.code() == make_error_code(errc::connection_failed), e.what());
  BOOST_TEST(contains(e.what(), "GET https://127.0.0.1"), e.what());
  BOOST_TEST(contains(e.what(), "connection closed before the end of the body (9 of 100 bytes)"),
             e.what());
  // The connection is gone, not pooled: the next request gets a fresh one.
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.respond(200, "whole");
  });
  BOOST_TEST(get("/next").body == "whole");
  BOOST_TEST(server.connections_accepted() == 2u);
}

BOOST_FIXTURE_TEST_CASE(the_server_closing_mid_chunk_is_a_failed_connection, http_fixture) {
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.write_raw(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n10\r\nabc");
    r.close();
  });
  keyless::error e = expect_error(io, http.send(make_request(server.url("/cut"))));
  BOOST_TEST(e.code() == make_error_code(errc::connection_failed), e.what());
  BOOST_TEST(contains(e.what(),
                      "connection closed before the end of the chunked body (after 8 bytes, 13 "
                      "short of the end of a chunk)"),
             e.what());
}

BOOST_FIXTURE_TEST_CASE(a_streamed_body_cut_short_keeps_what_arrived_and_fails_the_connection,
                        http_fixture) {
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.write_raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    r.close();
  });
  response_stream s = run_sync(io, http.send_streaming(make_request(server.url("/stream"))));
  BOOST_TEST(s.status() == 200);
  std::string received;
  keyless::error e = expect_error(io, [&]() -> asio::awaitable<void> {
    while (auto piece = co_await s.read_some()) received.append(*piece);
  }());
  BOOST_TEST(received == "hello");
  BOOST_TEST(e.code() == make_error_code(errc::connection_failed), e.what());
  BOOST_TEST(contains(e.what(),
                      "connection closed before the end of the chunked body (after 5 bytes, at "
                      "a chunk boundary)"),
             e.what());
  BOOST_TEST(s.done());
}

BOOST_FIXTURE_TEST_CASE(a_body_ending_at_close_is_read_and_not_reused, http_fixture) {
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.write_raw("HTTP/1.1 200 OK\r\n\r\nuntil the end");
    r.close();
  });
  response res = run_sync(io, http.send(make_request(server.url("/eof"))));
  BOOST_TEST(res.body == "until the end");
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.respond(200, "fresh");
  });
  BOOST_TEST(run_sync(io, http.send(make_request(server.url("/next")))).body == "fresh");
  BOOST_TEST(server.connections_accepted() == 2u);
}

BOOST_FIXTURE_TEST_CASE(oversized_headers_are_refused, https_fixture) {
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    std::string head = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(70 * 1024, 'x') +
                       "\r\nContent-Length: 0\r\n\r\n";
    co_await r.write_raw(head);
  });
  keyless::error e = expect_error(io, http.send(make_request(server.url("/big"))));
  BOOST_TEST(e.code() == make_error_code(errc::limit_exceeded));
}

BOOST_FIXTURE_TEST_CASE(the_header_limit_is_configurable, http_fixture) {
  client_options o = test_options();
  o.max_header_bytes = 200;
  client strict(io.get_executor(), o);
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    header_map extra{{"X-Padding", std::string(300, 'p')}};
    co_await r.respond(200, "x", extra);
  });
  keyless::error e = expect_error(io, strict.send(make_request(server.url("/"))));
  BOOST_TEST(e.code() == make_error_code(errc::limit_exceeded));
  // The default limit lets the same response through.
  BOOST_TEST(run_sync(io, http.send(make_request(server.url("/")))).body == "x");
}

BOOST_FIXTURE_TEST_CASE(a_malformed_status_line_is_refused, https_fixture) {
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.write_raw("HTTX/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    r.close();
  });
  keyless::error e = expect_error(io, http.send(make_request(server.url("/bad"))));
  BOOST_TEST(e.code() == make_error_code(errc::malformed_response));
}

BOOST_FIXTURE_TEST_CASE(garbage_instead_of_a_response_is_refused, http_fixture) {
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.write_raw(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
    r.close();
  });
  keyless::error e = expect_error(io, http.send(make_request(server.url("/garbage"))));
  BOOST_TEST(e.code() == make_error_code(errc::malformed_response));
}

BOOST_FIXTURE_TEST_CASE(a_body_over_the_limit_is_refused, https_fixture) {
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.respond(200, std::string(1000, 'b'));
  });
  request req = make_request(server.url("/"));
  req.options.max_body_bytes = 100;
  keyless::error e = expect_error(io, http.send(req));
  BOOST_TEST(e.code() == make_error_code(errc::limit_exceeded));
  // Without the per-request limit the client default applies.
  BOOST_TEST(get("/").body.size() == 1000u);
}

BOOST_FIXTURE_TEST_CASE(responses_without_a_body_keep_the_connection, http_fixture) {
  server.route("HEAD", "/head", [](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.write_raw("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n");
  });
  server.route("GET", "/empty", [](recorded_request, responder& r) -> asio::awaitable<void> {
    co_await r.write_raw("HTTP/1.1 204 No Content\r\n\r\n");
  });
  response head = run_sync(io, http.send(make_request(server.url("/head"), "HEAD")));
  BOOST_TEST(head.status == 200);
  BOOST_TEST(head.body.empty());
  response empty = run_sync(io, http.send(make_request(server.url("/empty"))));
  BOOST_TEST(empty.status == 204);
  BOOST_TEST(run_sync(io, http.send(make_request(server.url("/")))).body == "ok");
  BOOST_TEST(server.connections_accepted() == 1u);
}

BOOST_FIXTURE_TEST_CASE(connection_close_from_the_server_is_honoured, https_fixture) {
  server.set_handler([](recorded_request, responder& r) -> asio::awaitable<void> {
    r.close_after_response();
    co_await r.respond(200, "bye");
  });
  response first = get("/1");
  BOOST_TEST(first.headers.find("connection").value_or("") == "close");
  BOOST_TEST(get("/2").body == "bye");
  BOOST_TEST(server.connections_accepted() == 2u);
  BOOST_TEST(http.stats().retries == 0u);
  BOOST_TEST(http.stats().reused_connections == 0u);
}

BOOST_FIXTURE_TEST_CASE(completion_tokens_work_with_callbacks_and_futures, https_fixture) {
  std::optional<int> status;
  http.async_send(make_request(server.url("/cb")), [&](std::exception_ptr e, response res) {
    if (!e) status = res.status;
  });
  BOOST_TEST(run_until(io, [&] { return status.has_value(); }));
  BOOST_TEST(status.value_or(0) == 200);

  // use_future needs the io_context running elsewhere while this thread waits.
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  std::future<response> future =
      http.async_send(make_request(server.url("/future")), asio::use_future);
  std::string body = future.get().body;
  std::future<response_stream> streamed =
      http.async_send_streaming(make_request(server.url("/future-stream")), asio::use_future);
  response_stream stream = streamed.get();
  std::optional<std::string> piece = stream.async_read_some(asio::use_future).get();
  work.reset();
  stream = response_stream{};
  io.stop();
  runner.join();
  io.restart();
  BOOST_TEST(body == "ok");
  BOOST_TEST(piece.value_or("") == "ok");
}

BOOST_AUTO_TEST_CASE(a_multi_threaded_io_context_serves_many_requests) {
  asio::thread_pool pool(4);
  loopback_server server(asio::make_strand(pool), tls_server());
  server.set_handler([](recorded_request req, responder& r) -> asio::awaitable<void> {
    co_await r.respond(200, req.header("x-index"));
  });
  client_options o = test_options();
  o.pool.max_connections_per_origin = 8;
  client http(pool.get_executor(), o);

  constexpr int count = 400;
  std::mutex mutex;
  std::condition_variable cv;
  int finished = 0;
  int good = 0;
  for (int i = 0; i < count; ++i) {
    request req = make_request(server.url("/mt"));
    req.headers.add("X-Index", std::to_string(i));
    http.async_send(std::move(req), [&, i](std::exception_ptr e, response res) {
      std::lock_guard lock(mutex);
      if (!e && res.body == std::to_string(i)) ++good;
      ++finished;
      cv.notify_all();
    });
  }
  {
    std::unique_lock lock(mutex);
    BOOST_TEST(cv.wait_for(lock, 120s, [&] { return finished == count; }));
  }
  BOOST_TEST(good == count);
  BOOST_TEST(server.connections_accepted() <= 8u);
  server.stop();
  pool.join();
}

BOOST_AUTO_TEST_SUITE_END()
