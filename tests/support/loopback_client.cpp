#include "loopback_client.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>

namespace keyless::testing {

std::uint16_t closed_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();  // closed again when the acceptor goes
}

keyless::http::client_options trusting(const std::string& ca_pem,
                                       std::chrono::milliseconds request_timeout) {
  keyless::http::client_options o;
  o.tls.use_system_trust_store = false;
  o.tls.ca_pem = ca_pem;
  o.proxy = keyless::http::proxy_settings{};
  o.connect_timeout = std::chrono::seconds(5);
  o.request_timeout = request_timeout;
  return o;
}

}  // namespace keyless::testing
