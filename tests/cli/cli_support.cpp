#include "cli_support.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include <asio/ip/tcp.hpp>

#include "child_process.hpp"
#include "test_pki.hpp"

namespace keyless::cli_test {

std::string keyless_path() {
  const char* path = std::getenv("KEYLESS_EXE");
  if (path == nullptr || *path == '\0') {
    throw std::runtime_error("KEYLESS_EXE is not set: run the suite through meson test");
  }
  return path;
}

program_result run_program(const std::string& program, const std::vector<std::string>& args,
                           const environment& env, std::chrono::milliseconds limit) {
  std::vector<std::string> argv{program};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> variables;
  for (const auto& [name, value] : env) variables.push_back(name + "=" + value);
  auto run = testing::run_program(argv, variables, limit);
  program_result result;
  result.exit_code = run.signal != 0 ? 128 + run.signal : run.exit_code;
  result.timed_out = run.timed_out;
  result.out = std::move(run.out);
  result.err = std::move(run.err);
  return result;
}

program_result run_keyless(const std::vector<std::string>& args, const environment& env,
                           std::chrono::milliseconds limit) {
  return run_program(keyless_path(), args, env, limit);
}

world::world(testing::fake_openai_options openai) : work_(io_.get_executor()) {
  ca_file_ = dir_.write("ca.pem", testing::test_pki::shared().ca_certificate_pem());
  token_file_ = dir_.write("federated-token", std::string(federated_token) + "\n");
  std::filesystem::create_directories(dir_.path() / "bin");
  std::filesystem::create_directories(dir_.path() / "home");

  entra_ = std::make_unique<testing::fake_entra>(io_.get_executor());
  testing::fake_app sp;
  sp.client_id = sp_client_id;
  sp.object_id = sp_object_id;
  sp.secret = std::string(sp_secret);
  entra_->add_app(std::move(sp));
  testing::fake_app wi;
  wi.client_id = wi_client_id;
  wi.object_id = wi_object_id;
  wi.federated_token = std::string(federated_token);
  entra_->add_app(std::move(wi));

  testing::fake_managed_identity_options mi;
  mi.kind = testing::fake_mi_kind::imds;
  mi.tenant_id = tenant_id;
  // The service principal's client id doubles as a user-assigned identity, so AZURE_CLIENT_ID
  // of service_principal() selects it when managed identity is used.
  mi.user_assigned.push_back({std::string(sp_client_id), std::string(ua_object_id), ""});
  imds_ = std::make_unique<testing::fake_managed_identity>(io_.get_executor(), std::move(mi));
  openai_ = std::make_unique<testing::fake_openai>(io_.get_executor(), std::move(openai));
  refused_port_ = closed_port();
  thread_ = std::thread([this] { io_.run(); });
}

world::~world() {
  // Servers stop on their own executor; then nothing keeps run() going.
  asio::post(io_, [this] {
    entra_->server().stop();
    imds_->server().stop();
    openai_->server().stop();
  });
  work_.reset();
  thread_.join();
}

environment world::base() const {
  return {
      {"PATH", (dir_.path() / "bin").string()},
      {"HOME", (dir_.path() / "home").string()},
      {"TZ", "UTC"},
      {"SSL_CERT_FILE", ca_file_},
      {"AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:" + std::to_string(refused_port_)},
  };
}

environment world::service_principal() const {
  auto env = base();
  env["AZURE_AUTHORITY_HOST"] = entra_->authority();
  env["AZURE_TENANT_ID"] = tenant_id;
  env["AZURE_CLIENT_ID"] = sp_client_id;
  env["AZURE_CLIENT_SECRET"] = sp_secret;
  return env;
}

environment world::workload_identity() const {
  auto env = base();
  env["AZURE_AUTHORITY_HOST"] = entra_->authority();
  env["AZURE_TENANT_ID"] = tenant_id;
  env["AZURE_CLIENT_ID"] = wi_client_id;
  env["AZURE_FEDERATED_TOKEN_FILE"] = token_file_;
  return env;
}

environment world::managed_identity() const {
  auto env = base();
  env["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = imds_->host();
  return env;
}

environment world::fake_cli() const {
  auto env = base();
  // The fake is a shell script: it needs the usual tools after our fakes.
  env["PATH"] = std::string(KEYLESS_FAKES_DIR) + ":/usr/bin:/bin";
  return env;
}

environment world::with_openai(environment env) const {
  env["AZURE_OPENAI_ENDPOINT"] = openai_->endpoint();
  env["AZURE_OPENAI_DEPLOYMENT"] = "gpt-4o-mini";
  return env;
}

std::string make_token(std::string_view audience, std::string_view object_id) {
  testing::fake_token_claims claims;
  claims.tenant_id = tenant_id;
  claims.object_id = object_id;
  claims.audience = audience;
  claims.app_id = sp_client_id;
  claims.issued_at = std::chrono::system_clock::now();
  claims.expires_on = claims.issued_at + std::chrono::hours(1);
  return testing::make_fake_access_token(claims);
}

}  // namespace keyless::cli_test
