#include "openai/claims_challenge.hpp"

#include <vector>

#include "core/base64.hpp"
#include "keyless/http/fields.hpp"

namespace keyless::openai {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

struct bearer_params {
  std::optional<std::string> error;
  std::optional<std::string> claims;
};

// Walks the challenges; returns the parameters of the Bearer challenges (later duplicates do
// not override earlier ones). A token followed by '=' is a parameter of the current challenge,
// any other token starts a new challenge.
std::vector<bearer_params> bearer_challenges(std::string_view v) {
  std::vector<bearer_params> out;
  bool in_bearer = false;
  std::size_t i = 0;
  while (i < v.size()) {
    while (i < v.size() && (is_space(v[i]) || v[i] == ',')) ++i;
    const std::size_t start = i;
    while (i < v.size() && !is_space(v[i]) && v[i] != ',' && v[i] != '=' && v[i] != '"') ++i;
    std::string_view token = v.substr(start, i - start);
    std::size_t after = i;
    while (after < v.size() && is_space(v[after])) ++after;
    if (after < v.size() && v[after] == '=' && !token.empty()) {
      i = after + 1;
      while (i < v.size() && is_space(v[i])) ++i;
      std::string value;
      if (i < v.size() && v[i] == '"') {
        ++i;
        while (i < v.size() && v[i] != '"') {
          if (v[i] == '\\' && i + 1 < v.size()) ++i;
          value += v[i++];
        }
        if (i < v.size()) ++i;  // closing quote
      } else {
        const std::size_t vs = i;
        while (i < v.size() && v[i] != ',' && !is_space(v[i])) ++i;
        value.assign(v.substr(vs, i - vs));
      }
      if (in_bearer && !out.empty()) {
        auto& p = out.back();
        if (http::iequals(token, "error") && !p.error) p.error = std::move(value);
        if (http::iequals(token, "claims") && !p.claims) p.claims = std::move(value);
      }
      continue;
    }
    if (token.empty()) {
      ++i;  // a stray '=' or '"': skip it rather than loop
      continue;
    }
    in_bearer = http::iequals(token, "bearer");
    if (in_bearer) out.emplace_back();
  }
  return out;
}

}  // namespace

std::optional<std::string> insufficient_claims(std::string_view www_authenticate) {
  for (auto& p : bearer_challenges(www_authenticate)) {
    if (!p.error || *p.error != "insufficient_claims" || !p.claims) continue;
    auto decoded = keyless::detail::base64_decode(*p.claims);
    if (!decoded) continue;
    // Entra ID takes the claims as a JSON object; a cut or garbled value would only earn
    // an invalid_request from it after a round trip, so it is no challenge to answer.
    const std::size_t first = decoded->find_first_not_of(" \t\r\n");
    const std::size_t last = decoded->find_last_not_of(" \t\r\n");
    if (first == std::string::npos || (*decoded)[first] != '{' || (*decoded)[last] != '}') {
      continue;
    }
    return decoded;
  }
  return std::nullopt;
}

std::optional<std::string> insufficient_claims(const http::fields& headers) {
  for (const auto& [name, value] : headers) {
    if (!http::iequals(name, "www-authenticate")) continue;
    if (auto claims = insufficient_claims(value)) return claims;
  }
  return std::nullopt;
}

}  // namespace keyless::openai
