#pragma once
// A token_credential decorator that counts and times the fetches reaching the real credential.
// It sits under the bearer_token_provider's cache, so cache hits never reach it: every call is
// a fetch (the first token, a refresh, or a fetch after a 401).

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string_view>

#include "keyless/identity/token_credential.hpp"
#include "statistics.hpp"

namespace keyless::cli::bench {

/// Thread-safety: safe to share (counters under a mutex; fetches are rare).
class timing_credential final : public identity::token_credential {
 public:
  /// A fetch counts as blocking (callers wait for it) unless the last token it delivered is
  /// still valid for `usable_margin`: then it is the cache's background refresh, which
  /// callers do not wait for. The margin is the cache's expiry skew plus, for streams, the
  /// validity the chat client asks tokens to have left.
  timing_credential(std::shared_ptr<identity::token_credential> inner,
                    std::chrono::seconds usable_margin);

  asio::any_io_executor get_executor() const override { return inner_->get_executor(); }
  std::string_view name() const noexcept override { return inner_->name(); }
  asio::awaitable<identity::access_token> get_token(identity::token_request req) override;

  /// The totals so far (waits is left 0: the chat client counts those).
  token_figures totals() const;

 private:
  void finish(std::chrono::steady_clock::time_point started, bool blocking, bool ok,
              const identity::access_token* token);

  std::shared_ptr<identity::token_credential> inner_;
  std::chrono::seconds usable_margin_;
  mutable std::mutex mutex_;
  token_figures totals_;
  std::chrono::system_clock::time_point usable_until_{};  // of the last token delivered
};

/// `later - earlier`, field by field (waits included).
token_figures operator-(const token_figures& later, const token_figures& earlier) noexcept;

}  // namespace keyless::cli::bench
