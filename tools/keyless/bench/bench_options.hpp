#pragma once
// What `keyless bench` was asked to do: its flags, parsed and checked before anything runs.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "../command_line.hpp"
#include "keyless/http/client_options.hpp"

namespace keyless::cli::bench {

/// Which authentication the load uses; `both` alternates api-key and keyless rounds.
enum class auth_mode { keyless, api_key, both };

enum class output_format { text, json };

/// The authentication of one round (never `both`).
enum class round_auth { api_key, keyless };

/// "api-key" or "keyless", as on the command line and in the text report.
std::string_view display_name(round_auth auth) noexcept;
/// "api_key" or "keyless", as in the JSON report.
std::string_view json_name(round_auth auth) noexcept;

struct bench_options {
  std::string endpoint;
  std::string deployment;
  std::string api_version;  ///< empty: the chat client's default (OPENAI_API_VERSION or its own)
  std::string api_key_env = "AZURE_OPENAI_API_KEY";
  std::string api_key;  ///< read from api_key_env when an api-key mode is chosen; never printed
  auth_mode mode = auth_mode::keyless;
  std::size_t concurrency = 1;
  /// Per mode: each mode runs this many requests, or for this long. Exactly one is set.
  std::optional<std::uint64_t> requests;
  std::optional<std::chrono::nanoseconds> duration;
  bool stream = false;
  /// HTTP/1.1: one connection per request in flight; HTTP/2: one connection per thread;
  /// automatic: HTTP/2 if the endpoint picks it in the TLS handshake, else HTTP/1.1.
  http::http_version http_version = http::http_version::http1_1;
  std::int64_t max_tokens = 16;
  std::string prompt = "Say hello in five words.";
  std::size_t threads = 1;
  output_format output = output_format::text;

  bool uses(round_auth auth) const noexcept {
    return mode == auth_mode::both ||
           (auth == round_auth::api_key ? mode == auth_mode::api_key : mode == auth_mode::keyless);
  }
};

/// Reads a variable of the environment; empty when unset.
using environment_lookup = std::function<std::string(std::string_view)>;

/// The flags `keyless bench` accepts.
std::span<const option_spec> bench_option_specs() noexcept;

/// `keyless bench --help`.
std::string bench_help();

/// Parses and checks the flags. Unset endpoint and deployment come from AZURE_OPENAI_ENDPOINT
/// and AZURE_OPENAI_DEPLOYMENT; the key from the variable --api-key-env names. Throws
/// usage_error naming what is wrong (unknown flag, a number out of range, --requests with
/// --duration, more threads than requests in flight, an api-key mode without a key, ...).
/// Returns nullopt when --help was given (the help is then printed by the caller).
std::optional<bench_options> parse_bench_options(std::span<const std::string> arguments,
                                                 const environment_lookup& environment);

}  // namespace keyless::cli::bench
