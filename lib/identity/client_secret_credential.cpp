#include "keyless/identity/client_secret_credential.hpp"

#include <fmt/core.h>

#include "identity/entra_token_request.hpp"
#include "keyless/core/error.hpp"
#include "keyless/http/url.hpp"

namespace keyless::identity {
namespace {

constexpr std::string_view client_secret_credential_name = "ClientSecretCredential";

}  // namespace

struct client_secret_credential::impl {
  impl(asio::any_io_executor executor, std::string tenant_id, std::string client_id,
       std::string secret, const entra_options& options)
      : client(executor,
               detail::make_entra_settings(
                   std::string(client_secret_credential_name), std::move(tenant_id),
                   std::move(client_id), options,
                   options.environment ? *options.environment : process_environment(), false),
               options),
        client_secret(std::move(secret)) {
    if (client_secret.empty()) {
      throw keyless::error(errc::invalid_argument, fmt::format("{}: the client secret is empty",
                                                               client_secret_credential_name));
    }
  }

  detail::entra_token_client client;
  std::string client_secret;
};

client_secret_credential::client_secret_credential(asio::any_io_executor executor,
                                                   std::string tenant_id, std::string client_id,
                                                   std::string client_secret, entra_options options)
    : impl_(std::make_shared<impl>(executor, std::move(tenant_id), std::move(client_id),
                                   std::move(client_secret), options)) {}

client_secret_credential::~client_secret_credential() = default;

asio::any_io_executor client_secret_credential::get_executor() const {
  return impl_->client.executor();
}

std::string_view client_secret_credential::name() const noexcept {
  return client_secret_credential_name;
}

asio::awaitable<access_token> client_secret_credential::get_token(token_request req) {
  // The frame owns a reference, so the credential may be destroyed while this runs.
  std::shared_ptr<impl> self = impl_;
  // A named local, not a temporary inside the co_await operand: g++ 12 destroys such
  // temporaries twice, which here released the credential's state early.
  detail::proof_factory proof = [self](std::string_view) {
    return detail::client_proof{"client_secret=" + http::form_encode(self->client_secret),
                                self->client_secret};
  };
  co_return co_await self->client.request(std::move(req), std::move(proof));
}

}  // namespace keyless::identity
