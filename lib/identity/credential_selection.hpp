#pragma once
// Which sources of the default chain may run, from AZURE_TOKEN_CREDENTIALS.

#include <optional>
#include <string_view>

namespace keyless::identity::detail {

struct credential_selection {
  bool environment = true;
  bool workload_identity = true;
  bool managed_identity = true;
  bool azure_cli = true;
  bool azure_developer_cli = true;
  /// One credential was named explicitly: the user says where they run, so the
  /// managed identity probe (a guess for chains) is skipped.
  bool single_named = false;
};

/// Parses AZURE_TOKEN_CREDENTIALS: unset, empty or blank → every source; "dev" → the
/// developer CLIs; "prod" → environment, workload and managed identity; or one
/// credential's class name. Trimmed and case-insensitive, like the Azure SDKs.
/// Anything else throws keyless::error(errc::invalid_argument) listing the valid values.
credential_selection parse_credential_selection(std::optional<std::string_view> value);

}  // namespace keyless::identity::detail
