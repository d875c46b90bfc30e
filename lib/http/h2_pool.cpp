#include "h2_pool.hpp"

#include <utility>

#include <asio/dispatch.hpp>

namespace keyless::http::detail {

h2_pool::h2_pool(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls,
                 h2::session_options options, bool offer_http1)
    : executor_(std::move(executor)),
      tls_(std::move(tls)),
      options_(options),
      offer_http1_(offer_http1) {}

std::shared_ptr<h2_connection> h2_pool::acquire(const std::string& key, bool& opened) {
  std::lock_guard lock(mutex_);
  opened = false;
  if (!http1_origins_.empty() && http1_origins_.count(key) != 0) return nullptr;
  std::shared_ptr<h2_connection>& current = connections_[key];
  opened = !current || !current->accepting();
  // A connection that stopped taking streams finishes the ones it has on its own: its read
  // loop keeps it alive until they end.
  if (opened) current = std::make_shared<h2_connection>(executor_, tls_, options_, offer_http1_);
  return current;
}

void h2_pool::remember_http1(const std::string& key) {
  std::lock_guard lock(mutex_);
  http1_origins_.insert(key);
  connections_.erase(key);  // the declined connection; it is closed already
}

void h2_pool::shutdown() {
  std::lock_guard lock(mutex_);
  for (auto& [key, conn] : connections_) {
    asio::dispatch(conn->strand(), [conn = conn] { conn->close(); });
  }
  connections_.clear();
}

}  // namespace keyless::http::detail
