#pragma once
// A fake Microsoft Entra ID token endpoint over HTTPS on loopback, for tests, benchmarks and
// the keyless-emulator. It checks requests the way Entra ID does (tenant, grant type, client
// id, secret, certificate assertion signature and claims, federated token, scope), answers
// with Entra's success and error bodies, counts what it received, and can be told to fail.

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/any_io_executor.hpp>

#include "keyless/core/clock.hpp"
#include "loopback_server.hpp"
#include "request_parser.hpp"
#include "test_pki.hpp"

namespace keyless::testing {

/// An answer a fake gives instead of its normal one (failure injection).
struct scripted_response {
  enum class action {
    respond,  ///< send `status`, `headers` and `body`
    raw,      ///< write `body` as raw bytes (garbage, truncated responses), then close
    drop,     ///< close the connection without answering
    stall,    ///< keep the connection open and silent until the server stops
  };
  action what = action::respond;
  int status = 500;
  std::string body;
  header_map headers;
  std::string content_type = "application/json";
  /// Real time to wait before acting (a slow service).
  std::chrono::milliseconds delay{0};

  /// `status` with a JSON (or empty) body.
  static scripted_response json(int status, std::string body = {}, header_map headers = {});
  /// `status` with a text/plain body.
  static scripted_response text(int status, std::string body, header_map headers = {});
  /// Bytes that are not an HTTP response, then close.
  static scripted_response garbage(std::string bytes = "this is not HTTP at all\r\n\r\n");
  static scripted_response drop();
  static scripted_response stall();
};

/// Serves queued scripted responses; shared by the fakes. Thread-safe.
class response_script {
 public:
  /// Queues `r` to answer the next `times` requests (after those already queued).
  void enqueue(scripted_response r, std::size_t times = 1);
  /// The next queued answer, if any.
  std::optional<scripted_response> next();
  std::size_t pending() const;
  void clear();

 private:
  mutable std::mutex mutex_;
  std::deque<scripted_response> queue_;
};

/// Carries `r` out on `out`.
asio::awaitable<void> perform(const scripted_response& r, responder& out);

/// Claims of a fake access token.
struct fake_token_claims {
  std::string tenant_id;  ///< tid
  std::string object_id;  ///< oid
  std::string audience;   ///< aud
  std::string app_id;     ///< appid (and azp)
  std::string issuer;     ///< iss; empty: https://sts.windows.net/<tid>/
  std::chrono::system_clock::time_point issued_at;
  std::chrono::system_clock::time_point expires_on;
};

/// A JWT-shaped, unsigned access token ("alg":"none", empty signature) carrying `claims`
/// and a random jti, so keyless::identity::read_token_claims can read it and every token
/// differs. Not a secret and not verifiable: for fakes only.
std::string make_fake_access_token(const fake_token_claims& claims);

/// Checks a JWT client assertion as Entra ID does: the signature (PS256, or RS256) with the
/// public key of `certificate_pem`; `x5t#S256` (or `x5t`) equal to that certificate's
/// thumbprint; `aud` equal to `token_endpoint`; `iss` and `sub` equal to `client_id`; a
/// non-empty `jti`; `nbf` not after now (5 min skew) and `exp` after now, at most one hour
/// later. Returns an empty string when valid, else what is wrong.
std::string verify_client_assertion(std::string_view jwt, std::string_view certificate_pem,
                                    std::string_view client_id, std::string_view token_endpoint,
                                    std::chrono::system_clock::time_point now);

/// An application registration the fake knows.
struct fake_app {
  std::string client_id;
  std::string object_id = "00000000-0000-0000-0000-00000000a11c";  ///< oid in its tokens
  /// The tenant it is registered in; empty: every tenant (a multi-tenant app consented
  /// everywhere).
  std::string home_tenant;
  std::optional<std::string> secret;           ///< client secret it accepts
  std::optional<std::string> certificate_pem;  ///< certificate whose assertions it accepts
  std::optional<std::string> federated_token;  ///< federated assertion it accepts, verbatim
};

struct fake_entra_options {
  /// Time for tokens and assertion checks. Null: keyless::clock::system().
  std::shared_ptr<const keyless::clock> clock;
  std::chrono::seconds expires_in{3599};
  std::optional<std::chrono::seconds> refresh_in;  ///< sent when set
  /// Known tenants; empty: any tenant id.
  std::vector<std::string> tenants;
  /// Server certificate source (null: test_pki::shared()); the fake serves leaf_kind::good.
  const test_pki* pki = nullptr;
  /// Real time every answer waits (latency).
  std::chrono::milliseconds latency{0};
};

/// The fake Entra ID token endpoint: POST /<tenant>/oauth2/v2.0/token and
/// POST /adfs/oauth2/token over HTTPS on 127.0.0.1. Clients trust ca_certificate_pem().
/// Errors are Entra's: HTTP 400/401 with {"error", "error_description" (starting with the
/// AADSTS code), "error_codes", "trace_id", "correlation_id", ...}:
///   unknown tenant AADSTS90002 (400), wrong grant type AADSTS70003 (400), unknown client or
///   not in that tenant AADSTS700016 (400), missing scope AADSTS900144 (400), scope without
///   /.default AADSTS1002012 (400), wrong secret AADSTS7000215 (401), bad certificate
///   assertion AADSTS700027 (401), unknown federated token AADSTS70021 (400), no credential
///   AADSTS7000218 (401).
/// Thread-safety: setters and counters may be used from any thread; the server runs on the
/// executor given (see loopback_server). Not movable.
class fake_entra {
 public:
  explicit fake_entra(asio::any_io_executor executor, fake_entra_options options = {});
  fake_entra(const fake_entra&) = delete;
  fake_entra& operator=(const fake_entra&) = delete;
  ~fake_entra();

  void add_app(fake_app app);
  /// "https://127.0.0.1:<port>": the authority host to configure.
  std::string authority() const;
  /// authority() + "/<tenant>/oauth2/v2.0/token" (the assertion audience).
  std::string token_endpoint(std::string_view tenant) const;
  /// The CA clients must trust (http::tls_options::ca_pem).
  const std::string& ca_certificate_pem() const;

  void set_expires_in(std::chrono::seconds seconds);
  void set_refresh_in(std::optional<std::chrono::seconds> seconds);
  /// Failure injection: the next `times` token requests get `r` instead.
  void enqueue(scripted_response r, std::size_t times = 1);

  /// Requests that reached the token handler (scripted ones included).
  std::size_t token_requests() const;
  std::size_t tokens_issued() const;
  /// Requests refused with an Entra error body.
  std::size_t refusals() const;
  /// The AADSTS code of the most recent refusal ("" when none).
  std::string last_error_code() const;
  /// Why the most recent certificate assertion failed verification ("" when it passed or
  /// none was seen), and how many passed.
  std::string last_assertion_problem() const;
  std::size_t assertions_verified() const;

  loopback_server& server() noexcept { return server_; }
  std::vector<recorded_request> requests() const { return server_.requests(); }
  recorded_request last_request() const { return server_.last_request(); }

  struct state;

 private:
  std::shared_ptr<state> state_;
  loopback_server server_;
};

}  // namespace keyless::testing
