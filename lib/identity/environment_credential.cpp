#include "keyless/identity/environment_credential.hpp"

#include <optional>
#include <vector>

#include <fmt/core.h>
#include <fmt/format.h>

#include "keyless/core/error.hpp"
#include "keyless/http/fields.hpp"
#include "keyless/identity/client_certificate_credential.hpp"
#include "keyless/identity/client_secret_credential.hpp"
#include "keyless/identity/tenant_policy.hpp"

namespace keyless::identity {
namespace {

constexpr std::string_view environment_credential_name = "EnvironmentCredential";

bool truthy(std::optional<std::string_view> value) {
  if (!value) return false;
  return *value == "1" || http::iequals(*value, "true");
}

}  // namespace

struct environment_credential::impl {
  asio::any_io_executor executor;
  std::shared_ptr<token_credential> inner;
  std::optional<keyless::error> problem;  // thrown by every get_token when there is no inner
};

environment_credential::environment_credential(asio::any_io_executor executor,
                                               entra_options options)
    : impl_(std::make_shared<impl>()) {
  impl_->executor = executor;
  environment_map env = options.environment ? *options.environment : process_environment();
  auto tenant = find_variable(env, "AZURE_TENANT_ID");
  auto client = find_variable(env, "AZURE_CLIENT_ID");
  auto secret = find_variable(env, "AZURE_CLIENT_SECRET");
  auto certificate = find_variable(env, "AZURE_CLIENT_CERTIFICATE_PATH");

  if (!tenant || !client || (!secret && !certificate)) {
    std::vector<std::string_view> missing;
    if (!tenant) missing.push_back("AZURE_TENANT_ID");
    if (!client) missing.push_back("AZURE_CLIENT_ID");
    if (!secret && !certificate)
      missing.push_back("AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH");
    diagnostics d;
    std::string message;
    if (missing.size() == 3) {
      message = fmt::format(
          "{}: not configured: AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or "
          "AZURE_CLIENT_CERTIFICATE_PATH) are not set",
          environment_credential_name);
      d.hint =
          "to use a service principal, set AZURE_TENANT_ID, AZURE_CLIENT_ID and "
          "AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH";
    } else {
      // Partly configured: most likely a forgotten variable, so say exactly which.
      message = fmt::format("{}: not configured: {} {} missing", environment_credential_name,
                            fmt::join(missing, ", "), missing.size() == 1 ? "is" : "are");
      d.hint = fmt::format("set {} to use the service principal this environment describes",
                           fmt::join(missing, " and "));
    }
    impl_->problem.emplace(errc::credential_unavailable, message, std::move(d));
    return;
  }

  // The inner credential reads AZURE_AUTHORITY_HOST and the multi-tenant switch from the
  // same environment; the allow-list comes from it too unless the options give one.
  if (options.additionally_allowed_tenants.empty()) {
    if (auto v = find_variable(env, "AZURE_ADDITIONALLY_ALLOWED_TENANTS")) {
      options.additionally_allowed_tenants = parse_tenant_list(*v);
    }
  }
  options.environment = env;
  try {
    if (secret) {
      impl_->inner = std::make_shared<client_secret_credential>(
          executor, std::string(*tenant), std::string(*client), std::string(*secret), options);
    } else {
      client_certificate_options cert_options;
      static_cast<entra_options&>(cert_options) = options;
      if (auto password = find_variable(env, "AZURE_CLIENT_CERTIFICATE_PASSWORD")) {
        cert_options.password = std::string(*password);
      }
      cert_options.send_certificate_chain =
          truthy(find_variable(env, "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN"));
      impl_->inner = std::make_shared<client_certificate_credential>(
          executor, std::string(*tenant), std::string(*client),
          std::filesystem::path(std::string(*certificate)), std::move(cert_options));
    }
  } catch (const keyless::error& e) {
    // Configured but unusable: reported at get_token, as a failure that stops a chain.
    impl_->problem.emplace(
        e.code(), fmt::format("{}: {}", environment_credential_name, e.message()), e.details());
  }
}

environment_credential::~environment_credential() = default;

asio::any_io_executor environment_credential::get_executor() const {
  return impl_->executor;
}

std::string_view environment_credential::name() const noexcept {
  return environment_credential_name;
}

std::string_view environment_credential::selected() const noexcept {
  return impl_->inner ? impl_->inner->name() : std::string_view{};
}

asio::awaitable<access_token> environment_credential::get_token(token_request req) {
  std::shared_ptr<impl> self = impl_;
  if (!self->inner) throw *self->problem;
  try {
    co_return co_await self->inner->get_token(std::move(req));
  } catch (const keyless::error& e) {
    // Name both: users set "EnvironmentCredential" up, the inner name says which path ran.
    throw keyless::error(e.code(), fmt::format("{}: {}", environment_credential_name, e.message()),
                         e.details());
  }
}

}  // namespace keyless::identity
