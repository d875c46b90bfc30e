#include "openai/scope_for_endpoint.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include "core/text.hpp"

namespace keyless::openai {
namespace {

constexpr std::string_view public_audience = "https://cognitiveservices.azure.com";
constexpr std::string_view foundry_audience = "https://ai.azure.com";
constexpr std::string_view us_gov_audience = "https://cognitiveservices.azure.us";
constexpr std::string_view china_audience = "https://cognitiveservices.azure.cn";

struct cloud_rule {
  std::string_view suffix;  // matched on a label boundary: ".openai.azure.com"
  std::string_view audience;
  std::string_view also_accepted;  // a second audience these hosts take, or empty
};

// The Foundry hosts (*.services.ai.azure.com) get the Cognitive Services scope
// on purpose: this client only speaks the /openai/ paths, which every Azure AI
// Services account serves under that audience, for dated and v1 paths alike,
// and that is what Microsoft's own keyless samples use. https://ai.azure.com is
// also accepted there (openai-node documents it for /openai/v1), so a caller who
// chose it is not told that it is wrong.
constexpr std::array<cloud_rule, 9> rules{{
    {".openai.azure.com", public_audience, foundry_audience},
    {".cognitiveservices.azure.com", public_audience, foundry_audience},
    {".services.ai.azure.com", public_audience, foundry_audience},
    {".ai.azure.com", public_audience, foundry_audience},
    {".api.cognitive.microsoft.com", public_audience, {}},
    {".openai.azure.us", us_gov_audience, {}},
    {".cognitiveservices.azure.us", us_gov_audience, {}},
    {".openai.azure.cn", china_audience, {}},
    {".cognitiveservices.azure.cn", china_audience, {}},
}};

const cloud_rule* rule_for(std::string_view host) {
  for (const auto& rule : rules) {
    // A label boundary keeps "evilopenai.azure.com" out, and a bare suffix
    // ("openai.azure.com" itself) is no resource's endpoint.
    if (host.size() > rule.suffix.size() && host.ends_with(rule.suffix)) return &rule;
  }
  return nullptr;
}

// "https://cognitiveservices.azure.com/.default" → "https://cognitiveservices.azure.com"
std::string audience_of(std::string_view scope) {
  auto a = keyless::detail::ascii_lower(scope);
  constexpr std::string_view suffix = "/.default";
  if (a.ends_with(suffix)) a.resize(a.size() - suffix.size());
  while (!a.empty() && a.back() == '/') a.pop_back();
  return a;
}

}  // namespace

std::string host_of(std::string_view endpoint) {
  auto first = endpoint.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  endpoint.remove_prefix(first);
  endpoint = endpoint.substr(0, endpoint.find_last_not_of(" \t") + 1);
  if (auto scheme = endpoint.find("://"); scheme != std::string_view::npos)
    endpoint.remove_prefix(scheme + 3);
  endpoint = endpoint.substr(0, endpoint.find_first_of("/?#"));
  if (auto at = endpoint.rfind('@'); at != std::string_view::npos) endpoint.remove_prefix(at + 1);
  if (endpoint.starts_with('[')) {
    auto close = endpoint.find(']');
    return keyless::detail::ascii_lower(
        endpoint.substr(1, close == std::string_view::npos ? close : close - 1));
  }
  endpoint = endpoint.substr(0, endpoint.find(':'));
  while (endpoint.ends_with('.')) endpoint.remove_suffix(1);
  return keyless::detail::ascii_lower(endpoint);
}

endpoint_scope scope_for_endpoint(std::string_view endpoint) {
  const auto host = host_of(endpoint);
  if (const auto* rule = rule_for(host)) return {std::string(rule->audience) + "/.default", false};
  return {std::string(public_audience) + "/.default", true};
}

bool scope_fits_host(std::string_view scope, std::string_view endpoint) {
  const auto* rule = rule_for(host_of(endpoint));
  if (!rule) return true;
  const auto audience = audience_of(scope);
  return audience == rule->audience ||
         (!rule->also_accepted.empty() && audience == rule->also_accepted);
}

}  // namespace keyless::openai
