#include "keyless/identity/authority.hpp"

#include <unistd.h>

#include <fmt/core.h>

#include "core/text.hpp"
#include "identity/entra_token_request.hpp"
#include "keyless/core/error.hpp"
#include "keyless/http/fields.hpp"
#include "keyless/http/url.hpp"

extern char** environ;

namespace keyless::identity {
namespace {

[[noreturn]] void bad_authority(std::string_view why) {
  throw keyless::error(
      errc::invalid_argument, fmt::format("authority host: {}", why),
      detail::with_hint("use an https URL such as "
                        "https://login.microsoftonline.com (AZURE_AUTHORITY_HOST)"));
}

}  // namespace

environment_map process_environment() {
  environment_map env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    auto eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    env.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  return env;
}

std::optional<std::string_view> find_variable(const environment_map& env, std::string_view name) {
  auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return std::nullopt;
  return std::string_view(it->second);
}

std::string normalize_authority_host(std::string_view host) {
  std::string_view text = keyless::detail::trim(host, keyless::detail::whitespace);
  while (!text.empty() && text.back() == '/') text.remove_suffix(1);
  if (text.empty()) bad_authority("the value is empty");
  std::string candidate;
  auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    candidate = "https://" + std::string(text);
  } else {
    if (!http::iequals(text.substr(0, scheme_end), "https")) {
      // Only the scheme is shown: the rest could be anything the user pasted.
      bad_authority(fmt::format(
          "the scheme \"{}\" is not https; client secrets and assertions must only travel over "
          "TLS",
          text.substr(0, std::min<std::size_t>(scheme_end, 16))));
    }
    candidate = std::string(text);
  }
  if (candidate.find_first_of("?#") != std::string::npos) {
    bad_authority("a query or fragment is not allowed");
  }
  http::url parsed = http::url::parse(candidate);  // refuses user info and bad hosts/ports
  if (!parsed.is_https()) bad_authority("the scheme is not https");
  std::string normalized = parsed.to_string();
  while (!normalized.empty() && normalized.back() == '/') normalized.pop_back();
  return normalized;
}

bool is_adfs_tenant(std::string_view tenant) noexcept {
  return http::iequals(tenant, "adfs");
}

std::string token_endpoint(std::string_view authority_host, std::string_view tenant) {
  if (is_adfs_tenant(tenant)) return fmt::format("{}/adfs/oauth2/token", authority_host);
  return fmt::format("{}/{}/oauth2/v2.0/token", authority_host, tenant);
}

bool is_valid_tenant_id(std::string_view tenant) noexcept {
  if (tenant.empty()) return false;
  for (char c : tenant) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace keyless::identity
