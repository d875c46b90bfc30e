#include "identity/entra_token_request.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include <fmt/core.h>
#include <simdjson.h>

#include "core/logging.hpp"
#include "core/text.hpp"
#include "identity/expiry_parse.hpp"
#include "identity/token_response.hpp"
#include "json/reader.hpp"
#include "keyless/http/request.hpp"
#include "keyless/http/url.hpp"
#include "keyless/json/writer.hpp"

namespace keyless::identity::detail {
namespace {

// Characters of a service's error description echoed in a message: enough for the AADSTS
// sentence, short enough that a pasted body cannot flood a log.
constexpr std::size_t max_description = 400;

// The most likely fix for the Entra ID errors users actually meet, keyed by AADSTS code.
std::string hint_for(std::string_view code, const entra_settings& s, std::string_view tenant) {
  if (code == "AADSTS7000215") {
    return "the client secret is wrong or expired: use the secret's Value (not its Secret ID) "
           "from the app registration's \"Certificates & secrets\", or create a new secret";
  }
  if (code == "AADSTS7000222") {
    return "the client secret has expired: create a new one in the app registration";
  }
  if (code == "AADSTS700016") {
    return fmt::format(
        "application '{}' was not found in tenant '{}': check the client id "
        "(AZURE_CLIENT_ID) and tenant (AZURE_TENANT_ID), and that the app is registered or "
        "has been consented to in that tenant",
        s.client_id, tenant);
  }
  if (code == "AADSTS90002") {
    return fmt::format(
        "tenant '{}' was not found: check the tenant id (AZURE_TENANT_ID) and that the "
        "authority host ({}) is the tenant's cloud",
        tenant, s.authority);
  }
  if (code == "AADSTS900023") {
    return "the tenant id is not valid: use the directory (tenant) GUID or a verified domain";
  }
  if (code == "AADSTS700027" || code == "AADSTS700023") {
    return "the client assertion did not verify: the certificate is not (or no longer) "
           "uploaded to the app registration, or the private key does not belong to it";
  }
  if (code == "AADSTS700024") {
    return "the client assertion is outside its valid time range: check this machine's clock";
  }
  if (code == "AADSTS70021" || code == "AADSTS700213" || code == "AADSTS700211") {
    return "no federated identity credential of the app matches the presented token: check "
           "the federated credential's issuer, subject (e.g. "
           "system:serviceaccount:<namespace>:<name>) and audience";
  }
  if (code == "AADSTS700222" || code == "AADSTS700223") {
    return "the federated token has expired or is not yet valid: check that the token file "
           "is being rotated";
  }
  if (code == "AADSTS500011") {
    return "the resource of the scope was not found in the tenant: check the scope (e.g. "
           "https://cognitiveservices.azure.com/.default)";
  }
  if (code == "AADSTS70011" || code == "AADSTS1002012") {
    return "the scope is invalid: the client credentials grant needs '<resource>/.default'";
  }
  if (code == "AADSTS7000112") return "the application is disabled in this tenant";
  if (code == "AADSTS53003") return "access was blocked by a Conditional Access policy";
  return {};
}

std::string hint_for_error(std::string_view error) {
  if (error == "invalid_client") return "check the client id and its secret or certificate";
  if (error == "unauthorized_client") return "check the client id and the tenant";
  if (error == "invalid_scope") return "check the scope: it must be '<resource>/.default'";
  return {};
}

bool is_object_json(std::string_view text) {
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || text[first] != '{') return false;
  try {
    json::writer w;
    w.raw(text);  // validates: exactly one well-formed JSON value
    return true;
  } catch (const keyless::error&) {
    return false;
  }
}

std::string raw_of(simdjson::ondemand::value value) {
  switch (value.type().value()) {
    case simdjson::ondemand::json_type::object: {
      simdjson::ondemand::object object = value.get_object();
      return std::string(object.raw_json().value());
    }
    case simdjson::ondemand::json_type::array: {
      simdjson::ondemand::array array = value.get_array();
      return std::string(array.raw_json().value());
    }
    default: {
      std::string_view token = value.raw_json_token();
      while (!token.empty() && (token.back() == ' ' || token.back() == '\n' ||
                                token.back() == '\r' || token.back() == '\t')) {
        token.remove_suffix(1);
      }
      return std::string(token);
    }
  }
}

constexpr std::string_view cp1 = R"({"values":["CP1"]})";

// Adds access_token.xms_cc = {"values":["CP1"]} to a claims object unless it names
// client capabilities itself.
std::string merge_cp1(const std::string& claims) {
  std::string copy = claims;
  simdjson::ondemand::parser parser;
  auto doc = json::parse(parser, json::padded(copy), "claims");
  auto root = json::root_object(doc, "claims");
  json::writer w;
  w.begin_object();
  bool saw_access_token = false;
  for (auto field : root) {
    std::string key(field.unescaped_key().value());
    simdjson::ondemand::value value = field.value();
    w.key(key);
    if (key == "access_token" && value.type().value() == simdjson::ondemand::json_type::object) {
      saw_access_token = true;
      w.begin_object();
      bool saw_cc = false;
      for (auto inner : value.get_object()) {
        std::string inner_key(inner.unescaped_key().value());
        if (inner_key == "xms_cc") saw_cc = true;
        w.key(inner_key);
        w.raw(raw_of(inner.value()));
      }
      if (!saw_cc) w.key("xms_cc").raw(cp1);
      w.end_object();
    } else {
      w.raw(raw_of(value));
    }
  }
  if (!saw_access_token) w.key("access_token").begin_object().key("xms_cc").raw(cp1).end_object();
  w.end_object();
  return w.release();
}

std::string join_scopes(const std::vector<std::string>& scopes, bool adfs) {
  std::string out;
  for (const auto& scope : scopes) {
    if (!out.empty()) out += ' ';
    // ADFS takes the resource form of a scope (no "/.default").
    out += adfs ? scope_to_resource(scope) : scope;
  }
  return out;
}

}  // namespace

entra_settings make_entra_settings(std::string credential, std::string tenant_id,
                                   std::string client_id, const entra_options& options,
                                   const environment_map& env, bool allowed_tenants_from_env) {
  entra_settings s;
  s.credential = std::move(credential);
  std::string host = options.authority_host;
  if (host.empty()) {
    host = std::string(
        find_variable(env, "AZURE_AUTHORITY_HOST").value_or(authority_hosts::azure_public_cloud));
  }
  try {
    s.authority = normalize_authority_host(host);
  } catch (const keyless::error& e) {
    throw keyless::error(e.code(), fmt::format("{}: {}", s.credential, e.message()), e.details());
  }
  if (!is_valid_tenant_id(tenant_id)) {
    throw keyless::error(
        errc::invalid_argument,
        fmt::format("{}: the tenant id is {} (allowed: letters, digits, '.' and '-')", s.credential,
                    tenant_id.empty() ? "empty" : "not a tenant id"),
        detail::with_hint("use the directory (tenant) GUID from the app registration's "
                          "overview, or a verified domain"));
  }
  if (client_id.empty()) {
    throw keyless::error(errc::invalid_argument,
                         fmt::format("{}: the client id is empty", s.credential));
  }
  s.client_id = std::move(client_id);
  s.tenants.tenant_id = std::move(tenant_id);
  s.tenants.additionally_allowed_tenants = options.additionally_allowed_tenants;
  if (s.tenants.additionally_allowed_tenants.empty() && allowed_tenants_from_env) {
    if (auto v = find_variable(env, "AZURE_ADDITIONALLY_ALLOWED_TENANTS")) {
      s.tenants.additionally_allowed_tenants = parse_tenant_list(*v);
    }
  }
  s.tenants.multitenant_disabled =
      multitenant_disabled_by(find_variable(env, "AZURE_IDENTITY_DISABLE_MULTITENANTAUTH"));
  s.retry = options.retry;
  return s;
}

entra_token_client::entra_token_client(asio::any_io_executor executor, entra_settings settings,
                                       const entra_options& options)
    : executor_(executor),
      settings_(std::move(settings)),
      http_(executor, options.http),
      clock_(options.clock ? options.clock : keyless::clock::system()) {}

asio::awaitable<access_token> entra_token_client::request(token_request req,
                                                          proof_factory proof) const {
  const entra_settings& s = settings_;
  if (req.scopes.empty()) {
    throw keyless::error(errc::invalid_argument,
                         fmt::format("{}: the token request names no scope", s.credential),
                         detail::with_hint("ask for a scope such as "
                                           "https://cognitiveservices.azure.com/.default"));
  }
  const std::string tenant = s.tenants.resolve(req.tenant, s.credential);
  const bool adfs = is_adfs_tenant(tenant);
  const std::string endpoint = token_endpoint(s.authority, tenant);
  const http::url target = http::url::parse(endpoint);
  const std::string scope = join_scopes(req.scopes, adfs);
  std::string claims;
  try {
    claims = request_claims(req);
  } catch (const keyless::error& e) {
    throw keyless::error(e.code(), fmt::format("{}: {}", s.credential, e.message()));
  }
  const std::string context = fmt::format("{}: token response", s.credential);

  for (int attempt = 0;; ++attempt) {
    client_proof p = proof(endpoint);
    http::request r;
    r.method = "POST";
    r.target = target;
    r.headers.set("Content-Type", "application/x-www-form-urlencoded");
    r.headers.set("Accept", "application/json");
    r.body = fmt::format("grant_type=client_credentials&client_id={}&{}&scope={}",
                         http::form_encode(s.client_id), p.form, http::form_encode(scope));
    if (!claims.empty()) r.body += "&claims=" + http::form_encode(claims);
    r.options.require_https = true;
    r.options.max_body_bytes = max_token_response_bytes;

    std::optional<http::response> response;
    std::optional<keyless::error> failure;
    try {
      response = co_await http_.send(std::move(r));
    } catch (const keyless::error& e) {
      failure = e;
    }

    if (failure) {
      if (is_transient_failure(*failure) && attempt < s.retry.max_retries) {
        auto delay = backoff_delay(s.retry, attempt);
        keyless::detail::log(log_level::info, "{}: token request failed ({}); retry {} in {} ms",
                             s.credential, failure->message(), attempt + 1, delay.count());
        co_await clock_->sleep_for(delay);
        continue;
      }
      diagnostics d = failure->details();
      if (d.hint.empty()) {
        d.hint = fmt::format("check the network path to {} (AZURE_AUTHORITY_HOST) and any proxy",
                             s.authority);
      }
      throw keyless::error(
          failure->code(),
          fmt::format("{}: the token request to Entra ID failed ({} attempt{}): {}", s.credential,
                      attempt + 1, attempt == 0 ? "" : "s", failure->message()),
          std::move(d));
    }

    if (response->status >= 200 && response->status < 300) {
      token_response_options parse_options;
      parse_options.context = context;
      auto token = parse_token_response(response->body, *clock_, parse_options);
      require_unexpired(token, *clock_, context);
      co_return token;
    }

    const auto wait = retry_after(response->headers, clock_->now());
    if (is_transient_status(response->status) && attempt < s.retry.max_retries &&
        (!wait || *wait <= s.retry.max_retry_after)) {
      auto delay = wait.value_or(backoff_delay(s.retry, attempt));
      keyless::detail::log(log_level::info, "{}: Entra ID answered HTTP {}; retry {} in {} ms",
                           s.credential, response->status, attempt + 1, delay.count());
      co_await clock_->sleep_for(delay);
      continue;
    }

    // Refused or out of retries: say what the service said, without anything secret.
    diagnostics d;
    d.http_status = response->status;
    d.request_id = request_id_of(response->headers);
    d.retry_after = wait;
    std::string error_name;
    std::string description;
    if (auto se = parse_service_error(response->body)) {
      d.service_code = se->service_code;
      if (d.request_id.empty()) d.request_id = se->trace_id;
      error_name = se->error;
      description = redact(keyless::detail::first_line(se->description, max_description), p.secret);
    }
    d.hint = hint_for(d.service_code, s, tenant);
    if (d.hint.empty()) d.hint = hint_for_error(error_name);
    const int status = response->status;
    const bool refused = status == 400 || status == 401 || status == 403;
    if (d.hint.empty()) {
      if (status == 404) {
        d.hint = fmt::format("no token endpoint at {}: check the authority host", s.authority);
      } else if (status == 429 || status >= 500) {
        d.hint = "Entra ID is throttling or unavailable; try again later";
      }
    }
    std::string what = error_name.empty() ? fmt::format("HTTP {}", status)
                                          : fmt::format("HTTP {}, {}", status, error_name);
    std::string message =
        refused ? fmt::format(
                      "{}: Entra ID refused the token request of client '{}' in tenant "
                      "'{}' ({})",
                      s.credential, s.client_id, tenant, what)
                : fmt::format("{}: the token request of client '{}' in tenant '{}' failed ({}{})",
                              s.credential, s.client_id, tenant, what,
                              attempt > 0 ? fmt::format(" after {} attempts", attempt + 1) : "");
    if (!description.empty()) message += ": " + description;
    throw keyless::error(refused ? errc::authentication_failed : errc::http_status, message,
                         std::move(d));
  }
}

bool is_transient_status(int status) noexcept {
  return status == 408 || status == 429 || (status >= 500 && status != 501 && status != 505);
}

bool is_transient_failure(const keyless::error& e) noexcept {
  return e.code() == errc::timeout || e.code() == errc::connection_failed;
}

std::chrono::milliseconds backoff_delay(const retry_options& options, int retry) noexcept {
  auto delay = options.initial_delay;
  for (int i = 0; i < retry && delay < options.max_delay; ++i) delay *= 2;
  return std::min(delay, options.max_delay);
}

std::optional<std::chrono::milliseconds> retry_after(const http::fields& headers,
                                                     keyless::clock::time_point now) {
  for (std::string_view name : {"retry-after-ms", "x-ms-retry-after-ms"}) {
    if (auto v = headers.find(name)) {
      if (auto ms = parse_exact_decimal(*v, max_relative_seconds)) {
        return std::chrono::milliseconds(*ms);
      }
    }
  }
  if (auto v = headers.find("retry-after")) {
    if (auto s = parse_exact_decimal(*v, max_relative_seconds)) {
      return std::chrono::seconds(*s);
    }
    if (auto when = parse_rfc1123(*v)) {
      auto at = to_time_point(*when);
      if (at <= now) return std::chrono::milliseconds(0);
      return std::chrono::duration_cast<std::chrono::milliseconds>(at - now);
    }
  }
  return std::nullopt;
}

std::string request_id_of(const http::fields& headers) {
  if (auto v = headers.find("x-ms-request-id")) return std::string(v->substr(0, 128));
  if (auto v = headers.find("x-ms-client-request-id")) return std::string(v->substr(0, 128));
  return {};
}

std::string redact(std::string text, std::string_view secret) {
  // Very short secrets would match ordinary words; no real secret is that short.
  if (secret.size() < 4) return text;
  for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos)) {
    text.replace(pos, secret.size(), "<redacted>");
    pos += 10;
  }
  return text;
}

std::string request_claims(const token_request& req) {
  const bool has_claims = req.claims && !req.claims->empty();
  if (has_claims && !is_object_json(*req.claims)) {
    throw keyless::error(errc::invalid_argument,
                         "the claims challenge is not a JSON object (pass the decoded claims)");
  }
  if (!req.enable_cae) return has_claims ? *req.claims : std::string();
  if (!has_claims) return fmt::format(R"({{"access_token":{{"xms_cc":{}}}}})", cp1);
  return merge_cp1(*req.claims);
}

}  // namespace keyless::identity::detail
