// HTTPS with keyless::http::client against a server on this machine: the loopback test server
// presents a certificate from a CA generated at start-up, and the client trusts exactly that
// CA. Prints each response and how many connections the requests needed.

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include "keyless/core/error.hpp"
#include "keyless/http/client.hpp"
#include "loopback_server.hpp"
#include "test_pki.hpp"

namespace {

asio::awaitable<void> demo(keyless::testing::loopback_server& server, keyless::http::client& http) {
  for (const char* path : {"/hello", "/weather?city=Oslo", "/hello"}) {
    keyless::http::request req;
    req.target = keyless::http::url::parse(server.url(path));
    keyless::http::response res = co_await http.send(req);
    std::printf("GET %-22s -> %d %s, body: %s\n", path, res.status, res.reason.c_str(),
                res.body.c_str());
  }

  // A streamed response, read piece by piece as the server sends it.
  keyless::http::request req;
  req.target = keyless::http::url::parse(server.url("/countdown"));
  keyless::http::response_stream stream = co_await http.send_streaming(req);
  std::printf("GET %-22s -> %d, streamed:", "/countdown", stream.status());
  while (auto piece = co_await stream.read_some()) {
    std::printf(" [%.*s]", static_cast<int>(piece->size()), piece->data());
  }
  std::printf("\n");
}

}  // namespace

int main() {
  try {
    asio::io_context io;

    keyless::testing::server_options server_options;
    server_options.tls = true;  // a leaf for 127.0.0.1 signed by the run-time CA
    keyless::testing::loopback_server server(io.get_executor(), server_options);
    server.set_handler([](keyless::testing::recorded_request request,
                          keyless::testing::responder& r) -> asio::awaitable<void> {
      co_await r.respond(200, "you asked for " + request.target);
    });
    server.route("GET", "/countdown",
                 [](keyless::testing::recorded_request,
                    keyless::testing::responder& r) -> asio::awaitable<void> {
                   co_await r.start_chunked(200);
                   for (const char* step : {"3", "2", "1", "lift-off"}) {
                     co_await r.write_chunk(step);
                     co_await r.delay(std::chrono::milliseconds(50));
                   }
                   co_await r.finish_chunked();
                 });

    keyless::http::client_options options;
    options.tls.use_system_trust_store = false;
    options.tls.ca_pem = keyless::testing::test_pki::shared().ca_certificate_pem();
    options.proxy = keyless::http::proxy_settings{};  // loopback: never through a proxy
    keyless::http::client http(io.get_executor(), options);

    std::exception_ptr failure;
    asio::co_spawn(io, demo(server, http), [&](std::exception_ptr e) {
      failure = e;
      server.stop();  // nothing else keeps io.run() going
    });
    io.run();
    if (failure) std::rethrow_exception(failure);

    keyless::http::client_stats stats = http.stats();
    std::printf("%llu requests over %zu TLS connection(s); %llu reused a kept-alive connection\n",
                static_cast<unsigned long long>(stats.requests), server.connections_accepted(),
                static_cast<unsigned long long>(stats.reused_connections));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "https_get_loopback failed: %s\n", e.what());
    return 1;
  }
}
