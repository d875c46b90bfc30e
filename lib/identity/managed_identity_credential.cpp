#include "keyless/identity/managed_identity_credential.hpp"

#include <atomic>
#include <optional>
#include <system_error>

#include <fmt/core.h>

#include "core/logging.hpp"
#include "core/text.hpp"
#include "identity/entra_token_request.hpp"
#include "identity/managed_identity_sources.hpp"
#include "identity/token_response.hpp"
#include "keyless/core/error.hpp"
#include "keyless/http/client.hpp"

namespace keyless::identity {
namespace {

constexpr std::string_view managed_identity_credential_name = "ManagedIdentityCredential";
constexpr std::string_view imds_default_host = "http://169.254.169.254";
constexpr std::string_view imds_path = "/metadata/identity/oauth2/token";

// Characters of a service's error text echoed in a message.
constexpr std::size_t max_description = 300;

http::url endpoint_from(std::string_view variable, std::string_view value) {
  try {
    return http::url::parse(value);
  } catch (const keyless::error& e) {
    throw keyless::error(errc::invalid_argument,
                         fmt::format("{}: {} is not a usable URL: {}",
                                     managed_identity_credential_name, variable, e.message()));
  }
}

std::string_view require(const environment_map& env, std::string_view variable,
                         managed_identity_source kind) {
  auto value = find_variable(env, variable);
  if (!value) {
    throw keyless::error(
        errc::invalid_argument,
        fmt::format("{}: the {} source needs {}, which is not set",
                    managed_identity_credential_name, detail::display_name(kind), variable));
  }
  return *value;
}

bool any_exists(const std::vector<std::filesystem::path>& files) {
  for (const auto& f : files) {
    std::error_code ec;
    if (std::filesystem::exists(f, ec)) return true;
  }
  return false;
}

std::string_view kind_name(managed_identity_id::kind k) noexcept {
  switch (k) {
    case managed_identity_id::kind::system_assigned:
      return "system-assigned";
    case managed_identity_id::kind::client_id:
      return "client id";
    case managed_identity_id::kind::object_id:
      return "object id";
    case managed_identity_id::kind::resource_id:
      return "resource id";
  }
  return "?";
}

bool supports(managed_identity_source source, managed_identity_id::kind k) noexcept {
  if (k == managed_identity_id::kind::system_assigned) return true;
  switch (source) {
    case managed_identity_source::imds:
    case managed_identity_source::app_service:
      return true;
    case managed_identity_source::azure_ml:
      return k == managed_identity_id::kind::client_id;
    case managed_identity_source::azure_arc:
    case managed_identity_source::cloud_shell:
    case managed_identity_source::service_fabric:
      return false;
  }
  return false;
}

std::string describe_identity(const managed_identity_id& id) {
  if (id.type == managed_identity_id::kind::system_assigned) return "the system-assigned identity";
  return fmt::format("the user-assigned identity with {} '{}'", kind_name(id.type), id.value);
}

}  // namespace

namespace detail {

std::string_view display_name(managed_identity_source kind) noexcept {
  switch (kind) {
    case managed_identity_source::imds:
      return "IMDS";
    case managed_identity_source::app_service:
      return "App Service";
    case managed_identity_source::azure_arc:
      return "Azure Arc";
    case managed_identity_source::cloud_shell:
      return "Cloud Shell";
    case managed_identity_source::service_fabric:
      return "Service Fabric";
    case managed_identity_source::azure_ml:
      return "Azure ML";
  }
  return "?";
}

}  // namespace detail

std::string_view to_string(managed_identity_source source) noexcept {
  switch (source) {
    case managed_identity_source::imds:
      return "imds";
    case managed_identity_source::app_service:
      return "app_service";
    case managed_identity_source::azure_arc:
      return "azure_arc";
    case managed_identity_source::cloud_shell:
      return "cloud_shell";
    case managed_identity_source::service_fabric:
      return "service_fabric";
    case managed_identity_source::azure_ml:
      return "azure_ml";
  }
  return "?";
}

managed_identity_source detect_managed_identity_source(const environment_map& env,
                                                       const managed_identity_options& options) {
  const bool identity_endpoint = find_variable(env, "IDENTITY_ENDPOINT").has_value();
  const bool identity_header = find_variable(env, "IDENTITY_HEADER").has_value();
  const bool msi_endpoint = find_variable(env, "MSI_ENDPOINT").has_value();
  if (identity_endpoint && identity_header) {
    if (find_variable(env, "IDENTITY_SERVER_THUMBPRINT"))
      return managed_identity_source::service_fabric;
    return managed_identity_source::app_service;
  }
  if (identity_endpoint && find_variable(env, "IMDS_ENDPOINT")) {
    return managed_identity_source::azure_arc;
  }
  if (msi_endpoint && find_variable(env, "MSI_SECRET")) return managed_identity_source::azure_ml;
  if (msi_endpoint) return managed_identity_source::cloud_shell;
  if (any_exists(options.arc_agent_files)) return managed_identity_source::azure_arc;
  return managed_identity_source::imds;
}

struct managed_identity_credential::impl {
  impl(asio::any_io_executor ex, managed_identity_options opts)
      : executor(ex),
        options(std::move(opts)),
        http(ex, options.http),
        clock(options.clock ? options.clock : keyless::clock::system()) {}

  asio::awaitable<http::response> exchange(std::string resource, bool probing) const;
  http::request build(std::string_view resource) const;
  [[noreturn]] void fail(const http::response& response, int attempts,
                         std::chrono::milliseconds elapsed) const;

  asio::any_io_executor executor;
  managed_identity_options options;
  detail::mi_source_config source;
  http::client http;
  std::shared_ptr<const keyless::clock> clock;
  // Set once any response came back from the endpoint: probing is over for good. Until
  // then every call probes again (cheaply, with the short timeout): a chain that found no
  // IMDS on one call must not stall for the full connect timeout and retries on the next.
  mutable std::atomic<bool> probed{false};
};

managed_identity_credential::managed_identity_credential(asio::any_io_executor executor,
                                                         managed_identity_options options) {
  environment_map env = options.environment ? *options.environment : process_environment();
  const auto kind = options.source ? *options.source : detect_managed_identity_source(env, options);
  const auto& id = options.identity;
  if (id.type != managed_identity_id::kind::system_assigned && id.value.empty()) {
    throw keyless::error(errc::invalid_argument,
                         fmt::format("{}: the user-assigned identity's {} is empty",
                                     managed_identity_credential_name, kind_name(id.type)));
  }
  if (!supports(kind, id.type)) {
    throw keyless::error(
        errc::invalid_argument,
        fmt::format("{}: {} does not support selecting a user-assigned identity by {}",
                    managed_identity_credential_name, detail::display_name(kind),
                    kind_name(id.type)),
        detail::with_hint(kind == managed_identity_source::azure_ml
                              ? "Azure ML accepts only a client id for a user-assigned identity"
                              : "use the system-assigned identity here: omit the client id, "
                                "object id and resource id"));
  }

  detail::mi_source_config source;
  source.kind = kind;
  switch (kind) {
    case managed_identity_source::imds: {
      std::string host = options.imds_endpoint;
      std::string_view variable = "imds_endpoint option";
      if (host.empty()) {
        if (auto v = find_variable(env, "AZURE_POD_IDENTITY_AUTHORITY_HOST")) {
          host = std::string(*v);
          variable = "AZURE_POD_IDENTITY_AUTHORITY_HOST";
        } else {
          host = std::string(imds_default_host);
        }
      }
      source.endpoint = endpoint_from(variable, host);
      source.endpoint.target = std::string(imds_path);  // only scheme, host and port count
      break;
    }
    case managed_identity_source::app_service:
    case managed_identity_source::service_fabric:
      source.endpoint = endpoint_from("IDENTITY_ENDPOINT", require(env, "IDENTITY_ENDPOINT", kind));
      source.secret = std::string(require(env, "IDENTITY_HEADER", kind));
      if (kind == managed_identity_source::service_fabric) {
        keyless::detail::log(log_level::verbose,
                             "{}: Service Fabric's certificate is verified against the "
                             "configured CAs; IDENTITY_SERVER_THUMBPRINT is not pinned",
                             managed_identity_credential_name);
      }
      break;
    case managed_identity_source::azure_arc: {
      if (auto v = find_variable(env, "IDENTITY_ENDPOINT")) {
        source.endpoint = endpoint_from("IDENTITY_ENDPOINT", *v);
      } else {
        source.endpoint =
            endpoint_from("arc_default_endpoint option", options.arc_default_endpoint);
      }
      // The agent listens on IPv4 loopback only; "localhost" may resolve to ::1 first.
      if (source.endpoint.host == "localhost") source.endpoint.host = "127.0.0.1";
      break;
    }
    case managed_identity_source::azure_ml:
      source.endpoint = endpoint_from("MSI_ENDPOINT", require(env, "MSI_ENDPOINT", kind));
      source.secret = std::string(require(env, "MSI_SECRET", kind));
      source.default_client_id =
          std::string(find_variable(env, "DEFAULT_IDENTITY_CLIENT_ID").value_or(""));
      break;
    case managed_identity_source::cloud_shell:
      source.endpoint = endpoint_from("MSI_ENDPOINT", require(env, "MSI_ENDPOINT", kind));
      break;
  }
  impl_ = std::make_shared<impl>(executor, std::move(options));
  impl_->source = std::move(source);
}

managed_identity_credential::~managed_identity_credential() = default;

asio::any_io_executor managed_identity_credential::get_executor() const {
  return impl_->executor;
}

std::string_view managed_identity_credential::name() const noexcept {
  return managed_identity_credential_name;
}

managed_identity_source managed_identity_credential::source() const noexcept {
  return impl_->source.kind;
}

http::request managed_identity_credential::impl::build(std::string_view resource) const {
  http::request r;
  const auto& id = options.identity;
  switch (source.kind) {
    case managed_identity_source::imds:
      r = detail::imds_request(source, id, resource);
      break;
    case managed_identity_source::app_service:
      r = detail::app_service_request(source, id, resource);
      break;
    case managed_identity_source::azure_arc:
      r = detail::azure_arc_request(source, resource);
      break;
    case managed_identity_source::cloud_shell:
      r = detail::cloud_shell_request(source, resource);
      break;
    case managed_identity_source::service_fabric:
      r = detail::service_fabric_request(source, resource);
      break;
    case managed_identity_source::azure_ml:
      r = detail::azure_ml_request(source, id, resource);
      break;
  }
  r.headers.set("Accept", "application/json");
  // Identity endpoints are local to the host (or link-local): a proxy cannot reach them,
  // and the secret headers must never be handed to one.
  r.options.never_proxy = true;
  r.options.max_body_bytes = detail::max_token_response_bytes;
  return r;
}

asio::awaitable<http::response> managed_identity_credential::impl::exchange(std::string resource,
                                                                            bool probing) const {
  http::request r = build(resource);
  if (probing) {
    // The whole probe is bounded, not just the connect: an address that accepts and never
    // answers (a black hole, a captive proxy) must not hold the chain for the idle timeout.
    r.options.connect_timeout = options.probe_timeout;
    r.options.request_timeout = options.probe_timeout;
  }
  http::response response = co_await http.send(std::move(r));
  if (source.kind == managed_identity_source::azure_arc && response.status == 401) {
    // The agent proves we may read its key directory: the key is the password.
    std::string authorization =
        detail::azure_arc_authorization(response, options.arc_key_directory);
    http::request again = build(resource);
    again.headers.set("Authorization", std::move(authorization));
    response = co_await http.send(std::move(again));
  }
  co_return response;
}

void managed_identity_credential::impl::fail(const http::response& response, int attempts,
                                             std::chrono::milliseconds elapsed) const {
  const int status = response.status;
  const auto where = detail::display_name(source.kind);
  diagnostics d;
  d.http_status = status;
  d.request_id = detail::request_id_of(response.headers);
  d.retry_after = detail::retry_after(response.headers, clock->now());
  std::string description;
  if (auto se = detail::parse_service_error(response.body)) {
    d.service_code = se->service_code;
    description = detail::redact(keyless::detail::first_line(se->description, max_description),
                                 source.secret);
    if (description.empty()) description = se->error;
  }
  auto with_description = [&](std::string message) {
    if (!description.empty()) message += ": " + description;
    return message;
  };
  const std::string identity = describe_identity(options.identity);

  if (source.kind == managed_identity_source::imds && status == 400) {
    d.hint = options.identity.type == managed_identity_id::kind::system_assigned
                 ? "enable the system-assigned managed identity of this VM (or other resource), "
                   "or select a user-assigned identity attached to it by client id, object id or "
                   "resource id"
                 : "attach that user-assigned identity to this resource, or check the id "
                   "(AZURE_CLIENT_ID)";
    throw keyless::error(
        errc::credential_unavailable,
        with_description(fmt::format("{}: IMDS has no {} for this resource (HTTP 400)",
                                     managed_identity_credential_name, identity.substr(4))),
        std::move(d));
  }
  if (source.kind == managed_identity_source::imds && status == 403 &&
      response.body.find("unreachable") != std::string::npos) {
    // Docker Desktop answers for 169.254.169.254 with this when there is no Azure behind it.
    d.hint =
        "no Azure managed identity is reachable from this network (e.g. inside Docker "
        "Desktop); use another credential here";
    throw keyless::error(
        errc::credential_unavailable,
        fmt::format("{}: the IMDS address is answered by something that cannot reach Azure "
                    "(HTTP 403, network unreachable)",
                    managed_identity_credential_name),
        std::move(d));
  }
  if (status == 400 || status == 401 || status == 403) {
    switch (source.kind) {
      case managed_identity_source::app_service:
        d.hint =
            "check that the app has a managed identity enabled (or the user-assigned one "
            "attached) and that IDENTITY_HEADER is the one the platform set";
        break;
      case managed_identity_source::service_fabric:
        d.hint =
            "check that the application has a managed identity in its manifest and that "
            "IDENTITY_HEADER is the one the cluster set";
        break;
      case managed_identity_source::azure_arc:
        d.hint =
            "check that the Arc-enabled server's system-assigned identity exists and the "
            "agent is healthy (azcmagent show)";
        break;
      default:
        d.hint = fmt::format("check that {} is enabled for this resource", identity);
        break;
    }
    throw keyless::error(
        errc::authentication_failed,
        with_description(fmt::format("{}: {} refused the token request for {} (HTTP {})",
                                     managed_identity_credential_name, where, identity, status)),
        std::move(d));
  }
  if (d.hint.empty()) {
    d.hint = status == 410 || status == 404 || status == 429 || status >= 500
                 ? fmt::format("{} is busy or being updated; try again later", where)
                 : fmt::format("check the {} endpoint", where);
  }
  throw keyless::error(
      errc::http_status,
      with_description(fmt::format(
          "{}: {} answered HTTP {} ({} attempt{} in {} s)", managed_identity_credential_name, where,
          status, attempts, attempts == 1 ? "" : "s",
          std::chrono::duration_cast<std::chrono::seconds>(elapsed).count())),
      std::move(d));
}

asio::awaitable<access_token> managed_identity_credential::get_token(token_request req) {
  std::shared_ptr<impl> self = impl_;
  const auto where = detail::display_name(self->source.kind);
  if (req.scopes.size() != 1) {
    throw keyless::error(
        errc::invalid_argument,
        fmt::format("{}: a managed identity token request needs exactly one scope (got {})",
                    managed_identity_credential_name, req.scopes.size()),
        detail::with_hint("ask for one scope such as "
                          "https://cognitiveservices.azure.com/.default"));
  }
  const std::string resource = detail::scope_to_resource(req.scopes.front());
  if (resource.empty()) {
    throw keyless::error(errc::invalid_argument, fmt::format("{}: the scope names no resource",
                                                             managed_identity_credential_name));
  }
  const bool imds = self->source.kind == managed_identity_source::imds;
  const auto& retry = self->options.retry;
  const auto start = self->clock->now();
  const std::string context =
      fmt::format("{}: {} token response", managed_identity_credential_name, where);
  int retries = 0;  // of everything but IMDS's 410, which is bounded by time instead

  for (int attempt = 0;; ++attempt) {
    const bool probing = imds && self->options.probe && !self->probed.load();
    std::optional<http::response> response;
    std::optional<keyless::error> failure;
    try {
      response = co_await self->exchange(resource, probing);
    } catch (const keyless::error& e) {
      // Arc key-file refusals are final and already say what is wrong.
      if (e.code() == errc::authentication_failed) throw;
      failure = e;
    }
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(self->clock->now() - start);

    if (failure) {
      if (probing && detail::is_transient_failure(*failure)) {
        throw keyless::error(
            errc::credential_unavailable,
            fmt::format("{}: no managed identity endpoint responded at {} within {} ms ({})",
                        managed_identity_credential_name, self->source.endpoint.origin(),
                        self->options.probe_timeout.count(), failure->message()),
            detail::with_hint("this host does not look like an Azure resource with a managed "
                              "identity; elsewhere use another credential (e.g. az login)"));
      }
      if (detail::is_transient_failure(*failure) && retries < retry.max_retries) {
        auto delay = detail::backoff_delay(retry, retries++);
        keyless::detail::log(log_level::info, "{}: {} request failed ({}); retry in {} ms",
                             managed_identity_credential_name, where, failure->message(),
                             delay.count());
        co_await self->clock->sleep_for(delay);
        continue;
      }
      diagnostics d = failure->details();
      if (d.hint.empty()) {
        d.hint = fmt::format("check that the {} endpoint is running on this host", where);
      }
      throw keyless::error(failure->code(),
                           fmt::format("{}: {} could not be reached ({} attempt{}): {}",
                                       managed_identity_credential_name, where, attempt + 1,
                                       attempt == 0 ? "" : "s", failure->message()),
                           std::move(d));
    }
    if (probing) self->probed.store(true);

    const int status = response->status;
    if (status >= 200 && status < 300) {
      detail::token_response_options parse_options;
      parse_options.context = context;
      parse_options.half_life_refresh = true;
      auto token = detail::parse_token_response(response->body, *self->clock, parse_options);
      detail::require_unexpired(token, *self->clock, context);
      co_return token;
    }

    if (imds && status == 410 && elapsed < self->options.imds_gone_retry_duration) {
      // IMDS is being updated and says so for up to 70 s; keep asking on a capped backoff.
      auto delay = detail::backoff_delay(retry, attempt);
      keyless::detail::log(log_level::info, "{}: IMDS answered 410 (updating); retry in {} ms",
                           managed_identity_credential_name, delay.count());
      co_await self->clock->sleep_for(delay);
      continue;
    }
    // IMDS answers 404 while an identity it was just given is not yet usable.
    const bool retryable = detail::is_transient_status(status) || (imds && status == 404);
    if (retryable && retries < retry.max_retries) {
      auto wait = detail::retry_after(response->headers, self->clock->now());
      if (!wait || *wait <= retry.max_retry_after) {
        auto delay = wait.value_or(detail::backoff_delay(retry, retries));
        ++retries;
        keyless::detail::log(log_level::info, "{}: {} answered HTTP {}; retry in {} ms",
                             managed_identity_credential_name, where, status, delay.count());
        co_await self->clock->sleep_for(delay);
        continue;
      }
    }
    self->fail(*response, attempt + 1, elapsed);
  }
}

}  // namespace keyless::identity
