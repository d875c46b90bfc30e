// A fake Entra ID (ADFS-shaped authority) and ARM on loopback TLS, just enough
// for the real Azure CLI to log in a service principal and get tokens, so the
// Azure CLI credential can be tested against genuine az output with no
// network (see shared/design/REAL_AZ.md and tests/identity/real_az_test.sh).
//
//   fake_entra_az STATE_DIR CLIENT_ID SECRET TENANT [EXPIRES_IN]
//
// Serves on 127.0.0.1 (an ephemeral port) until killed:
//   GET  /adfs/.well-known/openid-configuration
//   POST /<tenant>/oauth2/v2.0/token   client_credentials with the secret in the form;
//        401 AADSTS7000215 for a wrong secret, or for every request once
//        STATE_DIR/reject exists
//   GET  /subscriptions                 an empty list (az login)
// Writes STATE_DIR/keyless-test-ca.pem (the CA to trust), STATE_DIR/port once
// listening, appends every token it issues to STATE_DIR/issued (one per line,
// so the test can compare without printing it) and every request line to
// STATE_DIR/requests.

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <fmt/core.h>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include "core/base64.hpp"
#include "keyless/json/writer.hpp"
#include "loopback_server.hpp"
#include "test_pki.hpp"

namespace {

using keyless::testing::loopback_server;
using keyless::testing::recorded_request;
using keyless::testing::responder;

struct settings {
  std::filesystem::path state;
  std::string client_id;
  std::string secret;
  std::string tenant;
  long expires_in = 3599;
};

void append_line(const std::filesystem::path& file, const std::string& line) {
  std::ofstream(file, std::ios::app) << line << '\n';
}

std::string json_error(const std::string& error, long code, const std::string& description) {
  keyless::json::writer w;
  w.begin_object()
      .member("error", error)
      .member("error_description",
              fmt::format("AADSTS{}: {}\r\nTrace ID: 00000000-0000-4000-8000-00000000000a\r\n"
                          "Correlation ID: 00000000-0000-4000-8000-00000000000b\r\n"
                          "Timestamp: 2024-05-06 07:08:09Z",
                          code, description))
      .key("error_codes")
      .begin_array()
      .value(code)
      .end_array()
      .member("trace_id", "00000000-0000-4000-8000-00000000000a")
      .member("correlation_id", "00000000-0000-4000-8000-00000000000b")
      .end_object();
  return w.release();
}

// A well-formed JWT (the signature is not a real one): az and MSAL treat
// access tokens as opaque, but a realistic shape keeps the test honest.
std::string make_token(const settings& s, const std::string& audience, long serial) {
  const auto now = static_cast<long>(std::time(nullptr));
  keyless::json::writer header;
  header.begin_object().member("typ", "JWT").member("alg", "RS256").end_object();
  keyless::json::writer payload;
  payload.begin_object()
      .member("aud", audience)
      .member("iss", "https://127.0.0.1/adfs")
      .member("tid", s.tenant)
      .member("appid", s.client_id)
      .member("iat", now)
      .member("nbf", now)
      .member("exp", now + s.expires_in)
      .member("serial", serial)
      .end_object();
  return keyless::detail::base64url_encode(header.release()) + "." +
         keyless::detail::base64url_encode(payload.release()) + "." +
         keyless::detail::base64url_encode(fmt::format("fake-signature-{}-{}", serial, now));
}

asio::awaitable<void> handle(std::shared_ptr<settings> s, std::shared_ptr<long> serial,
                             std::uint16_t port, recorded_request request, responder& r) {
  append_line(s->state / "requests", request.method + " " + request.target);
  const std::string path(request.path());
  const std::string base = fmt::format("https://127.0.0.1:{}", port);

  if (request.method == "GET" && path == "/adfs/.well-known/openid-configuration") {
    keyless::json::writer w;
    w.begin_object()
        .member("issuer", base + "/adfs")
        .member("authorization_endpoint", base + "/adfs/oauth2/authorize")
        .member("token_endpoint", fmt::format("{}/{}/oauth2/v2.0/token", base, s->tenant))
        .member("device_authorization_endpoint", base + "/adfs/oauth2/devicecode")
        .member("jwks_uri", base + "/adfs/discovery/keys")
        .end_object();
    co_await r.respond_json(200, w.release());
    co_return;
  }

  if (request.method == "POST" && path.ends_with("/oauth2/v2.0/token")) {
    const auto grant = request.form_param("grant_type");
    const auto client = request.form_param("client_id");
    const auto secret = request.form_param("client_secret");
    const auto scope = request.form_param("scope").value_or("");
    if (grant != "client_credentials") {
      co_await r.respond_json(400, json_error("unsupported_grant_type", 70003,
                                              "The app requested an unsupported grant type."));
      co_return;
    }
    if (client != s->client_id) {
      co_await r.respond_json(400, json_error("unauthorized_client", 700016,
                                              "Application was not found in the directory."));
      co_return;
    }
    if (secret != s->secret || std::filesystem::exists(s->state / "reject")) {
      co_await r.respond_json(
          401, json_error("invalid_client", 7000215,
                          "Invalid client secret provided. Ensure the secret being sent in the "
                          "request is the client secret value, not the client secret ID."));
      co_return;
    }
    // "https://x/.default" (possibly among other scopes) → audience "https://x".
    std::string audience = scope.substr(0, scope.find(' '));
    if (audience.ends_with("/.default")) audience.resize(audience.size() - 9);
    const std::string token = make_token(*s, audience, ++*serial);
    append_line(s->state / "issued", token);
    keyless::json::writer w;
    w.begin_object()
        .member("token_type", "Bearer")
        .member("expires_in", s->expires_in)
        .member("ext_expires_in", s->expires_in)
        .member("access_token", token)
        .end_object();
    co_await r.respond_json(200, w.release());
    co_return;
  }

  if (request.method == "GET" && path == "/subscriptions") {
    co_await r.respond_json(200, R"({"value":[]})");
    co_return;
  }
  if (request.method == "GET" && path == "/tenants") {
    keyless::json::writer w;
    w.begin_object()
        .key("value")
        .begin_array()
        .begin_object()
        .member("id", "/tenants/" + s->tenant)
        .member("tenantId", s->tenant)
        .end_object()
        .end_array()
        .end_object();
    co_await r.respond_json(200, w.release());
    co_return;
  }
  co_await r.respond_json(
      404, R"({"error":{"code":"NotFound","message":"fake_entra_az: no such route"}})");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: fake_entra_az STATE_DIR CLIENT_ID SECRET TENANT [EXPIRES_IN]\n";
    return 2;
  }
  auto s = std::make_shared<settings>();
  s->state = argv[1];
  s->client_id = argv[2];
  s->secret = argv[3];
  s->tenant = argv[4];
  if (argc > 5) s->expires_in = std::stol(argv[5]);

  try {
    asio::io_context io;
    const auto& pki = keyless::testing::test_pki::shared();
    pki.write_ca_file(s->state);
    keyless::testing::server_options options;
    options.tls = true;
    options.pki = &pki;
    loopback_server server(io.get_executor(), options);
    const std::uint16_t port = server.port();
    auto serial = std::make_shared<long>(0);
    server.set_handler([s, serial, port](recorded_request request, responder& r) {
      return handle(s, serial, port, std::move(request), r);
    });
    asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&](std::error_code, int) { server.stop(); });

    // Written last and renamed into place: once it exists, the server listens.
    std::ofstream(s->state / "port.tmp") << port << '\n';
    std::filesystem::rename(s->state / "port.tmp", s->state / "port");
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "fake_entra_az: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
