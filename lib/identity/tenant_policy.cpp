#include "keyless/identity/tenant_policy.hpp"

#include <fmt/core.h>

#include "core/text.hpp"
#include "keyless/core/error.hpp"
#include "keyless/http/fields.hpp"
#include "keyless/identity/authority.hpp"

namespace keyless::identity {
namespace {

// Longest tenant echoed in a message: a tenant id is at most a DNS name.
constexpr std::size_t max_shown_tenant = 253;

}  // namespace

std::string tenant_policy::resolve(const std::optional<std::string>& requested,
                                   std::string_view credential) const {
  if (!requested || requested->empty() || multitenant_disabled || is_adfs_tenant(tenant_id)) {
    return tenant_id;
  }
  const std::string& wanted = *requested;
  if (!is_valid_tenant_id(wanted)) {
    throw keyless::error(
        errc::invalid_argument,
        fmt::format("{}: the requested tenant is not a tenant id (allowed: letters, digits, "
                    "'.' and '-')",
                    credential));
  }
  if (http::iequals(wanted, tenant_id)) return tenant_id;
  for (const auto& allowed : additionally_allowed_tenants) {
    if (allowed == "*" || http::iequals(allowed, wanted)) return wanted;
  }
  diagnostics d;
  d.hint = fmt::format(
      "add '{}' to the credential's additionally_allowed_tenants (or "
      "AZURE_ADDITIONALLY_ALLOWED_TENANTS), or \"*\" to allow any tenant",
      wanted.substr(0, max_shown_tenant));
  throw keyless::error(errc::authentication_failed,
                       fmt::format("{}: not configured to get tokens for tenant '{}' (its tenant "
                                   "is '{}')",
                                   credential, wanted.substr(0, max_shown_tenant), tenant_id),
                       std::move(d));
}

std::vector<std::string> parse_tenant_list(std::string_view value) {
  std::vector<std::string> tenants;
  while (!value.empty()) {
    auto sep = value.find(';');
    std::string_view item = keyless::detail::trim(value.substr(0, sep));
    if (!item.empty()) tenants.emplace_back(item);
    if (sep == std::string_view::npos) break;
    value.remove_prefix(sep + 1);
  }
  return tenants;
}

bool multitenant_disabled_by(std::optional<std::string_view> value) noexcept {
  if (!value) return false;
  std::string_view v = keyless::detail::trim(*value);
  return v == "1" || http::iequals(v, "true") || http::iequals(v, "yes") || http::iequals(v, "on");
}

}  // namespace keyless::identity
