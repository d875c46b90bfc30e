#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "keyless/core/error.hpp"
#include "keyless/http/fields.hpp"
#include "openai/openai_error.hpp"
#include "openai_test_data.hpp"

namespace ko = keyless::openai;
using openai_test::read_data;

namespace {

// Headers a real failing call carries, including the credentials we sent
// (which must never show up in an error).
keyless::http::fields headers_with(std::vector<std::pair<std::string, std::string>> extra = {}) {
  keyless::http::fields h;
  h.add("Content-Type", "application/json");
  h.add("Authorization", "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.SECRET-TOKEN");
  h.add("api-key", "SECRET-API-KEY-0123456789");
  for (auto& [k, v] : extra) h.add(k, v);
  return h;
}

void no_secrets(const keyless::error& e) {
  const std::string all = std::string(e.what()) + e.details().hint + e.details().service_code;
  BOOST_TEST(all.find("SECRET") == std::string::npos);
  BOOST_TEST(all.find("eyJ0eXAi") == std::string::npos);
}

const ko::error_context keyless_context{.endpoint = "https://contoso.openai.azure.com",
                                        .scope = "https://cognitiveservices.azure.com/.default",
                                        .deployment = "gpt-4o-mini"};

}  // namespace

BOOST_AUTO_TEST_SUITE(openai_error)

BOOST_AUTO_TEST_CASE(an_unwrapped_401_points_at_the_token_scope) {
  auto e = ko::service_error(
      401, read_data("error_401_audience.json"),
      headers_with({{"apim-request-id", "6f1e2d3c-aaaa-bbbb-cccc-0123456789ab"}}), keyless_context);
  BOOST_TEST((e.code() == keyless::errc::http_status));
  BOOST_TEST(*e.details().http_status == 401);
  BOOST_TEST(e.details().service_code.empty());
  BOOST_TEST(e.details().request_id == "6f1e2d3c-aaaa-bbbb-cccc-0123456789ab");
  BOOST_TEST(
      e.details().hint.find("https://cognitiveservices.azure.com/.default") != std::string::npos,
      e.details().hint);
  BOOST_TEST(e.details().hint.find("expired") != std::string::npos);
  BOOST_TEST(e.message().find("audience is incorrect") != std::string::npos);
  BOOST_TEST(e.message().find("Hint:") != std::string::npos);
  no_secrets(e);
}

BOOST_AUTO_TEST_CASE(a_401_with_a_scope_that_does_not_fit_the_host_names_both) {
  ko::error_context ctx = keyless_context;
  ctx.scope = "https://management.azure.com/.default";
  auto e = ko::service_error(401, read_data("error_401_audience.json"), headers_with(), ctx);
  BOOST_TEST(e.details().hint.find("https://management.azure.com/.default") != std::string::npos,
             e.details().hint);
  BOOST_TEST(e.details().hint.find("contoso.openai.azure.com") != std::string::npos);
  BOOST_TEST(e.details().hint.find("https://cognitiveservices.azure.com/.default") !=
             std::string::npos);

  // A sovereign-cloud host expects its own audience when the body names none.
  ctx.endpoint = "https://fabrikam.openai.azure.us";
  ctx.scope = "https://cognitiveservices.azure.com/.default";
  auto us = ko::service_error(401, R"({"statusCode":401,"message":"Unauthorized."})",
                              headers_with(), ctx);
  BOOST_TEST(
      us.details().hint.find("https://cognitiveservices.azure.us/.default") != std::string::npos,
      us.details().hint);
}

BOOST_AUTO_TEST_CASE(permission_denied_names_the_role_the_identity_and_the_delay) {
  for (int status : {401, 403}) {
    for (const char* file : {"error_401_permission.json", "error_403_permission_foundry.json"}) {
      auto e = ko::service_error(status, read_data(file), headers_with(), keyless_context);
      BOOST_TEST(e.details().service_code == "PermissionDenied");
      const auto& hint = e.details().hint;
      BOOST_TEST(hint.find("Cognitive Services OpenAI User") != std::string::npos, hint);
      BOOST_TEST(hint.find("5-10 minutes") != std::string::npos, hint);
      BOOST_TEST(hint.find("object id") != std::string::npos, hint);
      no_secrets(e);
    }
  }
  auto e = ko::service_error(403, read_data("error_401_permission.json"), headers_with());
  BOOST_TEST(e.details().hint.find("9f2c1e4a-7b3d-4c8e-a1f0-5d6e7f8a9b0c") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_rejected_api_key_gets_a_key_hint) {
  ko::error_context ctx{.endpoint = "https://contoso.openai.azure.com", .api_key = true};
  auto e = ko::service_error(401, read_data("error_401_api_key.json"), headers_with(), ctx);
  BOOST_TEST(e.details().service_code == "401");
  BOOST_TEST(e.details().hint.find("api-key") != std::string::npos, e.details().hint);
  BOOST_TEST(e.details().hint.find("scope") == std::string::npos);
  no_secrets(e);
}

BOOST_AUTO_TEST_CASE(an_unknown_deployment_names_the_deployment) {
  auto e = ko::service_error(404, read_data("error_404_deployment.json"),
                             headers_with({{"x-ms-request-id", "req-404"}}), keyless_context);
  BOOST_TEST(e.details().service_code == "DeploymentNotFound");
  BOOST_TEST(e.details().request_id == "req-404");
  BOOST_TEST(e.details().hint.find("\"gpt-4o-mini\"") != std::string::npos, e.details().hint);
  BOOST_TEST(e.details().hint.find("not the model's name") != std::string::npos);
  auto other = ko::service_error(404, R"({"error":{"code":"404","message":"Resource not found"}})",
                                 headers_with());
  BOOST_TEST(other.details().hint.find("api-version") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(throttling_reports_the_requested_wait) {
  struct wait_case {
    std::vector<std::pair<std::string, std::string>> headers;
    std::chrono::milliseconds expected;
  };
  const keyless::manual_clock clock;
  const std::vector<wait_case> cases = {
      {{{"retry-after-ms", "6000"}, {"retry-after", "7"}}, std::chrono::milliseconds(6000)},
      {{{"x-ms-retry-after-ms", "1500"}}, std::chrono::milliseconds(1500)},
      {{{"Retry-After", "6"}}, std::chrono::milliseconds(6000)},
      {{{"retry-after", "Tue, 14 Nov 2023 22:13:40 GMT"}}, std::chrono::milliseconds(20000)},
  };
  for (const auto& c : cases) {
    ko::error_context ctx = keyless_context;
    ctx.now = clock.now();  // 2023-11-14 22:13:20 UTC
    auto e = ko::service_error(429, read_data("error_429.json"), headers_with(c.headers), ctx);
    BOOST_TEST(e.details().service_code == "429");
    BOOST_REQUIRE(e.details().retry_after.has_value());
    BOOST_TEST(e.details().retry_after->count() == c.expected.count());
    BOOST_TEST(e.details().hint.find("throttled") != std::string::npos);
  }
  ko::error_context ctx = keyless_context;
  ctx.now = clock.now();
  auto e = ko::service_error(429, read_data("error_429.json"), headers_with({{"retry-after", "6"}}),
                             ctx);
  BOOST_TEST(e.details().hint.find("wait 6 s") != std::string::npos, e.details().hint);
  auto bare = ko::service_error(429, read_data("error_429.json"), headers_with(), ctx);
  BOOST_TEST(!bare.details().retry_after.has_value());
}

BOOST_AUTO_TEST_CASE(a_content_filter_rejection_says_so) {
  auto e = ko::service_error(400, read_data("error_400_content_filter.json"), headers_with());
  BOOST_TEST(e.details().service_code == "content_filter");
  BOOST_TEST(e.details().hint.find("content filter") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_request_id_comes_from_the_first_header_present) {
  const std::vector<std::pair<std::vector<std::pair<std::string, std::string>>, std::string>>
      cases = {
          {{{"x-request-id", "c"}, {"x-ms-request-id", "b"}, {"apim-request-id", "a"}}, "a"},
          {{{"x-request-id", "c"}, {"X-MS-Request-Id", "b"}}, "b"},
          {{{"x-request-id", "c"}}, "c"},
          {{{"apim-request-id", ""}, {"x-request-id", "c"}}, "c"},
          {{}, ""},
      };
  for (const auto& [headers, expected] : cases)
    BOOST_TEST(ko::request_id_of(headers_with(headers)) == expected);
}

BOOST_AUTO_TEST_CASE(bodies_that_are_not_azure_json_still_give_a_clear_message) {
  std::string html = "<html>\r\n<body>\x01" + std::string(5000, 'x') + "</body></html>";
  auto e = ko::service_error(502, html, headers_with());
  BOOST_TEST(*e.details().http_status == 502);
  BOOST_TEST(e.message().find("HTTP 502") != std::string::npos);
  BOOST_TEST(e.message().find('\r') == std::string::npos);
  BOOST_TEST(e.message().find('\x01') == std::string::npos);
  BOOST_TEST(e.message().size() < 600u);
  BOOST_TEST(e.details().hint.find("retrying") != std::string::npos);

  auto empty = ko::service_error(503, "", headers_with());
  BOOST_TEST(empty.message().find("no error message") != std::string::npos);

  auto long_message = ko::service_error(
      400, R"({"error":{"code":"BadRequest","message":")" + std::string(5000, 'm') + R"("}})",
      headers_with());
  BOOST_TEST(long_message.message().size() < 1200u);
}

BOOST_AUTO_TEST_CASE(printable_excerpts_cut_on_character_boundaries) {
  BOOST_TEST(ko::printable_excerpt("a\nb\tc", 10) == "a b c");
  // "é" is two bytes: a cut after its first byte drops the whole character.
  BOOST_TEST(ko::printable_excerpt("ab\xC3\xA9z", 3) == "ab\xE2\x80\xA6");
  BOOST_TEST(ko::printable_excerpt("abc", 3) == "abc");
}

BOOST_AUTO_TEST_CASE(a_stream_error_event_carries_code_and_message) {
  auto e = ko::stream_event_error("content_filter", "The response was filtered");
  BOOST_TEST((e.code() == keyless::errc::http_status));
  BOOST_TEST(e.details().service_code == "content_filter");
  BOOST_TEST(e.details().hint.find("content filter") != std::string::npos);
  BOOST_TEST(e.message().find("The response was filtered") != std::string::npos);
  auto bare = ko::stream_event_error("", "");
  BOOST_TEST(bare.message().find("An error occurred during streaming") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
