#pragma once
// nghttpd (nghttp2's HTTP/2 server, Debian package nghttp2-server) on 127.0.0.1, serving
// files from a temporary directory: a real HTTP/2 peer for the client's HTTP/2 transport.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include "child_process.hpp"
#include "temp_dir.hpp"
#include "test_pki.hpp"

namespace keyless::http::test {

inline constexpr const char* nghttpd_path = "/usr/sbin/nghttpd";

inline bool have_nghttpd() {
  return std::filesystem::exists(nghttpd_path);
}

struct nghttpd_options {
  bool tls = false;
  /// SETTINGS_MAX_CONCURRENT_STREAMS it announces.
  int max_concurrent_streams = 100;
};

/// Runs nghttpd with --echo-upload (a POST's body comes back as the response body) until
/// destroyed. Files to serve are written with file().
class nghttpd_server {
 public:
  explicit nghttpd_server(nghttpd_options options = {}) : tls_(options.tls) {
    port_ = free_port();
    std::vector<std::string> argv{
        nghttpd_path, "--address=127.0.0.1", "--htdocs=" + (dir_ / "htdocs").string(),
        "--echo-upload",
        "--max-concurrent-streams=" + std::to_string(options.max_concurrent_streams)};
    std::filesystem::create_directories(dir_ / "htdocs");
    if (!tls_) argv.push_back("--no-tls");
    argv.push_back(std::to_string(port_));
    if (tls_) {
      const auto& leaf = testing::test_pki::shared().leaf(testing::leaf_kind::good);
      argv.push_back(dir_.write("key.pem", leaf.private_key_pem));
      argv.push_back(dir_.write("cert.pem", leaf.certificate_pem));
    }
    process_ = std::make_unique<testing::child_process>(argv, std::vector<std::string>{});
    wait_until_listening();
  }

  std::uint16_t port() const noexcept { return port_; }
  std::string url(std::string_view path) const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) +
           std::string(path);
  }
  /// Writes a file the server serves at "/<name>".
  void file(std::string_view name, std::string_view content) const {
    dir_.write("htdocs/" + std::string(name), content);
  }

 private:
  static std::uint16_t free_port() {
    asio::io_context io;
    asio::ip::tcp::acceptor probe(io, {asio::ip::address_v4::loopback(), 0});
    return probe.local_endpoint().port();
  }

  // Polls until the port accepts a connection: nghttpd says nothing when it is ready.
  void wait_until_listening() {
    asio::io_context io;
    for (int attempt = 0; attempt < 500; ++attempt) {
      asio::ip::tcp::socket socket(io);
      std::error_code ec;
      socket.connect({asio::ip::address_v4::loopback(), port_}, ec);
      if (!ec) return;
      if (process_->wait(std::chrono::milliseconds(0))) break;  // it exited
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("nghttpd did not start listening: " + process_->err());
  }

  bool tls_;
  testing::temp_dir dir_{"keyless-nghttpd"};
  std::uint16_t port_ = 0;
  std::unique_ptr<testing::child_process> process_;
};

}  // namespace keyless::http::test
