#include <string>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include "io_helpers.hpp"
#include "loopback_server.hpp"
#include "raw_client.hpp"

using keyless::testing::leaf_kind;
using keyless::testing::loopback_server;
using keyless::testing::run_sync;
using keyless::testing::server_options;
using keyless::testing::test_pki;
using keyless::testing::tls_version;
namespace raw = keyless::testing::raw;

namespace {

server_options tls_options(leaf_kind leaf) {
  server_options options;
  options.tls = true;
  options.leaf = leaf;
  return options;
}

struct handshake_result {
  std::error_code error;
  long verify_result = X509_V_OK;
  std::string body;  // response to GET / when the handshake succeeded
};

// Connects with `ctx`, verifying the certificate for `host`; on success fetches "/".
asio::awaitable<handshake_result> try_tls(std::uint16_t port, asio::ssl::context& ctx,
                                          std::string host, bool ipv6 = false,
                                          bool send_sni = false) {
  raw::tls_stream stream(co_await asio::this_coro::executor, ctx);
  if (send_sni) SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
  handshake_result out;
  out.error = co_await raw::connect_tls(stream, port, host, ipv6);
  out.verify_result = SSL_get_verify_result(stream.native_handle());
  if (!out.error) out.body = (co_await raw::exchange(stream, raw::get("/"))).body;
  co_return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tls_server)

BOOST_AUTO_TEST_CASE(the_good_leaf_verifies_for_127_0_0_1) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_options(leaf_kind::good));
  BOOST_TEST(server.tls());
  BOOST_TEST(server.url("/a") == "https://127.0.0.1:" + std::to_string(server.port()) + "/a");
  auto ctx = raw::client_context();
  auto result = run_sync(io, try_tls(server.port(), ctx, "127.0.0.1"));
  BOOST_TEST(!result.error, result.error.message());
  BOOST_TEST(result.body == "ok");
  BOOST_REQUIRE_EQUAL(server.requests_seen(), 1u);
  BOOST_TEST(!server.last_request().tls_protocol.empty());
  BOOST_TEST(server.last_request().tls_server_name.empty());  // no SNI for an IP literal
  BOOST_TEST(server.handshake_failures() == 0u);
}

BOOST_AUTO_TEST_CASE(the_good_leaf_verifies_for_localhost_and_records_sni) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_options(leaf_kind::good));
  auto ctx = raw::client_context();
  auto result = run_sync(io, try_tls(server.port(), ctx, "localhost", false, true));
  BOOST_TEST(!result.error, result.error.message());
  BOOST_TEST(server.last_request().tls_server_name == "localhost");
}

BOOST_AUTO_TEST_CASE(the_good_leaf_verifies_for_the_ipv6_loopback) {
  asio::io_context io;
  auto options = tls_options(leaf_kind::good);
  options.ipv6 = true;
  loopback_server server(io.get_executor(), options);
  BOOST_TEST(server.url() == "https://[::1]:" + std::to_string(server.port()) + "/");
  auto ctx = raw::client_context();
  auto result = run_sync(io, try_tls(server.port(), ctx, "::1", true));
  BOOST_TEST(!result.error, result.error.message());
  BOOST_TEST(result.body == "ok");
}

BOOST_AUTO_TEST_CASE(the_wrong_name_leaf_fails_only_because_of_its_name) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_options(leaf_kind::wrong_name));
  auto ctx = raw::client_context();
  auto bad = run_sync(io, try_tls(server.port(), ctx, "127.0.0.1"));
  BOOST_TEST(bool(bad.error));
  BOOST_TEST(bad.body.empty());
  // Same chain, verified for the name it carries: accepted.
  auto good = run_sync(io, try_tls(server.port(), ctx, std::string(test_pki::wrong_host)));
  BOOST_TEST(!good.error, good.error.message());
  BOOST_TEST(good.body == "ok");
  run_sync(io, [&]() -> asio::awaitable<void> {
    BOOST_TEST(co_await raw::eventually([&] { return server.handshake_failures() == 1u; }));
  });
  BOOST_TEST(server.requests_seen() == 1u);
}

BOOST_AUTO_TEST_CASE(the_expired_leaf_fails_verification_as_expired) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_options(leaf_kind::expired));
  auto ctx = raw::client_context();
  auto result = run_sync(io, try_tls(server.port(), ctx, "127.0.0.1"));
  BOOST_TEST(bool(result.error));
  BOOST_TEST(result.verify_result == X509_V_ERR_CERT_HAS_EXPIRED);
  BOOST_TEST(server.requests_seen() == 0u);
}

BOOST_AUTO_TEST_CASE(the_untrusted_leaf_fails_unless_its_ca_is_trusted) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_options(leaf_kind::untrusted));
  auto ctx = raw::client_context();
  auto result = run_sync(io, try_tls(server.port(), ctx, "127.0.0.1"));
  BOOST_TEST(bool(result.error));
  BOOST_TEST(result.verify_result == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);

  auto trusting = raw::client_context();
  trusting.add_certificate_authority(
      asio::buffer(test_pki::shared().untrusted_ca_certificate_pem()));
  auto accepted = run_sync(io, try_tls(server.port(), trusting, "127.0.0.1"));
  BOOST_TEST(!accepted.error, accepted.error.message());
  BOOST_TEST(accepted.body == "ok");
}

BOOST_AUTO_TEST_CASE(a_server_capped_at_tls_1_0_refuses_a_modern_client) {
  asio::io_context io;
  auto options = tls_options(leaf_kind::good);
  options.max_tls_version = tls_version::tls1_0;
  loopback_server server(io.get_executor(), options);
  auto modern = raw::client_context();
  SSL_CTX_set_min_proto_version(modern.native_handle(), TLS1_2_VERSION);
  auto refused = run_sync(io, try_tls(server.port(), modern, "127.0.0.1"));
  BOOST_TEST(bool(refused.error));

  // A client that also allows TLS 1.0 gets through, and the server says which version it spoke.
  auto legacy = raw::client_context();
  SSL_CTX_set_security_level(legacy.native_handle(), 0);
  SSL_CTX_set_cipher_list(legacy.native_handle(), "DEFAULT:@SECLEVEL=0");
  SSL_CTX_set_min_proto_version(legacy.native_handle(), TLS1_VERSION);
  auto accepted = run_sync(io, try_tls(server.port(), legacy, "127.0.0.1"));
  BOOST_TEST(!accepted.error, accepted.error.message());
  BOOST_TEST(server.last_request().tls_protocol == "TLSv1");
}

BOOST_AUTO_TEST_CASE(a_server_capped_at_tls_1_2_speaks_tls_1_2) {
  asio::io_context io;
  auto options = tls_options(leaf_kind::good);
  options.max_tls_version = tls_version::tls1_2;
  loopback_server server(io.get_executor(), options);
  auto ctx = raw::client_context();
  auto result = run_sync(io, try_tls(server.port(), ctx, "127.0.0.1"));
  BOOST_TEST(!result.error, result.error.message());
  BOOST_TEST(server.last_request().tls_protocol == "TLSv1.2");
}

BOOST_AUTO_TEST_CASE(tls_keep_alive_and_close_after_response_work) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_options(leaf_kind::good));
  server.route("GET", "/last",
               [](keyless::testing::recorded_request,
                  keyless::testing::responder& r) -> asio::awaitable<void> {
                 r.close_after_response();
                 co_await r.respond(200, "bye");
               });
  auto ctx = raw::client_context();
  run_sync(io, [&]() -> asio::awaitable<void> {
    raw::tls_stream stream(co_await asio::this_coro::executor, ctx);
    auto ec = co_await raw::connect_tls(stream, server.port());
    BOOST_REQUIRE(!ec);
    std::string pending;
    co_await raw::send(stream, raw::get("/"));
    BOOST_TEST((co_await raw::read_response(stream, pending)).body == "ok");
    co_await raw::send(stream, raw::get("/last"));
    auto last = co_await raw::read_response(stream, pending);
    BOOST_TEST(last.body == "bye");
    BOOST_TEST((co_await raw::read_until_closed(stream)).empty());
  });
  BOOST_TEST(server.connections_accepted() == 1u);
  BOOST_TEST(server.requests_seen() == 2u);
}

BOOST_AUTO_TEST_CASE(a_client_dropping_mid_handshake_is_counted_and_harmless) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_options(leaf_kind::good));
  run_sync(io, [&]() -> asio::awaitable<void> {
    {
      auto socket = co_await raw::connect(server.port());
      co_await raw::send(socket, std::string("\x16\x03\x01\x00\x05garbage", 12));
    }
    BOOST_TEST(co_await raw::eventually([&] { return server.open_connections() == 0u; }));
  });
  BOOST_TEST(server.handshake_failures() == 1u);
  auto ctx = raw::client_context();
  auto result = run_sync(io, try_tls(server.port(), ctx, "127.0.0.1"));
  BOOST_TEST(result.body == "ok");
}

BOOST_AUTO_TEST_SUITE_END()
