#pragma once
// Which credential the keyless command uses (--credential), built from the library's default
// chain so that a single named source reads exactly the variables it reads inside the chain.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <asio/any_io_executor.hpp>

#include "keyless/identity/authority.hpp"
#include "keyless/identity/chained_token_credential.hpp"

namespace keyless::cli {

enum class credential_kind { chain, environment, workload, managed, cli, azd };

/// "default", "environment", "workload", "managed", "cli" or "azd"; usage_error otherwise.
credential_kind parse_credential_kind(std::string_view text);

/// The --credential option's help text, listing the values.
std::string_view credential_option_help() noexcept;

/// The chain for `kind` over the process environment: the whole DefaultAzureCredential for
/// credential_kind::chain (AZURE_TOKEN_CREDENTIALS applies), otherwise a chain of the one
/// named source (as AZURE_TOKEN_CREDENTIALS=<its class name> would select, which replaces any
/// value the variable had). `tenant`, when set, is the tenant of workload identity and the
/// CLIs. Throws keyless::error(errc::invalid_argument) for an unusable configuration.
std::shared_ptr<identity::chained_token_credential> make_credential(
    asio::any_io_executor executor, credential_kind kind, std::optional<std::string> tenant,
    identity::environment_map environment = identity::process_environment());

}  // namespace keyless::cli
