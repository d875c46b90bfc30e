#pragma once
// The HTTP/2 connection of each origin: one multiplexed connection carries every request to
// it, so the pool only hands out the current one and replaces it once it stops taking streams.

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <asio/any_io_executor.hpp>
#include <asio/ssl/context.hpp>

#include "h2_connection.hpp"
#include "http/h2/client_session.hpp"

namespace keyless::http::detail {

/// Thread-safety: every member may be called from any thread.
class h2_pool {
 public:
  h2_pool(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls,
          h2::session_options options);

  /// `key`'s connection when it still takes streams, else a new one (not connected yet: its
  /// first request connects it); `opened` says which.
  std::shared_ptr<h2_connection> acquire(const std::string& key, bool& opened);

  /// Closes every connection; requests in flight on them fail with connection_failed.
  void shutdown();

 private:
  asio::any_io_executor executor_;
  std::shared_ptr<asio::ssl::context> tls_;
  h2::session_options options_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<h2_connection>> connections_;
};

}  // namespace keyless::http::detail
