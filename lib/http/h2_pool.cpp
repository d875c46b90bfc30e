#include "h2_pool.hpp"

#include <utility>

#include <asio/dispatch.hpp>

namespace keyless::http::detail {

h2_pool::h2_pool(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls,
                 h2_settings settings, std::chrono::milliseconds idle_expiry)
    : executor_(std::move(executor)),
      tls_(std::move(tls)),
      settings_(std::move(settings)),
      idle_expiry_(idle_expiry) {
  if (!settings_.clock) settings_.clock = keyless::clock::system();
}

std::shared_ptr<h2_connection> h2_pool::acquire(const std::string& key, bool& opened) {
  std::lock_guard lock(mutex_);
  opened = false;
  if (!http1_origins_.empty() && http1_origins_.count(key) != 0) return nullptr;
  std::shared_ptr<h2_connection>& current = connections_[key];
  if (current && idle_too_long(*current)) {
    asio::dispatch(current->strand(), [conn = current] { conn->close(); });
    current.reset();
  }
  opened = !current || !current->accepting();
  // A connection that stopped taking streams finishes the ones it has on its own: its read
  // loop keeps it alive until they end.
  if (opened) current = std::make_shared<h2_connection>(executor_, tls_, settings_);
  return current;
}

bool h2_pool::idle_too_long(const h2_connection& conn) const noexcept {
  const auto since = conn.idle_since();
  return since && settings_.clock->now() - *since >= idle_expiry_;
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
