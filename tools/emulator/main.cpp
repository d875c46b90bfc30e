// keyless-emulator: Microsoft Entra ID, a managed identity endpoint and Azure OpenAI, faked on
// loopback, so the keyless main job runs on a machine with no Azure subscription.

#include <openssl/rand.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/system_error.hpp>

#include <fmt/format.h>

#include "command_line.hpp"
#include "emulator_options.hpp"
#include "env_file.hpp"
#include "fake_entra.hpp"
#include "fake_managed_identity.hpp"
#include "fake_openai.hpp"
#include "port_forwarder.hpp"
#include "test_pki.hpp"

namespace {

namespace fs = std::filesystem;
using namespace keyless::emulator;
using namespace keyless::testing;

// The emulated tenant and the identities in it (made-up ids in the GUID shape Azure uses).
constexpr std::string_view tenant_id = "72f988bf-0000-4000-8000-000000000001";
constexpr std::string_view app_client_id = "6f1d3c2a-7e55-4a0b-9c4d-00000000e5a1";
constexpr std::string_view app_object_id = "6f1d3c2a-7e55-4a0b-9c4d-0000000000b1";

// An audience no token ever has: with it, the fake refuses every bearer token the way Azure
// refuses a token requested for the wrong scope.
constexpr std::string_view impossible_audience = "https://keyless-emulator.invalid/wrong-audience";

// How long a throttled request is asked to wait: long enough to see, short enough for a demo.
constexpr std::string_view throttle_retry_after_ms = "1000";

void set_stop_signals_blocked(bool blocked) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  ::pthread_sigmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &set, nullptr);
}

// How long request records are kept (see forget_records in run()).
constexpr auto record_lifetime = std::chrono::seconds(5);

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    throw std::runtime_error("cannot get random bytes from OpenSSL");
  }
  std::string out;
  for (unsigned char b : raw) out += fmt::format("{:02x}", b);
  return out;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The CA alone is not enough for SSL_CERT_FILE: a shell that sources the env file would stop
// trusting every public site. So the file holds our CA followed by the trust store in use.
std::string trust_bundle(const std::string& ca_pem) {
  const char* current = std::getenv("SSL_CERT_FILE");
  const fs::path base =
      current && *current ? fs::path(current) : fs::path(X509_get_default_cert_file());
  std::string bundle = ca_pem;
  if (!bundle.empty() && bundle.back() != '\n') bundle += '\n';
  bundle += read_file(base);
  return bundle;
}

fs::path make_private_directory() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = fmt::format("{}/keyless-emulator.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error(fmt::format("cannot create a directory from {}: {}", pattern,
                                         std::generic_category().message(errno)));
  }
  return pattern;
}

// Listens on the port the user gave by relaying to the fake's own ephemeral port.
std::unique_ptr<port_forwarder> forward(asio::io_context& io, std::uint16_t wanted,
                                        std::uint16_t actual, std::string_view what) {
  if (wanted == 0) return nullptr;
  try {
    return std::make_unique<port_forwarder>(io.get_executor(), wanted, actual);
  } catch (const std::system_error& e) {
    throw std::runtime_error(
        fmt::format("cannot listen on 127.0.0.1:{} for {}: {}", wanted, what, e.code().message()));
  }
}

std::string with_port(std::string_view scheme, std::uint16_t port, std::string_view path = {}) {
  return fmt::format("{}://127.0.0.1:{}{}", scheme, port, path);
}

int run(const emulator_options& options) {
  // Files first: a directory we cannot write is a reason to fail before listening anywhere.
  const bool own_directory = options.directory.empty();
  const fs::path directory = own_directory ? make_private_directory() : fs::path(options.directory);
  std::error_code ec;
  fs::create_directories(directory, ec);
  if (ec) {
    throw std::runtime_error(
        fmt::format("cannot create directory {}: {}", directory.string(), ec.message()));
  }
  const fs::path ca_path = fs::absolute(directory / "ca.pem");
  const fs::path trust_path = fs::absolute(directory / "trust.pem");
  const fs::path env_path =
      fs::absolute(options.env_file.empty() ? directory / "env.sh" : fs::path(options.env_file));
  std::vector<fs::path> written;
  auto cleanup = [&] {
    std::error_code ignored;
    for (const auto& p : written) fs::remove(p, ignored);
    if (own_directory) fs::remove_all(directory, ignored);
  };

  try {
    const test_pki pki = test_pki::generate();
    const std::string api_key = options.api_key.empty() ? random_hex(32) : options.api_key;
    const std::string identity_header = random_hex(16);
    const std::string client_secret = random_hex(24);
    const pitfalls& pit = options.pitfalls;

    asio::io_context io(1);

    fake_openai_options openai_options;
    openai_options.pki = &pki;
    openai_options.deployments = {options.deployment};
    openai_options.api_key = api_key;
    if (!options.reply.empty()) openai_options.reply = options.reply;
    if (pit.wrong_audience) openai_options.audiences = {std::string(impossible_audience)};
    if (pit.missing_role) openai_options.authorized_object_ids = std::vector<std::string>{};
    // A long-running emulator (a benchmark against it) must not keep every key and token.
    openai_options.record_credentials = false;
    fake_openai openai(io.get_executor(), openai_options);
    if (pit.throttle) {
      openai.enqueue(openai_fault::rate_limited_ms(std::string(throttle_retry_after_ms)),
                     *pit.throttle);
    }
    if (pit.server_error)
      openai.enqueue(openai_fault::of(openai_fault::kind::server_error), *pit.server_error);

    fake_managed_identity_options mi_options;
    mi_options.kind =
        options.identity == identity_mode::imds ? fake_mi_kind::imds : fake_mi_kind::app_service;
    mi_options.pki = &pki;
    mi_options.secret = identity_header;
    mi_options.tenant_id = std::string(tenant_id);
    mi_options.system_assigned = !pit.no_identity;
    if (pit.slow_identity) mi_options.latency = *pit.slow_identity;
    fake_managed_identity identity(io.get_executor(), mi_options);

    fake_entra_options entra_options;
    entra_options.pki = &pki;
    entra_options.tenants = {std::string(tenant_id)};
    fake_entra entra(io.get_executor(), entra_options);
    fake_app app;
    app.client_id = std::string(app_client_id);
    app.object_id = std::string(app_object_id);
    app.home_tenant = std::string(tenant_id);
    app.secret = client_secret;
    entra.add_app(app);

    auto openai_forward = forward(io, options.openai_port, openai.server().port(), "Azure OpenAI");
    auto identity_forward =
        forward(io, options.identity_port, identity.server().port(), "managed identity");
    auto entra_forward = forward(io, options.entra_port, entra.server().port(), "Entra ID");
    const std::uint16_t openai_port =
        openai_forward ? openai_forward->port() : openai.server().port();
    const std::uint16_t identity_port =
        identity_forward ? identity_forward->port() : identity.server().port();
    const std::uint16_t entra_port = entra_forward ? entra_forward->port() : entra.server().port();

    const std::string openai_endpoint = with_port("https", openai_port);
    const std::string entra_authority = with_port("https", entra_port);
    const std::string app_service_endpoint = with_port("http", identity_port, "/msi/token");
    const std::string imds_host = with_port("http", identity_port);

    using kind = env_entry::kind;
    std::vector<env_entry> env{
        {kind::comment, "Written by keyless-emulator; valid while it runs. Source it: . ./env.sh",
         ""},
        {kind::comment,
         "Azure OpenAI (fake): chat_keyless uses the first two, chat_api_key the key.", ""},
        {kind::set, "AZURE_OPENAI_ENDPOINT", openai_endpoint},
        {kind::set, "AZURE_OPENAI_DEPLOYMENT", options.deployment},
        {kind::set, "AZURE_OPENAI_API_KEY", api_key},
    };
    // Variables that would make the chain pick another source, or managed identity another
    // kind of endpoint, than the one emulated.
    std::vector<std::string> conflicting = {"AZURE_TOKEN_CREDENTIALS",
                                            "AZURE_CLIENT_CERTIFICATE_PATH",
                                            "AZURE_CLIENT_CERTIFICATE_PASSWORD",
                                            "AZURE_USERNAME",
                                            "AZURE_PASSWORD",
                                            "AZURE_FEDERATED_TOKEN_FILE",
                                            "IDENTITY_SERVER_THUMBPRINT",
                                            "IMDS_ENDPOINT",
                                            "MSI_ENDPOINT",
                                            "MSI_SECRET"};
    switch (options.identity) {
      case identity_mode::app_service:
        env.push_back({kind::comment, "Managed identity, App Service form (2019-08-01).", ""});
        env.push_back({kind::set, "IDENTITY_ENDPOINT", app_service_endpoint});
        env.push_back({kind::set, "IDENTITY_HEADER", identity_header});
        conflicting.insert(conflicting.end(), {"AZURE_CLIENT_SECRET", "AZURE_CLIENT_ID",
                                               "AZURE_POD_IDENTITY_AUTHORITY_HOST"});
        break;
      case identity_mode::imds:
        env.push_back({kind::comment, "Managed identity, IMDS form (a VM or an AKS node).", ""});
        env.push_back({kind::set, "AZURE_POD_IDENTITY_AUTHORITY_HOST", imds_host});
        conflicting.insert(conflicting.end(), {"AZURE_CLIENT_SECRET", "AZURE_CLIENT_ID",
                                               "IDENTITY_ENDPOINT", "IDENTITY_HEADER"});
        break;
      case identity_mode::service_principal:
        env.push_back(
            {kind::comment, "A service principal with a client secret (fake Entra ID).", ""});
        env.push_back({kind::set, "AZURE_TENANT_ID", std::string(tenant_id)});
        env.push_back({kind::set, "AZURE_CLIENT_ID", std::string(app_client_id)});
        env.push_back({kind::set, "AZURE_CLIENT_SECRET", client_secret});
        conflicting.insert(conflicting.end(), {"IDENTITY_ENDPOINT", "IDENTITY_HEADER"});
        break;
    }
    env.push_back(
        {kind::comment, "Microsoft Entra ID (fake), for the credentials that sign in there.", ""});
    env.push_back({kind::set, "AZURE_AUTHORITY_HOST", entra_authority});
    env.push_back({kind::comment,
                   "The emulator's CA followed by the trust store in use; ca.pem is the CA alone.",
                   ""});
    env.push_back({kind::set, "SSL_CERT_FILE", trust_path.string()});
    env.push_back({kind::set, "KEYLESS_EMULATOR_CA", ca_path.string()});
    env.push_back({kind::comment, "Never send loopback requests through a proxy.", ""});
    env.push_back({kind::prepend_list, "no_proxy", "127.0.0.1"});
    env.push_back({kind::prepend_list, "NO_PROXY", "127.0.0.1"});
    env.push_back(
        {kind::comment, "These would steer the credential chain away from the emulator.", ""});
    for (auto& name : conflicting) env.push_back({kind::unset, name, ""});

    write_private_file(ca_path, pki.ca_certificate_pem());
    written.push_back(ca_path);
    write_private_file(trust_path, trust_bundle(pki.ca_certificate_pem()));
    written.push_back(trust_path);
    write_private_file(env_path, render_env_file(env));
    written.push_back(env_path);

    // Stop everything on SIGINT / SIGTERM; run() then returns because no work is left.
    asio::signal_set signals(io, SIGINT, SIGTERM);
    // Signals were blocked since main() began; one that came meanwhile is delivered now, to
    // asio, and stops the emulator cleanly once it runs.
    set_stop_signals_blocked(false);
    asio::steady_timer role_timer(io);
    asio::steady_timer forget_timer(io);
    bool stopping = false;
    signals.async_wait([&](std::error_code error, int signal_number) {
      if (error) return;
      stopping = true;
      std::fprintf(stderr, "keyless-emulator: %s, stopping\n",
                   signal_number == SIGINT ? "SIGINT" : "SIGTERM");
      role_timer.cancel();
      forget_timer.cancel();
      if (openai_forward) openai_forward->stop();
      if (identity_forward) identity_forward->stop();
      if (entra_forward) entra_forward->stop();
      openai.server().stop();
      identity.server().stop();
      entra.server().stop();
    });
    // The identity servers record every request for tests to inspect (Azure OpenAI's is told
    // not to); here nobody reads the records, so they are dropped now and then, keeping memory
    // flat and secrets out of it.
    std::function<void()> forget_records = [&] {
      forget_timer.expires_after(record_lifetime);
      forget_timer.async_wait([&](std::error_code error) {
        if (error || stopping) return;
        openai.server().clear_requests();
        identity.server().clear_requests();
        entra.server().clear_requests();
        forget_records();
      });
    };
    forget_records();
    if (pit.missing_role) {
      role_timer.expires_after(*pit.missing_role);
      role_timer.async_wait([&](std::error_code error) {
        if (error || stopping) return;
        openai.set_authorized_object_ids(std::nullopt);
        std::fprintf(stderr, "keyless-emulator: pitfall missing-role: the role is granted now\n");
      });
    }

    std::printf("keyless-emulator: Azure OpenAI      %s (deployment %s)\n", openai_endpoint.c_str(),
                options.deployment.c_str());
    if (options.identity == identity_mode::app_service) {
      std::printf("keyless-emulator: managed identity  %s (App Service)\n",
                  app_service_endpoint.c_str());
    } else if (options.identity == identity_mode::imds) {
      std::printf("keyless-emulator: managed identity  %s (IMDS)\n", imds_host.c_str());
    } else {
      std::printf("keyless-emulator: managed identity  %s (unused: service-principal mode)\n",
                  app_service_endpoint.c_str());
    }
    std::printf("keyless-emulator: Entra ID          %s (tenant %s)\n", entra_authority.c_str(),
                std::string(tenant_id).c_str());
    if (pit.wrong_audience)
      std::printf("keyless-emulator: pitfall wrong-audience: bearer tokens get 401\n");
    if (pit.missing_role) {
      std::printf("keyless-emulator: pitfall missing-role: bearer tokens get 403 for %lld s\n",
                  static_cast<long long>(pit.missing_role->count()));
    }
    if (pit.throttle)
      std::printf("keyless-emulator: pitfall throttle: the next %zu chat requests get 429\n",
                  *pit.throttle);
    if (pit.server_error)
      std::printf("keyless-emulator: pitfall server-error: the next %zu chat requests get 500\n",
                  *pit.server_error);
    if (pit.no_identity)
      std::printf("keyless-emulator: pitfall no-identity: no managed identity is attached\n");
    if (pit.slow_identity) {
      std::printf(
          "keyless-emulator: pitfall slow-identity: managed identity answers after %lld ms\n",
          static_cast<long long>(pit.slow_identity->count()));
    }
    std::printf("env file: %s\nready\n", env_path.c_str());
    std::fflush(stdout);

    io.run();

    std::fprintf(stderr,
                 "keyless-emulator: stopped after %zu chat requests (%zu answered), %zu managed "
                 "identity and %zu Entra ID token requests\n",
                 openai.requests(), openai.completions_served() + openai.streams_served(),
                 identity.token_requests(), entra.token_requests());
  } catch (...) {
    cleanup();
    throw;
  }
  cleanup();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A reader of our stdout that went away must not kill us before we clean up.
  std::signal(SIGPIPE, SIG_IGN);
  // Until the signal_set is in place, SIGINT / SIGTERM wait instead of killing us with our
  // directory half written.
  set_stop_signals_blocked(true);
  const std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
  emulator_options options;
  try {
    options = parse_emulator_options(args);
  } catch (const keyless::cli::usage_error& e) {
    std::fprintf(stderr, "keyless-emulator: %s\n(see `keyless-emulator --help`)\n", e.what());
    return 2;
  }
  if (options.help) {
    std::fputs(emulator_help().c_str(), stdout);
    return 0;
  }
  try {
    return run(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "keyless-emulator: %s\n", e.what());
    return 1;
  }
}
