#include "fake_managed_identity.hpp"

#include <ctime>
#include <mutex>
#include <utility>

#include <fmt/core.h>

#include "epoch_seconds.hpp"
#include "keyless/json/writer.hpp"

namespace keyless::testing {
namespace {

using std::chrono::system_clock;

std::string default_path(fake_mi_kind kind) {
  switch (kind) {
    case fake_mi_kind::imds:
    case fake_mi_kind::azure_arc:
    case fake_mi_kind::service_fabric:
      return "/metadata/identity/oauth2/token";
    case fake_mi_kind::app_service:
    case fake_mi_kind::app_service_2017:
    case fake_mi_kind::azure_ml:
      return "/msi/token";
    case fake_mi_kind::cloud_shell:
      return "/oauth2/token";
  }
  return "/";
}

std::string_view api_version(fake_mi_kind kind) {
  switch (kind) {
    case fake_mi_kind::imds:
      return "2018-02-01";
    case fake_mi_kind::app_service:
      return "2019-08-01";
    case fake_mi_kind::app_service_2017:
    case fake_mi_kind::azure_ml:
      return "2017-09-01";
    case fake_mi_kind::azure_arc:
      return "2020-06-01";
    case fake_mi_kind::service_fabric:
      return "2019-07-01-preview";
    case fake_mi_kind::cloud_shell:
      return "";
  }
  return "";
}

// App Service 2017 writes expires_on in the host's culture; the Linux form.
std::string app_service_2017_time(system_clock::time_point t) {
  std::time_t seconds = system_clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:02}/{:02}/{:04} {:02}:{:02}:{:02} +00:00", utc.tm_mon + 1, utc.tm_mday,
                     utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
}

server_options server_for(const fake_managed_identity_options& o) {
  server_options s;
  s.tls = o.tls.value_or(o.kind == fake_mi_kind::service_fabric);
  s.pki = o.pki;
  return s;
}

}  // namespace

std::string_view to_string(fake_mi_kind kind) noexcept {
  switch (kind) {
    case fake_mi_kind::imds:
      return "imds";
    case fake_mi_kind::app_service:
      return "app_service";
    case fake_mi_kind::app_service_2017:
      return "app_service_2017";
    case fake_mi_kind::azure_ml:
      return "azure_ml";
    case fake_mi_kind::azure_arc:
      return "azure_arc";
    case fake_mi_kind::cloud_shell:
      return "cloud_shell";
    case fake_mi_kind::service_fabric:
      return "service_fabric";
  }
  return "?";
}

struct fake_managed_identity::state {
  mutable std::mutex mutex;
  fake_managed_identity_options options;
  std::shared_ptr<const keyless::clock> clock;
  response_script script;
  std::optional<system_clock::time_point> failing_until;
  scripted_response failing_with;
  std::size_t token_requests = 0;
  std::size_t tokens_issued = 0;
  std::size_t challenges = 0;
  std::size_t refusals = 0;

  struct answer {
    int status = 200;
    std::string body;
    header_map headers;
  };
  answer decide(const recorded_request& request);
  answer refuse(int status, std::string body, header_map headers = {}) {
    ++refusals;
    return {status, std::move(body), std::move(headers)};
  }
  // IMDS-style and App-Service-style error bodies.
  answer oauth_error(int status, std::string_view error, std::string_view description) {
    keyless::json::writer w;
    w.begin_object().member("error", error).member("error_description", description).end_object();
    return refuse(status, w.release());
  }
  answer status_error(int status, std::string_view message) {
    keyless::json::writer w;
    w.begin_object().member("statusCode", status).member("message", message).end_object();
    return refuse(status, w.release());
  }
  answer wrapped_error(int status, std::string_view code, std::string_view message) {
    keyless::json::writer w;
    w.begin_object()
        .key("error")
        .begin_object()
        .member("code", code)
        .member("message", message)
        .end_object()
        .end_object();
    return refuse(status, w.release());
  }
  const fake_mi_identity* find_identity(const recorded_request& request, bool& named);
};

const fake_mi_identity* fake_managed_identity::state::find_identity(const recorded_request& request,
                                                                    bool& named) {
  const auto kind = options.kind;
  std::optional<std::string> client_id, object_id, resource_id;
  if (kind == fake_mi_kind::imds) {
    client_id = request.query_param("client_id");
    object_id = request.query_param("object_id");
    resource_id = request.query_param("msi_res_id");
  } else if (kind == fake_mi_kind::app_service) {
    client_id = request.query_param("client_id");
    object_id = request.query_param("principal_id");
    if (!object_id) object_id = request.query_param("object_id");
    resource_id = request.query_param("mi_res_id");
  } else if (kind == fake_mi_kind::app_service_2017 || kind == fake_mi_kind::azure_ml) {
    client_id = request.query_param("clientid");
  }
  named = client_id || object_id || resource_id;
  if (!named) return options.system_assigned ? &options.system_identity : nullptr;
  if (client_id && options.system_assigned && *client_id == options.system_identity.client_id) {
    return &options.system_identity;  // Azure ML names its system identity by client id
  }
  for (const auto& id : options.user_assigned) {
    if ((client_id && *client_id == id.client_id) || (object_id && *object_id == id.object_id) ||
        (resource_id && *resource_id == id.resource_id)) {
      return &id;
    }
  }
  return nullptr;
}

fake_managed_identity::state::answer fake_managed_identity::state::decide(
    const recorded_request& request) {
  const auto kind = options.kind;
  const auto now = clock->now();
  const bool post = kind == fake_mi_kind::cloud_shell;
  if (request.method != (post ? "POST" : "GET")) {
    return status_error(405, "method not allowed");
  }

  // Headers that prove the caller is local (and not a redirected browser).
  switch (kind) {
    case fake_mi_kind::imds:
      if (request.header("Metadata") != "true") {
        return oauth_error(400, "invalid_request", "Required metadata header not specified");
      }
      break;
    case fake_mi_kind::azure_arc:
    case fake_mi_kind::cloud_shell:
      if (request.header("Metadata") != "true") {
        return oauth_error(400, "invalid_request", "Required metadata header not specified");
      }
      break;
    case fake_mi_kind::app_service:
      if (request.header("X-IDENTITY-HEADER") != options.secret) {
        return status_error(401,
                            "Unauthorized. The X-IDENTITY-HEADER header is missing or "
                            "does not match.");
      }
      break;
    case fake_mi_kind::app_service_2017:
    case fake_mi_kind::azure_ml:
      if (request.header("secret") != options.secret) {
        return status_error(401, "Unauthorized. The secret header is missing or wrong.");
      }
      break;
    case fake_mi_kind::service_fabric:
      if (request.header("Secret") != options.secret) {
        return wrapped_error(401, "SecretHeaderNotFound",
                             "Secret is not found in the request headers.");
      }
      break;
  }
  if (kind != fake_mi_kind::cloud_shell &&
      request.query_param("api-version").value_or("") != api_version(kind)) {
    return oauth_error(400, "invalid_request", "Invalid API version");
  }
  std::optional<std::string> resource =
      post ? request.form_param("resource") : request.query_param("resource");
  if (!resource || resource->empty()) {
    return oauth_error(400, "invalid_request", "Required audience parameter not specified");
  }
  if (resource->size() >= 9 && resource->substr(resource->size() - 9) == "/.default") {
    return oauth_error(400, "invalid_resource",
                       "The resource is a scope; managed identity endpoints take a resource");
  }

  if (kind == fake_mi_kind::azure_arc) {
    auto authorization = request.header("Authorization");
    if (authorization.empty()) {
      ++challenges;
      header_map h;
      h.add("WWW-Authenticate", "Basic realm=" + options.arc_realm);
      return {401, R"({"error":"unauthorized","error_description":"N/A"})", std::move(h)};
    }
    if (authorization != "Basic " + options.secret) {
      return oauth_error(401, "unauthorized", "The key in the Authorization header is wrong");
    }
  }

  bool named = false;
  const fake_mi_identity* identity = find_identity(request, named);
  if (identity == nullptr) {
    switch (kind) {
      case fake_mi_kind::imds:
        return oauth_error(400, "invalid_request", "Identity not found");
      case fake_mi_kind::service_fabric:
        return wrapped_error(400, "ManagedIdentityNotFound",
                             "No managed identity is configured for the application.");
      default:
        return status_error(400, "Unable to load the proper Managed Identity.");
    }
  }

  fake_token_claims claims;
  claims.tenant_id = options.tenant_id;
  claims.object_id = identity->object_id;
  claims.audience = *resource;
  claims.app_id = identity->client_id;
  claims.issued_at = now;
  claims.expires_on = now + options.expires_in;
  const std::string token = make_fake_access_token(claims);
  const auto expires_on = epoch_seconds(claims.expires_on);
  const auto expires_in = options.expires_in.count();
  keyless::json::writer w;
  w.begin_object().member("access_token", token);
  switch (kind) {
    case fake_mi_kind::imds:
    case fake_mi_kind::azure_arc:
    case fake_mi_kind::cloud_shell:
      // IMDS writes every number as a string.
      w.member("client_id", identity->client_id)
          .member("expires_in", std::to_string(expires_in))
          .member("expires_on", std::to_string(expires_on))
          .member("ext_expires_in", std::to_string(expires_in))
          .member("not_before", std::to_string(epoch_seconds(now)));
      break;
    case fake_mi_kind::app_service:
      w.member("expires_on", std::to_string(expires_on)).member("client_id", identity->client_id);
      break;
    case fake_mi_kind::app_service_2017:
      w.member("expires_on", app_service_2017_time(claims.expires_on));
      break;
    case fake_mi_kind::azure_ml:
      w.member("expires_on", std::to_string(expires_on))
          .member("expires_in", std::to_string(expires_in));
      break;
    case fake_mi_kind::service_fabric:
      w.member("expires_on", expires_on);
      break;
  }
  w.member("resource", *resource).member("token_type", "Bearer").end_object();
  ++tokens_issued;
  return {200, w.release(), {}};
}

fake_managed_identity::fake_managed_identity(asio::any_io_executor executor,
                                             fake_managed_identity_options options)
    : state_(std::make_shared<state>()), server_(executor, server_for(options)) {
  if (options.path.empty()) options.path = default_path(options.kind);
  state_->clock = options.clock ? options.clock : keyless::clock::system();
  state_->options = std::move(options);
  auto s = state_;
  server_.set_handler([s](recorded_request request, responder& out) -> asio::awaitable<void> {
    std::optional<scripted_response> scripted;
    std::chrono::milliseconds latency{0};
    state::answer answer;
    bool answered = false;
    {
      std::lock_guard lock(s->mutex);
      if (request.path() != s->options.path) {
        answer = {404, R"({"error":"not_found"})", {}};
        answered = true;
      } else {
        ++s->token_requests;
        latency = s->options.latency;
      }
    }
    if (!answered) {
      scripted = s->script.next();
      if (latency.count() > 0) co_await out.delay(latency);
      if (scripted) {
        co_await perform(*scripted, out);
        co_return;
      }
      std::lock_guard lock(s->mutex);
      if (s->failing_until && s->clock->now() < *s->failing_until) {
        scripted = s->failing_with;
      } else {
        answer = s->decide(request);
      }
    }
    if (scripted) {
      co_await perform(*scripted, out);
      co_return;
    }
    co_await out.respond_json(answer.status, std::move(answer.body), std::move(answer.headers));
  });
}

fake_managed_identity::~fake_managed_identity() = default;

std::string fake_managed_identity::endpoint() const {
  std::lock_guard lock(state_->mutex);
  return server_.url(state_->options.path);
}

std::string fake_managed_identity::host() const {
  std::string url = server_.url("/");
  url.pop_back();
  return url;
}

const std::string& fake_managed_identity::ca_certificate_pem() const {
  const test_pki* pki = state_->options.pki;
  return (pki ? *pki : test_pki::shared()).ca_certificate_pem();
}

void fake_managed_identity::enqueue(scripted_response r, std::size_t times) {
  state_->script.enqueue(std::move(r), times);
}

void fake_managed_identity::fail_until(std::chrono::system_clock::time_point until, int status,
                                       std::string body, header_map headers) {
  std::lock_guard lock(state_->mutex);
  state_->failing_until = until;
  state_->failing_with = scripted_response::json(status, std::move(body), std::move(headers));
}

void fake_managed_identity::set_expires_in(std::chrono::seconds seconds) {
  std::lock_guard lock(state_->mutex);
  state_->options.expires_in = seconds;
}

std::size_t fake_managed_identity::token_requests() const {
  std::lock_guard lock(state_->mutex);
  return state_->token_requests;
}

std::size_t fake_managed_identity::tokens_issued() const {
  std::lock_guard lock(state_->mutex);
  return state_->tokens_issued;
}

std::size_t fake_managed_identity::challenges() const {
  std::lock_guard lock(state_->mutex);
  return state_->challenges;
}

std::size_t fake_managed_identity::refusals() const {
  std::lock_guard lock(state_->mutex);
  return state_->refusals;
}

}  // namespace keyless::testing
