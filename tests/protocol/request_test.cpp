#include <boost/test/unit_test.hpp>

#include "keyless/core/error.hpp"
#include "keyless/http/request.hpp"
#include "text_contains.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace http = keyless::http;
using keyless::testing::contains;

namespace {

http::request make(std::string method, std::string_view url) {
  http::request req;
  req.method = std::move(method);
  req.target = http::url::parse(url);
  return req;
}

std::string serialize_error(const http::request& req, bool absolute_form = false) {
  try {
    (void)http::serialize_head(req, absolute_form);
  } catch (const keyless::error& e) {
    BOOST_TEST(e.code() == keyless::errc::invalid_argument);
    return e.what();
  }
  BOOST_FAIL("serialize_head accepted a bad request");
  return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(request)

BOOST_AUTO_TEST_CASE(get_writes_origin_form_target_host_and_user_headers) {
  auto req =
      make("GET", "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01");
  req.headers.add("Metadata", "true");
  BOOST_TEST(http::serialize_head(req) ==
             "GET /metadata/identity/oauth2/token?api-version=2018-02-01 HTTP/1.1\r\n"
             "Host: 169.254.169.254\r\n"
             "Metadata: true\r\n"
             "\r\n");
}

BOOST_AUTO_TEST_CASE(post_with_body_states_its_content_length) {
  auto req = make("POST", "https://login.microsoftonline.com/t/oauth2/v2.0/token");
  req.headers.add("Content-Type", "application/x-www-form-urlencoded");
  req.body = "grant_type=client_credentials";
  BOOST_TEST(http::serialize_head(req) ==
             "POST /t/oauth2/v2.0/token HTTP/1.1\r\n"
             "Host: login.microsoftonline.com\r\n"
             "Content-Type: application/x-www-form-urlencoded\r\n"
             "Content-Length: 29\r\n"
             "\r\n");
}

BOOST_AUTO_TEST_CASE(empty_post_put_and_patch_send_content_length_zero) {
  for (const char* method : {"POST", "PUT", "PATCH"}) {
    auto head = http::serialize_head(make(method, "http://h/"));
    BOOST_TEST(contains(head, "\r\nContent-Length: 0\r\n"));
  }
  BOOST_TEST(!contains(http::serialize_head(make("GET", "http://h/")), "Content-Length"));
  BOOST_TEST(!contains(http::serialize_head(make("DELETE", "http://h/")), "Content-Length"));
}

BOOST_AUTO_TEST_CASE(a_body_on_any_method_gets_a_content_length) {
  auto req = make("DELETE", "http://h/");
  req.body = "abc";
  BOOST_TEST(contains(http::serialize_head(req), "\r\nContent-Length: 3\r\n"));
}

BOOST_AUTO_TEST_CASE(host_header_carries_a_non_default_port_and_ipv6_brackets) {
  BOOST_TEST(contains(http::serialize_head(make("GET", "http://[::1]:8080/x")),
                      "\r\nHost: [::1]:8080\r\n"));
  BOOST_TEST(contains(http::serialize_head(make("GET", "https://a.b:443/x")), "\r\nHost: a.b\r\n"));
}

BOOST_AUTO_TEST_CASE(a_caller_host_header_replaces_the_generated_one) {
  auto req = make("GET", "http://127.0.0.1:9000/");
  req.headers.add("host", "my-resource.openai.azure.com");
  auto head = http::serialize_head(req);
  BOOST_TEST(!contains(head, "127.0.0.1"));
  BOOST_TEST(contains(head, "\r\nhost: my-resource.openai.azure.com\r\n"));
}

BOOST_AUTO_TEST_CASE(absolute_form_is_used_for_a_plain_http_proxy) {
  auto req = make("GET", "http://example.com:8080/a?b=c");
  auto head = http::serialize_head(req, true);
  BOOST_TEST(head.rfind("GET http://example.com:8080/a?b=c HTTP/1.1\r\nHost: example.com:8080\r\n",
                        0) == 0);
}

BOOST_AUTO_TEST_CASE(a_matching_caller_content_length_is_written_once) {
  auto req = make("POST", "http://h/");
  req.body = "12345";
  req.headers.add("Content-Length", "5");
  auto head = http::serialize_head(req);
  BOOST_TEST(head.find("Content-Length") == head.rfind("Content-Length"));
  BOOST_TEST(contains(head, "\r\nContent-Length: 5\r\n"));
}

BOOST_AUTO_TEST_CASE(a_conflicting_caller_content_length_is_refused) {
  auto req = make("POST", "http://h/");
  req.body = "12345";
  req.headers.add("Content-Length", "4");
  BOOST_TEST(contains(serialize_error(req), "does not match the body size"));
  req.headers.set("Content-Length", "5x");
  BOOST_TEST(contains(serialize_error(req), "does not match the body size"));
}

BOOST_AUTO_TEST_CASE(transfer_encoding_from_the_caller_is_refused) {
  auto req = make("POST", "http://h/");
  req.headers.add("Transfer-Encoding", "chunked");
  BOOST_TEST(contains(serialize_error(req), "Transfer-Encoding"));
}

BOOST_AUTO_TEST_CASE(cr_lf_or_nul_in_a_header_value_is_refused_without_echoing_it) {
  for (std::string value :
       {std::string("Bearer SECRET\r\nX-Evil: 1"), std::string("SECRET\nx"),
        std::string("SECRET\rx"), std::string("SECRET\0x", 8), std::string("SECRET\x01x")}) {
    auto req = make("GET", "http://h/");
    req.headers.add("Authorization", value);
    auto message = serialize_error(req);
    BOOST_TEST(contains(message, "Authorization"));
    BOOST_TEST(!contains(message, "SECRET"));
  }
  auto req = make("GET", "http://h/");
  req.headers.add("X-Tab", "a\tb");
  BOOST_TEST(contains(http::serialize_head(req), "X-Tab: a\tb\r\n"));
}

// Values are checked 16 and 8 bytes at a time: every byte value at every offset of a value
// that spans a 16-byte block, an 8-byte word and a tail must get the byte-by-byte verdict.
BOOST_AUTO_TEST_CASE(each_byte_value_at_each_offset_gets_the_same_verdict) {
  auto accepted = [](const http::request& req) {
    try {
      (void)http::serialize_head(req);
      return true;
    } catch (const keyless::error&) {
      return false;
    }
  };
  for (int b = 0; b < 256; ++b) {
    const auto byte = static_cast<char>(b);
    const bool forbidden = (b < 0x20 && b != '\t') || b == 0x7f;
    for (std::size_t at = 0; at < 29; ++at) {
      std::string value(29, 'x');
      value[at] = byte;
      auto req = make("GET", "http://h/");
      req.headers.add("X-Probe", value);
      BOOST_TEST_CONTEXT("byte " << b << " at offset " << at) {
        BOOST_TEST(accepted(req) == !forbidden);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_shared_credential_is_written_after_the_headers_from_its_owner) {
  auto owner = std::make_shared<const std::string>("Bearer abc.def");
  auto req = make("POST", "https://r.openai.azure.com/openai/v1/chat/completions");
  req.headers.add("Content-Type", "application/json");
  req.credential = http::shared_field{"Authorization", *owner, owner};
  req.body = "{}";
  BOOST_TEST(http::serialize_head(req) ==
             "POST /openai/v1/chat/completions HTTP/1.1\r\n"
             "Host: r.openai.azure.com\r\n"
             "Content-Type: application/json\r\n"
             "Authorization: Bearer abc.def\r\n"
             "Content-Length: 2\r\n"
             "\r\n");
}

BOOST_AUTO_TEST_CASE(a_shared_credential_is_checked_like_any_header) {
  auto injected = std::make_shared<const std::string>("SECRET\r\nX-Evil: 1");
  auto req = make("GET", "http://h/");
  req.credential = http::shared_field{"api-key", *injected, injected};
  auto message = serialize_error(req);
  BOOST_TEST(contains(message, "api-key"));
  BOOST_TEST(!contains(message, "SECRET"));

  auto fine = std::make_shared<const std::string>("k");
  req.credential = http::shared_field{"bad name", *fine, fine};
  BOOST_TEST(contains(serialize_error(req), "not allowed in a token"));
  req.credential = http::shared_field{"api-key", *fine, nullptr};
  BOOST_TEST(contains(serialize_error(req), "no owner"));
  req.credential = http::shared_field{"Transfer-Encoding", "chunked", fine};
  BOOST_TEST(contains(serialize_error(req), "Transfer-Encoding"));
}

BOOST_AUTO_TEST_CASE(checked_field_checks_once_what_every_request_would) {
  auto owner = std::make_shared<const std::string>("Bearer abc.def");
  http::shared_field field = http::checked_field({"Authorization", *owner, owner});
  BOOST_TEST(field.checked());
  BOOST_TEST(!http::shared_field("Authorization", *owner, owner).checked());
  auto req = make("GET", "http://h/");
  req.credential = field;
  BOOST_TEST(contains(http::serialize_head(req), "\r\nAuthorization: Bearer abc.def\r\n"));

  struct refused {
    std::string name;
    std::string value;
    std::string_view says;
  };
  const refused cases[] = {
      {"api-key", "SECRET\r\nX-Evil: 1", "CR or LF"},
      {"api-key", std::string("SECRET\0", 7), "NUL"},
      {"api-key", "SECRET\x7f", "control character"},
      {"api-key", " SECRET", "white space"},
      {"api-key", "SECRET\t", "white space"},
      {"bad name", "SECRET", "not allowed in a token"},
      {"Content-Length", "0", "cannot be shared"},
      {"host", "SECRET", "cannot be shared"},
      {"Transfer-Encoding", "SECRET", "Transfer-Encoding"},
  };
  for (const refused& each : cases) {
    BOOST_TEST_CONTEXT(each.name << " / " << each.says) {
      auto bytes = std::make_shared<const std::string>(each.value);
      try {
        (void)http::checked_field({each.name, *bytes, bytes});
        BOOST_FAIL("accepted");
      } catch (const keyless::error& e) {
        BOOST_TEST(e.code() == keyless::errc::invalid_argument);
        if (each.name != "bad name") BOOST_TEST(contains(e.what(), each.name), e.what());
        BOOST_TEST(contains(e.what(), each.says), e.what());
        BOOST_TEST(!contains(e.what(), "SECRET"), e.what());
      }
    }
  }
  BOOST_CHECK_THROW((void)http::checked_field({"api-key", "k", nullptr}), keyless::error);
}

BOOST_AUTO_TEST_CASE(header_names_that_are_not_tokens_are_refused) {
  for (std::string name : {std::string(""), std::string("X Y"), std::string("X:Y"),
                           std::string("X\r\nY"), std::string("X\0Y", 3)}) {
    auto req = make("GET", "http://h/");
    req.headers.add(name, "v");
    BOOST_TEST(contains(serialize_error(req), "header name"));
  }
}

BOOST_AUTO_TEST_CASE(bad_methods_and_hand_built_targets_are_refused) {
  BOOST_TEST(contains(serialize_error(make("", "http://h/")), "method"));
  BOOST_TEST(contains(serialize_error(make("GET /x", "http://h/")), "method"));
  auto req = make("GET", "http://h/");
  req.target.target = "/a b";
  BOOST_TEST(contains(serialize_error(req), "request target"));
  req.target.target = "/a\r\nX: y";
  BOOST_TEST(contains(serialize_error(req), "request target"));
  req.target.target = "noslash";
  BOOST_TEST(contains(serialize_error(req), "start with '/'"));
  req.target.target = "/";
  req.target.host = "h\r\nX: y";
  BOOST_TEST(contains(serialize_error(req), "host"));
  BOOST_TEST(contains(serialize_error(http::request{}), "no target URL"));
}

BOOST_AUTO_TEST_SUITE_END()
