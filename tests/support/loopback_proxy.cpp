#include "loopback_proxy.hpp"

#include <stdexcept>

namespace keyless::testing {

struct loopback_proxy::impl {};

loopback_proxy::loopback_proxy(asio::any_io_executor, proxy_options) {
  throw std::logic_error("not implemented yet");
}
loopback_proxy::~loopback_proxy() = default;
std::uint16_t loopback_proxy::port() const noexcept {
  return 0;
}
std::string loopback_proxy::url() const {
  return {};
}
std::size_t loopback_proxy::connections_accepted() const {
  return 0;
}
std::size_t loopback_proxy::open_connections() const {
  return 0;
}
std::size_t loopback_proxy::connect_requests() const {
  return 0;
}
std::vector<std::string> loopback_proxy::connect_targets() const {
  return {};
}
std::size_t loopback_proxy::forwarded_requests() const {
  return 0;
}
std::vector<std::string> loopback_proxy::forwarded_targets() const {
  return {};
}
std::size_t loopback_proxy::refused_requests() const {
  return 0;
}
std::vector<std::string> loopback_proxy::authorizations() const {
  return {};
}
void loopback_proxy::stop() {}

}  // namespace keyless::testing
