#pragma once
// A scriptable token_credential for cache tests: counts calls, records the
// requests, can park every call on a gate, and answers through a function the
// test sets. Thread-safe, so the stress test can share it.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "async_test_support.hpp"
#include "keyless/core/clock.hpp"
#include "keyless/identity/access_token.hpp"
#include "keyless/identity/token_credential.hpp"
#include "keyless/identity/token_request.hpp"

namespace keyless::test {

class fake_credential final : public identity::token_credential {
 public:
  using respond_fn =
      std::function<identity::access_token(const identity::token_request&, int call)>;

  /// Answers "secret-token-<call>" valid for `lifetime` from `clock`'s now.
  fake_credential(asio::any_io_executor ex, std::shared_ptr<const keyless::clock> clock,
                  std::chrono::seconds lifetime = std::chrono::hours(1))
      : ex_(std::move(ex)), clock_(std::move(clock)), lifetime_(lifetime) {}

  asio::any_io_executor get_executor() const override { return ex_; }
  std::string_view name() const noexcept override { return "FakeCredential"; }

  asio::awaitable<identity::access_token> get_token(identity::token_request req) override {
    const int call = ++calls_;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(req);
    }
    co_await gate_.async_wait();
    respond_fn respond;
    {
      std::lock_guard lock(mutex_);
      respond = respond_;
    }
    if (respond) co_return respond(req, call);
    co_return identity::access_token(token_text(call), clock_->now() + lifetime_);
  }

  static std::string token_text(int call) { return "secret-token-" + std::to_string(call); }

  int calls() const { return calls_.load(); }

  std::vector<identity::token_request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  /// Replaces the answer; an empty function restores the default.
  void respond_with(respond_fn f) {
    std::lock_guard lock(mutex_);
    respond_ = std::move(f);
  }

  /// Parks later calls until release().
  void hold() { gate_.close(); }
  void release() { gate_.open(); }
  std::size_t parked() const { return gate_.waiting(); }

 private:
  asio::any_io_executor ex_;
  std::shared_ptr<const keyless::clock> clock_;
  std::chrono::seconds lifetime_;
  std::atomic<int> calls_{0};
  mutable std::mutex mutex_;
  std::vector<identity::token_request> requests_;
  respond_fn respond_;
  gate gate_{true};
};

}  // namespace keyless::test
