// Drives azure_cli_credential against the real, logged-in Azure CLI for
// real_az_test.sh. Prints what it checked (never a token) and exits non-zero
// when a check fails.
//
//   real_az_driver success SCOPE ISSUED_FILE EXPIRES_IN
//       the token equals the last line of ISSUED_FILE (what the fake issued)
//       and expires EXPIRES_IN seconds from now (± 2 min), read from az's
//       local-time expiresOn in whatever TZ the caller set
//   real_az_driver not_logged_in SCOPE
//       credential_unavailable, naming 'az login'
//   real_az_driver refused SCOPE CODE
//       authentication_failed with diagnostics.service_code CODE

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include "keyless/core/error.hpp"
#include "keyless/identity/azure_cli_credential.hpp"

namespace {

using keyless::identity::access_token;

int fail(const std::string& what) {
  std::cerr << "FAIL: " << what << '\n';
  return 1;
}

std::string last_line(const std::string& file) {
  std::ifstream in(file);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return fail("usage: real_az_driver MODE SCOPE ...");
  const std::string mode = argv[1];
  keyless::identity::token_request request;
  request.scopes.emplace_back(argv[2]);

  asio::io_context io;
  keyless::identity::azure_cli_credential_options options;
  // The first az command in a fresh configuration directory can take several
  // seconds; the default 10 s is for interactive machines.
  options.process_timeout = std::chrono::seconds(60);
  keyless::identity::azure_cli_credential credential(io.get_executor(), options);
  std::exception_ptr error;
  access_token token;
  const auto started = std::chrono::system_clock::now();
  credential.async_get_token(request, [&](std::exception_ptr e, access_token t) {
    error = e;
    token = std::move(t);
  });
  io.run();
  const auto seen = keyless::inspect(error);
  const std::string message = error ? seen.message : std::string();

  if (mode == "success") {
    if (argc < 5) return fail("usage: real_az_driver success SCOPE ISSUED_FILE EXPIRES_IN");
    if (error) return fail("expected a token, got: " + message);
    const std::string issued = last_line(argv[3]);
    if (issued.empty()) return fail("the fake issued no token");
    if (token.token() != issued) {
      return fail("the token differs from the one the fake issued (" +
                  std::to_string(token.token().size()) + " vs " + std::to_string(issued.size()) +
                  " bytes)");
    }
    const auto expected = started + std::chrono::seconds(std::stol(argv[4]));
    const auto off =
        std::chrono::duration_cast<std::chrono::seconds>(token.expires_on() - expected);
    if (off < std::chrono::seconds(-120) || off > std::chrono::seconds(120)) {
      return fail("expiry is " + std::to_string(off.count()) +
                  " s away from what the fake issued (TZ=" +
                  (std::getenv("TZ") ? std::getenv("TZ") : "") + ")");
    }
    std::cout << "ok: token matches the issued one; expiry within " << off.count()
              << " s of expected (TZ=" << (std::getenv("TZ") ? std::getenv("TZ") : "") << ")\n";
    return 0;
  }
  if (mode == "not_logged_in") {
    if (!error) return fail("expected credential_unavailable, got a token");
    if (seen.code != keyless::errc::credential_unavailable) {
      return fail("expected credential_unavailable, got " + seen.code.message() + ": " + message);
    }
    if (message.find("not logged in") == std::string::npos ||
        seen.details.hint.find("az login") == std::string::npos) {
      return fail("unexpected message: " + message);
    }
    std::cout << "ok: " << message << '\n';
    return 0;
  }
  if (mode == "refused") {
    if (argc < 4) return fail("usage: real_az_driver refused SCOPE CODE");
    if (!error) return fail("expected authentication_failed, got a token");
    if (seen.code != keyless::errc::authentication_failed) {
      return fail("expected authentication_failed, got " + seen.code.message() + ": " + message);
    }
    if (seen.details.service_code != argv[3]) {
      return fail("expected service code " + std::string(argv[3]) + ", got '" +
                  seen.details.service_code + "': " + message);
    }
    std::cout << "ok: " << message << '\n';
    return 0;
  }
  return fail("unknown mode " + mode);
}
