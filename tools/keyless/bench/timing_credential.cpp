#include "timing_credential.hpp"

#include <exception>
#include <utility>

namespace keyless::cli::bench {

timing_credential::timing_credential(std::shared_ptr<identity::token_credential> inner,
                                     std::chrono::seconds usable_margin)
    : inner_(std::move(inner)), usable_margin_(usable_margin) {}

asio::awaitable<identity::access_token> timing_credential::get_token(identity::token_request req) {
  const auto started = std::chrono::steady_clock::now();
  bool blocking = true;
  {
    std::lock_guard lock(mutex_);
    blocking = std::chrono::system_clock::now() + usable_margin_ >= usable_until_;
  }
  std::exception_ptr failure;
  identity::access_token token;
  try {
    token = co_await inner_->get_token(std::move(req));
  } catch (...) {
    failure = std::current_exception();
  }
  finish(started, blocking, !failure, failure ? nullptr : &token);
  if (failure) std::rethrow_exception(failure);
  co_return token;
}

void timing_credential::finish(std::chrono::steady_clock::time_point started, bool blocking,
                               bool ok, const identity::access_token* token) {
  const auto elapsed = std::chrono::steady_clock::now() - started;
  std::lock_guard lock(mutex_);
  ++totals_.fetches;
  if (!ok) ++totals_.failures;
  totals_.fetch_time += elapsed;
  if (blocking) totals_.blocking_time += elapsed;
  if (token) usable_until_ = token->expires_on();
}

token_figures timing_credential::totals() const {
  std::lock_guard lock(mutex_);
  return totals_;
}

token_figures operator-(const token_figures& later, const token_figures& earlier) noexcept {
  token_figures d;
  d.fetches = later.fetches - earlier.fetches;
  d.failures = later.failures - earlier.failures;
  d.fetch_time = later.fetch_time - earlier.fetch_time;
  d.blocking_time = later.blocking_time - earlier.blocking_time;
  d.waits = later.waits - earlier.waits;
  return d;
}

}  // namespace keyless::cli::bench
