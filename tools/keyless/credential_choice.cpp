#include "credential_choice.hpp"

#include <array>
#include <utility>

#include <fmt/format.h>

#include "command_line.hpp"
#include "keyless/identity/default_azure_credential.hpp"

namespace keyless::cli {
namespace {

struct kind_name {
  std::string_view flag;        // the --credential value
  std::string_view class_name;  // what AZURE_TOKEN_CREDENTIALS calls it
  credential_kind kind;
};

constexpr std::array<kind_name, 6> kinds{{
    {"default", "", credential_kind::chain},
    {"environment", "EnvironmentCredential", credential_kind::environment},
    {"workload", "WorkloadIdentityCredential", credential_kind::workload},
    {"managed", "ManagedIdentityCredential", credential_kind::managed},
    {"cli", "AzureCliCredential", credential_kind::cli},
    {"azd", "AzureDeveloperCliCredential", credential_kind::azd},
}};

}  // namespace

credential_kind parse_credential_kind(std::string_view text) {
  for (const auto& k : kinds) {
    if (k.flag == text) return k.kind;
  }
  throw usage_error(fmt::format(
      "--credential must be one of default, environment, workload, managed, cli, azd; not '{}'",
      text));
}

std::string_view credential_option_help() noexcept {
  return "default (the whole chain), environment, workload, managed, cli or azd";
}

std::shared_ptr<identity::chained_token_credential> make_credential(
    asio::any_io_executor executor, credential_kind kind, std::optional<std::string> tenant,
    identity::environment_map environment) {
  for (const auto& k : kinds) {
    // The library's own selection mechanism, so a single source is configured (probe off for
    // managed identity, tenant handling, CLI paths) exactly as in the chain.
    if (k.kind == kind && !k.class_name.empty()) {
      environment.insert_or_assign("AZURE_TOKEN_CREDENTIALS", std::string(k.class_name));
    }
  }
  identity::default_azure_credential_options options;
  options.environment = std::move(environment);
  options.tenant_id = std::move(tenant);
  return identity::default_azure_credential(std::move(executor), std::move(options));
}

}  // namespace keyless::cli
