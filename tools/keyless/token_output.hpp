#pragma once
// The token command's output in the shape of `az account get-access-token`.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace keyless::cli {

/// What `keyless token` prints about one token.
struct token_output {
  std::string_view access_token;  ///< printed: the token command exists to hand it over
  std::chrono::system_clock::time_point expires_on;
  std::optional<std::string> tenant;  ///< omitted when unknown
  std::string source;                 ///< the credential that produced the token
};

/// "YYYY-MM-DD HH:MM:SS.ffffff" in the local time zone (TZ applies), as az's expiresOn.
std::string az_local_time(std::chrono::system_clock::time_point t);

/// The JSON `az account get-access-token --output json` prints (two-space indent, keys
/// sorted, ", " / ": " separators, a final newline): accessToken, expiresOn, expires_on,
/// source, tenant, tokenType.
std::string format_token_json(const token_output& t);

/// az's `--output tsv`: the values of the same keys in key order, tab-separated, one line.
std::string format_token_tsv(const token_output& t);

}  // namespace keyless::cli
