// A caller on one thread cancels requests of an HTTP client whose executor another thread
// drives: while it connects, during the TLS handshake, and while it waits for an answer that
// never comes. The http suite runs in scripts/test's ThreadSanitizer stage, which reports a
// cancellation handled on the caller's thread while the request runs on the client's. Every
// request must end aborted, and every connection it opened must be closed.

#include <cstddef>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include "http_test_support.hpp"
#include "io_thread.hpp"
#include "keyless/detail/asio_compat.hpp"
#include "keyless/http/client.hpp"

using namespace keyless::http;
using namespace keyless::http::test;
using keyless::testing::count_open_fds;
using keyless::testing::hop;
using keyless::testing::io_thread;
using keyless::testing::run_on;

namespace {

using namespace std::chrono_literals;

constexpr int rounds = 120;

asio::awaitable<void> stall(recorded_request, responder& r) {
  co_await r.stall();
}

// Even rounds cancel after a few turns of the caller's executor (at least one: co_spawn starts
// this coroutine inline, before the request is sent), which lands in the connect or the
// handshake; odd rounds wait until the server has seen more than `seen` requests, so the
// cancellation finds the client waiting for the answer.
asio::awaitable<void> cancel_later(std::shared_ptr<asio::cancellation_signal> signal,
                                   const loopback_server& server, std::size_t seen, int round) {
  if (round % 2 == 0) {
    co_await hop(1 + round % 32);
  } else {
    while (server.requests_seen() <= seen) co_await hop(1);
  }
  signal->emit(asio::cancellation_type::terminal);
}

// On the caller's thread: each round sends through a slot of the caller's own and emits on it.
asio::awaitable<std::vector<std::error_code>> send_and_cancel(const client& http,
                                                              const loopback_server& server) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<std::error_code> codes;
  for (int round = 0; round < rounds; ++round) {
    auto signal = std::make_shared<asio::cancellation_signal>();
    asio::co_spawn(ex, cancel_later(signal, server, server.requests_seen(), round), asio::detached);
    auto [e, answer] = co_await http.async_send(
        make_request(server.url("/stall")),
        asio::bind_cancellation_slot(signal->slot(), keyless::net::as_tuple(asio::use_awaitable)));
    codes.push_back(keyless::inspect(e).code);
  }
  co_return codes;
}

void cancel_from_another_thread(server_options options) {
  const std::size_t fds_before = count_open_fds();
  {
    io_thread client_thread;
    io_thread caller_thread;
    loopback_server server(client_thread.io.get_executor(), options);
    server.set_handler(stall);
    client http(client_thread.io.get_executor(), test_options());

    const auto codes = run_on(caller_thread, send_and_cancel(http, server));
    BOOST_TEST(codes.size() == static_cast<std::size_t>(rounds));
    std::size_t aborted = 0;
    for (const auto& code : codes) aborted += code == asio::error::operation_aborted ? 1 : 0;
    BOOST_TEST(aborted == codes.size());
    BOOST_TEST(server.requests_seen() >= static_cast<std::size_t>(rounds / 2));
    // Closed at once by the client, not when it goes away.
    for (int i = 0; i < 2000 && server.open_connections() != 0; ++i)
      std::this_thread::sleep_for(5ms);
    BOOST_TEST(server.open_connections() == 0u);
  }
  BOOST_TEST(count_open_fds() == fds_before);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cross_thread_cancel)

BOOST_AUTO_TEST_CASE(cancelling_plain_http_requests_from_the_caller_s_thread) {
  cancel_from_another_thread({});
}

BOOST_AUTO_TEST_CASE(cancelling_https_requests_from_the_caller_s_thread) {
  cancel_from_another_thread(tls_server());
}

BOOST_AUTO_TEST_SUITE_END()
