#include "keyless/identity/workload_identity_credential.hpp"

#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include <fmt/core.h>
#include <fmt/format.h>

#include "core/text.hpp"
#include "identity/entra_token_request.hpp"
#include "keyless/core/error.hpp"
#include "keyless/http/url.hpp"

namespace keyless::identity {
namespace {

constexpr std::string_view workload_identity_credential_name = "WorkloadIdentityCredential";

// A projected service account token is one or two KiB; a file far larger is not one.
constexpr std::uintmax_t max_token_file = 64 * 1024;

[[noreturn]] void token_file_problem(const std::filesystem::path& path, std::string_view what,
                                     errc code = errc::authentication_failed) {
  throw keyless::error(
      code,
      fmt::format("{}: the federated token file '{}' {}", workload_identity_credential_name,
                  path.string(), what),
      detail::with_hint("the workload identity webhook projects this file into the pod; check "
                        "the pod's service account (azure.workload.identity/use label) and "
                        "AZURE_FEDERATED_TOKEN_FILE"));
}

std::string read_assertion(const std::filesystem::path& path) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);  // follows the kubelet's symlinks
  if (ec || !std::filesystem::exists(status)) token_file_problem(path, "does not exist");
  if (!std::filesystem::is_regular_file(status)) token_file_problem(path, "is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) token_file_problem(path, "cannot be opened");
  // Read at most one byte past the limit, so a huge (or endless) file is never read whole.
  std::string content(static_cast<std::size_t>(max_token_file) + 1, '\0');
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  if (in.bad()) token_file_problem(path, "cannot be read");
  content.resize(static_cast<std::size_t>(in.gcount()));
  if (content.size() > max_token_file)
    token_file_problem(path, "is larger than 64 KiB", errc::limit_exceeded);
  std::string_view token = keyless::detail::trim(content, keyless::detail::whitespace);
  if (token.empty()) token_file_problem(path, "is empty");
  return std::string(token);
}

}  // namespace

struct workload_identity_credential::impl {
  asio::any_io_executor executor;
  std::optional<detail::entra_token_client> client;
  std::filesystem::path token_file;
  std::optional<keyless::error> problem;
};

workload_identity_credential::workload_identity_credential(asio::any_io_executor executor,
                                                           workload_identity_options options)
    : impl_(std::make_shared<impl>()) {
  impl_->executor = executor;
  environment_map env = options.environment ? *options.environment : process_environment();
  std::string tenant = options.tenant_id;
  if (tenant.empty()) tenant = std::string(find_variable(env, "AZURE_TENANT_ID").value_or(""));
  std::string client_id = options.client_id;
  if (client_id.empty()) {
    client_id = std::string(find_variable(env, "AZURE_CLIENT_ID").value_or(""));
  }
  std::filesystem::path file = options.token_file_path;
  if (file.empty()) {
    file = std::string(find_variable(env, "AZURE_FEDERATED_TOKEN_FILE").value_or(""));
  }

  std::vector<std::string_view> missing;
  if (tenant.empty()) missing.push_back("the tenant id (AZURE_TENANT_ID)");
  if (client_id.empty()) missing.push_back("the client id (AZURE_CLIENT_ID)");
  if (file.empty()) missing.push_back("the token file (AZURE_FEDERATED_TOKEN_FILE)");
  if (!missing.empty()) {
    impl_->problem.emplace(
        errc::credential_unavailable,
        fmt::format("{}: not configured: {} {} missing", workload_identity_credential_name,
                    fmt::join(missing, ", "), missing.size() == 1 ? "is" : "are"),
        detail::with_hint("on AKS, enable workload identity on the cluster and label the pod "
                          "azure.workload.identity/use=true; elsewhere set AZURE_TENANT_ID, "
                          "AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE"));
    return;
  }
  options.environment = env;
  impl_->client.emplace(
      executor,
      detail::make_entra_settings(std::string(workload_identity_credential_name), std::move(tenant),
                                  std::move(client_id), options, env, true),
      options);
  impl_->token_file = std::move(file);
}

workload_identity_credential::~workload_identity_credential() = default;

asio::any_io_executor workload_identity_credential::get_executor() const {
  return impl_->executor;
}

std::string_view workload_identity_credential::name() const noexcept {
  return workload_identity_credential_name;
}

asio::awaitable<access_token> workload_identity_credential::get_token(token_request req) {
  std::shared_ptr<impl> self = impl_;
  if (!self->client) throw *self->problem;
  // A named local, not a temporary inside the co_await operand: g++ 12 destroys such
  // temporaries twice, which here released the credential's state early.
  detail::proof_factory proof = [self](std::string_view) {
    std::string assertion = read_assertion(self->token_file);
    return detail::client_proof{
        "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-"
        "bearer&client_assertion=" +
            http::form_encode(assertion),
        assertion};
  };
  co_return co_await self->client->request(std::move(req), std::move(proof));
}

}  // namespace keyless::identity
