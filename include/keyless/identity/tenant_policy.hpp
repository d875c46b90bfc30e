#pragma once
// Which tenant a credential asks Entra ID for (PROTOCOLS.md §2.5).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keyless::identity {

/// A credential's own tenant plus the other tenants it may be asked for.
///
/// resolve() applies the rule every Azure SDK shares: no requested tenant, the same tenant,
/// an ADFS credential, or multi-tenant authentication disabled → the credential's tenant;
/// otherwise the requested tenant must be in `additionally_allowed_tenants` (or that list
/// must hold "*").
///
/// Tenant ids compare case-insensitively: they are GUIDs or DNS names, both of which Entra
/// ID treats without regard to case, so "Contoso.onmicrosoft.com" and
/// "contoso.onmicrosoft.com" are one tenant (the C++ SDK does the same; Python and JS
/// compare exactly and would refuse the second spelling for no benefit).
struct tenant_policy {
  std::string tenant_id;
  std::vector<std::string> additionally_allowed_tenants;
  /// Set from AZURE_IDENTITY_DISABLE_MULTITENANTAUTH: requested tenants are ignored.
  bool multitenant_disabled = false;

  /// The tenant to use for a request naming `requested`. Throws
  /// keyless::error(errc::invalid_argument) when `requested` is not tenant id syntax, and
  /// keyless::error(errc::authentication_failed) when it is not allowed, with a hint naming
  /// additionally_allowed_tenants / AZURE_ADDITIONALLY_ALLOWED_TENANTS. `credential` names
  /// the credential in messages.
  std::string resolve(const std::optional<std::string>& requested,
                      std::string_view credential) const;
};

/// Splits an AZURE_ADDITIONALLY_ALLOWED_TENANTS value ("t1;t2;*"): entries are trimmed and
/// empty ones dropped.
std::vector<std::string> parse_tenant_list(std::string_view value);

/// Whether an AZURE_IDENTITY_DISABLE_MULTITENANTAUTH value disables multi-tenant requests:
/// "1", "true", "yes" or "on" in any case and with surrounding blanks. Every other value,
/// "0" and "false" included, leaves it enabled: the peers disagree (Python and JS disable on
/// any non-empty value, so "false" would disable; C++ accepts only "1"/"true"), and reading
/// a value as what it says is the least surprising choice.
bool multitenant_disabled_by(std::optional<std::string_view> value) noexcept;

}  // namespace keyless::identity
