#pragma once
// What the Azure CLI and Azure Developer CLI credentials share: argument
// validation, running the program, reading its failures, and excerpts of its
// output that are safe to show (PROTOCOLS.md §5).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "identity/process_runner.hpp"
#include "identity/scope_resource.hpp"
#include "keyless/identity/access_token.hpp"

namespace keyless::identity::detail {

/// The fixed facts about one CLI, for messages.
struct cli_profile {
  std::string_view credential;     ///< "AzureCliCredential"
  std::string_view display;        ///< "Azure CLI (az)"
  std::string_view install_url;    ///< where to get it
  std::string_view login_command;  ///< "az login"
};

extern const cli_profile azure_cli_profile;
extern const cli_profile azure_developer_cli_profile;

/// AZURE_IDENTITY_DISABLE_MULTITENANTAUTH, as both CLIs read it when they are built.
bool multitenant_disabled_from_environment();

/// Scope characters the CLIs are given: letters, digits and . - _ : /, not
/// starting with '-'. No shell is involved, but az and azd parse their own
/// arguments, and a value starting with '-' would be read as an option.
/// Throws keyless::error(errc::invalid_argument) naming the credential.
void validate_scope(const cli_profile& cli, std::string_view scope);
/// Tenant ids: letters, digits, '.' and '-', not starting with '-'.
void validate_tenant(const cli_profile& cli, std::string_view tenant);
/// Subscription ids or names: letters, digits, '_', '-', '.', ' ', not
/// starting with '-' or blank.
void validate_subscription(const cli_profile& cli, std::string_view subscription);

/// One line of CLI output that is safe to put in a message: control
/// characters removed, the value of any JSON field whose name contains
/// "token" replaced with ****, every run of 32 or more token-alphabet
/// characters (base64url, JWT dots) replaced with <redacted> unless it is a
/// GUID, and at most `limit` bytes. Access tokens are long base64url runs, so
/// none can survive, whole or in a recognisable part.
std::string redacted_excerpt(std::string_view line, std::size_t limit = 200);

/// The most telling line of a CLI's stderr: the first "ERROR:" line (prefix
/// removed), else the first non-warning line, else the first line; redacted.
std::string first_error_line(std::string_view text);

/// azd writes errors as JSON lines ({"type":"consoleMessage","data":
/// {"message":"..."}}); this returns the messages joined by newlines, and
/// lines that are not such JSON unchanged.
std::string azd_stderr_text(std::string_view text);

/// Runs the CLI. Failures to run at all become keyless::error(
/// credential_unavailable): not installed, cannot start, timed out (the chain
/// should try its next source rather than stop: a hung CLI is usually waiting
/// on something it cannot get here, such as a browser or the network), or
/// too much output. Cancellation passes through unchanged.
asio::awaitable<process_result> run_cli(const cli_profile& cli, process_options options);

/// Turns a failed run (non-zero exit or killed) into the right error:
///  - stderr names an AADSTS error → authentication_failed, the code in
///    diagnostics.service_code, the redacted first error line in the message;
///  - stderr asks for a login (one of `login_markers` appears) →
///    credential_unavailable with `login_hint` as the hint;
///  - exit status 127 → credential_unavailable (installed but broken);
///  - anything else → credential_unavailable with the redacted first line.
/// `stderr_text` is what the CLI said (for azd, already through azd_stderr_text).
[[noreturn]] void throw_cli_failure(const cli_profile& cli, const process_result& result,
                                    std::string_view stderr_text,
                                    const std::vector<std::string_view>& login_markers,
                                    std::string_view login_hint);

/// Throws credential_unavailable for output that could not be used. `reason`
/// comes from the parser and names fields, never values. Output that does
/// not even look like JSON is quoted as a redacted excerpt of its first line;
/// JSON output is never quoted (it may hold a token).
[[noreturn]] void throw_unusable_output(const cli_profile& cli, std::string_view reason,
                                        std::string_view out);

}  // namespace keyless::identity::detail
