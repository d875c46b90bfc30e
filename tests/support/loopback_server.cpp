#include "loopback_server.hpp"

#include <stdexcept>

namespace keyless::testing {

asio::awaitable<void> responder::respond_json(int status, std::string json, header_map headers) {
  co_await respond(status, std::move(json), std::move(headers), "application/json");
}
asio::awaitable<void> responder::respond_chunked(int status, std::vector<std::string> chunks,
                                                 header_map headers, std::string content_type) {
  co_await start_chunked(status, std::move(headers), std::move(content_type));
  for (auto& c : chunks)
    if (!c.empty()) co_await write_chunk(std::move(c));
  co_await finish_chunked();
}

struct loopback_server::impl {};

loopback_server::loopback_server(asio::any_io_executor, server_options) {
  throw std::logic_error("not implemented yet");
}
loopback_server::~loopback_server() = default;
std::uint16_t loopback_server::port() const noexcept {
  return 0;
}
std::string loopback_server::url(std::string_view) const {
  return {};
}
std::string loopback_server::authority() const {
  return {};
}
bool loopback_server::tls() const noexcept {
  return false;
}
void loopback_server::set_handler(handler) {}
void loopback_server::route(std::string, std::string, handler) {}
std::size_t loopback_server::connections_accepted() const {
  return 0;
}
std::size_t loopback_server::open_connections() const {
  return 0;
}
std::size_t loopback_server::requests_seen() const {
  return 0;
}
std::size_t loopback_server::requests_seen(std::string_view) const {
  return 0;
}
std::size_t loopback_server::handshake_failures() const {
  return 0;
}
std::size_t loopback_server::handler_failures() const {
  return 0;
}
std::vector<recorded_request> loopback_server::requests() const {
  return {};
}
recorded_request loopback_server::last_request() const {
  throw std::logic_error("none");
}
void loopback_server::clear_requests() {}
std::size_t loopback_server::close_idle_connections() {
  return 0;
}
void loopback_server::stop() {}

}  // namespace keyless::testing
