#pragma once
// Forwards TCP connections from a loopback port chosen by the user to a loopback port a fake
// picked, byte for byte (TLS passes through untouched). The fakes always listen on an
// ephemeral port; this is how `--openai-port 8443` and friends are honoured.

#include <cstdint>
#include <memory>

#include <asio/any_io_executor.hpp>

namespace keyless::emulator {

/// Listens on 127.0.0.1:`listen_port` (0: an ephemeral port) and relays every connection to
/// 127.0.0.1:`target_port`. Runs as coroutines on `executor` (one thread). Not movable.
class port_forwarder {
 public:
  /// Binds immediately. Throws asio::system_error when the port cannot be bound.
  port_forwarder(asio::any_io_executor executor, std::uint16_t listen_port,
                 std::uint16_t target_port);
  ~port_forwarder();
  port_forwarder(const port_forwarder&) = delete;
  port_forwarder& operator=(const port_forwarder&) = delete;

  std::uint16_t port() const noexcept;
  /// Closes the listener and every relayed connection. Idempotent; call it on the executor.
  void stop();

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace keyless::emulator
