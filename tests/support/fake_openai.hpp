#pragma once
// A fake Azure OpenAI chat completions endpoint over HTTPS on loopback, for tests, benchmarks
// and the keyless-emulator. It serves both URL shapes, checks api-version and credentials the
// way Azure does (api-key, or a bearer token's audience, expiry and role), answers JSON or
// Azure-shaped Server-Sent Events, counts what it received, and can be told to reproduce the
// pitfalls of keyless auth and of flaky networks.

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

#include "fake_entra.hpp"
#include "keyless/core/clock.hpp"
#include "loopback_server.hpp"
#include "request_parser.hpp"
#include "test_pki.hpp"

namespace keyless::testing {

/// A pitfall the fake reproduces instead of its normal answer (see fake_openai::enqueue).
struct openai_fault {
  enum class kind {
    /// 401 with Azure's wrapper-less body: {"statusCode":401,"message":"Unauthorized. Access
    /// token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com),
    /// or have expired."}
    wrong_audience,
    /// `status` (403 by default; Azure also uses 401) {"error":{"code":"PermissionDenied",
    /// "message":"The principal `<object_id>` lacks the required data action ..."}}
    permission_denied,
    /// 429 with Azure's rate-limit body and `headers` (retry-after-ms, retry-after, ...).
    rate_limited,
    /// `status` (500 by default) {"error":{"code":"InternalServerError",...}} plus `headers`.
    server_error,
    /// 401 with `WWW-Authenticate: Bearer ..., error="insufficient_claims", claims="<b64>"`
    /// carrying `claims` (a CAE challenge).
    cae_challenge,
    /// The response head and part of the body, then the connection drops (for a stream:
    /// `after_events` events, then the drop, with no terminating chunk).
    reset_mid_response,
    /// Stream: `after_events` events, then half of a chunk (over HTTP/2: half an event in a
    /// DATA frame), then the connection drops.
    truncated_chunked_body,
    /// Stream: `after_events` events, then silence until the server stops.
    stall_mid_stream,
    /// Stream: every event but `data: [DONE]`, then the body ends cleanly.
    drop_before_done,
    /// Stream: `after_events` events, then `data: {"error":{...}}` with `code` / `message`.
    error_event,
    /// 200 with `content_type` (text/html by default) and an HTML body.
    wrong_content_type,
    /// `response` exactly as given.
    scripted,
  };

  kind what = kind::server_error;
  int status = 0;      ///< 0: the kind's usual status
  header_map headers;  ///< added to the answer
  std::size_t after_events = 2;
  std::string content_type = "text/html";
  std::string object_id = "00000000-0000-0000-0000-00000000a11c";  ///< permission_denied
  std::string code = "server_error";                               ///< error_event
  std::string message = "The server had an error while processing your request.";
  std::string claims = R"({"access_token":{"nbf":{"essential":true,"value":"1700000000"}}})";
  scripted_response response;  ///< kind::scripted

  static openai_fault of(kind k) {
    openai_fault f;
    f.what = k;
    return f;
  }
  /// 429 with retry-after-ms: `ms`.
  static openai_fault rate_limited_ms(std::string ms);
  /// 429 with retry-after: `seconds` (a number or an HTTP-date).
  static openai_fault rate_limited_after(std::string seconds);
  static openai_fault status_code(kind k, int status) {
    openai_fault f = of(k);
    f.status = status;
    return f;
  }
};

struct fake_openai_options {
  /// Server certificate source (null: test_pki::shared()); the fake serves leaf_kind::good.
  const test_pki* pki = nullptr;
  /// Deployments that exist; others get 404 DeploymentNotFound.
  std::vector<std::string> deployments{"gpt-4o-mini"};
  /// api-version values accepted on the dated surface; empty: any YYYY-MM-DD[-preview].
  std::vector<std::string> api_versions{};
  /// The resource key accepted in `api-key`; nullopt: every key is refused.
  std::optional<std::string> api_key{};
  /// Whether `Authorization: Bearer` tokens are accepted at all (a resource with local auth
  /// only would refuse them).
  bool accept_bearer = true;
  /// Accepted `aud` claims of bearer tokens (JWT-shaped, as the fake Entra and the fake
  /// managed identity endpoints issue; the signature is not checked); empty: any audience.
  std::vector<std::string> audiences{"https://cognitiveservices.azure.com", "https://ai.azure.com"};
  /// Object ids (`oid`) holding "Cognitive Services OpenAI User"; nullopt: every principal.
  std::optional<std::vector<std::string>> authorized_object_ids{};
  /// Time for token expiry checks and `created`. Null: keyless::clock::system().
  std::shared_ptr<const keyless::clock> clock{};
  /// The assistant's reply; streams send it in word-sized deltas.
  std::string reply = "Hello! How can I help you today?";
  std::string model = "gpt-4o-mini-2024-07-18";
  /// Real time every answer waits first (latency).
  std::chrono::milliseconds latency{0};
  /// Real time between stream events.
  std::chrono::milliseconds event_interval{0};
  /// Keep every request and credential seen (server().requests(), authorization_headers(),
  /// api_keys()); benchmarks and the emulator turn it off so memory stays flat and the
  /// server's work per request does not grow with the size of the credential.
  bool record_credentials = true;
};

/// The fake Azure OpenAI: POST /openai/deployments/{deployment}/chat/completions?api-version=…
/// and POST /openai/v1/chat/completions (deployment in `model`), over HTTPS on 127.0.0.1, in
/// HTTP/1.1 or HTTP/2 (ALPN).
/// Clients trust ca_certificate_pem(). Answers JSON, or SSE when the body says "stream": true
/// (Azure's first chunk with empty choices and prompt_filter_results, a role chunk, one chunk
/// per word, a finish chunk, a usage chunk when stream_options.include_usage, `data: [DONE]`).
/// Azure's errors: missing api-version 404, unknown api-version 400, no or bad credentials
/// 401 (api-key: the "invalid subscription key" body; bearer: the wrapper-less audience body),
/// a principal without the role 403 PermissionDenied, unknown deployment 404
/// DeploymentNotFound, a body that is not a chat request 400.
/// Thread-safety: setters and counters may be used from any thread; the server runs on the
/// executor given (see loopback_server). Not movable.
class fake_openai {
 public:
  explicit fake_openai(asio::any_io_executor executor, fake_openai_options options = {});
  fake_openai(const fake_openai&) = delete;
  fake_openai& operator=(const fake_openai&) = delete;
  ~fake_openai();

  /// "https://127.0.0.1:<port>": the endpoint to configure.
  std::string endpoint() const;
  /// The CA clients must trust (http::tls_options::ca_pem).
  const std::string& ca_certificate_pem() const;

  /// The next `times` chat requests get `fault` instead of the normal answer (after the
  /// faults already queued). Requests that fail the URL checks are answered normally first.
  void enqueue(openai_fault fault, std::size_t times = 1);
  std::size_t pending_faults() const;
  /// Bearer tokens equal to `token` are answered with the wrong-audience 401 from now on (a
  /// revoked token).
  void revoke_token(std::string token);
  void set_reply(std::string reply);
  void set_api_key(std::optional<std::string> key);
  void set_authorized_object_ids(std::optional<std::vector<std::string>> ids);

  /// Chat requests that reached the handler (faulted and refused ones included).
  std::size_t requests() const;
  std::size_t completions_served() const;
  std::size_t streams_served() const;
  /// Requests answered with a 4xx/5xx (faults included).
  std::size_t refusals() const;
  /// Every Authorization header value seen ("Bearer ..."), in order. They are credentials:
  /// tests compare them but must never print them.
  std::vector<std::string> authorization_headers() const;
  /// Every api-key header value seen, in order (never print them either).
  std::vector<std::string> api_keys() const;

  loopback_server& server() noexcept { return server_; }
  std::vector<recorded_request> recorded() const { return server_.requests(); }
  recorded_request last_request() const { return server_.last_request(); }

  struct state;

 private:
  std::shared_ptr<state> state_;
  loopback_server server_;
};

}  // namespace keyless::testing
