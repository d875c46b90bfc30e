#pragma once
// Which Entra ID scope a token needs for an Azure OpenAI endpoint, derived from
// the endpoint's host, and whether a given scope fits a host (for diagnosing a
// 401 "audience is incorrect").

#include <string>
#include <string_view>

namespace keyless::openai {

/// The scope for an endpoint and whether it was only a guess.
struct endpoint_scope {
  std::string scope;     ///< e.g. "https://cognitiveservices.azure.com/.default"
  bool guessed = false;  ///< the host is not a known Azure AI host (custom domain,
                         ///< gateway, loopback): the public-cloud default was used
};

/// Derives the scope from an endpoint URL ("https://x.openai.azure.com/...") or a
/// bare host name. Public-cloud Azure AI hosts (*.openai.azure.com,
/// *.cognitiveservices.azure.com, *.services.ai.azure.com, *.ai.azure.com,
/// *.api.cognitive.microsoft.com) → https://cognitiveservices.azure.com/.default;
/// Azure Government (*.openai.azure.us, *.cognitiveservices.azure.us) →
/// https://cognitiveservices.azure.us/.default; Azure China (*.openai.azure.cn,
/// *.cognitiveservices.azure.cn) → https://cognitiveservices.azure.cn/.default;
/// anything else → the public-cloud scope with `guessed` set.
endpoint_scope scope_for_endpoint(std::string_view endpoint);

/// True when a token for `scope` can be accepted by `endpoint` (URL or host).
/// Scopes compare by audience: case-insensitive, "/.default" and trailing "/"
/// ignored. On public-cloud Azure AI hosts both the Cognitive Services audience
/// and https://ai.azure.com fit. For unknown hosts the answer is true: we cannot
/// tell, so we do not accuse the caller's scope.
bool scope_fits_host(std::string_view scope, std::string_view endpoint);

/// The lower-cased host of an endpoint URL or bare host: no scheme, user info,
/// port, path or trailing dot; IPv6 literals without brackets.
std::string host_of(std::string_view endpoint);

}  // namespace keyless::openai
