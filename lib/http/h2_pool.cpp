#include "h2_pool.hpp"

#include <utility>

#include <asio/dispatch.hpp>

namespace keyless::http::detail {

h2_pool::h2_pool(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls,
                 h2::session_options options)
    : executor_(std::move(executor)), tls_(std::move(tls)), options_(options) {}

std::shared_ptr<h2_connection> h2_pool::acquire(const std::string& key, bool& opened) {
  std::lock_guard lock(mutex_);
  std::shared_ptr<h2_connection>& current = connections_[key];
  opened = !current || !current->accepting();
  // A connection that stopped taking streams finishes the ones it has on its own: its read
  // loop keeps it alive until they end.
  if (opened) current = std::make_shared<h2_connection>(executor_, tls_, options_);
  return current;
}

void h2_pool::shutdown() {
  std::lock_guard lock(mutex_);
  for (auto& [key, conn] : connections_) {
    asio::dispatch(conn->strand(), [conn = conn] { conn->close(); });
  }
  connections_.clear();
}

}  // namespace keyless::http::detail
