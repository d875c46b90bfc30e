#pragma once
// The HTTP/2 connection of each origin: one multiplexed connection carries every request to
// it, so the pool only hands out the current one and replaces it once it stops taking streams.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <asio/any_io_executor.hpp>
#include <asio/ssl/context.hpp>

#include "h2_connection.hpp"
#include "http/h2/client_session.hpp"

namespace keyless::http::detail {

/// Thread-safety: every member may be called from any thread.
class h2_pool {
 public:
  /// A connection idle for `idle_expiry` (pool_options) is replaced when next asked for: a
  /// server may have dropped it meanwhile without a word.
  h2_pool(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls,
          h2_settings settings, std::chrono::milliseconds idle_expiry);

  /// `key`'s connection when it still takes streams and has not been idle too long, else a
  /// new one (not connected yet: its first request connects it); `opened` says which. Null for
  /// an origin that chose HTTP/1.1.
  std::shared_ptr<h2_connection> acquire(const std::string& key, bool& opened);
  /// The origin of `key` chose HTTP/1.1 in a handshake: its requests go that way from now on
  /// (for the client's life; a server rarely changes what it speaks).
  void remember_http1(const std::string& key);

  /// Closes every connection; requests in flight on them fail with connection_failed.
  void shutdown();

 private:
  bool idle_too_long(const h2_connection& conn) const noexcept;

  asio::any_io_executor executor_;
  std::shared_ptr<asio::ssl::context> tls_;
  h2_settings settings_;
  std::chrono::milliseconds idle_expiry_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<h2_connection>> connections_;
  std::unordered_set<std::string> http1_origins_;
};

}  // namespace keyless::http::detail
