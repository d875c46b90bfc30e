#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include "http/tls_context.hpp"
#include "http_test_support.hpp"
#include "keyless/http/client.hpp"

using namespace keyless::http;
using namespace keyless::http::test;
using keyless::errc;
using keyless::testing::leaf_kind;
using keyless::testing::test_pki;
using keyless::testing::tls_version;

namespace {

// A TLS failure must read as a sentence, never as OpenSSL's error queue.
void check_clean_tls_error(const keyless::error& e) {
  BOOST_TEST(e.code() == make_error_code(errc::tls_failed));
  BOOST_TEST(!contains(e.what(), "error:"));
  BOOST_TEST(!contains(e.what(), "routines"));
}

// Sets an environment variable for one scope and restores it afterwards.
class scoped_env {
 public:
  scoped_env(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~scoped_env() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::filesystem::path scratch_dir() {
  auto dir =
      std::filesystem::temp_directory_path() / ("keyless-tls-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tls_tests)

BOOST_AUTO_TEST_CASE(a_good_certificate_is_accepted_by_ip_and_by_name) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_server());
  client http(io.get_executor(), test_options());
  BOOST_TEST(run_sync(io, http.send(make_request(server.url("/ip")))).body == "ok");
  std::string by_name = "https://localhost:" + std::to_string(server.port()) + "/name";
  BOOST_TEST(run_sync(io, http.send(make_request(by_name))).body == "ok");
  BOOST_TEST(server.last_request().header("host") == "localhost:" + std::to_string(server.port()));
}

BOOST_AUTO_TEST_CASE(a_certificate_for_another_name_is_refused) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_server(leaf_kind::wrong_name));
  client http(io.get_executor(), test_options());
  keyless::error e = expect_error(io, http.send(make_request(server.url("/"))));
  check_clean_tls_error(e);
  BOOST_TEST_MESSAGE(e.what());
  BOOST_TEST(contains(e.what(), "certificate verify failed"));
  BOOST_TEST(contains(e.what(), "mismatch for 127.0.0.1"));
  BOOST_TEST(server.requests_seen() == 0u);

  std::string by_name = "https://localhost:" + std::to_string(server.port()) + "/";
  keyless::error named = expect_error(io, http.send(make_request(by_name)));
  check_clean_tls_error(named);
  BOOST_TEST(contains(named.what(), "hostname mismatch for localhost"));
}

BOOST_AUTO_TEST_CASE(a_certificate_from_an_untrusted_ca_is_refused) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_server(leaf_kind::untrusted));
  client http(io.get_executor(), test_options());
  keyless::error e = expect_error(io, http.send(make_request(server.url("/"))));
  check_clean_tls_error(e);
  BOOST_TEST_MESSAGE(e.what());
  BOOST_TEST(contains(e.what(), "certificate verify failed"));
  BOOST_TEST(contains(e.what(), "issuer"));
  BOOST_TEST(server.requests_seen() == 0u);
}

BOOST_AUTO_TEST_CASE(an_expired_certificate_is_refused) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_server(leaf_kind::expired));
  client http(io.get_executor(), test_options());
  keyless::error e = expect_error(io, http.send(make_request(server.url("/"))));
  check_clean_tls_error(e);
  BOOST_TEST(contains(e.what(), "certificate verify failed: certificate has expired"));
  BOOST_TEST(server.requests_seen() == 0u);
}

BOOST_AUTO_TEST_CASE(servers_below_tls_1_2_are_refused) {
  asio::io_context io;
  server_options o = tls_server();
  o.max_tls_version = tls_version::tls1_1;
  loopback_server server(io.get_executor(), o);
  client http(io.get_executor(), test_options());
  keyless::error e = expect_error(io, http.send(make_request(server.url("/"))));
  check_clean_tls_error(e);
  BOOST_TEST_MESSAGE(e.what());
  BOOST_TEST(server.requests_seen() == 0u);
}

BOOST_AUTO_TEST_CASE(https_to_a_plain_http_server_fails_cleanly) {
  asio::io_context io;
  // A plain-http server answering the ClientHello with an HTTP error.
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
  asio::co_spawn(
      io,
      [&acceptor]() -> asio::awaitable<void> {
        auto socket = co_await acceptor.async_accept(asio::use_awaitable);
        char buffer[1024];
        co_await socket.async_read_some(asio::buffer(buffer), asio::use_awaitable);
        std::string reply = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        co_await asio::async_write(socket, asio::buffer(reply), asio::use_awaitable);
      },
      asio::detached);
  client http(io.get_executor(), test_options());
  std::string address =
      "https://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/";
  keyless::error e = expect_error(io, http.send(make_request(address)));
  check_clean_tls_error(e);
  BOOST_TEST_MESSAGE(e.what());
  BOOST_TEST(contains(e.what(), "TLS handshake with 127.0.0.1:"));
}

BOOST_AUTO_TEST_CASE(a_ca_file_option_adds_a_trust_anchor) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_server());
  auto dir = scratch_dir();
  client_options o = test_options();
  o.tls.ca_pem.clear();
  o.tls.ca_file = test_pki::shared().write_ca_file(dir).string();
  client http(io.get_executor(), o);
  BOOST_TEST(run_sync(io, http.send(make_request(server.url("/")))).body == "ok");
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(the_system_store_honours_ssl_cert_file) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_server());
  auto dir = scratch_dir();
  std::string ca_file = test_pki::shared().write_ca_file(dir).string();
  client_options o = test_options();
  o.tls.ca_pem.clear();
  o.tls.use_system_trust_store = true;
  {
    scoped_env env("SSL_CERT_FILE", ca_file);
    client http(io.get_executor(), o);
    BOOST_TEST(run_sync(io, http.send(make_request(server.url("/")))).body == "ok");
  }
  // Without it the system store does not know the test CA.
  {
    scoped_env env("SSL_CERT_FILE", (dir / "missing.pem").string());
    scoped_env no_dir("SSL_CERT_DIR", (dir / "missing-dir").string());
    client http(io.get_executor(), o);
    keyless::error e = expect_error(io, http.send(make_request(server.url("/"))));
    check_clean_tls_error(e);
  }
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(clients_share_one_system_store_per_ssl_cert_file) {
  auto dir = scratch_dir();
  std::string ca_file = test_pki::shared().write_ca_file(dir).string();
  tls_options system_only;
  auto store_of = [](const std::shared_ptr<asio::ssl::context>& ctx) {
    return SSL_CTX_get_cert_store(ctx->native_handle());
  };
  scoped_env env("SSL_CERT_FILE", ca_file);
  auto first = detail::make_client_tls_context(system_only);
  auto second = detail::make_client_tls_context(system_only);
  BOOST_TEST(store_of(first) == store_of(second));

  // A client with authorities of its own gets its own store...
  tls_options with_ca = system_only;
  with_ca.ca_pem = test_pki::shared().ca_certificate_pem();
  BOOST_TEST(store_of(detail::make_client_tls_context(with_ca)) != store_of(first));
  // ...and another SSL_CERT_FILE another shared store.
  scoped_env other("SSL_CERT_FILE", (dir / "missing.pem").string());
  BOOST_TEST(store_of(detail::make_client_tls_context(system_only)) != store_of(first));
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_client_s_own_authorities_do_not_reach_the_shared_store) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_server());
  auto dir = scratch_dir();
  scoped_env env("SSL_CERT_FILE", (dir / "missing.pem").string());
  scoped_env no_dir("SSL_CERT_DIR", (dir / "missing-dir").string());
  client_options with_ca = test_options();  // trusts the test CA through ca_pem
  with_ca.tls.use_system_trust_store = true;
  client trusting(io.get_executor(), with_ca);
  BOOST_TEST(run_sync(io, trusting.send(make_request(server.url("/")))).body == "ok");

  client_options system_only = with_ca;
  system_only.tls.ca_pem.clear();
  client not_trusting(io.get_executor(), system_only);
  check_clean_tls_error(expect_error(io, not_trusting.send(make_request(server.url("/")))));
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(an_unreadable_ca_file_fails_at_construction) {
  asio::io_context io;
  client_options o = test_options();
  o.tls.ca_file = "/nonexistent/keyless/ca.pem";
  try {
    client http(io.get_executor(), o);
    BOOST_FAIL("the client accepted a missing CA file");
  } catch (const keyless::error& e) {
    check_clean_tls_error(e);
    BOOST_TEST(contains(e.what(), "/nonexistent/keyless/ca.pem"));
  }
  client_options bad_pem = test_options();
  bad_pem.tls.ca_pem = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
  BOOST_CHECK_THROW(client(io.get_executor(), bad_pem), keyless::error);
}

BOOST_AUTO_TEST_SUITE_END()
