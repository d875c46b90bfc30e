#include "fake_entra.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <memory>
#include <utility>

#include <fmt/chrono.h>
#include <fmt/core.h>
#include <simdjson.h>

#include "core/base64.hpp"
#include "epoch_seconds.hpp"
#include "identity/client_assertion.hpp"
#include "keyless/json/writer.hpp"

namespace keyless::testing {
namespace {

using std::chrono::system_clock;

bool iequal(std::string_view a, std::string_view b) {
  return keyless::testing::iequals(a, b);
}

// ---- JWT pieces ----

struct jwt_parts {
  std::string header_json;
  std::string payload_json;
  std::string signing_input;
  std::string signature;
};

std::optional<jwt_parts> split_jwt(std::string_view jwt) {
  auto first = jwt.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  auto second = jwt.find('.', first + 1);
  if (second == std::string_view::npos || jwt.find('.', second + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  auto header = keyless::detail::base64_decode(jwt.substr(0, first));
  auto payload = keyless::detail::base64_decode(jwt.substr(first + 1, second - first - 1));
  auto signature = keyless::detail::base64_decode(jwt.substr(second + 1));
  if (!header || !payload || !signature) return std::nullopt;
  return jwt_parts{*header, *payload, std::string(jwt.substr(0, second)), *signature};
}

// The string and integer members of a flat JSON object (nested values are skipped).
struct flat_json {
  std::vector<std::pair<std::string, std::string>> strings;
  std::vector<std::pair<std::string, std::int64_t>> numbers;

  std::optional<std::string> str(std::string_view key) const {
    for (const auto& [k, v] : strings) {
      if (k == key) return v;
    }
    return std::nullopt;
  }
  std::optional<std::int64_t> num(std::string_view key) const {
    for (const auto& [k, v] : numbers) {
      if (k == key) return v;
    }
    return std::nullopt;
  }
};

std::optional<flat_json> read_flat(const std::string& text) {
  try {
    simdjson::padded_string padded(text);
    simdjson::ondemand::parser parser;
    auto doc = parser.iterate(padded);
    simdjson::ondemand::object object = doc.get_object();
    flat_json out;
    for (auto field : object) {
      std::string key(field.unescaped_key().value());
      simdjson::ondemand::value value = field.value();
      switch (value.type().value()) {
        case simdjson::ondemand::json_type::string:
          out.strings.emplace_back(key, std::string(value.get_string().value()));
          break;
        case simdjson::ondemand::json_type::number:
          out.numbers.emplace_back(key, value.get_int64().value());
          break;
        default:
          break;  // skipped by the iteration
      }
    }
    return out;
  } catch (const simdjson::simdjson_error&) {
    return std::nullopt;
  }
}

struct x509_deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct pkey_deleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::unique_ptr<X509, x509_deleter> read_certificate(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return nullptr;
  return std::unique_ptr<X509, x509_deleter>(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::string digest(std::string_view bytes, const EVP_MD* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), out, &length, md, nullptr);
  return std::string(reinterpret_cast<const char*>(out), length);
}

bool verify_signature(EVP_PKEY* key, const jwt_parts& jwt, bool pss) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key) != 1) return false;
  if (pss) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1) return false;
    if (EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1) return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(jwt.signature.data()),
                          jwt.signature.size(),
                          reinterpret_cast<const unsigned char*>(jwt.signing_input.data()),
                          jwt.signing_input.size()) == 1;
}

std::string entra_error_body(std::string_view error, std::string_view code_digits,
                             std::string_view description, system_clock::time_point now) {
  const std::string trace = keyless::identity::detail::random_uuid();
  const std::string correlation = keyless::identity::detail::random_uuid();
  const auto timestamp =
      fmt::format("{:%Y-%m-%d %H:%M:%S}Z", std::chrono::floor<std::chrono::seconds>(now));
  keyless::json::writer w;
  w.begin_object()
      .member("error", error)
      .member("error_description",
              fmt::format("AADSTS{}: {}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
                          code_digits, description, trace, correlation, timestamp))
      .key("error_codes")
      .begin_array()
      .value(std::stoll(std::string(code_digits)))
      .end_array()
      .member("timestamp", timestamp)
      .member("trace_id", trace)
      .member("correlation_id", correlation)
      .member("error_uri",
              fmt::format("https://login.microsoftonline.com/error?code={}", code_digits))
      .end_object();
  return w.release();
}

server_options tls_server(const test_pki* pki) {
  server_options o;
  o.tls = true;
  o.pki = pki;
  return o;
}

}  // namespace

// ---- scripted responses ----

scripted_response scripted_response::json(int status, std::string body, header_map headers) {
  scripted_response r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

scripted_response scripted_response::text(int status, std::string body, header_map headers) {
  scripted_response r = json(status, std::move(body), std::move(headers));
  r.content_type = "text/plain";
  return r;
}

scripted_response scripted_response::garbage(std::string bytes) {
  scripted_response r;
  r.what = action::raw;
  r.body = std::move(bytes);
  return r;
}

scripted_response scripted_response::drop() {
  scripted_response r;
  r.what = action::drop;
  return r;
}

scripted_response scripted_response::stall() {
  scripted_response r;
  r.what = action::stall;
  return r;
}

void response_script::enqueue(scripted_response r, std::size_t times) {
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < times; ++i) queue_.push_back(r);
}

std::optional<scripted_response> response_script::next() {
  std::lock_guard lock(mutex_);
  if (queue_.empty()) return std::nullopt;
  auto r = std::move(queue_.front());
  queue_.pop_front();
  return r;
}

std::size_t response_script::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void response_script::clear() {
  std::lock_guard lock(mutex_);
  queue_.clear();
}

asio::awaitable<void> perform(const scripted_response& r, responder& out) {
  if (r.delay.count() > 0) co_await out.delay(r.delay);
  switch (r.what) {
    case scripted_response::action::respond:
      co_await out.respond(r.status, r.body, r.headers, r.content_type);
      break;
    case scripted_response::action::raw:
      co_await out.write_raw(r.body);
      out.close();
      break;
    case scripted_response::action::drop:
      out.close();
      break;
    case scripted_response::action::stall:
      co_await out.stall();
      break;
  }
}

// ---- tokens and assertions ----

std::string make_fake_access_token(const fake_token_claims& claims) {
  keyless::json::writer header;
  header.begin_object().member("alg", "none").member("typ", "JWT").end_object();
  keyless::json::writer payload;
  payload.begin_object()
      .member("aud", claims.audience)
      .member("iss", claims.issuer.empty()
                         ? fmt::format("https://sts.windows.net/{}/", claims.tenant_id)
                         : claims.issuer)
      .member("iat", epoch_seconds(claims.issued_at))
      .member("nbf", epoch_seconds(claims.issued_at))
      .member("exp", epoch_seconds(claims.expires_on))
      .member("appid", claims.app_id)
      .member("azp", claims.app_id)
      .member("oid", claims.object_id)
      .member("sub", claims.object_id)
      .member("tid", claims.tenant_id)
      .member("jti", keyless::identity::detail::random_uuid())
      .end_object();
  return keyless::detail::base64url_encode(header.release()) + "." +
         keyless::detail::base64url_encode(payload.release()) + ".";
}

std::string verify_client_assertion(std::string_view jwt, std::string_view certificate_pem,
                                    std::string_view client_id, std::string_view token_endpoint,
                                    system_clock::time_point now) {
  auto parts = split_jwt(jwt);
  if (!parts) return "the assertion is not a JWT (three base64url parts)";
  auto header = read_flat(parts->header_json);
  auto payload = read_flat(parts->payload_json);
  if (!header) return "the JWT header is not a JSON object";
  if (!payload) return "the JWT payload is not a JSON object";

  auto cert = read_certificate(certificate_pem);
  if (!cert) return "the registered certificate does not parse";
  const int der_length = i2d_X509(cert.get(), nullptr);
  std::string der(static_cast<std::size_t>(der_length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(cert.get(), &out);
  std::unique_ptr<EVP_PKEY, pkey_deleter> key(X509_get_pubkey(cert.get()));
  if (!key) return "the registered certificate has no public key";

  const auto alg = header->str("alg").value_or("");
  bool pss = false;
  if (alg == "PS256") {
    pss = true;
  } else if (alg != "RS256") {
    return fmt::format("unsupported alg '{}'", alg);
  }
  if (auto x5t256 = header->str("x5t#S256")) {
    if (*x5t256 != keyless::detail::base64url_encode(digest(der, EVP_sha256()))) {
      return "x5t#S256 is not the registered certificate's SHA-256 thumbprint";
    }
  } else if (auto x5t = header->str("x5t")) {
    if (*x5t != keyless::detail::base64url_encode(digest(der, EVP_sha1()))) {
      return "x5t is not the registered certificate's SHA-1 thumbprint";
    }
  } else {
    return "the header names no certificate thumbprint (x5t#S256 or x5t)";
  }
  if (!verify_signature(key.get(), *parts, pss)) {
    return "the signature does not verify with the registered certificate's public key";
  }
  if (payload->str("aud").value_or("") != token_endpoint) {
    return fmt::format("aud is '{}', expected the token endpoint '{}'",
                       payload->str("aud").value_or(""), token_endpoint);
  }
  if (payload->str("iss").value_or("") != client_id) return "iss is not the client id";
  if (payload->str("sub").value_or("") != client_id) return "sub is not the client id";
  if (payload->str("jti").value_or("").empty()) return "jti is missing";
  const auto now_s = epoch_seconds(now);
  auto exp = payload->num("exp");
  if (!exp) return "exp is missing";
  if (*exp <= now_s) return "the assertion has expired";
  if (*exp > now_s + 3600) return "the assertion lives longer than an hour";
  if (auto nbf = payload->num("nbf"); nbf && *nbf > now_s + 300) {
    return "the assertion is not valid yet (nbf)";
  }
  return {};
}

// ---- the fake ----

struct fake_entra::state {
  mutable std::mutex mutex;
  fake_entra_options options;
  std::shared_ptr<const keyless::clock> clock;
  std::vector<fake_app> apps;
  response_script script;
  std::string authority;
  std::size_t token_requests = 0;
  std::size_t tokens_issued = 0;
  std::size_t refusals = 0;
  std::string last_error_code;
  std::string last_assertion_problem;
  std::size_t assertions_verified = 0;

  // What to answer, decided under the lock; the I/O happens outside it.
  struct answer {
    int status = 200;
    std::string body;
  };
  answer decide(const recorded_request& request);
  answer refuse(int status, std::string_view error, std::string_view code, std::string description);
};

fake_entra::state::answer fake_entra::state::refuse(int status, std::string_view error,
                                                    std::string_view code,
                                                    std::string description) {
  ++refusals;
  last_error_code = fmt::format("AADSTS{}", code);
  return {status, entra_error_body(error, code, description, clock->now())};
}

fake_entra::state::answer fake_entra::state::decide(const recorded_request& request) {
  std::string_view path = request.path();
  std::string tenant;
  constexpr std::string_view v2_suffix = "/oauth2/v2.0/token";
  if (path == "/adfs/oauth2/token") {
    tenant = "adfs";
  } else if (path.size() > v2_suffix.size() + 1 &&
             path.substr(path.size() - v2_suffix.size()) == v2_suffix) {
    tenant = std::string(path.substr(1, path.size() - v2_suffix.size() - 1));
  } else {
    return {404, R"({"error":"not_found"})"};
  }
  if (request.method != "POST") {
    return refuse(405, "invalid_request", "900561", "The endpoint only accepts POST requests.");
  }
  if (!options.tenants.empty() && tenant != "adfs") {
    bool known = std::any_of(options.tenants.begin(), options.tenants.end(),
                             [&](const std::string& t) { return iequal(t, tenant); });
    if (!known) {
      return refuse(400, "invalid_request", "90002",
                    fmt::format("Tenant '{}' not found. Check to make sure you have the correct "
                                "tenant ID and are signing into the correct cloud.",
                                tenant));
    }
  }
  auto grant = request.form_param("grant_type");
  if (!grant) {
    return refuse(400, "invalid_request", "900144",
                  "The request body must contain the following parameter: 'grant_type'.");
  }
  if (*grant != "client_credentials") {
    return refuse(400, "unsupported_grant_type", "70003",
                  "The app requested an unsupported grant type.");
  }
  auto client_id = request.form_param("client_id").value_or("");
  const fake_app* app = nullptr;
  for (const auto& a : apps) {
    if (a.client_id == client_id) app = &a;
  }
  if (app == nullptr ||
      (!app->home_tenant.empty() && tenant != "adfs" && !iequal(app->home_tenant, tenant))) {
    return refuse(400, "unauthorized_client", "700016",
                  fmt::format("Application with identifier '{}' was not found in the directory "
                              "'{}'.",
                              client_id, tenant));
  }
  auto scope = request.form_param("scope");
  if (!scope || scope->empty()) {
    return refuse(400, "invalid_request", "900144",
                  "The request body must contain the following parameter: 'scope'.");
  }
  constexpr std::string_view dot_default = "/.default";
  std::string first_scope = scope->substr(0, scope->find(' '));
  const bool has_default =
      first_scope.size() > dot_default.size() &&
      first_scope.substr(first_scope.size() - dot_default.size()) == dot_default;
  if (!has_default && tenant != "adfs") {
    return refuse(400, "invalid_scope", "1002012",
                  fmt::format("The provided value for scope {} is not valid. Client credential "
                              "flows must have a scope value with /.default suffixed to the "
                              "resource identifier (application ID URI).",
                              first_scope));
  }

  if (auto secret = request.form_param("client_secret")) {
    if (!app->secret || *secret != *app->secret) {
      return refuse(401, "invalid_client", "7000215",
                    fmt::format("Invalid client secret provided. Ensure the secret being sent "
                                "in the request is the client secret value, not the client "
                                "secret ID, for a secret added to app '{}'.",
                                client_id));
    }
  } else if (auto assertion = request.form_param("client_assertion")) {
    if (request.form_param("client_assertion_type").value_or("") !=
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
      return refuse(400, "invalid_request", "700025",
                    "client_assertion_type must be "
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer.");
    }
    if (app->certificate_pem) {
      const std::string endpoint = authority + std::string(path);
      last_assertion_problem = verify_client_assertion(*assertion, *app->certificate_pem, client_id,
                                                       endpoint, clock->now());
      if (!last_assertion_problem.empty()) {
        return refuse(401, "invalid_client", "700027",
                      "Client assertion failed signature validation.");
      }
      ++assertions_verified;
    } else if (!app->federated_token || *assertion != *app->federated_token) {
      return refuse(400, "invalid_client", "70021",
                    "No matching federated identity record found for presented assertion.");
    }
  } else {
    return refuse(401, "invalid_client", "7000218",
                  "The request body must contain the following parameter: 'client_assertion' "
                  "or 'client_secret'.");
  }

  const auto now = clock->now();
  fake_token_claims claims;
  claims.tenant_id = tenant;
  claims.object_id = app->object_id;
  claims.audience =
      has_default ? first_scope.substr(0, first_scope.size() - dot_default.size()) : first_scope;
  claims.app_id = client_id;
  claims.issued_at = now;
  claims.expires_on = now + options.expires_in;
  keyless::json::writer w;
  w.begin_object()
      .member("token_type", "Bearer")
      .member("expires_in", options.expires_in.count())
      .member("ext_expires_in", options.expires_in.count());
  if (options.refresh_in) w.member("refresh_in", options.refresh_in->count());
  w.member("access_token", make_fake_access_token(claims)).end_object();
  ++tokens_issued;
  return {200, w.release()};
}

fake_entra::fake_entra(asio::any_io_executor executor, fake_entra_options options)
    : state_(std::make_shared<state>()), server_(executor, tls_server(options.pki)) {
  state_->clock = options.clock ? options.clock : keyless::clock::system();
  state_->options = std::move(options);
  state_->authority = server_.url("/");
  state_->authority.pop_back();  // no trailing '/'
  auto s = state_;
  server_.set_handler([s](recorded_request request, responder& out) -> asio::awaitable<void> {
    std::optional<scripted_response> scripted;
    std::chrono::milliseconds latency{0};
    {
      std::lock_guard lock(s->mutex);
      ++s->token_requests;
      latency = s->options.latency;
    }
    scripted = s->script.next();
    if (latency.count() > 0) co_await out.delay(latency);
    if (scripted) {
      co_await perform(*scripted, out);
      co_return;
    }
    state::answer answer;
    {
      std::lock_guard lock(s->mutex);
      answer = s->decide(request);
    }
    header_map headers;
    headers.add("x-ms-request-id", keyless::identity::detail::random_uuid());
    headers.add("Cache-Control", "no-store, no-cache");
    co_await out.respond_json(answer.status, std::move(answer.body), std::move(headers));
  });
}

fake_entra::~fake_entra() = default;

void fake_entra::add_app(fake_app app) {
  std::lock_guard lock(state_->mutex);
  state_->apps.push_back(std::move(app));
}

std::string fake_entra::authority() const {
  return state_->authority;
}

std::string fake_entra::token_endpoint(std::string_view tenant) const {
  if (iequal(tenant, "adfs")) return state_->authority + "/adfs/oauth2/token";
  return fmt::format("{}/{}/oauth2/v2.0/token", state_->authority, tenant);
}

const std::string& fake_entra::ca_certificate_pem() const {
  const test_pki& pki = state_->options.pki ? *state_->options.pki : test_pki::shared();
  return pki.ca_certificate_pem();
}

void fake_entra::set_expires_in(std::chrono::seconds seconds) {
  std::lock_guard lock(state_->mutex);
  state_->options.expires_in = seconds;
}

void fake_entra::set_refresh_in(std::optional<std::chrono::seconds> seconds) {
  std::lock_guard lock(state_->mutex);
  state_->options.refresh_in = seconds;
}

void fake_entra::enqueue(scripted_response r, std::size_t times) {
  state_->script.enqueue(std::move(r), times);
}

std::size_t fake_entra::token_requests() const {
  std::lock_guard lock(state_->mutex);
  return state_->token_requests;
}

std::size_t fake_entra::tokens_issued() const {
  std::lock_guard lock(state_->mutex);
  return state_->tokens_issued;
}

std::size_t fake_entra::refusals() const {
  std::lock_guard lock(state_->mutex);
  return state_->refusals;
}

std::string fake_entra::last_error_code() const {
  std::lock_guard lock(state_->mutex);
  return state_->last_error_code;
}

std::string fake_entra::last_assertion_problem() const {
  std::lock_guard lock(state_->mutex);
  return state_->last_assertion_problem;
}

std::size_t fake_entra::assertions_verified() const {
  std::lock_guard lock(state_->mutex);
  return state_->assertions_verified;
}

}  // namespace keyless::testing
