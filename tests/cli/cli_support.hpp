#pragma once
// Shared pieces of the cli suite: run the real keyless program as a subprocess (argument
// vector, explicit environment, captured output, a timeout), and a world of loopback fakes
// (Entra ID, IMDS, Azure OpenAI) running on a background thread for it to talk to.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include "fake_entra.hpp"
#include "fake_managed_identity.hpp"
#include "fake_openai.hpp"
#include "loopback_client.hpp"
#include "temp_dir.hpp"

namespace keyless::cli_test {

using environment = std::map<std::string, std::string>;

/// What a finished child did. Its output may contain tokens: tests compare it, never print it.
struct program_result {
  int exit_code = -1;  ///< the exit status, or 128 + signal
  bool timed_out = false;
  std::string out;
  std::string err;
};

/// The keyless binary under test (KEYLESS_EXE from the test environment).
std::string keyless_path();

/// Runs `program` with `args` (argv[1..]) and exactly `env` as its environment, stdin from
/// /dev/null, until it exits or `limit` passes (then it is killed and timed_out is set).
program_result run_program(const std::string& program, const std::vector<std::string>& args,
                           const environment& env,
                           std::chrono::milliseconds limit = std::chrono::seconds(60));

/// run_program(keyless_path(), ...).
program_result run_keyless(const std::vector<std::string>& args, const environment& env,
                           std::chrono::milliseconds limit = std::chrono::seconds(60));

using testing::temp_dir;
/// Connections to it are refused, as on a machine without a managed identity endpoint.
using testing::closed_port;

inline constexpr std::string_view tenant_id = "72f988bf-86f1-41af-91ab-2d7cd011db47";
inline constexpr std::string_view sp_client_id = "11111111-aaaa-4bbb-8ccc-000000000001";
inline constexpr std::string_view sp_object_id = "22222222-aaaa-4bbb-8ccc-000000000002";
inline constexpr std::string_view sp_secret = "cli-test-secret-value-123";
inline constexpr std::string_view ua_object_id = "55555555-aaaa-4bbb-8ccc-000000000005";
inline constexpr std::string_view wi_client_id = "33333333-aaaa-4bbb-8ccc-000000000003";
inline constexpr std::string_view wi_object_id = "44444444-aaaa-4bbb-8ccc-000000000004";
inline constexpr std::string_view federated_token = "federated.assertion.for-cli-tests";
inline constexpr std::string_view cognitive_scope = "https://cognitiveservices.azure.com/.default";

/// Fakes on loopback, served by one io_context on a background thread, plus the files and
/// base environment a child needs to reach and trust them.
class world {
 public:
  explicit world(testing::fake_openai_options openai = {});
  ~world();
  world(const world&) = delete;
  world& operator=(const world&) = delete;

  testing::fake_entra& entra() { return *entra_; }
  testing::fake_managed_identity& imds() { return *imds_; }
  testing::fake_openai& openai() { return *openai_; }
  const temp_dir& dir() const { return dir_; }

  /// What every child gets: SSL_CERT_FILE (the fakes' CA), HOME and PATH in a private
  /// directory (no az, no azd), TZ=UTC, and AZURE_POD_IDENTITY_AUTHORITY_HOST at a closed
  /// loopback port, so no source can reach anything but loopback and none finds a login.
  environment base() const;
  /// base() with the environment service principal (client secret) of the fake Entra ID.
  environment service_principal() const;
  /// base() with workload identity (federated token file) at the fake Entra ID.
  environment workload_identity() const;
  /// base() with AZURE_POD_IDENTITY_AUTHORITY_HOST at the fake IMDS.
  environment managed_identity() const;
  /// base() with tests/fakes first on PATH, so `az` and `azd` are the scriptable fake.
  environment fake_cli() const;
  /// Adds the fake Azure OpenAI's endpoint and deployment as AZURE_OPENAI_* variables.
  environment with_openai(environment env) const;

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  temp_dir dir_;
  std::string ca_file_;
  std::string token_file_;
  std::unique_ptr<testing::fake_entra> entra_;
  std::unique_ptr<testing::fake_managed_identity> imds_;
  std::unique_ptr<testing::fake_openai> openai_;
  std::uint16_t refused_port_ = 0;
  std::thread thread_;
};

/// A JWT-shaped token (as the fakes issue) for `audience`, living one hour from now.
std::string make_token(std::string_view audience, std::string_view object_id);

/// Whether `haystack` contains `needle` (for readable assertions).
inline bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace keyless::cli_test
