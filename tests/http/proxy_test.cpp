#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include "http/proxy.hpp"
#include "http_test_support.hpp"
#include "keyless/http/client.hpp"
#include "loopback_proxy.hpp"

using namespace keyless::http;
using namespace keyless::http::test;
using keyless::errc;
using keyless::http::detail::no_proxy_list;
using keyless::testing::loopback_proxy;
using keyless::testing::proxy_options;

namespace {

struct fixture {
  asio::io_context io;
  loopback_server server{io.get_executor(), tls_server()};
  loopback_server plain{io.get_executor()};
  loopback_proxy proxy{io.get_executor()};

  client make_client(proxy_settings settings) {
    client_options o = test_options();
    o.proxy = std::move(settings);
    return client(io.get_executor(), o);
  }
  proxy_settings through_proxy(std::string no_proxy = {}) {
    proxy_settings s;
    s.https_proxy = proxy.url();
    s.http_proxy = proxy.url();
    s.no_proxy = std::move(no_proxy);
    return s;
  }
  response get(client& http, const std::string& address, bool never_proxy = false) {
    request req = make_request(address);
    req.options.never_proxy = never_proxy;
    return run_sync(io, http.send(req));
  }
};

class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
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

}  // namespace

BOOST_AUTO_TEST_SUITE(proxy_tests)

BOOST_FIXTURE_TEST_CASE(https_goes_through_the_proxy_with_connect, fixture) {
  client http = make_client(through_proxy());
  BOOST_TEST(get(http, server.url("/tunnelled")).body == "ok");
  BOOST_TEST(get(http, server.url("/again")).body == "ok");
  BOOST_TEST(proxy.connect_requests() == 1u);  // the tunnel was kept alive and reused
  BOOST_REQUIRE_EQUAL(proxy.connect_targets().size(), 1u);
  BOOST_TEST(proxy.connect_targets()[0] == server.authority());
  BOOST_TEST(server.requests_seen() == 2u);
  BOOST_TEST(server.last_request().target == "/again");  // origin form inside the tunnel
}

BOOST_FIXTURE_TEST_CASE(plain_http_goes_through_the_proxy_in_absolute_form, fixture) {
  client http = make_client(through_proxy());
  BOOST_TEST(get(http, plain.url("/forwarded?q=1")).body == "ok");
  BOOST_TEST(proxy.forwarded_requests() == 1u);
  BOOST_REQUIRE_EQUAL(proxy.forwarded_targets().size(), 1u);
  BOOST_TEST(proxy.forwarded_targets()[0] == plain.url("/forwarded?q=1"));
  BOOST_TEST(plain.last_request().target == "/forwarded?q=1");
  // The proxy closes after each forwarded request; the client copes.
  BOOST_TEST(get(http, plain.url("/second")).body == "ok");
  BOOST_TEST(proxy.forwarded_requests() == 2u);
}

BOOST_FIXTURE_TEST_CASE(no_proxy_bypasses_the_proxy, fixture) {
  std::string port = std::to_string(server.port());
  std::string by_ip = server.url("/direct");
  std::string by_name = "https://localhost:" + port + "/direct";
  struct bypass_case {
    std::string no_proxy;
    std::string address;
  };
  std::vector<bypass_case> cases{
      {"127.0.0.1", by_ip},    {"*", by_ip},
      {"*", by_name},          {"example.com, 127.0.0.1:" + port, by_ip},
      {"127.0.0.0/8", by_ip},  {"localhost", by_name},
      {".localhost", by_name}, {"LOCALHOST:" + port, by_name},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("NO_PROXY=" << c.no_proxy << " for " << c.address) {
      client http = make_client(through_proxy(c.no_proxy));
      BOOST_TEST(get(http, c.address).body == "ok");
    }
  }
  BOOST_TEST(proxy.connections_accepted() == 0u);
  BOOST_TEST(server.requests_seen() == cases.size());
}

BOOST_FIXTURE_TEST_CASE(no_proxy_for_another_port_or_host_still_uses_the_proxy, fixture) {
  client http = make_client(through_proxy("127.0.0.1:1, example.com, 10.0.0.0/8"));
  BOOST_TEST(get(http, server.url("/")).body == "ok");
  BOOST_TEST(proxy.connect_requests() == 1u);
}

BOOST_FIXTURE_TEST_CASE(never_proxy_bypasses_the_proxy, fixture) {
  client http = make_client(through_proxy());
  BOOST_TEST(get(http, server.url("/identity"), true).body == "ok");
  BOOST_TEST(get(http, plain.url("/imds"), true).body == "ok");
  BOOST_TEST(proxy.connections_accepted() == 0u);
}

BOOST_FIXTURE_TEST_CASE(proxy_credentials_are_sent_and_a_refusal_is_clear, fixture) {
  proxy_options guarded_options;
  guarded_options.required_authorization = "Basic dXNlcjpwQHNz";  // user:p@ss
  loopback_proxy guarded(io.get_executor(), guarded_options);
  std::string authority = guarded.url().substr(std::string("http://").size());
  proxy_settings good;
  good.https_proxy = "http://user:p%40ss@" + authority;
  client http = make_client(good);
  BOOST_TEST(get(http, server.url("/secret")).body == "ok");
  BOOST_REQUIRE_EQUAL(guarded.authorizations().size(), 1u);
  BOOST_TEST(guarded.authorizations()[0] == "Basic dXNlcjpwQHNz");

  proxy_settings bad;
  bad.https_proxy = "http://user:wrong-password@" + authority;
  client refused = make_client(bad);
  keyless::error e = expect_error(io, refused.send(make_request(server.url("/secret"))));
  BOOST_TEST(e.code() == make_error_code(errc::connection_failed));
  BOOST_TEST(e.details().http_status.value_or(0) == 407);
  BOOST_TEST(contains(e.what(), "refused to tunnel"));
  BOOST_TEST(!contains(e.what(), "wrong-password"));
}

BOOST_FIXTURE_TEST_CASE(an_unreachable_proxy_is_a_connection_error, fixture) {
  silent_server placeholder(io);
  std::uint16_t port = placeholder.port();
  placeholder.stop();  // nothing listens there any more
  proxy_settings s;
  s.https_proxy = "127.0.0.1:" + std::to_string(port);  // scheme-less form
  client http = make_client(s);
  keyless::error e = expect_error(io, http.send(make_request(server.url("/"))));
  BOOST_TEST(e.code() == make_error_code(errc::connection_failed));
  BOOST_TEST(contains(e.what(), "connecting to proxy http://127.0.0.1:"));
}

BOOST_AUTO_TEST_CASE(unusable_proxy_urls_are_refused_without_echoing_secrets) {
  asio::io_context io;
  client_options o = test_options();
  proxy_settings https_scheme;
  https_scheme.https_proxy = "https://user:hunter2@proxy.example:443";
  o.proxy = https_scheme;
  try {
    client http(io.get_executor(), o);
    BOOST_FAIL("an https:// proxy was accepted");
  } catch (const keyless::error& e) {
    BOOST_TEST(e.code() == make_error_code(errc::invalid_argument));
    BOOST_TEST(contains(e.what(), "HTTPS_PROXY"));
    BOOST_TEST(!contains(e.what(), "hunter2"));
  }
  proxy_settings malformed;
  malformed.http_proxy = "http://user:hunter2@bad host:80";
  o.proxy = malformed;
  try {
    client http(io.get_executor(), o);
    BOOST_FAIL("a malformed proxy URL was accepted");
  } catch (const keyless::error& e) {
    BOOST_TEST(contains(e.what(), "HTTP_PROXY"));
    BOOST_TEST(!contains(e.what(), "hunter2"));
  }
}

BOOST_AUTO_TEST_CASE(proxy_settings_are_read_from_the_environment) {
  {
    scoped_env a("https_proxy", "http://lower:1");
    scoped_env b("HTTPS_PROXY", "http://upper:2");
    scoped_env c("http_proxy", nullptr);
    scoped_env d("HTTP_PROXY", "http://plain:3");
    scoped_env e("no_proxy", nullptr);
    scoped_env f("NO_PROXY", "internal.example,10.0.0.0/8");
    scoped_env g("REQUEST_METHOD", nullptr);
    proxy_settings s = proxy_settings::from_environment();
    BOOST_TEST(s.https_proxy == "http://lower:1");  // lower case wins
    BOOST_TEST(s.http_proxy == "http://plain:3");
    BOOST_TEST(s.no_proxy == "internal.example,10.0.0.0/8");
  }
  {
    // In a CGI program HTTP_PROXY comes from the client's Proxy: header.
    scoped_env c("http_proxy", nullptr);
    scoped_env d("HTTP_PROXY", "http://attacker:3");
    scoped_env g("REQUEST_METHOD", "GET");
    BOOST_TEST(proxy_settings::from_environment().http_proxy.empty());
  }
}

BOOST_AUTO_TEST_CASE(the_environment_is_used_when_no_settings_are_given) {
  asio::io_context io;
  loopback_server server(io.get_executor(), tls_server());
  loopback_proxy proxy(io.get_executor());
  scoped_env a("https_proxy", proxy.url().c_str());
  scoped_env b("no_proxy", nullptr);
  scoped_env c("NO_PROXY", nullptr);
  client_options o = test_options();
  o.proxy.reset();
  client http(io.get_executor(), o);
  BOOST_TEST(run_sync(io, http.send(make_request(server.url("/env")))).body == "ok");
  BOOST_TEST(proxy.connect_requests() == 1u);
}

BOOST_AUTO_TEST_CASE(no_proxy_entries_match_as_documented) {
  no_proxy_list list(
      " Example.COM , .internal.test, *.wild.test, 10.1.2.3, [::1]:8443, "
      "192.168.0.0/16, fd00::/8, api.test:444 ,, garbage/99");
  BOOST_TEST(list.matches("example.com", 443));
  BOOST_TEST(list.matches("sub.example.com", 443));
  BOOST_TEST(!list.matches("notexample.com", 443));
  BOOST_TEST(list.matches("internal.test", 80));
  BOOST_TEST(list.matches("a.b.internal.test", 80));
  BOOST_TEST(list.matches("x.wild.test", 80));
  BOOST_TEST(list.matches("10.1.2.3", 80));
  BOOST_TEST(!list.matches("10.1.2.4", 80));
  BOOST_TEST(list.matches("::1", 8443));
  BOOST_TEST(!list.matches("::1", 443));
  BOOST_TEST(list.matches("192.168.44.5", 1));
  BOOST_TEST(!list.matches("192.169.0.1", 1));
  BOOST_TEST(list.matches("fd12::1", 1));
  BOOST_TEST(!list.matches("fe80::1", 1));
  BOOST_TEST(list.matches("api.test", 444));
  BOOST_TEST(!list.matches("api.test", 443));
  BOOST_TEST(!list.matches("unrelated.org", 443));

  BOOST_TEST(no_proxy_list("*").matches("anything.at.all", 1));
  BOOST_TEST(!no_proxy_list("").matches("localhost", 1));
}

BOOST_AUTO_TEST_SUITE_END()
