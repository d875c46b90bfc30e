#include "keyless/identity/client_certificate_credential.hpp"

#include <fstream>
#include <sstream>
#include <system_error>

#include <fmt/core.h>

#include "identity/client_assertion.hpp"
#include "identity/entra_token_request.hpp"
#include "keyless/core/error.hpp"
#include "keyless/http/url.hpp"

namespace keyless::identity {
namespace {

constexpr std::string_view client_certificate_credential_name = "ClientCertificateCredential";

// A PEM certificate with its key and a long chain is a few tens of KiB; anything far larger
// is not a certificate file (and would be read into memory whole).
constexpr std::uintmax_t max_certificate_file = 1024 * 1024;

[[noreturn]] void certificate_file_problem(const std::filesystem::path& path,
                                           std::string_view what) {
  throw keyless::error(errc::invalid_argument,
                       fmt::format("{}: the certificate file '{}' {}",
                                   client_certificate_credential_name, path.string(), what),
                       detail::with_hint("give a readable PEM file holding the certificate and "
                                         "its private key (AZURE_CLIENT_CERTIFICATE_PATH)"));
}

std::string read_certificate_file(const std::filesystem::path& path) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) certificate_file_problem(path, "does not exist");
  if (!std::filesystem::is_regular_file(status))
    certificate_file_problem(path, "is not a regular file");
  auto size = std::filesystem::file_size(path, ec);
  if (ec) certificate_file_problem(path, "cannot be read");
  if (size > max_certificate_file) certificate_file_problem(path, "is larger than 1 MiB");
  std::ifstream in(path, std::ios::binary);
  if (!in) certificate_file_problem(path, "cannot be opened");
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) certificate_file_problem(path, "cannot be read");
  return std::move(text).str();
}

detail::client_certificate load_certificate(std::string_view pem, const std::string& origin,
                                            const std::optional<std::string>& password) {
  if (pem.find("-----BEGIN") == std::string_view::npos) {
    throw keyless::error(
        errc::invalid_argument,
        fmt::format("{}: {} is not PEM text (PKCS#12/.pfx files are not supported)",
                    client_certificate_credential_name, origin),
        detail::with_hint("convert a .pfx file with: openssl pkcs12 -in cert.pfx -out "
                          "cert.pem -nodes"));
  }
  try {
    return detail::client_certificate::load(pem, password);
  } catch (const keyless::error& e) {
    // load() names what is wrong without echoing key material or the password.
    throw keyless::error(
        e.code(),
        fmt::format("{}: {}: {}", client_certificate_credential_name, origin, e.message()),
        e.details());
  }
}

}  // namespace

struct client_certificate_credential::impl {
  impl(asio::any_io_executor executor, std::string tenant_id, std::string client_id,
       std::string_view pem, const std::string& origin, const client_certificate_options& options)
      : client(executor,
               detail::make_entra_settings(
                   std::string(client_certificate_credential_name), std::move(tenant_id),
                   std::move(client_id), options,
                   options.environment ? *options.environment : process_environment(), false),
               options),
        certificate(load_certificate(pem, origin, options.password)),
        send_chain(options.send_certificate_chain) {}

  detail::entra_token_client client;
  detail::client_certificate certificate;
  bool send_chain;
};

client_certificate_credential::client_certificate_credential(asio::any_io_executor executor,
                                                             std::string tenant_id,
                                                             std::string client_id,
                                                             std::filesystem::path certificate_path,
                                                             client_certificate_options options)
    : client_certificate_credential(
          from_pem_tag{}, executor, std::move(tenant_id), std::move(client_id),
          read_certificate_file(certificate_path),
          fmt::format("the certificate file '{}'", certificate_path.string()), std::move(options)) {
}

client_certificate_credential::client_certificate_credential(
    from_pem_tag, asio::any_io_executor executor, std::string tenant_id, std::string client_id,
    std::string_view pem, std::string origin, client_certificate_options options)
    : impl_(std::make_shared<impl>(executor, std::move(tenant_id), std::move(client_id), pem,
                                   origin, options)) {}

std::unique_ptr<client_certificate_credential> client_certificate_credential::from_pem(
    asio::any_io_executor executor, std::string tenant_id, std::string client_id,
    std::string_view pem, client_certificate_options options) {
  return std::unique_ptr<client_certificate_credential>(new client_certificate_credential(
      from_pem_tag{}, executor, std::move(tenant_id), std::move(client_id), pem,
      "the certificate PEM text", std::move(options)));
}

client_certificate_credential::~client_certificate_credential() = default;

asio::any_io_executor client_certificate_credential::get_executor() const {
  return impl_->client.executor();
}

std::string_view client_certificate_credential::name() const noexcept {
  return client_certificate_credential_name;
}

const std::string& client_certificate_credential::thumbprint() const noexcept {
  return impl_->certificate.sha1_thumbprint();
}

asio::awaitable<access_token> client_certificate_credential::get_token(token_request req) {
  std::shared_ptr<impl> self = impl_;
  // A named local, not a temporary inside the co_await operand: g++ 12 destroys such
  // temporaries twice, which here released the credential's state early.
  detail::proof_factory proof = [self](std::string_view endpoint) {
    // A new assertion per attempt: fresh jti and lifetime, audience = the token endpoint.
    std::string assertion = self->certificate.make_assertion(
        self->client.settings().client_id, endpoint, self->client.clock()->now(), self->send_chain);
    return detail::client_proof{
        "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-"
        "bearer&client_assertion=" +
            http::form_encode(assertion),
        assertion};
  };
  co_return co_await self->client.request(std::move(req), std::move(proof));
}

}  // namespace keyless::identity
