// The client builds its TLS context on its first https connection, exactly once, and never for
// plain http; explicitly configured CA material is still checked when the client is created.

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>
#include <boost/test/unit_test.hpp>

#include "http/tls_context.hpp"
#include "http_test_support.hpp"
#include "keyless/http/client.hpp"
#include "temp_dir.hpp"

using namespace keyless::http;
using namespace keyless::http::test;
using keyless::errc;
using keyless::http::detail::client_tls_contexts_built;
using keyless::testing::leaf_kind;
using keyless::testing::temp_dir;
using keyless::testing::test_pki;

namespace {

// A TLS failure must read as a sentence naming the problem, never as OpenSSL's error queue.
void check_clean_tls_error(const keyless::error& e) {
  BOOST_TEST_MESSAGE(e.what());
  BOOST_TEST(e.code() == make_error_code(errc::tls_failed));
  BOOST_TEST(!contains(e.what(), "error:"));
  BOOST_TEST(!contains(e.what(), "routines"));
}

// The keyless::error building a client with `o` throws; fails the test if it throws none.
keyless::error construction_error(asio::io_context& io, const client_options& o) {
  try {
    client http(io.get_executor(), o);
  } catch (const keyless::error& e) {
    return e;
  }
  BOOST_FAIL("the client accepted an unusable CA configuration");
  throw std::logic_error("unreachable");
}

const std::string broken_pem =
    "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(lazy_tls_context)

BOOST_AUTO_TEST_CASE(a_fresh_client_builds_its_context_on_the_first_https_request_and_verifies) {
  asio::io_context io;
  loopback_server good(io.get_executor(), tls_server());
  loopback_server untrusted(io.get_executor(), tls_server(leaf_kind::untrusted));

  std::uint64_t before = client_tls_contexts_built();
  client http(io.get_executor(), test_options());
  BOOST_TEST(client_tls_contexts_built() == before);  // nothing built yet

  BOOST_TEST(run_sync(io, http.send(make_request(good.url("/first")))).body == "ok");
  BOOST_TEST(client_tls_contexts_built() == before + 1);

  // The same context refuses a certificate from a CA the client does not trust.
  keyless::error e = expect_error(io, http.send(make_request(untrusted.url("/"))));
  check_clean_tls_error(e);
  BOOST_TEST(contains(e.what(), "certificate verify failed"));
  BOOST_TEST(untrusted.requests_seen() == 0u);
  BOOST_TEST(client_tls_contexts_built() == before + 1);  // reused, not rebuilt
}

BOOST_AUTO_TEST_CASE(a_fresh_clients_first_request_to_an_untrusted_server_fails_clearly) {
  asio::io_context io;
  loopback_server untrusted(io.get_executor(), tls_server(leaf_kind::untrusted));
  loopback_server wrong_name(io.get_executor(), tls_server(leaf_kind::wrong_name));

  client first(io.get_executor(), test_options());
  keyless::error e = expect_error(io, first.send(make_request(untrusted.url("/"))));
  check_clean_tls_error(e);
  BOOST_TEST(contains(e.what(), "certificate verify failed"));
  BOOST_TEST(contains(e.what(), "issuer"));
  BOOST_TEST(untrusted.requests_seen() == 0u);

  client second(io.get_executor(), test_options());
  keyless::error named = expect_error(io, second.send(make_request(wrong_name.url("/"))));
  check_clean_tls_error(named);
  BOOST_TEST(contains(named.what(), "mismatch for 127.0.0.1"));
  BOOST_TEST(wrong_name.requests_seen() == 0u);
}

BOOST_AUTO_TEST_CASE(explicit_cas_stay_trusted_when_the_system_store_joins_them) {
  asio::io_context io;
  loopback_server good(io.get_executor(), tls_server());
  loopback_server untrusted(io.get_executor(), tls_server(leaf_kind::untrusted));

  // Both CAs in one PEM text: each must be added, and the system store added at the first
  // request must not replace them.
  client_options o = test_options();
  o.tls.use_system_trust_store = true;
  o.tls.ca_pem =
      test_pki::shared().untrusted_ca_certificate_pem() + test_pki::shared().ca_certificate_pem();
  client http(io.get_executor(), o);
  BOOST_TEST(run_sync(io, http.send(make_request(good.url("/")))).body == "ok");
  BOOST_TEST(run_sync(io, http.send(make_request(untrusted.url("/")))).body == "ok");

  // The same for a CA file, read when the client was created.
  temp_dir dir("keyless-lazy-tls");
  client_options from_file = test_options();
  from_file.tls.use_system_trust_store = true;
  from_file.tls.ca_pem.clear();
  from_file.tls.ca_file = dir.write("ca.pem", test_pki::shared().ca_certificate_pem());
  client file_client(io.get_executor(), from_file);
  std::filesystem::remove(from_file.tls.ca_file);  // already read: its later fate is irrelevant
  BOOST_TEST(run_sync(io, file_client.send(make_request(good.url("/")))).body == "ok");
}

BOOST_AUTO_TEST_CASE(concurrent_first_requests_on_four_threads_build_the_context_once) {
  asio::thread_pool pool(4);
  loopback_server server(asio::make_strand(pool), tls_server());
  server.set_handler([](recorded_request req, responder& r) -> asio::awaitable<void> {
    co_await r.respond(200, req.header("x-index"));
  });
  client_options o = test_options();
  // The system store makes the build slow, so the first requests really do meet inside it.
  o.tls.use_system_trust_store = true;
  o.pool.max_connections_per_origin = 32;

  std::uint64_t before = client_tls_contexts_built();
  client http(pool.get_executor(), o);
  BOOST_TEST(client_tls_contexts_built() == before);

  constexpr int count = 32;
  std::mutex mutex;
  std::condition_variable cv;
  int finished = 0;
  int good = 0;
  std::vector<std::string> failures;
  for (int i = 0; i < count; ++i) {
    request req = make_request(server.url("/first"));
    req.headers.add("X-Index", std::to_string(i));
    // Spawned on the pool itself, not on the client's strand, so the requests start on all
    // four threads at once and race for the first connection's context.
    asio::co_spawn(pool.get_executor(), http.send(std::move(req)),
                   [&, i](std::exception_ptr e, response res) {
                     std::lock_guard lock(mutex);
                     if (!e && res.body == std::to_string(i)) {
                       ++good;
                     } else if (e) {
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         failures.emplace_back(ex.what());
                       }
                     }
                     ++finished;
                     cv.notify_all();
                   });
  }
  {
    std::unique_lock lock(mutex);
    BOOST_TEST(cv.wait_for(lock, 120s, [&] { return finished == count; }));
    for (const auto& f : failures) BOOST_TEST_MESSAGE("request failed: " << f);
  }
  BOOST_TEST(good == count);
  BOOST_TEST(client_tls_contexts_built() == before + 1);
  BOOST_TEST(http.stats().connections_opened > 1u);  // several connections shared the context
  server.stop();
  pool.join();
}

BOOST_AUTO_TEST_CASE(a_plain_http_client_never_builds_a_tls_context) {
  asio::io_context io;
  loopback_server server(io.get_executor());
  std::uint64_t before = client_tls_contexts_built();
  client_options o = test_options();
  o.tls.use_system_trust_store = true;  // the expensive default, which must stay unpaid
  o.pool.max_connections_per_origin = 1;
  client http(io.get_executor(), o);
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(run_sync(io, http.send(make_request(server.url("/plain")))).body == "ok");
  }
  request closing = make_request(server.url("/closing"));
  closing.headers.add("Connection", "close");
  BOOST_TEST(run_sync(io, http.send(std::move(closing))).body == "ok");
  BOOST_TEST(run_sync(io, http.send(make_request(server.url("/again")))).body == "ok");
  BOOST_TEST(http.stats().connections_opened == 2u);
  BOOST_TEST(client_tls_contexts_built() == before);
}

BOOST_AUTO_TEST_CASE(a_bad_explicit_ca_configuration_fails_at_construction_naming_it) {
  asio::io_context io;
  temp_dir dir("keyless-lazy-tls");
  std::uint64_t before = client_tls_contexts_built();

  client_options missing = test_options();
  missing.tls.ca_file = (dir / "no-such-ca.pem").string();
  keyless::error e = construction_error(io, missing);
  check_clean_tls_error(e);
  BOOST_TEST(contains(e.what(), "cannot load CA file"));
  BOOST_TEST(contains(e.what(), "no-such-ca.pem"));
  BOOST_TEST(contains(e.what(), "No such file or directory"));

  client_options garbage_file = test_options();
  garbage_file.tls.ca_file = dir.write("garbage.pem", "this is not a certificate\n");
  keyless::error g = construction_error(io, garbage_file);
  check_clean_tls_error(g);
  BOOST_TEST(contains(g.what(), "garbage.pem"));

  client_options bad_pem = test_options();
  bad_pem.tls.ca_pem = broken_pem;
  keyless::error p = construction_error(io, bad_pem);
  check_clean_tls_error(p);
  BOOST_TEST(contains(p.what(), "tls_options::ca_pem"));

  // A good certificate does not excuse a broken one after it.
  client_options good_then_bad = test_options();
  good_then_bad.tls.ca_pem = test_pki::shared().ca_certificate_pem() + broken_pem;
  check_clean_tls_error(construction_error(io, good_then_bad));

  // PEM text without any certificate in it (a key, or prose) trusts nothing: refused.
  client_options no_certificate = test_options();
  no_certificate.tls.ca_pem = "just some text\n";
  keyless::error n = construction_error(io, no_certificate);
  check_clean_tls_error(n);
  BOOST_TEST(contains(n.what(), "tls_options::ca_pem"));
  BOOST_TEST(contains(n.what(), "no PEM certificate"));

  BOOST_TEST(client_tls_contexts_built() == before);
}

BOOST_AUTO_TEST_SUITE_END()
