#include "identity/credential_selection.hpp"

#include <algorithm>
#include <cctype>
#include <string>

#include "keyless/core/error.hpp"

namespace keyless::identity::detail {
namespace {

std::string trimmed_lower(std::string_view text) {
  const auto is_space = [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) != 0;
  };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

credential_selection only(bool credential_selection::*member) {
  credential_selection s{false, false, false, false, false, true};
  s.*member = true;
  return s;
}

}  // namespace

credential_selection parse_credential_selection(std::optional<std::string_view> value) {
  const auto key = trimmed_lower(value.value_or(""));
  if (key.empty()) return {};
  if (key == "dev") return {false, false, false, true, true, false};
  if (key == "prod") return {true, true, true, false, false, false};
  if (key == "environmentcredential") return only(&credential_selection::environment);
  if (key == "workloadidentitycredential") return only(&credential_selection::workload_identity);
  if (key == "managedidentitycredential") return only(&credential_selection::managed_identity);
  if (key == "azureclicredential") return only(&credential_selection::azure_cli);
  if (key == "azuredeveloperclicredential") return only(&credential_selection::azure_developer_cli);
  // The raw value is configuration, not a secret, so it may be echoed.
  throw error(errc::invalid_argument,
              "AZURE_TOKEN_CREDENTIALS has the invalid value '" + std::string(*value) +
                  "'. Valid values (case-insensitive): 'dev', 'prod', 'EnvironmentCredential', "
                  "'WorkloadIdentityCredential', 'ManagedIdentityCredential', "
                  "'AzureCliCredential', 'AzureDeveloperCliCredential'; or leave it unset for "
                  "every source.");
}

}  // namespace keyless::identity::detail
