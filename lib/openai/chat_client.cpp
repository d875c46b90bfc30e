#include "keyless/openai/chat_client.hpp"

#include <cstdlib>
#include <ostream>
#include <random>
#include <type_traits>
#include <utility>
#include <variant>

#include <fmt/core.h>

#include "core/logging.hpp"
#include "keyless/core/error.hpp"
#include "keyless/http/fields.hpp"
#include "keyless/http/url.hpp"
#include "keyless/identity/token_cache.hpp"
#include "keyless/identity/token_claims.hpp"
#include "openai/chat_client_impl.hpp"
#include "openai/claims_challenge.hpp"
#include "openai/openai_error.hpp"
#include "openai/scope_for_endpoint.hpp"

namespace keyless::openai {

std::ostream& operator<<(std::ostream& os, const api_key&) {
  return os << "api_key(<redacted>)";
}

namespace {

using std::chrono::milliseconds;

// The correlation header repeated on every attempt of one call. Azure services
// log x-ms-client-request-id next to their own request id, so one value finds
// every retry of a call in the service's logs and in a support ticket. Azure
// OpenAI has no idempotent-replay header; a retried POST may run twice, which
// for chat completions costs tokens but changes no state.
constexpr std::string_view client_request_id_header = "x-ms-client-request-id";

// Per-thread engines: no lock and no shared cache line between threads, and
// neither value needs to be unpredictable (jitter and a correlation id).
std::mt19937_64& thread_engine() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return engine;
}

double default_random() {
  return std::uniform_real_distribution<double>(0.0, 1.0)(thread_engine());
}

std::string new_client_request_id() {
  auto& engine = thread_engine();
  std::uint64_t hi = engine();
  std::uint64_t lo = engine();
  hi = (hi & ~0xF000ULL) | 0x4000ULL;              // version 4
  lo = (lo & ~(0xC0ULL << 56)) | (0x80ULL << 56);  // RFC 4122 variant
  // 8-4-4-4-12 lowercase hex digits; by hand, as it is made for every request.
  std::string id(36, '-');
  constexpr std::string_view digits = "0123456789abcdef";
  std::size_t at = 0;
  auto put = [&](std::uint64_t bits, int count) {
    for (int shift = 4 * (count - 1); shift >= 0; shift -= 4)
      id[at++] = digits[(bits >> shift) & 0xF];
    ++at;  // over the '-'
  };
  put(hi >> 32, 8);
  put(hi >> 16, 4);
  put(hi, 4);
  put(lo >> 48, 4);
  put(lo, 12);
  return id;
}

std::optional<std::string> variable(const chat_client_options& o, std::string_view name) {
  if (o.environment) {
    if (auto v = identity::find_variable(*o.environment, name)) return std::string(*v);
    return std::nullopt;
  }
  const char* v = std::getenv(std::string(name).c_str());
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

bool is_loopback_host(std::string_view host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

bool has_control_character(std::string_view text) {
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return true;
  }
  return false;
}

[[noreturn]] void invalid(std::string message) {
  throw error(errc::invalid_argument, message);
}

// Parses and checks the endpoint; returns it without a trailing '/'.
http::url parse_endpoint(std::string_view text) {
  http::url u;
  try {
    u = http::url::parse(text);
  } catch (const error& e) {
    invalid(fmt::format("chat_client endpoint: {}", e.message()));
  }
  if (!u.is_https() && !is_loopback_host(u.host)) {
    invalid(fmt::format(
        "chat_client endpoint {}://{} must use https: an API key or token would cross the "
        "network in clear text",
        u.scheme, u.host_header()));
  }
  if (!u.query().empty()) {
    invalid("chat_client endpoint must not have a query; the client adds api-version itself");
  }
  std::string path(u.path());
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.ends_with("/openai") || path.find("/openai/") != std::string::npos) {
    invalid(fmt::format(
        "chat_client endpoint should be the resource URL (e.g. https://{}/), not a path under "
        "/openai: the client adds /openai/... itself",
        u.host_header()));
  }
  u.target = path.empty() ? "/" : path;
  return u;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += ' ';
    out += p;
  }
  return out;
}

bool is_success(int status) {
  return status >= 200 && status < 300;
}

// Failures of the exchange itself, retried like the openai SDKs retry their transport
// errors: a refused or reset connection, a response the peer cut short (both
// connection_failed) and a timeout. A response that is not HTTP (malformed_response) is
// not: whatever sent it would send it again. For a stream this covers only the exchange up
// to the response head; once its body has started a stream is never sent again.
bool is_connection_error(const std::error_code& code) {
  return code == make_error_code(errc::connection_failed) || code == make_error_code(errc::timeout);
}

bool is_retryable_status(int status) {
  return status == 408 || status == 409 || status == 429 || status >= 500;
}

error_context context_of(const chat_client::impl& c) {
  error_context ctx;
  ctx.endpoint = c.endpoint;
  ctx.scope = c.scope;
  ctx.api_key = c.key.has_value();
  ctx.deployment = c.deployment;
  ctx.now = c.clock->now();
  return ctx;
}

error with_message(const error& e, std::string message) {
  return error(e.code(), message, e.details());
}

std::string audience_of_scope(std::string_view scope) {
  constexpr std::string_view suffix = "/.default";
  if (scope.ends_with(suffix)) scope.remove_suffix(suffix.size());
  while (scope.ends_with('/')) scope.remove_suffix(1);
  return std::string(scope);
}

// Whether a token for audience `aud` could be accepted at the endpoint. Known Azure AI hosts
// decide it by scope_fits_host; for other hosts (custom domains, gateways, emulators) the
// public-cloud audiences of Azure OpenAI are what is expected.
bool audience_fits(std::string_view aud, const chat_client::impl& c) {
  const auto expected = scope_for_endpoint(c.endpoint);
  if (!expected.guessed) return scope_fits_host(aud, c.endpoint);
  const auto a = audience_of_scope(aud);
  return http::iequals(a, audience_of_scope(expected.scope)) ||
         http::iequals(a, "https://ai.azure.com");
}

// A 401 for a bearer token whose `aud` claim (readable when the token is a JWT) does not fit
// the endpoint: the hint names both sides, which says more than the service's message.
error with_audience_hint(const chat_client::impl& c, const error& e,
                         const identity::access_token& token) {
  auto claims = identity::read_token_claims(token.token());
  if (!claims || claims->audience.empty() || audience_fits(claims->audience, c)) return e;
  const auto expected = scope_for_endpoint(c.endpoint).scope;
  diagnostics d = e.details();
  const std::string old_hint = d.hint;
  d.hint = fmt::format(
      "the token's audience is {} (requested with scope {}), but {} expects tokens for {}; "
      "request them for that scope",
      printable_excerpt(claims->audience, 200), c.scope, c.host, expected);
  std::string message = e.message();
  if (!old_hint.empty()) {
    if (auto at = message.find(" Hint: " + old_hint); at != std::string::npos) {
      message.resize(at);
    }
  }
  message += fmt::format(" Hint: {}.", d.hint);
  return error(e.code(), message, std::move(d));
}

// What an attempt sends besides the body and the credential.
http::request make_request(const chat_client::impl& c, std::string body, bool stream,
                           const std::string& client_request_id) {
  http::request r;
  r.method = "POST";
  r.target = c.target;
  r.headers.reserve(6);  // these three, the credential, User-Agent: no growing on the way
  r.headers.add("Content-Type", "application/json");
  r.headers.add("Accept", stream ? "text/event-stream" : "application/json");
  r.headers.add(std::string(client_request_id_header), client_request_id);
  r.body = std::move(body);
  r.options.request_timeout = c.request_timeout;
  if (stream) r.options.idle_timeout = c.stream_idle_timeout;
  return r;
}

struct call_state {
  std::string client_request_id = new_client_request_id();
  clock::time_point started;
  int retries = 0;
  int permission_retries = 0;
  bool auth_retried = false;
  std::optional<std::string> claims;  // a CAE challenge to answer on the next attempt
};

// Adds the credential to `r`; returns the token used (empty with an API key).
asio::awaitable<identity::access_token> authorize(chat_client::impl& c, http::request& r,
                                                  call_state& st, milliseconds min_valid_for) {
  if (c.key) {
    r.credential = c.key_field;
    co_return identity::access_token{};
  }
  const auto& tokens = *c.tokens;
  identity::access_token token;
  if (st.claims) {
    std::string claims = std::move(*st.claims);
    st.claims.reset();
    token = co_await tokens.get_with_claims(std::move(claims), asio::use_awaitable);
  } else if (min_valid_for.count() > 0) {
    token = co_await tokens.get(min_valid_for);
  } else if (auto hit = tokens.try_get()) {
    // The hot path: no suspension, no allocation, no copy of the token.
    token = std::move(*hit);
  } else {
    c.token_waits.fetch_add(1, std::memory_order_relaxed);
    token = co_await tokens();
  }
  if (token.empty()) {
    throw error(errc::authentication_failed,
                "the bearer token provider returned an empty token for Azure OpenAI");
  }
  r.credential = identity::authorization_field(token);
  co_return token;
}

int status_of(const http::response& r) {
  return r.status;
}
int status_of(const http::response_stream& r) {
  return r.status();
}
const http::fields& headers_of(const http::response& r) {
  return r.headers;
}
const http::fields& headers_of(const http::response_stream& r) {
  return r.headers();
}

template <bool Stream>
using exchange_result = std::conditional_t<Stream, http::response_stream, http::response>;

// The attempt loop shared by complete() and stream(): credentials per attempt,
// 401 → one retry with a fresh token, PermissionDenied grace, retry policy with
// delays on the injected clock. Returns a 2xx response (for a stream: its head,
// body unread). `request` lives in the caller's frame, which awaits this.
template <bool Stream>
asio::awaitable<exchange_result<Stream>> exchange(std::shared_ptr<chat_client::impl> c,
                                                  const chat_request& request) {
  request_body_options body_options;
  body_options.model = c->model;
  body_options.stream = Stream;
  std::string body = write_chat_request(request, body_options);

  call_state st;
  st.started = c->clock->now();
  const milliseconds min_valid_for = Stream ? c->expected_stream_duration : milliseconds(0);
  const std::function<double()>& random = c->random;

  for (;;) {
    http::request r = make_request(*c, std::move(body), Stream, st.client_request_id);
    identity::access_token token = co_await authorize(*c, r, st, min_valid_for);
    c->attempts.fetch_add(1, std::memory_order_relaxed);

    exchange_result<Stream> response;
    std::optional<error> failure;
    try {
      if constexpr (Stream) {
        response = co_await c->http->send_streaming(std::move(r));
      } else {
        response = co_await c->http->send(std::move(r));
      }
    } catch (const error& e) {
      if (!is_connection_error(e.code())) {
        throw with_message(e, fmt::format("Azure OpenAI request failed: {}", e.message()));
      }
      failure.emplace(e);
    }

    retry_decision decision;
    if (failure) {
      decision = decide_retry(attempt_outcome{}, st.retries, c->retry, c->clock->now(), random);
      if (!decision.retry) {
        throw with_message(*failure,
                           fmt::format("Azure OpenAI request failed: {} (not retried: {})",
                                       failure->message(), decision.reason));
      }
      keyless::detail::log(log_level::info,
                           "Azure OpenAI request to {} failed ({}); retry {} in {} ms", c->host,
                           failure->message(), st.retries + 1, decision.delay.count());
    } else {
      const int status = status_of(response);
      if (is_success(status)) co_return std::move(response);

      std::string error_body;
      if constexpr (Stream) {
        try {
          error_body = co_await response.read_all();
        } catch (const error&) {
          // The status and headers still say what went wrong.
        }
      } else {
        error_body = std::move(response.body);
      }
      const http::fields& headers = headers_of(response);

      if (status == 401 && c->tokens && !st.auth_retried) {
        // The token may have been revoked or have expired early: drop it and
        // try once more with a fresh one. Concurrent 401s for the same token
        // invalidate it once, so they share one refresh.
        st.auth_retried = true;
        st.claims = insufficient_claims(headers);
        if (!st.claims) c->tokens->invalidate(token);
        c->auth_retries.fetch_add(1, std::memory_order_relaxed);
        keyless::detail::log(log_level::info,
                             "Azure OpenAI at {} refused the bearer token (HTTP 401{}); retrying "
                             "once with a fresh token",
                             c->host, st.claims ? ", claims challenge" : "");
        body = write_chat_request(request, body_options);
        continue;
      }

      error service = service_error(status, error_body, headers, context_of(*c));
      if (status == 401 && c->tokens) service = with_audience_hint(*c, service, token);
      if ((status == 401 || status == 403) &&
          service.details().service_code == "PermissionDenied" && c->permission_grace.count() > 0 &&
          c->clock->now() - st.started < c->permission_grace) {
        decision.retry = true;
        decision.delay = backoff_delay(st.permission_retries, c->retry, random ? random() : 0.0);
        decision.reason = "PermissionDenied within permission_grace (role assignment propagating?)";
        ++st.permission_retries;
        keyless::detail::log(log_level::info,
                             "Azure OpenAI at {}: PermissionDenied; waiting {} ms for the role "
                             "assignment to apply",
                             c->host, decision.delay.count());
        co_await c->clock->sleep_for(decision.delay);
        body = write_chat_request(request, body_options);
        continue;
      }

      attempt_outcome outcome;
      outcome.status = status;
      outcome.headers = &headers;
      decision = decide_retry(outcome, st.retries, c->retry, c->clock->now(), random);
      if (!decision.retry) {
        if (is_retryable_status(status) || st.retries > 0) {
          throw with_message(
              service, fmt::format("{} (not retried: {})", service.message(), decision.reason));
        }
        throw service;
      }
      keyless::detail::log(log_level::info, "Azure OpenAI at {}: HTTP {}; retry {} in {} ms",
                           c->host, status, st.retries + 1, decision.delay.count());
    }

    ++st.retries;
    c->retries.fetch_add(1, std::memory_order_relaxed);
    co_await c->clock->sleep_for(decision.delay);
    body = write_chat_request(request, body_options);
  }
}

std::string content_type_of(const http::fields& headers) {
  auto v = headers.find("content-type");
  return v ? printable_excerpt(*v, 100) : std::string();
}

bool has_media_type(const http::fields& headers, std::string_view type) {
  auto v = headers.find("content-type");
  if (!v) return false;
  std::string_view t = *v;
  return t.size() >= type.size() && http::iequals(t.substr(0, type.size()), type);
}

asio::awaitable<chat_completion> run_complete(std::shared_ptr<chat_client::impl> c,
                                              chat_request request) {
  c->calls.fetch_add(1, std::memory_order_relaxed);
  http::response response = co_await exchange<false>(c, request);
  const std::string request_id = request_id_of(response.headers);
  if (response.headers.contains("content-type") &&
      response.headers.find("content-type")->find("json") == std::string_view::npos) {
    diagnostics d;
    d.http_status = response.status;
    d.request_id = request_id;
    d.hint =
        "the endpoint answered with something other than Azure OpenAI (a proxy or a web "
        "page?); check the endpoint URL";
    throw error(errc::malformed_response,
                fmt::format("Azure OpenAI at {} answered HTTP {} with Content-Type '{}' instead "
                            "of application/json: {}",
                            c->host, response.status, content_type_of(response.headers),
                            printable_excerpt(response.body, 200)),
                std::move(d));
  }
  try {
    co_return parse_chat_completion(response.body);
  } catch (const error& e) {
    diagnostics d = e.details();
    d.http_status = response.status;
    if (d.request_id.empty()) d.request_id = request_id;
    throw error(e.code(), fmt::format("Azure OpenAI at {}: {}", c->host, e.message()),
                std::move(d));
  }
}

asio::awaitable<chat_stream> run_stream(std::shared_ptr<chat_client::impl> c,
                                        chat_request request) {
  c->calls.fetch_add(1, std::memory_order_relaxed);
  http::response_stream response = co_await exchange<true>(c, request);
  if (!has_media_type(response.headers(), "text/event-stream")) {
    diagnostics d;
    d.http_status = response.status();
    d.request_id = request_id_of(response.headers());
    d.hint =
        "something between the client and Azure OpenAI (a proxy or gateway) does not pass "
        "event streams through, or the endpoint is not Azure OpenAI";
    auto type = content_type_of(response.headers());
    response.close();
    throw error(errc::malformed_response,
                fmt::format("Azure OpenAI at {} answered the streaming request (HTTP {}) with "
                            "Content-Type '{}' instead of text/event-stream",
                            c->host, d.http_status.value_or(0), type.empty() ? "none" : type),
                std::move(d));
  }
  auto state = std::make_unique<detail::chat_stream_state>();
  state->request_id = request_id_of(response.headers());
  state->body = std::move(response);
  state->host = c->host;
  state->idle_timeout = c->stream_idle_timeout;
  co_return detail::chat_stream_state::make(std::move(state));
}

}  // namespace

chat_client::chat_client(asio::any_io_executor executor, chat_client_options options) {
  auto c = std::make_shared<impl>();
  c->executor = std::move(executor);
  c->clock = options.clock ? options.clock : keyless::clock::system();
  c->random = options.random ? std::move(options.random) : std::function<double()>(default_random);

  if (options.max_retries < 0) invalid("chat_client max_retries must be >= 0");
  for (auto d : {options.max_server_delay, options.retry_initial_delay, options.retry_max_delay,
                 options.permission_grace, options.expected_stream_duration}) {
    if (d.count() < 0) invalid("chat_client durations must be >= 0");
  }
  if (options.request_timeout.count() <= 0 || options.stream_idle_timeout.count() <= 0) {
    invalid("chat_client request_timeout and stream_idle_timeout must be > 0");
  }
  c->retry.max_retries = options.max_retries;
  c->retry.max_server_delay = options.max_server_delay;
  c->retry.initial_delay = options.retry_initial_delay;
  c->retry.max_delay = options.retry_max_delay;
  c->permission_grace = options.permission_grace;
  c->request_timeout = options.request_timeout;
  c->stream_idle_timeout = options.stream_idle_timeout;
  c->expected_stream_duration = options.expected_stream_duration;
  c->surface = options.surface;

  // Endpoint and URL.
  std::string endpoint_text = options.endpoint;
  if (endpoint_text.empty())
    endpoint_text = variable(options, "AZURE_OPENAI_ENDPOINT").value_or("");
  if (endpoint_text.empty()) {
    invalid(
        "chat_client needs an endpoint: set chat_client_options::endpoint or "
        "AZURE_OPENAI_ENDPOINT (e.g. https://my-resource.openai.azure.com)");
  }
  http::url base = parse_endpoint(endpoint_text);
  const std::string prefix = base.target == "/" ? std::string() : base.target;
  c->host = base.host_header();
  c->endpoint = fmt::format("{}://{}{}", base.scheme, c->host, prefix);

  if (options.deployment.empty()) {
    invalid(
        "chat_client needs a deployment: the name given to the model deployment in the "
        "Azure AI Foundry portal (not the model's name)");
  }
  if (has_control_character(options.deployment)) {
    invalid("chat_client deployment contains control characters");
  }
  c->deployment = options.deployment;
  if (c->surface == api_surface::deployments) {
    c->api_version = options.api_version;
    if (c->api_version.empty())
      c->api_version = variable(options, "OPENAI_API_VERSION").value_or("");
    if (c->api_version.empty()) c->api_version = default_api_version;
    if (has_control_character(c->api_version)) {
      invalid("chat_client api_version contains control characters");
    }
    c->url_text =
        fmt::format("{}/openai/deployments/{}/chat/completions?api-version={}", c->endpoint,
                    http::percent_encode(c->deployment), http::percent_encode(c->api_version));
  } else {
    c->model = c->deployment;
    c->url_text = fmt::format("{}/openai/v1/chat/completions", c->endpoint);
  }
  c->target = http::url::parse(c->url_text);

  // Credentials.
  std::visit(
      [&](auto& auth) {
        using T = std::decay_t<decltype(auth)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          if (auto key = variable(options, "AZURE_OPENAI_API_KEY")) {
            c->key = std::move(*key);
          } else {
            invalid(
                "chat_client needs credentials: set .auth to a keyless::bearer_token_provider "
                "(Entra ID), a token credential, or keyless::api_key{...}; or set "
                "AZURE_OPENAI_API_KEY");
          }
        } else if constexpr (std::is_same_v<T, api_key>) {
          if (auth.value.empty()) invalid("chat_client api_key is empty");
          c->key = std::move(auth.value);
        } else if constexpr (std::is_same_v<T, identity::bearer_token_provider>) {
          c->tokens.emplace(std::move(auth));
          c->scope = join(c->tokens->request().scopes);
        } else {
          if (!auth) invalid("chat_client auth: the token credential is a null pointer");
          auto derived = scope_for_endpoint(c->endpoint);
          if (derived.guessed) {
            keyless::detail::log(log_level::info,
                                 "Azure OpenAI endpoint host {} is not a known Azure AI host; "
                                 "requesting tokens for {}",
                                 c->host, derived.scope);
          }
          c->scope = derived.scope;
          // The cache reads the client's clock, so expiry and retry delays agree.
          identity::token_cache_options cache;
          cache.clock = c->clock;
          auto cached = std::make_shared<identity::token_cache>(std::move(auth), std::move(cache));
          c->tokens.emplace(std::move(cached), c->scope);
        }
      },
      options.auth);
  if (c->key && has_control_character(*c->key)) {
    invalid("chat_client api_key contains control characters (a pasted line break?)");
  }
  if (c->key) {
    auto owned = std::make_shared<const std::string>(*c->key);
    c->key_field = http::shared_field("api-key", *owned, owned);
    try {
      c->key_field = http::checked_field(c->key_field);  // once, not on every request
    } catch (const keyless::error&) {
      // Sent unchecked: the request fails naming the field.
    }
  }
  if (c->tokens && c->tokens->request().scopes.size() == 1 &&
      !scope_fits_host(c->scope, c->endpoint)) {
    keyless::detail::log(
        log_level::warning,
        "tokens for scope {} will likely be refused by {}; Azure OpenAI expects {}", c->scope,
        c->host, scope_for_endpoint(c->endpoint).scope);
  }

  if (options.http_client) {
    c->http = std::move(options.http_client);
  } else {
    c->http = std::make_shared<http::client>(c->executor, std::move(options.http));
  }
  impl_ = std::move(c);
}

asio::any_io_executor chat_client::get_executor() const noexcept {
  return impl_->executor;
}

asio::awaitable<chat_completion> chat_client::complete(chat_request request) const {
  return run_complete(impl_, std::move(request));
}

asio::awaitable<chat_stream> chat_client::stream(chat_request request) const {
  return run_stream(impl_, std::move(request));
}

const std::string& chat_client::url() const noexcept {
  return impl_->url_text;
}

const std::string& chat_client::scope() const noexcept {
  return impl_->scope;
}

const std::string& chat_client::api_version() const noexcept {
  return impl_->api_version;
}

chat_client_stats chat_client::stats() const noexcept {
  chat_client_stats s;
  s.calls = impl_->calls.load(std::memory_order_relaxed);
  s.attempts = impl_->attempts.load(std::memory_order_relaxed);
  s.retries = impl_->retries.load(std::memory_order_relaxed);
  s.auth_retries = impl_->auth_retries.load(std::memory_order_relaxed);
  s.token_waits = impl_->token_waits.load(std::memory_order_relaxed);
  return s;
}

}  // namespace keyless::openai
