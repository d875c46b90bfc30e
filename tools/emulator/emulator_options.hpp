#pragma once
// keyless-emulator's command line: which identity to imitate, where to listen, where to write
// its files, and which pitfalls to reproduce.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace keyless::emulator {

/// How the emulated process finds its identity; decides the variables in the env file.
enum class identity_mode {
  app_service,        ///< IDENTITY_ENDPOINT + IDENTITY_HEADER (the default)
  imds,               ///< AZURE_POD_IDENTITY_AUTHORITY_HOST pointing at a fake IMDS
  service_principal,  ///< AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET, fake Entra ID
};

/// "app-service", "imds", "service-principal".
std::string to_string(identity_mode mode);

/// The pitfalls asked for with --pitfall.
struct pitfalls {
  /// The OpenAI fake accepts no token audience: every bearer call gets the audience 401.
  bool wrong_audience = false;
  /// Bearer calls get 403 PermissionDenied until this much time has passed, then the role is
  /// granted (a role assignment still propagating).
  std::optional<std::chrono::seconds> missing_role;
  /// The next N chat requests get 429 with retry-after-ms.
  std::optional<std::size_t> throttle;
  /// The next N chat requests get 500.
  std::optional<std::size_t> server_error;
  /// The resource has no managed identity attached (App Service and IMDS answer 400).
  bool no_identity = false;
  /// Every managed identity answer waits this long.
  std::optional<std::chrono::milliseconds> slow_identity;
};

struct emulator_options {
  identity_mode identity = identity_mode::app_service;
  /// 0: an ephemeral port.
  std::uint16_t openai_port = 0;
  std::uint16_t identity_port = 0;
  std::uint16_t entra_port = 0;
  std::string deployment = "gpt-4o-mini";
  std::string reply;  ///< empty: the fake's default reply
  /// The resource key the fake accepts; empty: a random one, written to the env file.
  std::string api_key;
  /// Where ca.pem, trust.pem and env.sh go; empty: a new private directory under $TMPDIR.
  std::string directory;
  /// Where the env file goes; empty: <directory>/env.sh.
  std::string env_file;
  struct pitfalls pitfalls;
  bool help = false;
};

/// Parses the arguments after the program name. Throws keyless::cli::usage_error naming what is
/// wrong.
emulator_options parse_emulator_options(std::span<const std::string> arguments);

/// The --help text.
std::string emulator_help();

}  // namespace keyless::emulator
