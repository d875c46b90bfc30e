#pragma once
// Shared state behind keyless::http::client handles and the streams they return.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ssl/context.hpp>

#include "connection.hpp"
#include "connection_pool.hpp"
#include "h2_connection.hpp"
#include "h2_pool.hpp"
#include "keyless/http/client.hpp"
#include "keyless/http/response_stream.hpp"
#include "proxy.hpp"

namespace keyless::http::detail {

class client_impl : public std::enable_shared_from_this<client_impl> {
 public:
  client_impl(asio::any_io_executor executor, client_options options);

  /// Closes the pools' connections (the client handle is going away).
  void shutdown();

  asio::any_io_executor executor_;
  client_options options_;
  std::shared_ptr<const keyless::clock> clock_;
  std::shared_ptr<asio::ssl::context> tls_;
  proxy_config proxy_;
  std::shared_ptr<connection_pool> pool_;
  std::unique_ptr<h2_pool> h2_;  ///< null unless the client speaks HTTP/2

  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> connections_opened_{0};
  std::atomic<std::uint64_t> reused_{0};
  std::atomic<std::uint64_t> retries_{0};
};

/// A connection slot taken from the pool; gives it back (closing the connection) when
/// destroyed unless recycle() was called.
class lease {
 public:
  lease() = default;
  /// `x` names the slot's origin (its route's pool key): held, not copied, per request.
  lease(std::shared_ptr<connection_pool> pool, std::shared_ptr<const exchange> x,
        std::shared_ptr<connection> conn)
      : pool_(std::move(pool)), x_(std::move(x)), conn_(std::move(conn)) {}
  lease(lease&&) noexcept = default;
  lease& operator=(lease&& other) noexcept {
    if (this != &other) {
      close();
      pool_ = std::move(other.pool_);
      x_ = std::move(other.x_);
      conn_ = std::move(other.conn_);
    }
    return *this;
  }
  ~lease() { close(); }

  const std::shared_ptr<connection>& conn() const noexcept { return conn_; }
  void set_conn(std::shared_ptr<connection> conn) { conn_ = std::move(conn); }
  explicit operator bool() const noexcept { return pool_ != nullptr; }

  /// Returns the connection to the pool when it may carry another request, closes it otherwise.
  void finish(const response_head& head);
  /// Closes the connection and frees its slot.
  void close() noexcept;

 private:
  std::shared_ptr<connection_pool> pool_;
  std::shared_ptr<const exchange> x_;
  std::shared_ptr<connection> conn_;
};

/// An HTTP/2 stream a response_stream reads; abandons it (RST_STREAM) when destroyed unless
/// release() was called.
class h2_slot {
 public:
  h2_slot() = default;
  h2_slot(std::shared_ptr<h2_connection> conn, std::shared_ptr<h2_stream> stream)
      : conn_(std::move(conn)), stream_(std::move(stream)) {}
  h2_slot(h2_slot&&) noexcept = default;
  h2_slot& operator=(h2_slot&& other) noexcept {
    if (this != &other) {
      close();
      conn_ = std::move(other.conn_);
      stream_ = std::move(other.stream_);
    }
    return *this;
  }
  ~h2_slot() { close(); }

  explicit operator bool() const noexcept { return conn_ != nullptr; }
  const std::shared_ptr<h2_connection>& conn() const noexcept { return conn_; }
  const std::shared_ptr<h2_stream>& stream() const noexcept { return stream_; }
  /// The stream ended or failed: nothing to abandon.
  void release() noexcept;
  /// Abandons the stream, on the connection's strand.
  void close() noexcept;

 private:
  std::shared_ptr<h2_connection> conn_;
  std::shared_ptr<h2_stream> stream_;
};

/// What a response_stream holds.
struct stream_state {
  std::shared_ptr<const exchange> x;
  lease slot;
  h2_slot h2;                      ///< instead of `slot` for an HTTP/2 response
  asio::any_io_executor executor;  // the connection's strand
  response_head head;
  bool done = false;

  static response_stream make(std::shared_ptr<stream_state> state) {
    return response_stream(std::move(state));
  }
};

}  // namespace keyless::http::detail
