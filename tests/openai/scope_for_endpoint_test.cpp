#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "openai/scope_for_endpoint.hpp"

namespace ko = keyless::openai;

namespace {
constexpr const char* cognitive = "https://cognitiveservices.azure.com/.default";
constexpr const char* cognitive_us = "https://cognitiveservices.azure.us/.default";
constexpr const char* cognitive_cn = "https://cognitiveservices.azure.cn/.default";
}  // namespace

BOOST_AUTO_TEST_SUITE(scope_for_endpoint)

BOOST_AUTO_TEST_CASE(the_scope_follows_the_endpoint_host) {
  struct scope_case {
    std::string endpoint;
    std::string scope;
    bool guessed;
  };
  const std::vector<scope_case> cases = {
      {"https://contoso.openai.azure.com", cognitive, false},
      {"https://contoso.openai.azure.com/", cognitive, false},
      {"https://CONTOSO.OpenAI.Azure.com:443/openai/v1/", cognitive, false},
      {"contoso.openai.azure.com", cognitive, false},
      {"https://contoso.privatelink.openai.azure.com", cognitive, false},
      {"https://contoso.cognitiveservices.azure.com", cognitive, false},
      {"https://contoso.services.ai.azure.com/openai/v1", cognitive, false},
      {"https://contoso.ai.azure.com", cognitive, false},
      {"https://eastus.api.cognitive.microsoft.com", cognitive, false},
      {"https://gov.openai.azure.us", cognitive_us, false},
      {"https://gov.cognitiveservices.azure.us", cognitive_us, false},
      {"https://cn.openai.azure.cn", cognitive_cn, false},
      {"https://cn.cognitiveservices.azure.cn.", cognitive_cn, false},
      {"https://llm-gateway.example.com", cognitive, true},
      {"http://127.0.0.1:8443", cognitive, true},
      {"http://[::1]:8080/openai", cognitive, true},
      {"https://evilopenai.azure.com", cognitive, true},  // not a label boundary
      {"https://openai.azure.com", cognitive, true},      // no resource label
      {"https://contoso.openai.azure.com.evil.example", cognitive, true},
      {"https://contoso.openai.azure.com@evil.example", cognitive, true},
      {"", cognitive, true},
  };
  for (const auto& c : cases) {
    auto s = ko::scope_for_endpoint(c.endpoint);
    BOOST_TEST(s.scope == c.scope, c.endpoint);
    BOOST_TEST(s.guessed == c.guessed, c.endpoint);
  }
}

BOOST_AUTO_TEST_CASE(a_scope_fits_a_host_of_its_cloud) {
  struct fit_case {
    std::string scope;
    std::string endpoint;
    bool fits;
  };
  const std::vector<fit_case> cases = {
      {cognitive, "https://x.openai.azure.com", true},
      {"https://cognitiveservices.azure.com", "https://x.openai.azure.com", true},
      {"https://CognitiveServices.azure.com//.default", "x.openai.azure.com", true},
      {"https://ai.azure.com/.default", "https://x.services.ai.azure.com", true},
      {"https://ai.azure.com/.default", "https://x.openai.azure.com", true},
      {"https://management.azure.com/.default", "https://x.openai.azure.com", false},
      {"https://graph.microsoft.com/.default", "https://x.cognitiveservices.azure.com", false},
      {cognitive, "https://x.openai.azure.us", false},
      {cognitive_us, "https://x.openai.azure.us", true},
      {cognitive_us, "https://x.openai.azure.com", false},
      {cognitive_cn, "https://x.openai.azure.cn", true},
      {"https://ai.azure.com/.default", "https://x.openai.azure.cn", false},
      {"https://anything.example/.default", "https://gateway.example.com", true},  // unknown host
  };
  for (const auto& c : cases)
    BOOST_TEST(ko::scope_fits_host(c.scope, c.endpoint) == c.fits, c.scope << " on " << c.endpoint);
}

BOOST_AUTO_TEST_CASE(host_of_strips_everything_but_the_host) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"https://User:pw@Contoso.OpenAI.Azure.com:8443/path?q#f", "contoso.openai.azure.com"},
      {"  contoso.openai.azure.com.  ", "contoso.openai.azure.com"},
      {"http://[::1]:80/", "::1"},
      {"https://host?x=1", "host"},
      {"", ""},
  };
  for (const auto& [endpoint, host] : cases) BOOST_TEST(ko::host_of(endpoint) == host, endpoint);
}

BOOST_AUTO_TEST_SUITE_END()
