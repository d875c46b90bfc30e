#pragma once
// Fake managed identity endpoints on loopback (IMDS, App Service 2019 and 2017, Azure ML,
// Azure Arc with its key-file challenge, Cloud Shell, Service Fabric) for tests, benchmarks
// and the keyless-emulator. Each checks the request the way its service does, answers in
// the service's body format, counts what it received and can be told to fail.

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/any_io_executor.hpp>

#include "fake_entra.hpp"
#include "keyless/core/clock.hpp"
#include "loopback_server.hpp"
#include "request_parser.hpp"

namespace keyless::testing {

/// Which service a fake_managed_identity imitates.
enum class fake_mi_kind {
  imds,              ///< GET, Metadata: true, api-version 2018-02-01, expires_in as a string
  app_service,       ///< GET, X-IDENTITY-HEADER, 2019-08-01, expires_on as an epoch string
  app_service_2017,  ///< GET, secret, 2017-09-01, expires_on as "MM/DD/YYYY hh:mm:ss +00:00"
  azure_ml,          ///< GET, secret, 2017-09-01, clientid, expires_on epoch string + expires_in
  azure_arc,         ///< GET, Metadata: true, 2020-06-01, 401 challenge, then Basic <key>
  cloud_shell,       ///< POST form resource=, Metadata: true
  service_fabric,    ///< GET over HTTPS, Secret, 2019-07-01-preview, expires_on as a number
};

/// "imds", "app_service", ...
std::string_view to_string(fake_mi_kind kind) noexcept;

/// One identity a fake can issue tokens for.
struct fake_mi_identity {
  std::string client_id;
  std::string object_id;
  std::string resource_id;
};

struct fake_managed_identity_options {
  fake_mi_kind kind = fake_mi_kind::imds;
  /// Time for token lifetimes and fail_until(). Null: keyless::clock::system().
  std::shared_ptr<const keyless::clock> clock;
  /// Request path; empty: the kind's usual one (/metadata/identity/oauth2/token for IMDS,
  /// Arc and Service Fabric, /msi/token for App Service and Azure ML, /oauth2/token for
  /// Cloud Shell).
  std::string path;
  /// Serve HTTPS (leaf_kind::good of `pki`); unset: only for Service Fabric.
  std::optional<bool> tls;
  const test_pki* pki = nullptr;
  /// The expected secret header value (X-IDENTITY-HEADER, secret, Secret) or, for Azure Arc,
  /// the expected key-file contents.
  std::string secret = "fake-identity-secret";
  /// Azure Arc: the key file path the 401 challenge names (the fake does not create it).
  std::string arc_realm;
  /// Whether the resource has a system-assigned identity, and its ids.
  bool system_assigned = true;
  fake_mi_identity system_identity{"5be7e0c4-0000-4000-8000-00000000c11d",
                                   "5be7e0c4-0000-4000-8000-0000000000d1", ""};
  /// User-assigned identities attached to the resource.
  std::vector<fake_mi_identity> user_assigned;
  std::string tenant_id = "72f988bf-0000-4000-8000-000000000001";
  std::chrono::seconds expires_in{86399};
  /// Real time every answer waits.
  std::chrono::milliseconds latency{0};
};

/// A fake managed identity endpoint. Failures it produces by itself: a missing or wrong
/// Metadata / secret header (400 or 401), a wrong api-version (400), a missing resource or a
/// scope sent as resource ("/.default", 400), an identity that is not attached (IMDS: 400
/// "Identity not found"; App Service: 400 "Unable to load the proper Managed Identity.";
/// Service Fabric: 401 {"error":{"code":"SecretHeaderNotFound"}}).
/// Thread-safety: setters and counters may be used from any thread. Not movable.
class fake_managed_identity {
 public:
  explicit fake_managed_identity(asio::any_io_executor executor,
                                 fake_managed_identity_options options = {});
  fake_managed_identity(const fake_managed_identity&) = delete;
  fake_managed_identity& operator=(const fake_managed_identity&) = delete;
  ~fake_managed_identity();

  /// The token URL (what IDENTITY_ENDPOINT / MSI_ENDPOINT hold).
  std::string endpoint() const;
  /// "http(s)://127.0.0.1:<port>" (what AZURE_POD_IDENTITY_AUTHORITY_HOST holds).
  std::string host() const;
  /// The CA clients must trust when tls is on.
  const std::string& ca_certificate_pem() const;

  /// Failure injection: the next `times` token requests get `r` instead.
  void enqueue(scripted_response r, std::size_t times = 1);
  /// Answers `status` (with `body` and `headers`) to every token request until the fake's
  /// clock reaches `until` (IMDS's "410 while updating", a 404 until an identity is ready).
  void fail_until(std::chrono::system_clock::time_point until, int status, std::string body = {},
                  header_map headers = {});
  void set_expires_in(std::chrono::seconds seconds);

  /// Requests that reached the token path (scripted ones included).
  std::size_t token_requests() const;
  std::size_t tokens_issued() const;
  /// Azure Arc challenges (401 with WWW-Authenticate) sent.
  std::size_t challenges() const;
  /// Requests refused by the fake's own checks.
  std::size_t refusals() const;

  loopback_server& server() noexcept { return server_; }
  std::vector<recorded_request> requests() const { return server_.requests(); }
  recorded_request last_request() const { return server_.last_request(); }

  struct state;

 private:
  std::shared_ptr<state> state_;
  loopback_server server_;
};

}  // namespace keyless::testing
